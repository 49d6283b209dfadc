"""One update or rollback at a time per headnode: an flock on `config.lock_path`.

The holder writes its pid, command, start time and run uuid into the file so a waiter can
say who holds it. The content is informational only: the kernel drops an flock when its
process dies, so a stale file never blocks anyone.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sdcadm.errors import ConfigError, InternalError, LockError

DEFAULT_WAIT = 5.0  # seconds a second run waits before giving up


class RunLock:
    def __init__(
        self,
        path: Path,
        *,
        command: str,
        run_uuid: str,
        wait: float = DEFAULT_WAIT,
        info: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.command = command
        self.run_uuid = run_uuid
        self.wait = wait
        self.info = info or (lambda _msg: None)
        self._fd: int | None = None

    @classmethod
    def for_app(cls, app: Any, command: str, *, run_uuid: str | None = None,
                wait: float | None = None) -> "RunLock":
        """The headnode lock as configured: `wait` if given, else $SDCADM_LOCK_WAIT, else the
        configuration's `lockWait`."""
        if wait is None:
            env = os.environ.get("SDCADM_LOCK_WAIT")
            try:
                wait = float(env) if env else float(getattr(app.config, "lock_wait",
                                                            DEFAULT_WAIT))
            except ValueError:
                raise ConfigError(
                    f'SDCADM_LOCK_WAIT: "{env}" is not a number of seconds') from None
        return cls(app.config.lock_path, command=command, run_uuid=run_uuid or app.request_id,
                   wait=wait, info=app.info)

    def acquire(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # the original's InternalError, naming the lock path
            raise InternalError(f"error acquiring lock {self.path}: {e.strerror or e}") from e
        deadline = time.monotonic() + self.wait
        said_waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not said_waiting:
                    self.info("Waiting for sdcadm lock")
                    said_waiting = True
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LockError(self._busy_message(holder)) from None
                time.sleep(0.05)
        holder = {
            "pid": os.getpid(),
            "command": self.command,
            "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "run_uuid": self.run_uuid,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _busy_message(self, holder: dict[str, Any]) -> str:
        if holder.get("pid"):
            return (
                f"another sdcadm is running (pid {holder.get('pid')}, "
                f"command \"{holder.get('command', '?')}\", started {holder.get('started', '?')}); "
                f"lock: {self.path}"
            )
        return f"another sdcadm holds the lock {self.path}"


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        holder = json.loads(data) if data else {}
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}
