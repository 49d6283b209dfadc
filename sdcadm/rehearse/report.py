"""The rehearsal's report: assembled from the private run's journal (pure) and printed.

Times in the report are real-world seconds (`*_s`) predicted from the rehearsal, next to
what the rehearsal measured at its accelerated clock (`rehearsal_s`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from sdcadm.rehearse import faults as faultlib
from sdcadm.rehearse import timeline


@dataclass
class Facts:
    """What the rehearsal saw, gathered by `sdcadm.rehearse.run`."""

    steps: Sequence[Mapping[str, Any]]  # the private run's plan.json steps
    events: Sequence[Mapping[str, Any]]  # its events.jsonl, resumes included
    members: Mapping[str, Sequence[tuple[str, str | None]]]  # service -> (instance, server)
    basis: timeline.Basis
    faults: Sequence[Mapping[str, Any]] = ()  # the simulator's, with `fired`
    quorum_losses: Sequence[Mapping[str, Any]] = ()
    resume: Mapping[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # identity, fidelity, live audit


def build(facts: Facts) -> dict[str, Any]:
    tries = timeline.attempts(facts.events)
    waves = timeline.waves(facts.steps, tries, facts.basis)
    clock = timeline.Clock(seg for w in waves for seg in w.segments)
    spans = timeline.runs(facts.events)
    total = sum(clock.span(a, b) for a, b in spans)
    measured = sum(b - a for a, b in spans)
    shares = timeline.wave_spans(waves, tries, spans)
    ran = [s for s in facts.steps if s["id"] in tries]
    report: dict[str, Any] = dict(facts.extra)
    report["rehearsal"] = {**report.get("rehearsal", {}), "elapsed_s": round(measured, 3),
                           "steps": len(facts.steps), "steps_run": len(ran)}
    report["predicted"] = {
        "total_s": round(total, 1),
        "basis": facts.basis.describe(s["action"] for s in ran),
        "waves": [{"wave": w.key, "changes": w.changes,
                   "steps": sum(1 for s in w.steps if s in tries),
                   "rehearsal_s": round(sum(b - a for a, b in share), 3),
                   "predicted_s": round(sum(clock.span(a, b) for a, b in share), 2)}
                  for w, share in zip(waves, shares, strict=True)]}
    report["services"] = _services(facts, tries)
    end = spans[-1][1] if spans else 0.0
    report["quorum_losses"] = [_loss(q, clock, end) for q in facts.quorum_losses]
    report["failures"] = _failures(facts, tries)
    report["faults_not_fired"] = _not_fired(facts, ran)
    report["resume"] = dict(facts.resume) if facts.resume else None
    converged = not report["failures"] or bool(facts.resume and facts.resume.get("converged"))
    report["status"] = "ok" if converged and not report["quorum_losses"] else "failed"
    return report


def _services(facts: Facts, tries: Mapping[str, list[timeline.Attempt]]) -> list[dict[str, Any]]:
    out = []
    clocks = timeline.service_clocks(facts.steps, tries, facts.members, facts.basis)
    for service, windows in sorted(timeline.outages(facts.steps, tries, facts.members).items()):
        predicted, measured, most = timeline.longest_below_usual(windows, clocks[service])
        usual = len(facts.members.get(service) or ()) or len(windows)
        out.append({"service": service, "instances": usual, "most_down": most,
                    "longest_below_usual_s": round(predicted, 1),
                    "rehearsal_s": round(measured, 3)})
    return out


def _loss(q: Mapping[str, Any], clock: timeline.Clock, end: float) -> dict[str, Any]:
    a = timeline.seconds(q.get("started"))
    b = timeline.seconds(q.get("ended")) or end
    out = {k: q.get(k) for k in ("group", "members", "down", "reason", "started", "ended")}
    out["predicted_s"] = round(clock.span(a, b), 1) if a is not None else None
    return out


def _failures(facts: Facts, tries: Mapping[str, list[timeline.Attempt]]) -> list[dict[str, Any]]:
    """Every step that failed at least once (a later resume may have done it)."""
    errors: dict[str, Any] = {}
    for ev in facts.events:
        if ev.get("event") == "step-end" and ev.get("outcome") == "failed" and ev.get("step"):
            errors.setdefault(str(ev["step"]), ev.get("error"))
    out = []
    for step in facts.steps:
        if step["id"] not in errors:
            continue
        err = errors[step["id"]] or {}
        cause = faultlib.cause(step, facts.faults)
        done_later = any(a.outcome in timeline.OK_OUTCOMES for a in tries.get(step["id"], []))
        out.append({"step": step["id"], "summary": step.get("summary") or step["action"],
                    "error": (err.get("message") if isinstance(err, Mapping) else str(err)),
                    "code": err.get("code") if isinstance(err, Mapping) else None,
                    "fault": cause.get("label") or cause.get("type") if cause else None,
                    "done_after_resume": done_later})
    return out


def _not_fired(facts: Facts, ran: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The operator's faults (`--faults`) that never struck, and why."""
    out = []
    for f in facts.faults:
        why = faultlib.never_fired(f, ran, facts.members) if f.get("label") else None
        if why:
            out.append({"fault": f["label"], "why": why})
    return out


