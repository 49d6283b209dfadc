"""Following a run from another terminal: its journal, read as it grows.

`sdcadm history --follow [RUN]` prints each step as it starts, ends or is retried, then the
run's end; `sdcadm history RUN` shows every step's state as the journal has it now (history
in SAPI only learns the steps at the end of a run).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from sdcadm.errors import JournalError
from sdcadm.executor.journal import (
    EVENTS_FILE,
    Journal,
    RunState,
    ended,
    find_run,
    open_runs,
    read_events,
    run_uuid_of,
)

QUIET = 10.0  # seconds without an event, no holder: the run is not running any more


def pick_run(var_dir: Path, run: str | None) -> Path | None:
    """RUN (its uuid or work dir), else the newest unfinished run, else the newest run."""
    from sdcadm.executor.journal import latest_run_dir

    if run:
        return find_run(var_dir, run)
    runs = open_runs(var_dir)
    return runs[0][0] if runs else latest_run_dir(var_dir)


def live_steps(var_dir: Path, run_uuid: str, steps: list[Any]) -> list[Any]:
    """History's step list, from the local journal while the run has not ended (its entry
    learns the outcomes at the end), compacted as history keeps it (executor/compact.py)."""
    from sdcadm.executor.compact import compact_steps
    from sdcadm.plan import Step

    run_dir = find_run(var_dir, run_uuid)
    if run_dir is None or run_uuid_of(run_dir) != run_uuid:
        return steps
    known, status = ended(run_dir)
    if known and status is not None:
        return steps  # it ended: its entry has every outcome
    try:
        doc = Journal(run_dir).read_plan()
        planned = [Step.from_json(s) for s in doc.get("steps") or []]
    except (JournalError, ValueError, TypeError, KeyError, AttributeError):
        return steps
    state = RunState.from_events(read_events(run_dir / EVENTS_FILE))
    return compact_steps((s, _live_record(s, state.steps.get(s.id))) for s in planned)


def _live_record(step: Any, rec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": step.id, "action": step.action, "target": step.target,
                           "status": "pending"}
    if rec is not None:
        out.update(status=rec.outcome or ("running" if rec.started else "pending"),
                   started=rec.started, finished=rec.finished)
        if rec.error:
            out["error"] = rec.error
    return out


def _new_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """Whole lines appended since `offset`, and the new offset (a torn tail waits)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    return data[:end].decode(errors="replace").splitlines(), offset + end + 1


def events_as_they_come(run_dir: Path, *, running: Callable[[], bool],
                        interval: float = 0.2) -> Iterator[dict[str, Any]]:
    """Every event of the journal, old ones first, then new ones as they are written, until
    the run ends (or nobody is running it and nothing has come for QUIET seconds)."""
    path = run_dir / EVENTS_FILE
    offset = 0
    quiet_since = time.monotonic()
    while True:
        lines, offset = _new_lines(path, offset)
        last = None
        for line in lines:
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            quiet_since = time.monotonic()
            last = ev.get("event")
            yield ev
        # An end followed by nothing (yet): a resume would have written more after it.
        if last == "run-end" and not running():
            return
        if not lines and time.monotonic() - quiet_since > QUIET and not running():
            return
        time.sleep(interval)


def describe_event(ev: Mapping[str, Any], summaries: Mapping[str, str]) -> str | None:
    """One line for an event worth showing (None for the rest)."""
    t = str(ev.get("time") or "")[11:19]
    kind = ev.get("event")
    step = ev.get("step") or ""
    what = summaries.get(step, step)
    if kind == "step-start":
        return f"{t}  start     {step}  {what}"
    if kind == "step-end":
        err = (ev.get("error") or {}).get("message") if isinstance(ev.get("error"), Mapping) \
            else None
        tail = f": {str(err).splitlines()[0]}" if err else ""
        return f"{t}  {str(ev.get('outcome')):<9} {step}{tail}"
    if kind == "step-retry":
        err = (ev.get("error") or {}).get("message", "")
        return f"{t}  retry {ev.get('attempt')}   {step}: {str(err).splitlines()[0]}"
    if kind in ("run-start", "run-resume"):
        word = "started" if kind == "run-start" else "resumed"
        return f"{t}  run {word} ({ev.get('command') or 'update'}, run {ev.get('run_uuid')})"
    if kind == "run-end":
        return f"{t}  run {ev.get('status')} (elapsed {ev.get('elapsed', '?')}s)"
    if kind == "run-abandon":
        return f"{t}  run abandoned by {ev.get('by', '?')}"
    if kind == "control":
        return f"{t}  {ev.get('state') or 'resumed'} by {ev.get('by', '?')}: {ev.get('reason')}"
    return None


def summaries_of(run_dir: Path) -> dict[str, str]:
    try:
        doc = Journal(run_dir).read_plan()
    except JournalError:
        return {}  # a damaged plan: the steps are named by their ids
    return {str(s.get("id")): str(s.get("summary") or s.get("action"))
            for s in doc.get("steps") or [] if isinstance(s, Mapping)}
