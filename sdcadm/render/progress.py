"""Progress output of a running command, on stderr.

On a terminal: rich rows, each with a spinner and its elapsed time (size and rate for a
download, counts for a fan-out over servers, a pulsing bar for a wait), the progress lines
printed above them. Otherwise: the plain lines the original printed and, when `interval` is
set, one timestamped line per activity when it starts, every `interval` seconds while it
lasts and when it ends, so that `| tee`, `script` and cron show a long wait moving:

    2026-11-29T19:30:00Z cn-agent: 412/751 servers updated, 3 failed, 5 running, 331 waiting (4m30s)
"""
from __future__ import annotations

import os
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, TextIO


class Activity:
    """One thing in progress: a download (bytes), a count, a fan-out of steps over servers,
    or a wait. Thread-safe. Made without a Progress, it shows nothing (a no-op)."""

    def __init__(self, progress: "Progress | None" = None, label: str = "", *,
                 kind: str = "wait", total: float | None = None, noun: str = "",
                 verb: str = "done") -> None:
        self._progress = progress
        self.label, self.kind, self.total, self.noun, self.verb = label, kind, total, noun, verb
        self.started = progress.clock() if progress is not None else 0.0
        self.next_at = 0.0  # when its next plain line is due
        self.completed = 0.0
        self.failed = 0
        self.running = 0
        self.detail_text = ""
        self.task_id: Any = None

    # -- what happens -------------------------------------------------------------------
    def advance(self, amount: float = 1) -> None:
        self._change(completed=amount)

    def begin_one(self) -> None:
        """A fan-out item starts."""
        self._change(running=1)

    def end_one(self, ok: bool | None) -> None:
        """A fan-out item ends: done (True), failed (False) or neither (None: stopped)."""
        self._change(running=-1, completed=1 if ok else 0, failed=1 if ok is False else 0)

    def detail(self, text: str) -> None:
        """What a wait is waiting on now (`zone running, SMF not online`)."""
        if text != self.detail_text:
            self.detail_text = text
            self._change()

    def close(self, outcome: str = "done") -> None:
        if self._progress is not None:
            self._progress._close(self, outcome)
            self._progress = None

    def __enter__(self) -> "Activity":
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        from sdcadm.errors import Interrupted

        if kind is None:
            self.close("done")
        elif issubclass(kind, (Interrupted, KeyboardInterrupt)):
            self.close("interrupted")
        else:
            self.close("failed")

    def _change(self, completed: float = 0, running: int = 0, failed: int = 0) -> None:
        progress = self._progress
        if progress is None:
            return
        with progress._lock:
            self.completed += completed
            self.running += running
            self.failed += failed
            progress._redraw(self)

    # -- how it reads ---------------------------------------------------------------------
    def status(self, final: bool = False, now: float | None = None) -> str:
        """`412/751 servers updated, 3 failed, 5 running, 331 waiting`, `210.0 MiB of 512.0
        MiB, 3.4 MiB/s`, or what a wait waits on."""
        if self.kind == "bytes":
            done = _size(self.completed) + (f" of {_size(self.total)}" if self.total else "")
            spent = (now if now is not None else time.monotonic()) - self.started
            if not final and spent > 0 and self.completed:
                done += f", {_size(self.completed / spent)}/s"
            return done
        if self.kind in ("count", "fanout"):
            total = int(self.total or 0)
            text = f"{int(self.completed)}/{total}" + (f" {counted(total, self.noun)}"
                                                       if self.noun else "")
            if self.kind == "count":
                return text
            text += f" {self.verb}, {self.failed} failed"
            if self.running:
                text += f", {self.running} running"
            waiting = total - int(self.completed) - self.failed - self.running
            if waiting > 0 and not final:
                text += f", {waiting} waiting"
            return text
        return self.detail_text or "waiting"


