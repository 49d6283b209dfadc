"""Entry points: run a plan's steps (`execute`) or finish the latest unfinished run (`resume`).

Both take the headnode lock, journal every step in the run's work directory, record the run
in history (two-phase) and end with the original's last line, or raise the typed error of
the step that stopped the run (Ctrl-C: `Interrupted`, exit 130) after saying where it
stopped and how to go on.
"""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sdcadm.errors import (
    Cancelled,
    HeadnodeRebooting,
    Interrupted,
    MultiError,
    SdcAdmError,
    StepFailedError,
)
from sdcadm.executor import history as hist
from sdcadm.executor.context import ExecContext
from sdcadm.executor.engine import Engine, StepOutcome
from sdcadm.executor.journal import Journal, RunState, iso_now, latest_run_dir
from sdcadm.executor.lock import RunLock
from sdcadm.plan import Plan, Step


@dataclass
class RunResult:
    run_uuid: str
    command: str
    status: str  # done | failed | interrupted | nothing
    work_dir: Path | None = None
    outcomes: list[StepOutcome] = field(default_factory=list)
    elapsed: int = 0
    error: SdcAdmError | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("done", "nothing")


def execute(
    app: Any,
    plan: Plan,
    steps: Sequence[Step],
    *,
    command: str = "update",
    options: Mapping[str, Any] | None = None,
    handlers: Mapping[str, Any] | None = None,
    verify: Callable[[], None] | None = None,
    work_kind: str | None = None,
    done_message: str | None = None,
    control: Callable[[], tuple[str, str] | None] | None = None,
) -> RunResult:
    """Execute `steps` (the expansion of `plan`); raises the stopping error on failure.

    `verify` runs once the lock is held and before anything is written: the caller re-checks
    there that the datacenter still is what the plan was made from (another run may have
    changed it while this one waited at the prompt or for the lock).

    `work_kind` names the folder of `<varDir>` holding the work directory (default
    `updates`, `rollbacks` for a rollback); `done_message` the last line of a run that
    succeeded (default the original's `Updated successfully (elapsed Ns).`), where `{elapsed}`
    is the run's seconds. `control` lets an operator pause or cancel the run from elsewhere
    (`ExecContext.control`).
    """
    options = dict(options or {})
    steps = list(steps)
    run_uuid = app.request_id
    lock = _lock(app, command, run_uuid)
    try:
        if verify is not None:
            verify()
        kind = work_kind or ("rollbacks" if command == "rollback" else "updates")
        journal = Journal.create(Path(app.config.var_dir) / kind)
        app.info(f"Create work dir: {journal.dir}")
        doc = plan.to_json()
        doc.update({
            "run_uuid": run_uuid,
            "command": command,
            "done_message": done_message,
            "created": iso_now(),
            "started_ms": hist.now_ms(),
            "run_options": _jsonable(options),
            "steps": [s.to_json() for s in steps],
        })
        journal.write_plan(doc)
        journal.append("run-start", run_uuid=run_uuid, command=command, steps=len(steps))
        return _drive(app, doc, steps, journal, command=command, options=options,
                      handlers=handlers, previous={}, control=control)
    finally:
        lock.release()


def resume(
    app: Any,
    options: Mapping[str, Any] | None = None,
    *,
    handlers: Mapping[str, Any] | None = None,
) -> RunResult:
    """Continue the newest run if it did not finish: re-check in-doubt steps, run the rest."""
    options = dict(options or {})
    var_dir = Path(app.config.var_dir)
    lock = _lock(app, "update --resume", app.request_id)
    try:
        latest = _latest_run(var_dir, app)
        if latest is None:
            return RunResult(app.request_id, "update", "nothing")
        run_dir, journal, state = latest
        doc = journal.read_plan()
        command = doc.get("command") or "update"
        run_uuid = doc.get("run_uuid") or state.run_uuid or app.request_id
        if state.finished:
            app.info(f"Nothing to resume: the latest run ({run_dir}) finished successfully.")
            return RunResult(run_uuid, command, "nothing", work_dir=run_dir)
        steps = [Step.from_json(s) for s in doc.get("steps") or []]
        done = sum(1 for s in steps if _done(s, state))
        app.info(f"Resuming run {run_uuid} from work dir: {run_dir}")
        app.info(f"{done} of {len(steps)} steps already done")
        given = {k: v for k, v in options.items() if v is not None}
        merged = {**(doc.get("run_options") or {}), **given}
        journal.append("run-resume", run_uuid=run_uuid, command=command, resumed_by=app.request_id)
        return _drive(app, doc, steps, journal, command=command, options=merged,
                      handlers=handlers, previous=state.steps, resuming=True)
    finally:
        lock.release()


