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
from sdcadm.private_files import FILE_MODE, make_dirs

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
        lease: Callable[[], Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.command = command
        self.run_uuid = run_uuid
        self.wait = wait
        self.info = info or (lambda _msg: None)
        self._fd: int | None = None
        # The datacenter-wide lease (`executor/lease.py`) taken once the local lock is held:
        # the flock is the fast path on this headnode, the lease the rule for everyone.
        self._make_lease = lease
        self.lease: Any = None

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
        run = run_uuid or app.request_id
        clients = getattr(app, "clients", None)
        sapi = getattr(clients, "sapi", None) if clients is not None else None

        def lease() -> Any:
            from sdcadm.executor.lease import DatacenterLease
            from sdcadm.executor.openruns import vet_takeover

            poll = float(getattr(app.config, "poll_interval", 5.0) or 5.0)
            return DatacenterLease(sapi, command=command, run_uuid=run,
                                   ttl=float(getattr(app.config, "lease_ttl", 60.0) or 60.0),
                                   settle=min(0.5, max(0.05, poll)), wait=float(wait or 0),
                                   retries=int(getattr(app.config, "mutation_retries", 3)),
                                   info=app.info, vet=lambda held: vet_takeover(app, held))
        return cls(app.config.lock_path, command=command, run_uuid=run, wait=wait,
                   info=app.info, lease=lease if sapi is not None else None)

    def acquire(self) -> "RunLock":
        """Take the local lock (the datacenter lease is `take_lease`'s, once the run is
        about to act)."""
        try:
            make_dirs(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
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
        _write_holder(fd, holder)
        self._fd = fd
        return self

    def retitle(self, run_uuid: str) -> None:
        """Name the run this lock serves (a resume learns it once it holds the lock)."""
        self.run_uuid = run_uuid
        if self._fd is not None:
            holder = _read_holder(self._fd)
            holder["run_uuid"] = run_uuid
            _write_holder(self._fd, holder)
        if self.lease is not None:
            self.lease.run_uuid = run_uuid

    def take_lease(self, work_dir: str | os.PathLike[str] | None = None) -> None:
        """The datacenter lease, for a run that holds the local lock and is about to act;
        `work_dir`, the run's journal, is named in it (so that, should the run die, whoever
        finds its lease knows where to continue it)."""
        if self._make_lease is not None and self.lease is None:
            lease = self._make_lease()
            if work_dir:
                lease.work_dir = str(work_dir)
            lease.run_uuid = self.run_uuid  # retitled since the lock was made
            self.lease = lease.acquire()

    def check_lease(self) -> None:
        """Refuse as `take_lease` would, without writing the lease: for a read (the HA
        roles) that must not overlap a run elsewhere but changes nothing itself."""
        if self._make_lease is not None and self.lease is None:
            lease = self._make_lease()
            lease.run_uuid = self.run_uuid
            lease.check_free()

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        self._release_flock()

    def lost(self) -> str | None:
        """Why the datacenter lease is no longer this run's (broken, taken over), if so."""
        return getattr(self.lease, "lost", None)

    def _release_flock(self) -> None:
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


def read_holder(path: Path) -> dict[str, Any]:
    """Who holds this headnode's lock (an empty dict when nobody does)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return {}
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or {"pid": "?"}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return {}  # nobody holds it: what the file says is stale
    finally:
        os.close(fd)


def _write_holder(fd: int, holder: dict[str, Any]) -> None:
    """Say who holds the lock. Only informational (the flock is the lock): on a full disk
    the run goes on to its pre-flight, which says what is wrong."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    except OSError:
        pass


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        holder = json.loads(data) if data else {}
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}