class Progress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 interval: float | None = None, echo: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, background: bool = True) -> None:
        """`interval`: seconds between two plain lines of an activity off a terminal (None:
        no such lines). `echo` hears every progress line (the run's log). `background`
        False leaves the plain lines to `tick()` (tests)."""
        self.stream = stream or sys.stderr
        if tty is None:
            tty = isatty(self.stream) and os.environ.get("TERM") != "dumb"
        self.tty = tty
        self.color = tty and not os.environ.get("NO_COLOR")
        self.interval = interval if interval and interval > 0 else None
        self.echo = echo
        self.clock, self.wall = clock, wall
        self._background = background
        self._lock = threading.RLock()
        self._rich: Any = None
        self._tasks = 0
        self._plain: list[Activity] = []
        self._wake = threading.Condition(self._lock)
        self._ticker: threading.Thread | None = None
        self._stopping = False

    # -- lines ---------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        with self._lock:
            if self.echo is not None:
                self.echo(text)
            self._write(text)

    def lines(self, *texts: str) -> None:
        with self._lock:
            for t in texts:
                self.line(t)

    def _write(self, text: str) -> None:
        if self._rich is not None:
            self._rich.console.print(text, markup=False, highlight=False, soft_wrap=True)
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass

    # -- activities ------------------------------------------------------------------------
    def download(self, label: str, total: int | None) -> Activity:
        """Bytes (size, rate) of one download."""
        return self._open(Activity(self, label, kind="bytes", total=total or None))

    def counter(self, label: str, total: int) -> Activity:
        """A count, e.g. files done out of all files."""
        return self._open(Activity(self, label, kind="count", total=total))

    def fanout(self, label: str, total: int, *, noun: str = "steps",
               verb: str = "done") -> Activity:
        """Steps run many at a time: done, failed, running and waiting."""
        return self._open(Activity(self, label, kind="fanout", total=total, noun=noun,
                                   verb=verb))

    def wait(self, label: str) -> Activity:
        """A wait that may last: a spinner, or plain lines with `detail` and elapsed time."""
        return self._open(Activity(self, label, kind="wait"))

    def _open(self, act: Activity) -> Activity:
        if self.tty:
            self._add_row(act)
        elif self.interval is not None:
            with self._lock:
                act.next_at = act.started + self.interval
                self._plain.append(act)
                self._plain_line(act, _start_text(act))
                self._start_ticker()
        else:
            act._progress = None
        return act

    def _close(self, act: Activity, outcome: str) -> None:
        with self._lock:
            if act in self._plain:
                self._plain.remove(act)
                text = outcome if act.kind == "wait" else f"{outcome}: {act.status(final=True)}"
                self._plain_line(act, text, elapsed=True)
            elif act.task_id is not None:
                self._remove_row(act)

    def _redraw(self, act: Activity) -> None:
        if self._rich is not None and act.task_id is not None:
            self._rich.update(act.task_id, completed=act.completed, detail=act.status())

    # -- plain lines off a terminal -----------------------------------------------------------
    def tick(self) -> None:
        """Print the line of every activity that is due, and schedule its next one."""
        with self._lock:
            now = self.clock()
            for act in list(self._plain):
                if act.next_at <= now:
                    self._plain_line(act, act.status(now=now), elapsed=True)
                    act.next_at = now + (self.interval or 0)

    def _plain_line(self, act: Activity, text: str, *, elapsed: bool = False) -> None:
        stamp = datetime.fromtimestamp(self.wall(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        took = f" ({elapsed_text(self.clock() - act.started)})" if elapsed else ""
        self._write(f"{stamp} {act.label}: {text}{took}")

    def _start_ticker(self) -> None:
        if not self._background:
            return
        self._stopping = False  # a closing ticker that has not woken yet goes on
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._run_ticker, name="progress",
                                            daemon=True)
            self._ticker.start()
        self._wake.notify_all()

    def _run_ticker(self) -> None:
        with self._lock:
            while not self._stopping:
                self.tick()
                due = min((a.next_at for a in self._plain), default=None)
                if due is None:
                    break  # nothing left to show: the next activity starts a new ticker
                self._wake.wait(max(0.0, due - self.clock()))
            self._ticker = None

    # -- rows on a terminal ------------------------------------------------------------------
    def _add_row(self, act: Activity) -> None:
        from rich import progress as rp

        with self._lock:
            if self._rich is None:
                from rich.console import Console

                console = Console(file=self.stream, force_terminal=True,
                                  no_color=not self.color, highlight=False)
                self._rich = rp.Progress(
                    rp.SpinnerColumn(),
                    rp.TextColumn("{task.description}"),
                    rp.BarColumn(bar_width=24),
                    rp.TextColumn("{task.fields[detail]}"),
                    rp.TimeElapsedColumn(),
                    console=console,
                    transient=True,
                    refresh_per_second=5,
                )
                self._rich.start()
            act.task_id = self._rich.add_task(act.label, total=act.total, detail=act.status())
            self._tasks += 1

    def _remove_row(self, act: Activity) -> None:
        if self._rich is None:
            return
        self._rich.remove_task(act.task_id)
        act.task_id = None
        self._tasks -= 1
        if self._tasks <= 0:
            self._rich.stop()
            self._rich = None
            self._tasks = 0

    def refresh(self) -> None:
        """Draw the rows now rather than at the next refresh."""
        with self._lock:
            if self._rich is not None:
                self._rich.refresh()

    def close(self) -> None:
        with self._lock:
            if self._rich is not None:
                self._rich.stop()
                self._rich = None
                self._tasks = 0
            self._plain.clear()
            self._stopping = True
            self._wake.notify_all()


def _start_text(act: Activity) -> str:
    if act.kind == "fanout":
        total = int(act.total or 0)
        return f"started, {total} {counted(total, act.noun)}".rstrip()
    if act.kind == "bytes" and act.total:
        return f"started, {_size(act.total)}"
    return "started"


def counted(n: int, noun: str) -> str:
    """`noun` (a plural: `servers`) as `n` of them read: `server` when there is one."""
    return noun[:-1] if n == 1 and noun.endswith("s") else noun


def elapsed_text(seconds: float) -> str:
    """`45s`, `4m30s`, `1h2m3s`."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
