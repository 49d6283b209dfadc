"""The last step of a real update or reboot plan: is the datacenter whole again?

`verify` checks the services the plan touched with the check-health verdict (and, for
reboots, everything on the servers that rebooted), then an API smoke test: list images
(IMGAPI), list VMs (VMAPI), read the `sdc` application (SAPI), ping Workflow. On by default;
`--no-verify` leaves it out.
"""
from __future__ import annotations

from sdcadm.plan import Plan, Step
from sdcadm.procedures.context import Context

SMOKE = "list images, list VMs, a SAPI read, a workflow ping"


def wanted(plan: Plan) -> bool:
    return bool(plan.options.get("verify")) and bool(plan.changes) and not plan.just_images


def _scope(plan: Plan) -> tuple[list[str], list[str]]:
    services = list(dict.fromkeys(c.service.name for c in plan.changes if c.service is not None))
    servers = list(dict.fromkeys(u for c in plan.changes if c.reboots for u in c.servers))
    return services, servers


def summary(plan: Plan, ctx: Context) -> list[str]:
    services, servers = _scope(plan)
    what = []
    if services:
        what.append(f"the health of {', '.join(services)}")
    if servers:
        what.append(f"the instances on the {len(servers)} rebooted servers")
    return [f"then verify {' and '.join(what) or 'the datacenter'}, and the APIs ({SMOKE})"]


def steps(plan: Plan, ctx: Context) -> list[Step]:
    services, servers = _scope(plan)
    return [Step(id="", action="verify", target="datacenter",
                 params={"services": services, "servers": servers},
                 summary="verify the updated services and the APIs", change="verify")]
