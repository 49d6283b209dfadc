"""binder: followers first, the ZooKeeper leader last.

The leader comes from the topology the planner recorded (ZK `stat` output); when it is
unknown, the instance on the headnode goes last.
"""
from __future__ import annotations

from sdcadm.model import Instance
from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures import moray
from sdcadm.procedures.context import Context
from sdcadm.procedures.rolling import instance_steps, is_ha, service_step

SUMMARY = "update binder: ZooKeeper followers one at a time, then the leader"

_RANK = {"follower": 0, "standalone": 1, None: 1, "leader": 2}


def ordered(change: PlannedChange, ctx: Context) -> list[Instance]:
    name = change.service.name if change.service else "binder"
    known = any(ctx.role(name, i) == "leader" for i in change.instances)

    def key(inst: Instance) -> tuple[int, bool]:
        on_hn = bool(ctx.headnode and inst.server == ctx.headnode)
        if known:
            return (_RANK.get(ctx.role(name, inst), 1), on_hn)
        return (0, on_hn)

    return sorted(change.instances, key=key)


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    return moray.summary(change, ctx, order=ordered)


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    rejoin = ("dns", "zk") if is_ha(change) else ()
    return service_step(change) + instance_steps(change, ordered(change, ctx), rejoin=rejoin,
                                                 ctx=ctx)
