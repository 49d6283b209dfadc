"""A run's log: bunyan-compatible JSON lines, one file per mutating run.

`<logDir>/<ms>-<pid>-<command>.log` (`logDir`, default /var/log/sdcadm/logs), created 0600
in 0700 directories, named on stderr in the run's first and last lines (`Log: <path>`) and
in its history entry (`logFile`). Every record has bunyan's fields (`name` "sdcadm",
`hostname`, `pid`, `level`, `msg`, `time`, `v` 0) and `req_id`, the x-request-id every API
call of this invocation carries; then, by what it tells:

- an API request: `client`, `method`, `path`, `status` (null: no answer), `latency` (ms).
  Requests made before the run started (the reads that made its plan) are kept and
  written first;
- a journal event: `event`, `step`, `action`, `target`, `outcome`, `duration` (ms, at its
  end), `error`;
- a line the run printed on stderr: `stream` "stderr".

Secrets stay out: request paths go through `redact_url`, journal events are redacted by
the journal, printed lines by `redact`. A log never stops a run: a logDir that cannot be
written is warned about once and the run goes on without one.
"""
from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from sdcadm import observers

# bunyan's levels
TRACE, DEBUG, INFO, WARN, ERROR, FATAL = 10, 20, 30, 40, 50, 60
# Records kept from before the run started; a huge planning read beyond it is counted.
EARLY = 20_000
CORE = ("name", "hostname", "pid", "level", "msg", "time", "v", "req_id")


class RunLog:
    """The log of one invocation; hears its requests from the start, writes from `begin`
    to `end`. Thread-safe."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.path: Path | None = None
        self._lock = threading.RLock()  # a warning about the log is itself a logged line
        self._fh: Any = None
        self._warn: Callable[[str], None] | None = None
        self._state = "early"  # early (keeping records) | open | done
        self._early: deque[dict[str, Any]] = deque(maxlen=EARLY)
        self._dropped = 0
        self._depth = 0
        self._warned = False
        self._steps: dict[str, tuple[float, Any, Any]] = {}
        self._host = socket.gethostname()
        observers.listen(request_id, self.request)

    # -- what is logged ---------------------------------------------------------------------
    def request(self, rec: Mapping[str, Any]) -> None:
        status = rec.get("status")
        level = WARN if status is None or status >= 500 else DEBUG
        msg = (f"{rec.get('client')} {rec.get('method')} {rec.get('path')} "
               f"{status if status is not None else 'ERR'} {rec.get('latency')}ms")
        self.record(level, msg, **rec)

    def output(self, text: str, level: int = INFO) -> None:
        from sdcadm.redact import redact

        if self._state != "done":
            self.record(level, redact(text), stream="stderr")

    def event(self, ev: Mapping[str, Any]) -> None:
        """A journal event (already redacted by the journal)."""
        fields = {k: v for k, v in ev.items() if k != "time"}
        name, step = str(ev.get("event")), ev.get("step")
        level = INFO
        if step is not None and name in ("step-intent", "step-start"):
            with self._lock:
                if step not in self._steps:
                    self._steps[step] = (time.monotonic(), ev.get("action"), ev.get("target"))
        elif step is not None and name == "step-end":
            with self._lock:
                began, action, target = self._steps.pop(step, (None, None, None))
            fields.setdefault("action", action)
            fields.setdefault("target", target)
            if began is not None:
                fields["duration"] = round((time.monotonic() - began) * 1000)
            level = {"failed": ERROR, "interrupted": WARN}.get(str(ev.get("outcome")), INFO)
        elif name == "step-retry":
            level = WARN
        elif name == "run-end" and ev.get("status") not in ("done", None):
            level = ERROR if ev.get("status") == "failed" else WARN
        what = " ".join(str(x) for x in (name, step, ev.get("outcome") or ev.get("status"))
                        if x is not None)
        self.record(level, what, **fields)

    def record(self, level: int, msg: str, **fields: Any) -> None:
        from sdcadm.executor.journal import iso_now

        rec = {"name": "sdcadm", "hostname": self._host, "pid": os.getpid(), "level": level,
               "msg": msg, "time": iso_now(), "v": 0, "req_id": self.request_id}
        rec.update((k, v) for k, v in fields.items() if k not in CORE)
        with self._lock:
            if self._state == "early":
                if len(self._early) == self._early.maxlen:
                    self._dropped += 1
                self._early.append(rec)
            elif self._state == "open":
                self._write(rec)

    def _write(self, rec: Mapping[str, Any]) -> None:
        """One line (the lock held); a failed write ends the log, said once."""
        if self._fh is None:
            return
        try:
            self._fh.write(json.dumps(rec, separators=(",", ":"), default=str) + "\n")
            self._fh.flush()
        except (OSError, ValueError) as e:
            self._fh = None
            self._state = "done"
            self._say_once(f"sdcadm: warning: cannot write the run log {self.path}: "
                           f"{getattr(e, 'strerror', None) or e}; the run goes on without it")

    # -- the run -----------------------------------------------------------------------------
    def begin(self, config: Any, command: str, *, say: Callable[[str], None],
              warn: Callable[[str], None], **fields: Any) -> Path | None:
        """Open the log for `command` and say where it is. A run within a run (nested
        entry points) keeps the outer log."""
        with self._lock:
            self._depth += 1
            if self._depth > 1 or self._state != "early":
                return self.path
            self._warn = warn
        log_dir = getattr(config, "log_dir", None)
        if log_dir is None:  # a configuration without one (tests of the engine alone)
            return None
        from sdcadm.private_files import make_dirs, open_private

        name = f"{int(time.time() * 1000)}-{os.getpid()}-{slug(command)}.log"
        path = Path(log_dir) / name
        try:
            make_dirs(log_dir)
            fh = open_private(path, "a", encoding="utf-8")
        except OSError as e:
            with self._lock:
                self._state = "done"
                self._early.clear()
                self._say_once(f"sdcadm: warning: cannot write a run log in {log_dir}: "
                               f"{e.strerror or e}; the run goes on without one")
            return None
        with self._lock:
            self._fh, self.path, self._state = fh, path, "open"
            early, self._early = list(self._early), deque()
            if self._dropped:
                early.insert(0, {**early[0], "level": WARN, "msg": f"{self._dropped} earlier "
                                 "records were not kept", "dropped": self._dropped})
            for rec in early:
                self._write(rec)
        from sdcadm import __version__

        self.record(INFO, f"{command} started", command=command, version=__version__,
                    config=getattr(config, "source", None), **fields)
        say(f"Log: {path}")
        return path

    def end(self, say: Callable[[str], None], **fields: Any) -> None:
        """Close the log of the outermost run and say where it is, once more."""
        with self._lock:
            self._depth = max(0, self._depth - 1)
            if self._depth or self._state != "open":
                return
        say(f"Log: {self.path}")
        self.record(INFO, "ended", **fields)
        with self._lock:
            self._state = "done"
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def close(self) -> None:
        """The invocation is over: hear no more requests."""
        observers.forget(self.request_id)
        with self._lock:
            self._state = "done"
            self._early.clear()
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def _say_once(self, line: str) -> None:
        if not self._warned:
            self._warned = True
            if self._warn is not None:
                self._warn(line)


def slug(command: str) -> str:
    """`reboot-plan run` -> `reboot-plan-run`: a file name's part."""
    return re.sub(r"[^A-Za-z0-9]+", "-", command).strip("-") or "run"


