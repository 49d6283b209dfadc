"""From a rehearsal's journal to real-world time: waves, the prediction, outage windows.

Pure: journal events, step records and numbers in, numbers out.

The rehearsal ran at an accelerated clock (time scale `s`): every operation latency of the
simulator (`L`, real seconds, per action below) lasted `L x s`, while everything else (HTTP,
SSH, sdcadm itself) took its own time. A step that took `d` is predicted to take
`d - L x s + L` in the real datacenter, or, where the live history has done that action
before, the median of those real durations. A wave is what the executor ran together (the
services `update` runs side by side, else the consecutive steps of one change); each of its
groups of steps is at work for the schedule of its steps at those durations (`concurrency`
at a time, `after` and `exclusive` honoured, as the executor runs them) plus the time
sdcadm spent in it beyond that schedule, and the time between steps and between waves is
sdcadm's own, kept as measured. Stretching the groups to their predicted lengths gives one
map from the rehearsal's clock to the predicted one, used for the total, each wave (from its
first step to the next wave's, so that the waves add up to the total) and each quorum loss.
A service's time below its usual count is measured on a clock of its own steps, stretched
to their own predicted durations: a service that ran beside others is not timed by them.
"""
from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

# The simulator latencies (their names in `/_sim/latencies`) each action waits out.
ACTION_LATENCIES: dict[str, tuple[str, ...]] = {
    "import-image": ("job-queue", "import-image"),
    "reprovision": ("job-queue", "reprovision"),
    "install-agent": ("install-agent",),
    "reboot-server": ("job-queue", "reboot"),
}
# Steps during which their instance does not serve: out of DNS, reprovisioning, coming up.
INSTANCE_OUTAGE = frozenset({"dns-leave", "reprovision", "wait-instance", "dns-join", "zk-join"})
OK_OUTCOMES = frozenset({"done", "verified"})


