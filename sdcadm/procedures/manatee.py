"""manatee: check the shard, then asyncs, then the sync, then the primary."""
from __future__ import annotations

from sdcadm.model import Instance
from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures import moray
from sdcadm.procedures.context import Context
from sdcadm.procedures.rolling import instance_steps, service_step

SUMMARY = "update manatee: verify the shard, then async peers, the sync, and the primary last"

# Unknown roles go between the asyncs and the sync: never after the primary.
_RANK = {"async": 0, None: 1, "sync": 2, "primary": 3}


def ordered(change: PlannedChange, ctx: Context) -> list[Instance]:
    name = change.service.name if change.service else "manatee"
    return sorted(change.instances,
                  key=lambda i: (_RANK.get(ctx.role(name, i), 1),
                                 bool(ctx.headnode and i.server == ctx.headnode)))


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    lines = moray.summary(change, ctx, order=ordered)
    # The shard check is the first thing that happens; say so where the order is shown.
    return [ln.replace("order: ", "order: shard check, ", 1) if ln.startswith("    order: ")
            else ln for ln in lines]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    svc = change.service
    assert svc is not None
    every = [*change.instances, *change.already]
    check = Step(id="", action="check-shard", target=svc.name,
                 params={"service": svc.name, "instances": [i.instance for i in every]},
                 summary=f'check that the "{svc.name}" shard is healthy', change=svc.name)
    return [check] + service_step(change) + instance_steps(change, ordered(change, ctx))
