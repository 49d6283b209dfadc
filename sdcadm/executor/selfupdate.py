"""Run a self-update's steps: under the headnode lock, journalled, recorded in history.

The same seams as every run (RunLock, Journal, Engine, the history store), with a work
directory under `<varDir>/self-updates/` that also holds `install.log`. A self-update is
not resumed: it is short, and running the same command again reuses a complete download
or install. So a failure ends with one line, the error's, saying that the build in use
was left in place, instead of `update`'s resume advice.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from sdcadm.errors import Interrupted, SdcAdmError
from sdcadm.executor import history as hist
from sdcadm.executor import preflight, runlog
from sdcadm.executor.compact import outcome_steps, planned_steps
from sdcadm.executor.context import ExecContext
from sdcadm.executor.engine import Engine
from sdcadm.executor.handlers.selfupdate import self_update_handlers
from sdcadm.executor.journal import Journal, iso_now
from sdcadm.executor.lock import RunLock
from sdcadm.executor.run import end_run, trap_stop_signals
from sdcadm.plan import Step

WORK_KIND = "self-updates"
COMMAND = "self-update"


def work_root(app: Any) -> Path:
    return Path(app.config.var_dir) / WORK_KIND


def run_steps(app: Any, changes: Sequence[Mapping[str, Any]], steps: Sequence[Step], *,
              kept: str, done: str) -> Path:
    """Run the steps; print `done` (`{elapsed}`: seconds) when they all succeed, else
    raise the failed step's error, its message ending with `kept` (what is still in use).
    Returns the work directory."""
    from sdcadm.render.progress import Progress

    steps = list(steps)
    start = time.monotonic()
    lock = RunLock.for_app(app, COMMAND).acquire()
    with runlog.held(app, lock):
        run_uuid = app.request_id
        runlog.begin(app, runlog.cli_command(COMMAND), run_uuid=run_uuid)
        preflight.check(app, preflight.needs(work_root(app), steps))
        lock.take_lease()
        journal = Journal.create(work_root(app))
        runlog.follow(app, journal)
        journal.write_plan({"command": COMMAND, "run_uuid": run_uuid, "created": iso_now(),
                            "changes": [dict(c) for c in changes],
                            "steps": [s.to_json() for s in steps]})
        journal.append("run-start", run_uuid=run_uuid, command=COMMAND, steps=len(steps))
        store = hist.store_for(app)
        entry = hist.new_entry(run_uuid, changes, command=COMMAND, steps=planned_steps(steps))
        with hist.quietly(app):
            store.create(entry)
        progress = Progress(interval=getattr(app.config, "progress_interval", None),
                            echo=runlog.echo(app))
        ctx = ExecContext(clients=app.clients, config=app.config, progress=progress,
                          journal=journal, warn=getattr(app, "warn", None))
        restore = trap_stop_signals(ctx)  # Ctrl-C, a kill, a dropped ssh session
        try:
            outcomes = Engine(ctx, self_update_handlers()).run(steps)
        finally:
            restore()
            progress.close()
        stopped = next((o for o in outcomes if not o.ok), None)
        error: SdcAdmError | None = None
        if stopped is not None:
            error = stopped.error or Interrupted(f"interrupted before step {stopped.step.id}")
        elapsed = int(time.monotonic() - start)
        error = journal.failed or error  # the journal stopped the run: that is its error

        def finish_history() -> None:
            with hist.quietly(app):
                hist.record_finish(app, entry, error=error, steps=outcome_steps(outcomes),
                                   store=store)

        # As every run: history before the journal's end (a self-update is not resumed, so
        # nothing else would ever finish its history entry).
        failed = end_run(journal, finish_history, run_uuid=run_uuid,
                         status="failed" if error else "done", elapsed=elapsed,
                         error=error.to_json() if error else None)
        if failed is not None:
            error = failed
            finish_history()  # it did not end after all
        if error is not None:
            runlog.failed(app, error)
        else:
            app.out(done.format(elapsed=elapsed))  # before the log's last `Log:` line
    if error is not None:
        # One line says it all: what failed, and that nothing was switched.
        error.message = f"{error.message}; {kept}"
        error.args = (error.message,)
        raise error
    return journal.dir

