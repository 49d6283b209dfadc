"""The executor loop: every step goes through one table of handlers, journalled.

Consecutive steps sharing a `parallel` key form a group run on a thread pool of
`step.concurrency`. "stop" groups fail fast (nothing new starts after a failure);
"continue" groups let every step run and stop the run afterwards if any failed; "hold"
groups are rolling windows: a failed step keeps its slot and its exclusive keys, and once
`PAUSE_AFTER` steps hold, no new step starts and the run stops as paused. Within a group a
step waits for the steps it comes `after` and for its `exclusive` keys to be free.

An operator can pause or cancel a run from elsewhere (`ExecContext.control`): paused, no
new step starts and the run waits, the steps in flight carrying on; cancelled, the run ends
once they are done.
Ctrl-C sets the context's cancel event: running steps abandon their waits at the next poll,
nothing new starts, and each step's outcome is journalled.
"""
from __future__ import annotations

import concurrent.futures as cf
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from sdcadm.errors import InternalError, Interrupted, SdcAdmError, WriteFailedError, transient
from sdcadm.executor.context import SLICE, ExecContext, Handler
from sdcadm.executor.journal import iso_now
from sdcadm.plan import Step
from sdcadm.render.progress import Activity

# Steps of a rolling ("hold") group that may fail and keep their slots before it pauses:
# with two servers unhealthy at once, something is wrong beyond one server.
PAUSE_AFTER = 2
# Times a step whose mutation failed transiently is re-checked and run again.
MUTATION_RETRIES = 3


@dataclass
class StepOutcome:
    step: Step
    outcome: str = "not-run"  # done | verified | skipped | failed | interrupted | not-run
    error: SdcAdmError | None = None
    started: str | None = None
    finished: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("done", "verified", "skipped")

    def to_json(self) -> dict[str, Any]:
        """The per-step record kept in history."""
        return {
            "id": self.step.id,
            "action": self.step.action,
            "target": self.step.target,
            "status": self.outcome,
            "started": self.started,
            "finished": self.finished,
            "error": self.error.to_json() if self.error else None,
        }


def groups(steps: Sequence[Step]) -> list[list[Step]]:
    """Consecutive steps with the same non-empty parallel key, else one step per group."""
    out: list[list[Step]] = []
    for step in steps:
        if step.parallel and out and out[-1][0].parallel == step.parallel:
            out[-1].append(step)
        else:
            out.append([step])
    return out