# -- printing ---------------------------------------------------------------------------------

WAVE_LABEL = 40  # columns for the services of a wave that ran together


def duration(s: float) -> str:
    if s < 1:
        return f"{s:.2f}s"
    if s < 10:
        return f"{s:.1f}s"
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m {int(s % 60):02d}s"
    return f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [list(header)] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]


def _wave_label(wave: Mapping[str, Any]) -> str:
    """A wave's changes, as many as fit in WAVE_LABEL columns, then how many more."""
    changes = list(wave.get("changes") or [wave["wave"]])
    names, label = list(changes), ", ".join(changes)
    while len(label) > WAVE_LABEL and len(names) > 1:
        names.pop()
        label = f"{', '.join(names)} +{len(changes) - len(names)} more"
    return label


def render(report: Mapping[str, Any]) -> list[str]:
    r = report["rehearsal"]
    pred = report["predicted"]
    dc = report.get("datacenter") or {}
    lines = [f"Rehearsal of `{report.get('command')}` on a private copy of "
             f"{dc.get('name', 'the datacenter')} ({dc.get('servers', '?')} servers, "
             f"{dc.get('vms', '?')} core VMs, {dc.get('agents', '?')} agents)",
             f"{r['steps_run']} of {r['steps']} steps ran in {duration(r['elapsed_s'])} at "
             f"speed x{r['speed']:g}; the whole rehearsal took {duration(r.get('wall_s', 0))}."]
    fidelity = report.get("fidelity") or {}
    if fidelity.get("same"):
        lines.append("The private copy matches the live datacenter (same fingerprint).")
    else:
        diffs = fidelity.get("differences") or []
        lines.append(f"The private copy differs from the live datacenter in {len(diffs)} "
                     "fact(s) a scenario cannot hold; the plan ran on the copy as it is:")
        lines += [f"    {d}" for d in diffs[:10]]
    basis = ", ".join(f"{a} {b['seconds']:g}s ({b['source']}"
                      + (f", {b['samples']} past steps" if b.get("samples") else "") + ")"
                      for a, b in pred["basis"].items())
    lines += ["", f"Predicted wall time at real latencies: {duration(pred['total_s'])}"
              + (f" ({basis})" if basis else "")]
    rows = [(_wave_label(w), w["steps"], duration(w["rehearsal_s"]), duration(w["predicted_s"]))
            for w in pred["waves"]]
    rows.append(("total", r["steps_run"], duration(r["elapsed_s"]), duration(pred["total_s"])))
    lines += _table(("WAVE", "STEPS", "REHEARSAL", "PREDICTED"), rows)
    lines += ["", "Longest time below the usual number of healthy instances:"]
    svc_rows = [(s["service"], s["instances"], s["most_down"],
                 duration(s["longest_below_usual_s"])) for s in report["services"]]
    lines += _table(("SERVICE", "INSTANCES", "MOST DOWN", "LONGEST"), svc_rows) if svc_rows \
        else ["    none: no instance was taken down"]
    lines.append("Every other service kept all its instances.")
    losses = report["quorum_losses"]
    lines += ["", "Quorum losses: none." if not losses else f"Quorum losses: {len(losses)}"]
    for q in losses:
        how_long = duration(q["predicted_s"]) if q.get("predicted_s") is not None else "?"
        lines.append(f"    {q.get('group')}: {q.get('reason')} ({how_long}; down: "
                     f"{', '.join(q.get('down') or [])})")
    failures = report["failures"]
    lines += ["", "Failed steps: none." if not failures else f"Failed steps: {len(failures)}"]
    for f in failures:
        lines.append(f"    {f['step']}: {f['summary']}")
        error = (f.get("error") or "?").splitlines()[0]
        lines.append(f"        error: {error}")
        lines.append(f"        fault: {f['fault']}" if f.get("fault")
                     else "        fault: none injected (the simulator's own behaviour)")
    resume = report.get("resume")
    if resume:
        n = resume.get("attempts", 0)
        lines.append(f"update --resume converged after {n} attempt(s)." if resume.get("converged")
                     else f"update --resume did not converge after {n} attempt(s): "
                          f"{resume.get('error') or 'see the report'}")
    for f in report.get("faults_not_fired") or ():
        lines.append(f"Fault {f['fault']} never fired: {f['why']}.")
    return lines
