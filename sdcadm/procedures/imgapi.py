"""imgapi: the single instance on the headnode (the planner refuses any other layout)."""
from __future__ import annotations

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures import stateless
from sdcadm.procedures.context import Context
from sdcadm.procedures.rolling import instance_steps, service_step

SUMMARY = "update the single headnode imgapi instance"


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    return stateless.summary(change, ctx)


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    return service_step(change) + instance_steps(change, change.instances)