def resume_preview(app: Any) -> None:
    """`update --resume -n`: what a resume would do, without the lock or any change."""
    latest = _latest_run(Path(app.config.var_dir), app)
    if latest is None:
        return
    run_dir, journal, state = latest
    if state.finished:
        app.info(f"Nothing to resume: the latest run ({run_dir}) finished successfully.")
        return
    doc = journal.read_plan()
    steps = [Step.from_json(s) for s in doc.get("steps") or []]
    left = [s for s in steps if not _done(s, state)]
    app.info(f"Would resume run {doc.get('run_uuid') or state.run_uuid} from work dir: "
             f"{run_dir}")
    app.out(f"{len(steps) - len(left)} of {len(steps)} steps already done; to run:")
    for s in left:
        app.out(f"    {s.id}: {s.summary or s.action}")
    app.out("Dry run: nothing was changed.")


def _latest_run(var_dir: Path, app: Any) -> tuple[Path, Journal, RunState] | None:
    """The newest run's work dir, journal and state; None (said so) when there is none."""
    run_dir = latest_run_dir(var_dir)
    if run_dir is None:
        app.info("Nothing to resume: no update has been run from this headnode.")
        return None
    journal = Journal(run_dir)
    return run_dir, journal, journal.state()


def _done(step: Step, state: RunState) -> bool:
    return step.id in state.steps and state.steps[step.id].done


# -- the common part -------------------------------------------------------------------------
def _drive(
    app: Any,
    doc: Mapping[str, Any],
    steps: list[Step],
    journal: Journal,
    *,
    command: str,
    options: Mapping[str, Any],
    handlers: Mapping[str, Any] | None,
    previous: Mapping[str, Any],
    resuming: bool = False,
    again: str = "sdcadm update --resume",
    control: Any = None,
    on_end: Callable[[str, SdcAdmError | None], None] | None = None,
) -> RunResult:
    """Run the steps, journal the end, record history, report; raise the stopping error.

    `again` is the command that continues this run (said when it stops); `control` lets an
    operator pause or cancel it from elsewhere (see `ExecContext.control`); `on_end` hears
    the status once the journal has it.
    """
    from sdcadm.executor.handlers import default_handlers
    from sdcadm.render.progress import Progress

    start = time.monotonic()
    run_uuid = doc["run_uuid"]
    store = hist.store_for(app)
    entry = None
    if not doc.get("justImages"):  # as the original: -I runs are not history
        entry = _history_start(app, store, doc, steps, resuming)
    progress = Progress()
    ctx = ExecContext(
        clients=app.clients, config=app.config, progress=progress, options=options,
        journal=journal, previous=previous, warn=getattr(app, "warn", None), control=control,
    )
    engine = Engine(ctx, handlers or default_handlers(), resume=resuming,
                    change_count=len(doc.get("changes") or ()))
    restore = _trap_sigint(ctx)
    try:
        outcomes = engine.run(steps)
    finally:
        restore()
        progress.close()
    elapsed = int(time.monotonic() - start)
    status, error = _outcome(command, engine, ctx, outcomes, again)
    journal.append("run-end", run_uuid=run_uuid, status=status, elapsed=elapsed,
                   error=error.to_json() if error else None)
    journal.close()
    if on_end is not None:
        on_end(status, error)
    if entry is not None:
        try:
            hist.record_finish(app, entry, error=error, steps=[o.to_json() for o in outcomes],
                               store=store)
        except Exception as e:  # history never fails a command
            _warn(app, f"Warning: could not record history: {e}")
    result = RunResult(run_uuid, command, status, journal.dir, outcomes, elapsed, error)
    if error is None:
        word = "Rolledback" if command == "rollback" else "Updated"
        done = doc.get("done_message") or f"{word} successfully (elapsed {{elapsed}}s)."
        app.out(done.format(elapsed=elapsed))
        return result
    _report_stop(app, command, outcomes, journal.dir, status, again)
    raise error


def _outcome(command: str, engine: Engine, ctx: ExecContext, outcomes: list[StepOutcome],
             again: str) -> tuple[str, SdcAdmError | None]:
    """How the run ended: (status, the error to raise, or None when it is done)."""
    failed = [o for o in outcomes if o.outcome == "failed"]
    interrupted = [o for o in outcomes if o.outcome == "interrupted"]
    if interrupted and isinstance(interrupted[0].error, HeadnodeRebooting):
        return "rebooting", interrupted[0].error
    if engine.stopped:
        kind, reason = engine.stopped
        if kind == "cancelled":
            return kind, Cancelled(f"{command} cancelled: {reason}")
        return kind, StepFailedError(f"{command} paused: {reason}")
    if failed:
        return "failed", (failed[0].error if len(failed) == 1 else
                          MultiError([o.error for o in failed if o.error]))
    if interrupted or ctx.cancelled():
        where = interrupted[0].step.id if interrupted else _next_step(outcomes)
        return "interrupted", Interrupted(
            f"interrupted at step {where}; run \"{again}\" to continue")
    return "done", None


