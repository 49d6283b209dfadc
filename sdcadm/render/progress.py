"""Progress output of a running update, on stderr.

On a terminal: rich progress bars (bytes and rate for downloads, a count for per-server
work) with the progress lines printed above them. Otherwise: plain lines only, one per
event, so logs and tests read the same text the original printed.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Any, TextIO


class Bar:
    """One bar; `advance` is cheap and thread-safe. A no-op when not on a terminal."""

    def __init__(self, progress: "Progress | None" = None, task_id: Any = None) -> None:
        self._progress = progress
        self._task_id = task_id

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None:
            self._progress._advance(self._task_id, amount)

    def close(self) -> None:
        if self._progress is not None:
            self._progress._remove(self._task_id)
            self._progress = None

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Progress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        if tty is None:
            tty = isatty(self.stream) and os.environ.get("TERM") != "dumb"
        self.tty = tty
        self.color = tty and not os.environ.get("NO_COLOR")
        self._lock = threading.RLock()
        self._rich: Any = None
        self._tasks = 0

    # -- lines ---------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        with self._lock:
            if self._rich is not None:
                self._rich.console.print(text, markup=False, highlight=False, soft_wrap=True)
                return
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                pass

    def lines(self, *texts: str) -> None:
        with self._lock:
            for t in texts:
                self.line(t)

    # -- bars ----------------------------------------------------------------------------
    def download(self, label: str, total: int | None) -> Bar:
        """A bytes bar (size, rate) for one image download."""
        if not self.tty:
            return Bar()
        return self._add(label, total, kind="bytes")

    def counter(self, label: str, total: int) -> Bar:
        """A count bar, e.g. servers done out of all servers for one agent."""
        if not self.tty:
            return Bar()
        return self._add(label, total, kind="count")

    def _add(self, label: str, total: int | None, *, kind: str) -> Bar:
        from rich import progress as rp

        with self._lock:
            if self._rich is None:
                from rich.console import Console

                console = Console(file=self.stream, force_terminal=True,
                                  no_color=not self.color, highlight=False)
                self._rich = rp.Progress(
                    rp.TextColumn("{task.description}"),
                    rp.BarColumn(),
                    rp.TaskProgressColumn(),
                    rp.TextColumn("{task.fields[detail]}"),
                    rp.TimeRemainingColumn(),
                    console=console,
                    transient=True,
                    refresh_per_second=5,
                )
                self._rich.start()
            detail = ""
            task_id = self._rich.add_task(label, total=total, detail=detail)
            self._rich.update(task_id, kind=kind)
            self._tasks += 1
            return Bar(self, task_id)

    def _advance(self, task_id: Any, amount: float) -> None:
        with self._lock:
            if self._rich is None:
                return
            self._rich.advance(task_id, amount)
            task = self._rich._tasks.get(task_id)
            if task is not None and task.fields.get("kind") == "bytes":
                speed = task.speed or 0
                self._rich.update(task_id, detail=f"{_size(task.completed)} {_size(speed)}/s")
            elif task is not None:
                self._rich.update(task_id, detail=f"{int(task.completed)}/{int(task.total or 0)}")

    def _remove(self, task_id: Any) -> None:
        with self._lock:
            if self._rich is None:
                return
            self._rich.remove_task(task_id)
            self._tasks -= 1
            if self._tasks <= 0:
                self._rich.stop()
                self._rich = None
                self._tasks = 0

    def close(self) -> None:
        with self._lock:
            if self._rich is not None:
                self._rich.stop()
                self._rich = None
                self._tasks = 0


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
