"""Health gates: is an instance that just came back actually fit to carry traffic?

`wait-instance` asks a gate once the VM is `running` on its target image. The VM-state gate
is what we can know from VMAPI alone; a later gate will run SMF (`svcs -vxz`) and HTTP
`/ping` checks over SSH behind the same protocol.
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


def default_gate() -> HealthGate:
    return VmStateGate()
