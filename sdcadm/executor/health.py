"""Health gates: is an instance that just came back actually fit to carry traffic?

`wait-instance` asks a gate once the VM is `running` on its target image. The VM-state gate
is what we can know from VMAPI alone; the SMF gate then runs `svcs -vxz <zone>` in the
server's global zone (over SSH), as the original's health check does, so a
rolling update stops at an instance whose services went into maintenance instead of taking
the next one down too. HTTP `/ping` checks can follow behind the same protocol.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""
    fatal: bool = False  # true: waiting longer will not help (e.g. SMF maintenance)


class HealthGate(Protocol):
    def check(self, ctx: Any, service: str, vm: Mapping[str, Any]) -> Health: ...


class VmStateGate:
    """Healthy when VMAPI reports the VM running (zone_state too, when reported)."""

    def check(self, ctx: Any, service: str, vm: Mapping[str, Any]) -> Health:
        state = vm.get("state")
        zone_state = vm.get("zone_state")
        if state != "running":
            return Health(False, f"state is {state}")
        if zone_state and zone_state != "running":
            return Health(False, f"zone_state is {zone_state}")
        return Health(True)


class SmfGate:
    """VM running, then no SMF service of the zone in maintenance (`svcs -vxz` prints nothing
    when all is well). A zone still starting (svcs failing, services not yet online) is
    polled again; maintenance is fatal: waiting will not fix it."""

    def __init__(self, vm_gate: HealthGate | None = None) -> None:
        self.vm_gate = vm_gate or VmStateGate()

    def check(self, ctx: Any, service: str, vm: Mapping[str, Any]) -> Health:
        from sdcadm.errors import SdcAdmError

        health = self.vm_gate.check(ctx, service, vm)
        if not health.ok or not vm.get("server_uuid") or not vm.get("uuid"):
            return health
        try:
            res = ctx.clients.remote.run(vm["server_uuid"], ["svcs", "-vxz", vm["uuid"]])
        except SdcAdmError as e:
            return Health(False, f"could not check SMF services: {e.message}")
        out = res.stdout.strip()
        if res.exit_status != 0:
            err = (res.stderr or out).strip().splitlines()
            return Health(False, "svcs failed: " + (err[0] if err else
                                                   f"exit status {res.exit_status}"))
        if not out:
            return Health(True)
        fmri = out.split()[0]
        if "State: maintenance" in out:
            return Health(False, f"SMF service {fmri} is in maintenance "
                                 f"(svcs -vxz {vm['uuid']} on server {vm['server_uuid']})",
                          fatal=True)
        return Health(False, f"SMF service {fmri} is not online yet")


def default_gate() -> HealthGate:
    return SmfGate()
