"""sapi (HA-aware, V2): SAPI image first, then each instance, the headnode's last."""
from __future__ import annotations

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures import moray
from sdcadm.procedures.context import Context
from sdcadm.procedures.rolling import headnode_last, instance_steps, service_step

SUMMARY = "update sapi: one instance at a time, the headnode's instance last"


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    return moray.summary(change, ctx)


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    return service_step(change) + instance_steps(change, headnode_last(change.instances, ctx))
