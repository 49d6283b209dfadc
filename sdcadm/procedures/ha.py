"""HA-ready simple services (papi, workflow, ...): rolling, the headnode instance last."""
from __future__ import annotations

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures import stateless
from sdcadm.procedures.context import Context
from sdcadm.procedures.rolling import headnode_last, instance_steps, service_step

SUMMARY = "update an HA-ready service: one instance at a time, the others keep serving"


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    return stateless.summary(change, ctx)


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    return service_step(change) + instance_steps(change, headnode_last(change.instances, ctx))
