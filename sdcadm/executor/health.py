"""Health gates: is an instance that just came back actually fit to carry traffic?

`wait-instance` asks a gate once the VM is `running` on its target image. The VM-state gate
is what VMAPI alone can tell; the instance gate then runs the check of `sdcadm
check-health` (`sdcadm.health`: `svcs -vxz <zone>` in the server's global zone over SSH, then
the service's HTTP ping), so a rolling update stops at an instance whose services went into
maintenance, or that does not answer, instead of taking the next one down too.
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


class InstanceGate:
    """VM running, then the instance health check of `sdcadm check-health` (its SMF services
    over SSH, then its service's ping): one meaning of "healthy" for check-health, the
    update's up-check and the reboot gate. A zone still starting is polled again; a service
    in maintenance is fatal: waiting will not fix it."""

    def __init__(self, vm_gate: HealthGate | None = None) -> None:
        self.vm_gate = vm_gate or VmStateGate()

    def check(self, ctx: Any, service: str, vm: Mapping[str, Any]) -> Health:
        from sdcadm.health import instance_health

        health = self.vm_gate.check(ctx, service, vm)
        if not health.ok or not vm.get("server_uuid") or not vm.get("uuid"):
            return health
        row = instance_health(ctx.clients, vm)
        if row.healthy:
            return Health(True)
        fatal = any("State: maintenance" in e for e in row.errors)
        return Health(False, "; ".join(brief(e) for e in row.errors), fatal)


def brief(error: str) -> str:
    """One line for a health error: the service in maintenance, else its first line."""
    if "State: maintenance" in error:
        fmri = next((w for w in error.split() if w.startswith("svc:/")), None)
        if fmri:
            return f"SMF service {fmri} is in maintenance"
    return error.strip().splitlines()[0] if error.strip() else error


def default_gate() -> HealthGate:
    return InstanceGate()
