"""moray: followers first, the instance on the headnode (the one sdcadm relies on) last."""
from __future__ import annotations

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures.breakout import breakout_lines
from sdcadm.procedures.context import Context
from sdcadm.procedures.rolling import (
    header,
    headnode_last,
    instance_steps,
    is_ha,
    order_line,
    service_step,
)

SUMMARY = ("update moray: one instance at a time, each out of DNS while it is reprovisioned, "
           "the headnode's instance last")
DNS_NOTE = ("each instance leaves DNS before it is reprovisioned and is back in DNS before "
            "the next one leaves")


def ordered(change: PlannedChange, ctx: Context) -> list:
    return headnode_last(change.instances, ctx)


def summary(change: PlannedChange, ctx: Context, order=ordered) -> list[str]:
    body = breakout_lines(change, ctx)
    insts = order(change, ctx)
    if len(insts) > 1:
        body.append(order_line(insts, ctx, change.service.name if change.service else ""))
    if is_ha(change) and change.instances and change.procedure in ("moray", "binder"):
        body.append(DNS_NOTE)
    body += [f"note: {n}" for n in change.notes]
    return [header(change, ctx) + (":" if body else "")] + ["    " + b for b in body]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    rejoin = ("dns",) if is_ha(change) else ()
    return service_step(change) + instance_steps(change, ordered(change, ctx), rejoin=rejoin,
                                                 ctx=ctx)
