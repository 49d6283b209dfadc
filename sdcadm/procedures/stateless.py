"""Stateless (and HA-ready simple) services: SAPI image, then one instance at a time."""
from __future__ import annotations

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures.breakout import breakout_lines
from sdcadm.procedures.context import Context
from sdcadm.procedures.rolling import header, instance_steps, service_step

SUMMARY = "update a stateless service: new SAPI image, then reprovision each instance in turn"


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    body = breakout_lines(change, ctx) + [f"note: {n}" for n in change.notes]
    return [header(change, ctx) + (":" if body else "")] + ["    " + b for b in body]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    return service_step(change) + instance_steps(change, change.instances)
