"""Procedures: pure functions from a Plan to ordered Steps, one module per strategy.

Each module has `SUMMARY` (what the strategy does), `summary(change, ctx)` (its lines
in the confirmation breakdown) and `steps(change, ctx)`. Downloads always come first.
"""
from __future__ import annotations

from types import ModuleType

from sdcadm.plan import Plan, PlannedChange, Step
from sdcadm.planner import schedule
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
    """Every step of the plan, in execution order, with stable ids.

    Changes run in the waves of the plan's schedule (`planner/schedule.py`). The steps of a
    wave whose changes run together form one parallel group, `service_concurrency` steps at
    a time, failing fast; each step comes `after` the previous step of its service, so a
    service's steps still run one after another and at most `service_concurrency` services
    are in progress at once (a service's next step is always ahead of a new service's first).
    """
    ctx = Context.from_plan(plan)
    ordered: list[tuple[Step, str | None]] = []
    if plan.downloads:
        ordered.extend((s, None) for s in download.steps(plan, ctx))
    for n, wave in enumerate(_waves(plan, ctx), start=1):
        key = f"wave:{n}" if wave.together else None
        for i in wave.changes:
            change = plan.changes[i]
            ordered.extend((s, key) for s in module_for(change).steps(change, ctx))
    if verify.wanted(plan):
        ordered.extend((s, None) for s in verify.steps(plan, ctx))
    out: list[Step] = []
    latest: dict[str | None, str] = {}  # service -> id of its latest step in the wave
    for n, (step, key) in enumerate(ordered, start=1):
        sid = f"{n}:{step.action}:{step.target}"
        if key is None:
            out.append(step.but(id=sid))
            continue
        prev = latest.get(step.change)
        latest[step.change] = sid
        out.append(step.but(id=sid, parallel=key, concurrency=ctx.service_concurrency,
                         on_failure="stop", after=(prev,) if prev else ()))
    return out


def _waves(plan: Plan, ctx: Context) -> list[schedule.Wave]:
    return schedule.waves(plan.changes, ctx.service_concurrency, ctx.core_services)


def summaries(plan: Plan) -> list[list[str]]:
    """The breakdown blocks (unindented), downloads first."""
    ctx = Context.from_plan(plan)
    blocks = [download.summary(plan, ctx)] if plan.downloads else []
    blocks += [module_for(c).summary(c, ctx) for c in plan.changes]
    plan_waves = _waves(plan, ctx)
    if schedule.runs_together(plan_waves):
        blocks.append(schedule_summary(plan, plan_waves, ctx.service_concurrency))
    if verify.wanted(plan):
        blocks.append(verify.summary(plan, ctx))
    return blocks


def schedule_summary(plan: Plan, plan_waves: list[schedule.Wave], concurrency: int) -> list[str]:
    """The waves, in the breakdown: what runs together and what runs alone."""
    lines = [f"schedule ({concurrency} services at a time, --service-concurrency):"]
    for n, wave in enumerate(plan_waves, start=1):
        names = ", ".join(_label(plan.changes[i]) for i in wave.changes)
        if wave.together:
            how = "together" if len(wave.changes) <= concurrency else f"{concurrency} at a time"
        else:
            why = schedule.ALONE.get(wave.kind)
            how = "one at a time, each alone" + (f" ({why})" if why else "")
        lines.append(f"    wave {n}, {how}: {names}")
    return lines


def _label(change: PlannedChange) -> str:
    if change.service is not None:
        return change.service.name
    return f"platform {change.platform}" if change.platform else change.type
