"""Entry points: run a plan's steps (`execute`) or finish the latest unfinished run (`resume`).

Both take the headnode lock, journal every step in the run's work directory, record the run
in history (two-phase) and end with the original's last line, or raise the typed error of
the step that stopped the run (Ctrl-C: `Interrupted`, exit 130) after saying where it
stopped and how to go on.
"""
from __future__ import annotations

import json
import shutil
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
    WriteFailedError,
)
from sdcadm.executor import history as hist
from sdcadm.executor import preflight, runlog
from sdcadm.executor.compact import outcome_steps, planned_steps
from sdcadm.executor.context import ExecContext
from sdcadm.executor.engine import Engine, StepOutcome
from sdcadm.executor.journal import Journal, RunState, iso_now
from sdcadm.executor.lock import RunLock
from sdcadm.executor.openruns import give_up, read_plan, refuse_if_open, run_to_resume
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
    again: str = "sdcadm update --resume",
) -> RunResult:
    """Execute `steps` (the expansion of `plan`); raises the stopping error on failure.

    `verify` runs once the lock is held and before anything is written: the caller re-checks
    there that the datacenter still is what the plan was made from (another run may have
    changed it while this one waited at the prompt or for the lock).

    `work_kind` names the folder of `<varDir>` holding the work directory (default
    `updates`, `rollbacks` for a rollback); `done_message` the last line of a run that
    succeeded (default the original's `Updated successfully (elapsed Ns).`), where `{elapsed}`
    is the run's seconds. `control` lets an operator pause or cancel the run from elsewhere
    (`ExecContext.control`). `again` is the command that continues the run once it stopped.
    """
    options = dict(options or {})
    steps = list(steps)
    run_uuid = app.request_id
    lock = RunLock.for_app(app, command, run_uuid=run_uuid).acquire()
    with runlog.held(app, lock):
        refuse_if_open(app)
        runlog.begin(app, command, run_uuid=run_uuid)
        kind = work_kind or ("rollbacks" if command == "rollback" else "updates")
        root = Path(app.config.var_dir) / kind
        doc = plan.to_json()
        doc.update({
            "run_uuid": run_uuid,
            "command": command,
            "done_message": done_message,
            "run_options": _jsonable(options),
            "steps": [s.to_json() for s in steps],
        })
        preflight.check(app, preflight.needs(root, steps, plan_bytes=len(json.dumps(
            doc, separators=(",", ":"), default=str))))
        # The work dir first: a headnode that cannot keep a journal must not even take the
        # datacenter lease. Then the lease, and under it the last look at the datacenter;
        # then the plan and the run's first event. Until then no run exists to resume.
        journal = Journal.create(root)
        runlog.follow(app, journal)
        try:
            lock.take_lease(work_dir=journal.dir)
            if verify is not None:
                verify()
            doc.update(created=iso_now(), started_ms=hist.now_ms())
            journal.write_plan(doc)
            journal.append("run-start", run_uuid=run_uuid, command=command, steps=len(steps))
        except BaseException:
            journal.close()
            shutil.rmtree(journal.dir, ignore_errors=True)  # nothing started: no run to resume
            raise
        app.info(f"Create work dir: {journal.dir}")
        return _drive(app, doc, steps, journal, command=command, options=options,
                      handlers=handlers, previous={}, control=with_lease(lock, control),
                      again=again)


def resume(
    app: Any,
    options: Mapping[str, Any] | None = None,
    *,
    handlers: Mapping[str, Any] | None = None,
    run: str | None = None,
    derive: Callable[[Mapping[str, Any]], list[Step]] | None = None,
) -> RunResult:
    """Continue an unfinished run (`run`: its uuid or work dir; else the newest one):
    re-check in-doubt steps, run the rest. The steps run are the ones its plan derives,
    never the ones its journal lists (`derive`, for tests of the engine alone)."""
    options = dict(options or {})
    var_dir = Path(app.config.var_dir)
    lock = RunLock.for_app(app, "update --resume", run_uuid=app.request_id).acquire()
    with runlog.held(app, lock):
        target = run_to_resume(var_dir, app, run)
        if target is None:
            return RunResult(app.request_id, "update", "nothing")
        run_dir, journal, state = target
        doc = read_plan(journal)
        command = doc.get("command") or "update"
        run_uuid = doc.get("run_uuid") or state.run_uuid or app.request_id
        # Refused in one line, before the run log: a plan.json that is not its plan's own.
        steps = derived_steps(doc, run_dir, derive)
        if derive is None:
            check_changes(app, doc, run_dir)
        runlog.begin(app, f"{command} --resume", run_uuid=run_uuid, work_dir=str(run_dir))
        runlog.follow(app, journal)
        preflight.check(app, preflight.needs(run_dir, steps,
                                             done={s.id for s in steps if _done(s, state)}))
        lock.retitle(run_uuid)
        journal.repair()  # a line the run that stopped may have torn
        # The journal is sound: now the datacenter is this run's.
        lock.take_lease(work_dir=run_dir)
        done = sum(1 for s in steps if _done(s, state))
        app.info(f"Resuming run {run_uuid} from work dir: {run_dir}")
        app.info(f"{done} of {len(steps)} steps already done")
        given = {k: v for k, v in options.items() if v is not None}
        merged = {**(doc.get("run_options") or {}), **given}
        journal.append("run-resume", run_uuid=run_uuid, command=command, resumed_by=app.request_id)
        return _drive(app, doc, steps, journal, command=command, options=merged,
                      handlers=handlers, previous=state.steps, resuming=True,
                      control=with_lease(lock, None))


