"""Unfinished runs: which one `--resume` continues, `--abandon`, and the refusal of a new run
while one is open (it would orphan the old one's remaining steps)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sdcadm.executor import history as hist
from sdcadm.executor.journal import Journal, RunState, find_run, latest_run_dir, open_runs
from sdcadm.executor.lock import RunLock


def run_to_resume(var_dir: Path, app: Any, run: str | None
                   ) -> tuple[Path, Journal, RunState] | None:
    """The run to continue: `run` (which must be unfinished), else the newest unfinished
    one; None (said so) when there is none."""
    if run:
        run_dir, journal, state = named_run(var_dir, run)
        if not state.open:
            how = "was abandoned" if state.status == "abandoned" else "finished successfully"
            app.info(f"Nothing to resume: run {run} ({run_dir}) {how}.")
            return None
        return run_dir, journal, state
    runs = open_runs(var_dir)
    if not runs:
        if latest_run_dir(var_dir) is None:
            app.info("Nothing to resume: no update has been run from this headnode.")
        else:
            app.info("Nothing to resume: every update and rollback run finished (or was "
                     "abandoned).")
        return None
    run_dir, state = runs[0]
    return run_dir, Journal(run_dir), state


def named_run(var_dir: Path, run: str) -> tuple[Path, Journal, RunState]:
    """The run `run` names (its uuid, a unique prefix, or its work dir), or a usage error."""
    from sdcadm.errors import UsageError

    run_dir = find_run(var_dir, run)
    if run_dir is None:
        raise UsageError(f'no run "{run}" (sdcadm history lists them)')
    journal = Journal(run_dir)
    return run_dir, journal, journal.state()


def abandon(app: Any, run: str) -> None:
    """Give up an unfinished run for good: journalled, and its history entry says so."""
    from sdcadm.errors import UsageError

    lock = RunLock.for_app(app, "update --abandon", run_uuid=app.request_id).acquire()
    try:
        run_dir, journal, state = named_run(Path(app.config.var_dir), run)
        if not state.open:
            how = "was abandoned already" if state.status == "abandoned" else "finished"
            raise UsageError(f"run {run} {how}: there is nothing to abandon")
        doc = journal.read_plan()
        steps = doc.get("steps") or []
        done = sum(1 for s in steps if s.get("id") in state.steps
                   and state.steps[s["id"]].done)
        who = hist.current_username() or "?"
        journal.repair()
        journal.append("run-abandon", by=who, resumed_by=app.request_id)
        journal.close()
        run_uuid = str(doc.get("run_uuid") or state.run_uuid or run_dir.name)
        store = hist.store_for(app)
        try:
            entry = store.get(run_uuid) or hist.new_entry(run_uuid, doc.get("changes") or [],
                                                          command=doc.get("command"))
            entry.update(finished=hist.now_ms(), abandoned=hist.now_ms(),
                         error={"code": "Abandoned",
                                "message": f"abandoned by {who} after {done} of "
                                           f"{len(steps)} steps"})
            store.update(entry)
        except Exception as e:  # history never fails a command
            (getattr(app, "warn", None) or app.info)(f"Warning: could not record history: {e}")
        app.out(f"Run {run_uuid} abandoned: {len(steps) - done} of {len(steps)} steps will not "
                "run; the datacenter stays as it is.")
    finally:
        lock.release()


def refuse_if_open(app: Any) -> None:
    """A new mutating run while an update or rollback is unfinished would orphan it."""
    from sdcadm.errors import UnfinishedRunError

    runs = open_runs(Path(app.config.var_dir))
    if not runs:
        return
    run_dir, state = runs[0]
    doc = Journal(run_dir).read_plan()
    run_uuid = doc.get("run_uuid") or state.run_uuid or run_dir.name
    steps = doc.get("steps") or []
    where = next(((n, s) for n, s in enumerate(steps, start=1)
                  if not (s.get("id") in state.steps and state.steps[s["id"]].done)), None)
    if where:
        what = where[1].get("summary") or where[1].get("action")
        at = f"stopped at step {where[0]} of {len(steps)} ({what})"
    else:
        at = "stopped after its last step"
    how = state.status or "died"
    raise UnfinishedRunError(
        f"run {run_uuid} ({doc.get('command') or 'update'}, {how}) is unfinished: {at}; "
        f'continue it with "sdcadm update --resume {run_uuid}" or give it up with '
        f'"sdcadm update --abandon {run_uuid}"')