def seconds(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Attempt:
    step: str
    start: float
    end: float
    outcome: str

    @property
    def length(self) -> float:
        return max(0.0, self.end - self.start)


def attempts(events: Iterable[Mapping[str, Any]]) -> dict[str, list[Attempt]]:
    """Each step's attempts (a failed run and its resume give two), without the "skipped"
    passes of a resumed run over steps done before."""
    out: dict[str, list[Attempt]] = {}
    began: dict[str, float] = {}
    for ev in events:
        step, kind, t = ev.get("step"), ev.get("event"), seconds(ev.get("time"))
        if not step or t is None:
            continue
        if kind == "step-intent" or (kind == "step-start" and step not in began):
            began[step] = t
        elif kind == "step-end":
            start = began.pop(step, None)
            if ev.get("outcome") == "skipped" or start is None:
                continue
            out.setdefault(step, []).append(Attempt(step, start, t, str(ev.get("outcome"))))
    return out


def runs(events: Iterable[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """(start, end) of each run and resume in the journal: the time sdcadm was at work."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    last: float | None = None
    for ev in events:
        t = seconds(ev.get("time"))
        if t is None:
            continue
        if ev.get("event") in ("run-start", "run-resume"):
            if start is not None and last is not None:
                spans.append((start, last))
            start = t
        last = t
        if ev.get("event") == "run-end" and start is not None:
            spans.append((start, t))
            start = None
    if start is not None and last is not None:
        spans.append((start, last))
    return spans


def history_samples(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Real durations of the steps past runs did, per action, from history entries."""
    out: dict[str, list[float]] = {}
    for entry in entries:
        if entry.get("rehearsal") or entry.get("command") not in (None, "update", "rollback"):
            continue
        for step in entry.get("steps") or []:
            a, b = seconds(step.get("started")), seconds(step.get("finished"))
            if step.get("status") == "done" and a is not None and b is not None and b >= a:
                out.setdefault(str(step.get("action")), []).append(b - a)
    return out


@dataclass
class Basis:
    """How long each action takes in the real datacenter."""

    latencies: Mapping[str, float]  # the simulator's, real seconds
    time_scale: float
    samples: Mapping[str, Sequence[float]] = field(default_factory=dict)
    streamed_downloads: bool = False  # `--download-via sdcadm`: no import job to wait for

    def latency(self, action: str) -> float:
        if action == "import-image" and self.streamed_downloads:
            return 0.0
        return sum(float(self.latencies.get(k, 0.0)) for k in ACTION_LATENCIES.get(action, ()))

    def predict(self, action: str, measured: float, outcome: str) -> float:
        samples = self.samples.get(action)
        if samples and outcome in OK_OUTCOMES:
            return float(statistics.median(samples))
        lat = self.latency(action)
        return max(0.0, measured - lat * self.time_scale) + lat

    def describe(self, actions: Iterable[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for action in sorted(set(actions)):
            samples = self.samples.get(action)
            if samples:
                out[action] = {"source": "history", "samples": len(samples),
                               "seconds": round(float(statistics.median(samples)), 3)}
            elif self.latency(action):
                out[action] = {"source": "simulator", "seconds": round(self.latency(action), 3)}
        return out


@dataclass
class Wave:
    key: str  # its change, or its changes joined when several ran together
    changes: list[str]
    steps: list[str]
    # (from, to, stretch) of the rehearsal's clock: each step, or each parallel group, at
    # work; the time between them is sdcadm's own and is not stretched.
    segments: list[tuple[float, float, float]]


def merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _change(step: Mapping[str, Any]) -> str:
    return str(step.get("change") or step.get("parallel") or step.get("action"))


def waves(steps: Sequence[Mapping[str, Any]], tries: Mapping[str, list[Attempt]],
          basis: Basis) -> list[Wave]:
    """What the executor ran together is a wave: a group of steps of several changes run in
    parallel (`update`'s services that run together), else the consecutive steps of one
    change. Only waves with steps that ran are kept. The waves follow one another; their
    segments stretch the rehearsal's clock (`segments`)."""
    together: list[tuple[list[str], list[Mapping[str, Any]]]] = []  # (changes, steps)
    for group in _groups(steps):
        changes = list(dict.fromkeys(_change(s) for s in group))
        if len(changes) == 1 and together and together[-1][0] == changes:
            together[-1][1].extend(group)  # the next group of the same change
        else:
            together.append((changes, list(group)))
    out: list[Wave] = []
    for changes, members in together:
        segs = segments(members, tries, basis)
        if segs:
            out.append(Wave(", ".join(changes), changes, [s["id"] for s in members], segs))
    return out


def segments(steps: Sequence[Mapping[str, Any]], tries: Mapping[str, list[Attempt]],
             basis: Basis) -> list[tuple[float, float, float]]:
    """(from, to, stretch) of the time `steps` were at work in the rehearsal: per group of
    the executor, its busy time stretched to the schedule of its steps at their predicted
    durations, plus the time sdcadm spent in the group beyond the tightest schedule (kept
    as measured)."""
    ran = [s for s in steps if tries.get(s["id"])]
    out: list[tuple[float, float, float]] = []
    for group in _groups(ran):
        measured_d = {s["id"]: sum(a.length for a in tries[s["id"]]) for s in group}
        predicted_d = {s["id"]: sum(basis.predict(s["action"], a.length, a.outcome)
                                    for a in tries[s["id"]]) for s in group}
        busy = merge((a.start, a.end) for s in group for a in tries[s["id"]])
        measured = sum(b - a for a, b in busy)
        # What a parallel group spent beyond the tightest schedule of its steps is sdcadm's
        # own time: kept as it was.
        slack = max(0.0, measured - schedule(group, measured_d))
        predicted = schedule(group, predicted_d) + slack
        factor = predicted / measured if measured > 0 else 1.0
        out.extend((a, b, factor) for a, b in busy)
    return out


def wave_spans(wave_list: Sequence[Wave], tries: Mapping[str, list[Attempt]],
               run_spans: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Each wave's share of the runs: from the start of its first step to the start of the
    next wave's (the last one's, to the end of its run), the time before a run's first step
    going to that step's wave. The shares add up to the runs."""
    owner = {sid: n for n, w in enumerate(wave_list) for sid in w.steps}
    starts = sorted((a.start, owner[sid]) for sid, atts in tries.items() if sid in owner
                    for a in atts)
    out: list[list[tuple[float, float]]] = [[] for _ in wave_list]
    current: int | None = None
    for a, b in run_spans:
        inside = [(t, n) for t, n in starts if a <= t <= b]
        if inside:
            current = inside[0][1]
        if current is None:
            continue
        since = a
        for t, n in inside:
            if n != current:
                if t > since:
                    out[current].append((since, t))
                current, since = n, t
        if b > since:
            out[current].append((since, b))
    return out


def _groups(steps: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Consecutive steps sharing a `parallel` key; every other step alone (the executor's
    groups)."""
    out: list[list[Mapping[str, Any]]] = []
    for step in steps:
        if out and step.get("parallel") and step.get("parallel") == out[-1][0].get("parallel"):
            out[-1].append(step)
        else:
            out.append([step])
    return out


def schedule(steps: Sequence[Mapping[str, Any]], durations: Mapping[str, float]) -> float:
    """How long `steps` take with these durations, run as the executor runs them: one after
    another, except consecutive steps sharing a `parallel` key, `concurrency` at a time, each
    starting once the steps it comes `after` are done and no running step holds one of its
    `exclusive` keys (the first such step in order first)."""
    return sum(_makespan(group, durations) for group in _groups(steps))


def _makespan(group: Sequence[Mapping[str, Any]], durations: Mapping[str, float]) -> float:
    width = max(1, int(group[0].get("concurrency") or 1)) if group[0].get("parallel") else 1
    # `after` names steps by id (a wave's chains) or by target
    by_target = {**{s.get("target"): s["id"] for s in group}, **{s["id"]: s["id"] for s in group}}
    pending = list(group)
    running: list[tuple[float, Mapping[str, Any]]] = []
    done: set[str] = set()
    now = 0.0
    while pending or running:
        held = {k for _end, s in running for k in s.get("exclusive") or ()}
        for s in list(pending):
            if len(running) >= width:
                break
            deps = {by_target[t] for t in s.get("after") or () if t in by_target}
            if held & set(s.get("exclusive") or ()) or not deps <= done:
                continue
            pending.remove(s)
            running.append((now + durations.get(s["id"], 0.0), s))
            held |= set(s.get("exclusive") or ())
        if not running:  # what is left waits for steps that never ran: start it anyway
            done.update(by_target[t] for s in pending for t in s.get("after") or ()
                        if t in by_target)
            continue
        running.sort(key=lambda r: r[0])
        now, finished = running.pop(0)
        done.add(finished["id"])
    return now


class Clock:
    """Maps the rehearsal's clock onto the predicted one: the time steps were at work
    stretched by their factor, the rest as it was."""

    def __init__(self, segs: Iterable[tuple[float, float, float]]) -> None:
        self.segments: list[tuple[float, float, float]] = []
        for a, b, f in sorted(segs):  # waves do not overlap; clip defensively if they do
            if self.segments and a < self.segments[-1][1]:
                a = self.segments[-1][1]
            if b > a:
                self.segments.append((a, b, f))
        self.starts = [s[0] for s in self.segments]
        self.extra = [0.0]  # stretch accumulated before each segment
        for a, b, f in self.segments:
            self.extra.append(self.extra[-1] + (b - a) * (f - 1.0))

    def at(self, t: float) -> float:
        i = bisect.bisect_right(self.starts, t)
        extra = self.extra[i - 1] if i else 0.0
        if i:
            a, b, f = self.segments[i - 1]
            extra += (min(t, b) - a) * (f - 1.0)
        return t + extra

    def span(self, a: float, b: float) -> float:
        return max(0.0, self.at(b) - self.at(a))


def _taken_out(steps: Sequence[Mapping[str, Any]],
               members: Mapping[str, Sequence[tuple[str, str | None]]],
               ) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    """(service, instance, step) for each instance a step takes out of service: its
    reprovision with the DNS and health waits around it, an agent's install, or a reboot of
    its server."""
    on_server: dict[str, list[tuple[str, str]]] = {}
    agent_on: dict[tuple[str, str], str] = {}  # (agent, server) -> its instance
    for service, insts in members.items():
        for inst, server in insts:
            if server:
                on_server.setdefault(server, []).append((service, inst))
                agent_on[(service, server)] = inst
    for step in steps:
        p = step.get("params") or {}
        action = step["action"]
        if action in INSTANCE_OUTAGE:
            yield (str(p.get("service") or step.get("change")),
                   str(p.get("instance") or step["target"]), step)
        elif action == "install-agent":
            agent, server = str(p.get("agent") or step.get("change")), str(step["target"])
            yield agent, agent_on.get((agent, server), server), step
        elif action == "reboot-server":
            for service, inst in on_server.get(str(step["target"]), []):
                yield service, inst, step


def outages(steps: Sequence[Mapping[str, Any]], tries: Mapping[str, list[Attempt]],
            members: Mapping[str, Sequence[tuple[str, str | None]]],
            ) -> dict[str, dict[str, tuple[float, float]]]:
    """service -> instance -> (from, to) it did not serve: its reprovision with the DNS and
    health waits around it, an agent's install, or a reboot of its server."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for service, inst, step in _taken_out(steps, members):
        for a in tries.get(step["id"], []):
            have = out.setdefault(service, {}).get(inst)
            out[service][inst] = ((min(a.start, have[0]), max(a.end, have[1])) if have
                                  else (a.start, a.end))
    return out


def service_clocks(steps: Sequence[Mapping[str, Any]], tries: Mapping[str, list[Attempt]],
                   members: Mapping[str, Sequence[tuple[str, str | None]]],
                   basis: Basis) -> dict[str, Clock]:
    """service -> the predicted clock of its outages: the steps that took its instances
    out stretched to their own predicted durations, the time between them as it was. A
    service that ran beside others is timed by its own steps, not by its wave's."""
    own: dict[str, dict[str, Mapping[str, Any]]] = {}
    for service, _inst, step in _taken_out(steps, members):
        own.setdefault(service, {})[step["id"]] = step
    return {service: Clock(segments(list(by_id.values()), tries, basis))
            for service, by_id in own.items()}


def longest_below_usual(windows: Mapping[str, tuple[float, float]],
                        clock: Clock) -> tuple[float, float, int]:
    """(predicted seconds, rehearsal seconds, most down at once) of the longest stretch in
    which at least one of the instances was out."""
    spans = merge(windows.values())
    if not spans:
        return 0.0, 0.0, 0
    longest = max(spans, key=lambda s: clock.span(*s))
    # At one instant an end comes before a start: back-to-back outages are not overlapping.
    points = sorted([(a, 1) for a, _b in windows.values()]
                    + [(b, -1) for _a, b in windows.values()])
    most = down = 0
    for _t, delta in points:
        down += delta
        most = max(most, down)
    return clock.span(*longest), longest[1] - longest[0], most