def resume_preview(app: Any, run: str | None = None) -> None:
    """`update --resume -n`: what a resume would do, without the lock or any change."""
    target = run_to_resume(Path(app.config.var_dir), app, run)
    if target is None:
        return
    run_dir, journal, state = target
    doc = read_plan(journal)
    steps = derived_steps(doc, run_dir)
    check_changes(app, doc, run_dir)
    left = [s for s in steps if not _done(s, state)]
    app.info(f"Would resume run {doc.get('run_uuid') or state.run_uuid} from work dir: "
             f"{run_dir}")
    app.out(f"{len(steps) - len(left)} of {len(steps)} steps already done; to run:")
    for s in left:
        app.out(f"    {s.id}: {s.summary or s.action}")
    app.out("Dry run: nothing was changed.")


def derived_steps(doc: Mapping[str, Any], run_dir: Path,
                  derive: Callable[[Mapping[str, Any]], list[Step]] | None = None) -> list[Step]:
    """The steps of a journalled run as its plan derives them; a journal whose steps are
    not those is refused (it was edited or damaged)."""
    from sdcadm.errors import JournalError, PlanTamperedError
    from sdcadm.plan import Plan, first_difference
    from sdcadm.procedures import expand

    try:
        stored = [Step.from_json(s) for s in doc.get("steps") or []]
        derived = derive(doc) if derive else expand(Plan.from_json(doc))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise JournalError(f"{run_dir}/plan.json is not a run's plan ({type(e).__name__}: "
                           f"{e}): {give_up(run_dir)}") from e
    from sdcadm.redact import REDACTED

    if any(REDACTED in json.dumps(s.params, default=str) for s in derived):
        # A secret the plan would write was kept out of the journal: executing the
        # placeholder would write it into the datacenter instead.
        raise JournalError(f"{run_dir}/plan.json had secrets redacted from its steps, so it "
                           f"cannot be resumed: make a new plan")
    problem = first_difference(stored, derived)
    if problem:
        raise PlanTamperedError(f"{run_dir}/plan.json does not hold the steps of its own plan: "
                                f"{problem}; {give_up(run_dir)} and make a new plan")
    return derived


def check_changes(app: Any, doc: Mapping[str, Any], run_dir: Path) -> None:
    """What a resume can check of its plan's changes against the datacenter (it cannot plan
    them again: the run itself changed it): each change's service is SAPI's of that name,
    its target image is one the service may run, and its instances belong to that service
    and run the image the change says (or the target, when the run already updated them).
    A plan.json edited to aim a change elsewhere is refused."""
    from sdcadm.errors import PlanTamperedError
    from sdcadm.gather import gather
    from sdcadm.plan import Plan

    plan = Plan.from_json(doc)
    if not any(c.service is not None for c in plan.changes):
        return  # platforms, reboots: their steps name servers and check them
    state = gather(app, app.config, updates=False, server_detail="agents")
    problem = changes_problem(plan, state, app.config)
    if problem:
        raise PlanTamperedError(f"{run_dir}/plan.json does not match the datacenter: "
                                f"{problem}; {give_up(run_dir)} and make a new plan")