class Engine:
    def __init__(
        self,
        ctx: ExecContext,
        handlers: Mapping[str, Handler],
        *,
        resume: bool = False,
        change_count: int = 1,
    ) -> None:
        self.ctx = ctx
        self.handlers = handlers
        self.resume = resume
        self.change_count = change_count
        self._announced: set[str] = set()
        self._announce_lock = threading.Lock()
        # Why the run stopped handing out steps: ("paused", reason) when a rolling group
        # reached PAUSE_AFTER failures, ("cancelled", reason) when an operator cancelled it.
        self.stopped: tuple[str, str] | None = None

    def run(self, steps: Sequence[Step]) -> list[StepOutcome]:
        outcomes = {s.id: StepOutcome(s) for s in steps}
        missing = sorted({s.action for s in steps if s.action not in self.handlers})
        if missing:
            raise InternalError(f"no handler for step action(s): {', '.join(missing)}")
        try:
            for group in groups(steps):
                if self.ctx.cancelled():
                    break
                control = self.ctx.control() if self.ctx.control else None
                if control and control[0] == "cancel":
                    self.stopped = ("cancelled", control[1])
                    break
                if len(group) == 1 and not group[0].parallel:
                    self._run_one(group[0], outcomes[group[0].id])
                else:
                    self._run_group(group, outcomes)
                if self.stopped or any(outcomes[s.id].outcome in ("failed", "interrupted")
                                       for s in group):
                    break
        except KeyboardInterrupt:
            # No signal handler installed (not the main thread's run): treat as Ctrl-C.
            self.ctx.cancel.set()
        return [outcomes[s.id] for s in steps]

    # -- one step ------------------------------------------------------------------------
    def _run_one(self, step: Step, out: StepOutcome) -> StepOutcome:
        handler = self.handlers[step.action]
        prev = self.ctx.previous.get(step.id) if self.resume else None
        # A done step is skipped, unless a look finds its effect gone: then it runs again,
        # and that look stands for the check below.
        rechecked = prev is not None and prev.done
        if prev is not None and rechecked and not self._undone(handler, step):
            out.outcome = "skipped"
            out.started, out.finished = prev.started, prev.finished
            self._journal("step-end", step=step.id, outcome="skipped",
                          reason="done in an earlier run")
            return out
        if self.ctx.cancelled():
            # Ctrl-C landed between two steps: this one never began, so it leaves no trace in
            # the journal and the run reports it as the next step to run.
            return out
        self._announce(step)
        # What the step is and does is in plan.json: its events name it and say what is new.
        if not self._journal("step-intent", step=step.id, action=step.action,
                             target=step.target):
            return out  # never began: the journal cannot say it did
        out.started = iso_now()
        try:
            self.ctx.check_cancel()
            if self.resume and not rechecked and handler.check(self.ctx, step):
                out.outcome = "verified"
                out.finished = iso_now()
                self._journal("step-end", step=step.id, outcome="verified",
                              reason="already in place")
                if prev is not None and prev.in_doubt:
                    self.ctx.say(f"Step {step.id} was already done ({step.summary or step.action})")
                return out
            if not self._journal("step-start", step=step.id):
                out.started = None
                return out
            out.outcome = self._run_with_retries(handler, step)
        except (Interrupted, KeyboardInterrupt) as e:
            self.ctx.cancel.set()
            out.outcome = "interrupted"
            # A handler may stop the run on purpose (the headnode rebooting itself): its
            # error says what to do next; a plain Ctrl-C just says where.
            out.error = e if isinstance(e, Interrupted) and type(e) is not Interrupted \
                else Interrupted(f"interrupted during step {step.id}")
        except SdcAdmError as e:
            out.outcome = "failed"
            out.error = e
        except Exception as e:  # a bug or an unexpected library error: still journal it
            out.outcome = "failed"
            out.error = InternalError(f"{type(e).__name__}: {e}", cause=e)
        out.finished = iso_now()
        self._journal("step-end", step=step.id, outcome=out.outcome,
                      error=out.error.to_json() if out.error else None)
        return out

    def _undone(self, handler: Any, step: Step) -> bool:
        """A step an earlier run finished whose effect is gone since (an imported image
        deleted in between, say): its handler says it may be looked at again
        (`recheck_done`), and it is not in place; it then runs again. A look that fails
        keeps the step done, as before."""
        if not getattr(handler, "recheck_done", False):
            return False
        try:
            if handler.check(self.ctx, step):
                return False
        except SdcAdmError:
            return False
        self.ctx.say(f"Step {step.id} was done in an earlier run but is no longer in place "
                     f"({step.summary or step.action}): running it again")
        return True

    def _journal(self, event: str, **fields: Any) -> bool:
        """Journal an event. A journal that cannot be written (a full disk) stops the run
        at the next safe point, as Ctrl-C does; `journal.failed` says why. False then."""
        journal = self.ctx.journal
        if journal is None:
            return True
        try:
            journal.append(event, **fields)
        except WriteFailedError:
            self.ctx.cancel.set()
            return False
        return True

    def _run_with_retries(self, handler: Handler, step: Step) -> str:
        """Run the step; after a transient failure (a 5xx, a connection closed or timed out)
        look whether its effect happened anyway (`check`), else run it again after a backoff,
        a bounded number of times, each retry journalled. "done" or "verified"."""
        tries = max(0, int(getattr(self.ctx.config, "mutation_retries", MUTATION_RETRIES)))
        for attempt in range(tries + 1):
            try:
                handler.run(self.ctx, step)
                return "done"
            except SdcAdmError as e:
                if attempt >= tries or not transient(e):
                    raise
                self._journal("step-retry", step=step.id, attempt=attempt + 1,
                              error=e.to_json())
                self.ctx.say(f"Step {step.id} hit a transient error ({e.message.splitlines()[0]}); "
                             f"retrying ({attempt + 1}/{tries})")
                self.ctx.sleep(self.ctx.poll_interval * (2 ** attempt))
                if handler.check(self.ctx, step):
                    return "verified"
        raise AssertionError("unreachable")

    # -- a parallel group ----------------------------------------------------------------
    def _run_group(self, group: list[Step], outcomes: dict[str, StepOutcome]) -> None:
        first = group[0]
        width = max(1, int(first.concurrency or 1))
        policy = first.on_failure
        pending = list(group)
        running: dict[cf.Future, Step] = {}
        holding: list[Step] = []
        failed = False
        waiting_said = False
        # A group of one action (an agent's servers) may have a handler that shows and sums
        # it up (a progress bar, a tally); a wave of services mixes actions.
        single = all(s.action == first.action for s in group)
        handler = self.handlers[first.action] if single else None
        by_ref = {**{s.target: s for s in group}, **{s.id: s for s in group}}
        shown = self._fanout(handler, group)
        with cf.ThreadPoolExecutor(max_workers=min(width, len(group)),
                                   thread_name_prefix="step") as pool:
            try:
                while pending or running:
                    if policy == "hold" and len(holding) >= PAUSE_AFTER and not self.stopped:
                        self.stopped = ("paused", _holding_reason(holding, outcomes))
                    control = self.ctx.control() if self.ctx.control else None
                    if control and control[0] == "cancel" and not self.stopped:
                        self.stopped = ("cancelled", control[1])
                    paused = bool(control and control[0] == "pause")
                    closed = (self.ctx.cancelled() or bool(self.stopped)
                              or (failed and policy == "stop"))
                    while pending and not closed and not paused \
                            and len(running) + len(holding) < width:
                        step = _next(pending, running.values(), holding, outcomes, by_ref)
                        if step is None:
                            break
                        pending.remove(step)
                        running[pool.submit(self._run_one, step, outcomes[step.id])] = step
                        shown.begin_one()
                    if not running:
                        if pending and paused and not closed:
                            if not waiting_said:
                                waiting_said = True
                                self.ctx.say(f"Paused: {control[1]}" if control else "Paused")
                            self.ctx.sleep(2 * SLICE)
                            continue
                        break
                    if not paused:
                        waiting_said = False
                    done, _ = cf.wait(list(running), timeout=SLICE,
                                      return_when=cf.FIRST_COMPLETED)
                    self.ctx.cancelled()  # turn a pending Ctrl-C into the cancel event
                    for fut in done:
                        step = running.pop(fut)
                        result = fut.result()
                        failed_now = result.outcome == "failed"
                        shown.end_one(True if result.ok else False if failed_now else None)
                        if failed_now:
                            failed = True
                            if policy == "hold":
                                holding.append(step)
                                holding.sort(key=group.index)  # plan order, for messages
            except (KeyboardInterrupt, Interrupted):
                self.ctx.cancel.set()
                cf.wait(list(running))
            finally:
                shown.close("interrupted" if self.ctx.cancelled() else
                            self.stopped[0] if self.stopped else "done")
        summarize = getattr(handler, "summarize", None)
        if callable(summarize):
            summarize(self.ctx, group, [outcomes[s.id] for s in group])

    def _fanout(self, handler: Handler | None, group: list[Step]) -> Activity:
        """The group's progress (done, failed, running, waiting) when its handler names
        it (`fanout(steps) -> (label, noun, verb)`), else nothing shown."""
        describe = getattr(handler, "fanout", None)
        if not callable(describe) or self.ctx.progress is None:
            return Activity()
        label, noun, verb = describe(group)
        return self.ctx.progress.fanout(label, len(group), noun=noun, verb=verb)

    def _announce(self, step: Step) -> None:
        """`--- Updating <change> ...` before the first step of a change that runs (a
        resumed run says nothing of the changes an earlier run finished)."""
        if self.change_count <= 1 or not step.change or step.action == "import-image":
            return
        with self._announce_lock:  # steps of a wave start from several threads
            if step.change in self._announced:
                return
            self._announced.add(step.change)
        self.ctx.say("", f"--- Updating {step.change} ...")


def _next(pending: list[Step], running: Iterable[Step], holding: list[Step],
          outcomes: Mapping[str, StepOutcome], by_ref: Mapping[str, Step]) -> Step | None:
    """The first pending step whose predecessors (named by step id or by target)
    succeeded and whose keys are free."""
    busy = {k for s in (*running, *holding) for k in s.exclusive}
    for step in pending:
        if busy.intersection(step.exclusive):
            continue
        deps = [by_ref[t] for t in step.after if t in by_ref]
        if all(outcomes[d.id].ok for d in deps):
            return step
    return None


def _holding_reason(holding: list[Step], outcomes: Mapping[str, StepOutcome]) -> str:
    parts = []
    for s in holding:
        err = outcomes[s.id].error
        what = s.summary or f"{s.action} {s.target}"
        parts.append(f"{what}: {err.message.splitlines()[0]}" if err else what)
    return f"{len(holding)} failed and are still out: " + "; ".join(parts)


