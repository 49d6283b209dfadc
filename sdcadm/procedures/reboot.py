"""Rolling reboots: one `reboot-server` step per server, in one rolling window.

The planner placed every server (`PlannedChange.reboots`, see `sdcadm.planner.reboots`):
its order, the servers it waits for, the quorum keys it holds, whether the manatee shard is
frozen around it. Here each becomes a step of one "hold" group of `max_unavailable` slots:
the executor starts the first server whose predecessors passed their health gate and whose
keys are free, as soon as a slot frees up (a sliding window, not batches); a server that
fails its gate keeps its slot, and two such servers pause the rollout.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures.context import Context, plural

SUMMARY = "reboot servers in a rolling window that keeps every quorum, the headnode last"
REBOOT_TIMEOUT = 1800  # seconds for a server to come back (real time; scaled in the sim)
GATE_TIMEOUT = 600  # seconds for it to pass its health gate once back


def reboot_steps(change: PlannedChange, *, group: str, name: str,
                 since: str | None = None) -> list[Step]:
    """One step per server of `change.reboots`; `since` (a reboot plan's creation time)
    tells a server that rebooted for this plan from one that merely runs its platform."""
    window = max(1, change.max_unavailable or 1)
    steps = []
    for slot in change.reboots:
        plat = change.platform or slot.get("platform")
        params: dict[str, Any] = {
            "server_uuid": slot["server"], "hostname": slot["hostname"], "platform": plat,
            "headnode": bool(slot.get("headnode")), "freeze": bool(slot.get("freeze")),
            "holds": list(slot.get("holds") or ()), "peers": dict(slot.get("peers") or {}),
            "timeout": REBOOT_TIMEOUT,
            "gate_timeout": GATE_TIMEOUT}
        if since:
            params["since"] = since
        onto = f" onto platform {plat}" if change.platform else ""
        steps.append(Step(
            id="", action="reboot-server", target=slot["server"], params=params,
            summary=f"reboot {slot['hostname']} ({slot['server']}){onto}", change=name,
            parallel=group, concurrency=window, on_failure="hold",
            after=tuple(slot.get("after") or ()), exclusive=tuple(slot.get("exclusive") or ())))
    return steps


def order_lines(reboots: Sequence[Mapping[str, Any]]) -> list[str]:
    """The reboot order with the reason of each server's place; a run of servers that hold
    nothing is one line (a thousand compute nodes would bury the rest)."""
    lines: list[str] = []
    plain: list[Mapping[str, Any]] = []
    n = 0

    def flush() -> None:
        nonlocal n
        if not plain:
            return
        if len(plain) <= 3:
            for s in plain:
                n += 1
                lines.append(f"{n}. {s['hostname']}")
        else:
            first, last = n + 1, n + len(plain)
            n = last
            names = ", ".join(s["hostname"] for s in plain[:3])
            lines.append(f"{first}-{last}. {len(plain)} servers holding no quorum member "
                         f"({names}, ...), in any order")
        plain.clear()

    for s in reboots:
        if s.get("why"):
            flush()
            n += 1
            lines.append(f"{n}. {s['hostname']}: {s['why']}")
        else:
            plain.append(s)
    flush()
    return lines


def summary_body(change: PlannedChange) -> list[str]:
    window = max(1, change.max_unavailable or 1)
    body = [f"at most {plural(window, 'server')} down at once; each one must pass its health "
            "gate before its slot is reused", "order:"]
    body += ["    " + ln for ln in order_lines(change.reboots)]
    if any(s.get("freeze") for s in change.reboots):
        body.append("the manatee shard is frozen while a server holding its primary or sync "
                    "reboots")
    body += [f"note: {x}" for x in change.notes]
    return body


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    head = f"reboot {plural(len(change.reboots), 'server')}:"
    return [head] + ["    " + b for b in summary_body(change)]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    return reboot_steps(change, group=f"reboot:{change.request.get('plan', 'servers')}",
                        name="reboot", since=change.request.get("since"))


def plan_steps(plan: Any) -> list[Step]:
    """A reboot plan's steps with ids that name the server (`reboot:<uuid>`): the plan is
    derived again at every run, and the journal must recognise each server's step."""
    import dataclasses

    from sdcadm.procedures import verify

    change = plan.changes[0]
    ctx = Context.from_plan(plan)
    out = [dataclasses.replace(s, id=f"reboot:{s.target}") for s in steps(change, ctx)]
    if verify.wanted(plan):
        out += [dataclasses.replace(s, id="verify") for s in verify.steps(plan, ctx)]
    return out