def changes_problem(plan: Plan, state: Any, config: Any) -> str | None:
    """The first change of `plan` the datacenter contradicts, said in a line; None."""
    from sdcadm.plan import change_label
    from sdcadm.planner.candidates import allowed_image_names

    by_uuid = {i.instance: i for i in state.instances}
    agents = {(i.server, i.service): i for i in state.instances if i.type == "agent"}
    services = {s.uuid: s for s in state.services.values()}
    for n, c in enumerate(plan.changes, start=1):
        svc = c.service
        if svc is None:
            continue
        label = f"change {n} ({change_label(c)})"
        ours, theirs = state.services.get(svc.name), services.get(svc.uuid)
        if svc.uuid and ours is not None and ours.uuid != svc.uuid:
            return f"{label} names service {svc.name} as {svc.uuid}, SAPI has {ours.uuid}"
        if svc.uuid and theirs is not None and theirs.name != svc.name:
            return f"{label} names service {svc.name} with the uuid of {theirs.name}"
        target = c.image.uuid if c.image is not None else None
        if c.image is not None:
            known = state.image(c.image.uuid)
            name = known.name if known is not None else c.image.name
            names = allowed_image_names(svc.name, config)
            if names and name not in names:
                return (f"{label} targets image {c.image.uuid} ({name}), not an image of "
                        f"{svc.name}")
        for inst in (*c.instances, *c.already):
            what = f"{inst.alias} ({inst.instance})" if inst.alias else inst.instance
            if inst.service != svc.name:
                return f"{label} lists instance {what} as one of {inst.service}"
            now = by_uuid.get(inst.instance)
            if now is None and inst.type == "agent":
                now = agents.get((inst.server, inst.service))
            if now is None:
                continue  # not listed now (mid-reprovision): its own steps check it
            if now.service != svc.name:
                return (f"{label} lists instance {what}, which is an instance of "
                        f"{now.service}")
            if now.image and now.image not in (inst.image, target):
                return (f"{label} says instance {what} runs image {inst.image}; it runs "
                        f"{now.image}, which is not the change's target either")
    return None


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
    progress = Progress(interval=getattr(app.config, "progress_interval", None),
                        echo=runlog.echo(app))
    ctx = ExecContext(
        clients=app.clients, config=app.config, progress=progress, options=options,
        journal=journal, previous=previous, warn=getattr(app, "warn", None), control=control,
    )
    engine = Engine(ctx, handlers or default_handlers(), resume=resuming,
                    change_count=len(doc.get("changes") or ()))
    restore = trap_stop_signals(ctx)
    try:
        outcomes = engine.run(steps)
    finally:
        restore()
        progress.close()
    elapsed = int(time.monotonic() - start)
    status, error = _outcome(command, engine, ctx, outcomes, again)
    if journal.failed is not None:
        # The run stopped at the first event it could not journal: that is its error.
        status, error = "failed", _write_failure(journal.failed, steps, again)

    def finish_history() -> None:
        if entry is not None:
            with hist.quietly(app):
                hist.record_finish(app, entry, error=error, steps=outcome_steps(outcomes),
                                   store=store)

    failed = end_run(journal, finish_history, run_uuid=run_uuid, status=status,
                     elapsed=elapsed, error=error.to_json() if error else None)
    if failed is not None:
        status, error = "failed", _write_failure(failed, steps, again)
        finish_history()  # it did not end after all
    if on_end is not None:
        on_end(status, error)
    result = RunResult(run_uuid, command, status, journal.dir, outcomes, elapsed, error)
    if error is None:
        word = "Rolledback" if command == "rollback" else "Updated"
        done = doc.get("done_message") or f"{word} successfully (elapsed {{elapsed}}s)."
        app.out(done.format(elapsed=elapsed))
        return result
    if not isinstance(error, WriteFailedError):  # its own line says it all
        _report_stop(app, command, outcomes, journal.dir, status, again)
    raise error


def end_run(journal: Journal, finish_history: Callable[[], None],
            **end: Any) -> WriteFailedError | None:
    """History first, then the journal's `run-end` (`end`, unless the journal has failed
    already), then the journal closed. Killed between the two, the run is still open, and
    running it again closes both; the other way round, the journal would say "finished" and
    nothing would ever finish the history entry. Returns the failure to write the end, if
    any: the run did not end after all, and its history must say so."""
    finish_history()
    failed = None
    if journal.failed is None:
        try:
            journal.append("run-end", **end)
        except WriteFailedError as e:
            failed = journal.failed or e
    journal.close()
    return failed


def _write_failure(failed: WriteFailedError, steps: list[Step],
                   again: str) -> WriteFailedError:
    """One line: what could not be written, where the run stopped, how to go on."""
    ids = [s.id for s in steps]
    where = (f"at step {ids.index(failed.step) + 1} of {len(ids)} ({failed.step})"
             if failed.step in ids else "after its last step")
    return WriteFailedError(f"{failed.message}: the run stopped {where}; once there is room, "
                            f"run \"{again}\" to go on", step=failed.step, cause=failed)


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
        command=doc.get("command") or "update", steps=planned_steps(steps))
    with hist.quietly(app):
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


def trap_stop_signals(ctx: ExecContext) -> Any:
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


def with_lease(lock: RunLock, control: Callable[[], tuple[str, str] | None] | None
               ) -> Callable[[], tuple[str, str] | None]:
    """The run's control: cancelled when its datacenter lease was broken or taken over (it
    no longer has the datacenter to itself), else what `control` says."""
    def read() -> tuple[str, str] | None:
        lost = lock.lost()
        if lost:
            return ("cancel", f"{lost}: nothing more will start")
        return control() if control else None
    return read


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in options.items():
        if isinstance(v, (str, int, float, bool, type(None), list, dict)):
            out[k] = v
        elif isinstance(v, tuple):
            out[k] = list(v)
    return out
