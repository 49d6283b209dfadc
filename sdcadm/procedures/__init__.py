"""Procedures: pure functions from a Plan to ordered Steps, one module per strategy.

Each module has `SUMMARY` (what the strategy does), `summary(change, ctx)` (its lines
in the confirmation breakdown) and `steps(change, ctx)`. Downloads always come first.
"""
from __future__ import annotations

import dataclasses
from types import ModuleType

from sdcadm.plan import Plan, PlannedChange, Step
from sdcadm.procedures import (
    agents,
    binder,
    download,
    ha,
    imgapi,
    manatee,
    moray,
    platform,
    reboot,
    sapi,
    stateless,
    verify,
)
from sdcadm.procedures.context import Context

MODULES: dict[str, ModuleType] = {
    "stateless": stateless, "ha": ha, "moray": moray, "sapi": sapi, "manatee": manatee,
    "binder": binder, "imgapi": imgapi, "agent": agents, "platform": platform,
    "reboot": reboot,
}


def module_for(change: PlannedChange) -> ModuleType:
    try:
        return MODULES[change.procedure]
    except KeyError:
        raise ValueError(f"no procedure {change.procedure!r}") from None


def expand(plan: Plan) -> list[Step]:
    """Every step of the plan, in execution order, with stable ids."""
    ctx = Context.from_plan(plan)
    raw: list[Step] = download.steps(plan, ctx) if plan.downloads else []
    for change in plan.changes:
        raw.extend(module_for(change).steps(change, ctx))
    if verify.wanted(plan):
        raw.extend(verify.steps(plan, ctx))
    return [dataclasses.replace(s, id=f"{n}:{s.action}:{s.target}")
            for n, s in enumerate(raw, start=1)]


def summaries(plan: Plan) -> list[list[str]]:
    """The breakdown blocks (unindented), downloads first."""
    ctx = Context.from_plan(plan)
    blocks = [download.summary(plan, ctx)] if plan.downloads else []
    blocks += [module_for(c).summary(c, ctx) for c in plan.changes]
    if verify.wanted(plan):
        blocks.append(verify.summary(plan, ctx))
    return blocks