# -- the entry points' side -------------------------------------------------------------------
def of(app: Any) -> RunLog | None:
    return getattr(app, "run_log", None)


def begin(app: Any, command: str, **fields: Any) -> None:
    log = of(app)
    if log is not None:
        log.begin(app.config, command, say=app.info,
                  warn=getattr(app, "warn", None) or app.info, **fields)


def end(app: Any, **fields: Any) -> None:
    log = of(app)
    if log is not None:
        log.end(app.info, **fields)


def failed(app: Any, error: BaseException) -> None:
    """The error that ends the run, in bunyan's `err` form."""
    from sdcadm.redact import redact

    log = of(app)
    if log is None:
        return
    message = str(getattr(error, "message", None) or error) or type(error).__name__
    log.record(ERROR, redact(message.splitlines()[0]), err={
        "name": type(error).__name__, "code": getattr(error, "code", None),
        "message": redact(message)})


@contextmanager
def held(app: Any, lock: Any = None) -> Iterator[None]:
    """Around a run's body: an error that ends it is logged; then the headnode lock (if
    any) is released and the log ended, whatever happened."""
    try:
        yield
    except BaseException as e:
        failed(app, e)
        raise
    finally:
        if lock is not None:
            lock.release()
        end(app)


def follow(app: Any, journal: Any) -> None:
    """Log the journal's events (steps, their outcomes) as they are written."""
    log = of(app)
    if log is not None and log.path is not None:
        journal.observers.append(log.event)


def echo(app: Any) -> Callable[[str], None] | None:
    """What hears the run's progress lines."""
    log = of(app)
    return log.output if log is not None else None


def cli_command(fallback: str) -> str:
    """The command being run (`channel set`), from click; `fallback` outside the CLI."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return fallback
    words = ctx.command_path.split()
    return " ".join(words[1:]) or fallback
