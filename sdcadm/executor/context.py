"""What an effect handler gets: clients, configuration, options, output and a way to stop."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, TypeVar

from sdcadm.errors import Interrupted
from sdcadm.plan import Step
from sdcadm.render.progress import Activity

T = TypeVar("T")

# The original polls every 5 s and sizes its timeouts in those polls (60 x 5 s = 5 min).
NOMINAL_POLL = 5.0
SLICE = 0.1  # longest wait before a Ctrl-C is noticed


@dataclass
class ExecContext:
    clients: Any
    config: Any
    progress: Any  # sdcadm.render.progress.Progress
    options: Mapping[str, Any] = field(default_factory=dict)
    journal: Any = None  # sdcadm.executor.journal.Journal
    previous: Mapping[str, Any] = field(default_factory=dict)  # step id -> StepRecord (resume)
    cancel: threading.Event = field(default_factory=threading.Event)
    warn: Callable[[str], None] | None = None
    # Operator control from elsewhere (a reboot plan's pause/cancel): None, or
    # ("pause"|"cancel", reason); asked each time the engine could start a step.
    control: Callable[[], tuple[str, str] | None] | None = None
    # Set by the SIGINT handler. A signal handler must not take locks (Event.set does, and
    # the interrupted code may hold that very lock), so it only flips this flag and the
    # executor's own code turns it into `cancel` at the next check.
    sigint: bool = False
    _notes: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _notes_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cancelled(self) -> bool:
        if self.sigint and not self.cancel.is_set():
            self.cancel.set()
        return self.cancel.is_set()

    @property
    def poll_interval(self) -> float:
        return float(getattr(self.config, "poll_interval", NOMINAL_POLL) or NOMINAL_POLL)

    def scaled(self, seconds: float) -> float:
        """A real-world timeout, shortened in proportion when polling faster than the
        original's 5 s (the simulator at a small time scale), never lengthened."""
        return seconds * min(1.0, self.poll_interval / NOMINAL_POLL)

    def sleep(self, seconds: float | None = None) -> None:
        """Wait one poll (or `seconds`); raises Interrupted soon after Ctrl-C is pressed."""
        deadline = time.monotonic() + (self.poll_interval if seconds is None else seconds)
        while True:
            if self.cancelled():
                raise Interrupted("interrupted")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.cancel.wait(min(left, SLICE))

    def wait_for(self, probe: Callable[[], T | None], nominal: float,
                 timed_out: Callable[[], Exception], *, label: str | None = None,
                 detail: Callable[[], str] | None = None) -> T:
        """Ask `probe` every poll until it answers (not None); after `nominal` seconds of real
        time (scaled like every wait), raise what `timed_out` makes. With a `label`, the wait
        is shown while it lasts (see `waiting`), `detail` saying what it still waits on."""
        deadline = time.monotonic() + self.scaled(nominal)
        with self.waiting(label) if label else Activity() as shown:
            while (answer := probe()) is None:
                if detail is not None:
                    shown.detail(detail())
                if time.monotonic() >= deadline:
                    raise timed_out()
                self.sleep()
            return answer

    def check_cancel(self) -> None:
        if self.cancelled():
            raise Interrupted("interrupted")

    def note(self, step: Step, **facts: Any) -> None:
        """Journal facts about a step in flight (a job uuid...) for a retry or a resume."""
        with self._notes_lock:
            self._notes.setdefault(step.id, {}).update(facts)
        if self.journal is not None:
            self.journal.append("step-note", step=step.id, facts=facts)

    def notes(self, step: Step) -> Mapping[str, Any]:
        """What earlier runs, and this one so far, noted about the step."""
        rec = self.previous.get(step.id)
        with self._notes_lock:
            return {**(getattr(rec, "notes", None) or {}), **self._notes.get(step.id, {})}

    def say(self, *lines: str) -> None:
        self.progress.lines(*lines)

    def waiting(self, label: str) -> Activity:
        """A wait that may last, shown while it does (a spinner and its elapsed time on a
        terminal, timed lines elsewhere): `with ctx.waiting("reprovision of VM x") as w:`,
        `w.detail(...)` says what it is waiting on."""
        if self.progress is None:
            return Activity()
        return self.progress.wait(label)


class Handler(Protocol):
    """An effect handler: `run` makes the change, `check` says whether it is already made."""

    def run(self, ctx: ExecContext, step: Step) -> None: ...

    def check(self, ctx: ExecContext, step: Step) -> bool: ...


def minutes(seconds: float) -> str:
    """`5m` for 300 s, as the original's timeout messages; seconds when under a minute."""
    if seconds >= 60:
        return f"{int(round(seconds / 60))}m"
    return f"{int(round(seconds))}s"