def _history_start(app: Any, store: hist.HistoryStore, doc: Mapping[str, Any],
                   steps: list[Step], resuming: bool) -> dict[str, Any] | None:
    entry = hist.new_entry(
        doc["run_uuid"], doc.get("changes") or [], started=doc.get("started_ms"),
        command=doc.get("command") or "update",
        steps=[{"id": s.id, "action": s.action, "target": s.target, "status": "pending"}
               for s in steps])
    try:
        if resuming:
            # SAPI refuses an update without `finished`, so the interrupted attempt's
            # `finished` and error stay until this attempt ends and replaces them.
            # SAPI merges an update into the entry: a resumed run that succeeds must clear
            # the interrupted attempt's error explicitly.
            previous = store.get(entry["uuid"]) or {}
            entry["resumed"] = hist.now_ms()
            entry["error"] = None
            if "finished" in previous:
                store.update({**previous, **entry, "error": previous.get("error"),
                              "steps": previous.get("steps") or entry["steps"]})
            elif not previous:
                store.create(entry)
            # else: the entry is already there unfinished (a killed run); the end writes it
        else:
            store.create(entry)
    except Exception as e:  # history never fails a command
        _warn(app, f"Warning: could not record history: {e}")
    return entry


def _report_stop(app: Any, command: str, outcomes: list[StepOutcome], work_dir: Path,
                 status: str, again: str) -> None:
    total = len(outcomes)
    failed = sum(1 for o in outcomes if o.outcome == "failed")
    stopped = next((o for o in outcomes if o.outcome in ("failed", "interrupted")), None)
    if status == "rebooting" and stopped is not None:
        index = outcomes.index(stopped) + 1
        app.info(f"{command.capitalize()} stopped at step {index} of {total} "
                 f"({stopped.step.id}): the headnode is rebooting")
    elif stopped is not None:
        index = outcomes.index(stopped) + 1
        what = stopped.step.summary or f"{stopped.step.action} {stopped.step.target}"
        verb = "interrupted" if stopped.outcome == "interrupted" else "failed"
        # Agent steps keep going after a failure: say how many failed, not only the first.
        first = f"{failed} steps failed, the first: " if failed > 1 else ""
        app.info(f"{command.capitalize()} error: {first}step {index} of {total} "
                 f"({stopped.step.id}) {verb}: {what}")
    done = sum(1 for o in outcomes if o.ok)
    app.info(f"{done} of {total} steps done; journal: {work_dir}")
    steps = f"the {failed} failed steps" if failed > 1 else "the failed step"
    if status == "rebooting":
        app.info(f'Once the headnode is back, run "{again}": it checks the headnode and '
                 "goes on.")
    elif status == "cancelled":
        app.info("The run was cancelled; nothing more will start.")
    else:
        app.info(f'Run "{again}" to retry {steps} and continue.'
                 if failed else f'Run "{again}" to continue.')


def _next_step(outcomes: list[StepOutcome]) -> str:
    nxt = next((o for o in outcomes if not o.ok), None)
    return nxt.step.id if nxt else "end"


def _trap_sigint(ctx: ExecContext) -> Any:
    """First Ctrl-C (or SIGTERM, SIGHUP): stop at the next safe point. Second: abandon
    immediately."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_sigint(signum: int, frame: Any) -> None:
        if ctx.sigint:
            raise KeyboardInterrupt
        ctx.sigint = True  # no locks in a signal handler: see ExecContext.sigint

    # A `kill` (SIGTERM) or a dropped ssh session (SIGHUP) stops the run the same way, so the
    # journal and history say where it stopped instead of ending mid-step without a word.
    signums = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    try:
        previous = {n: signal.signal(n, on_sigint) for n in signums}
    except ValueError:
        return lambda: None

    def restore() -> None:
        for n, handler in previous.items():
            signal.signal(n, handler)

    return restore


def _lock(app: Any, command: str, run_uuid: str) -> RunLock:
    return RunLock.for_app(app, command, run_uuid=run_uuid).acquire()


def _warn(app: Any, text: str) -> None:
    (getattr(app, "warn", None) or app.info)(text)


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in options.items():
        if isinstance(v, (str, int, float, bool, type(None), list, dict)):
            out[k] = v
        elif isinstance(v, tuple):
            out[k] = list(v)
    return out
