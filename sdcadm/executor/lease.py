"""One mutating run at a time per datacenter: a lease held in the datacenter itself.

The local flock (`executor/lock.py`) only sees runs on this headnode with this `varDir`; the
lease is a metadata key of the `sdc` SAPI application (`sdcadm_lease`), so every sdcadm that
can change the datacenter sees it, whatever its host or configuration:

    {"token", "host", "pid", "command", "run_uuid", "work_dir", "started", "heartbeat",
     "expiry"}

SAPI has no compare-and-set, so taking it is write-then-verify: read (refuse if another
holder's lease has not expired), write ours, wait a settle time, read again: only the last
writer finds its own token, so of two runs racing, one goes on and the other is refused. A
thread renews the heartbeat and the expiry while the run lives (every third of `leaseTtl`); a
holder that dies stops renewing, and its lease can be taken over once it expires, or broken
at once with `sdcadm lock break --force`. A lease that cannot be written (SAPI down) stops the
run before its first change.

A lease names the work directory of its run (`work_dir`, when it has one). Before the lease
of a dead or expired holder is taken over, `vet` hears it and refuses when that run did not
finish (`openruns.vet_takeover`): taking it would orphan the run's remaining steps, wherever
its journal is. The run itself (a resume, an abandon: the same `run_uuid`) takes it over.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from sdcadm.errors import LeaseError, SdcAdmError, UnfinishedRunError, transient

KEY = "sdcadm_lease"
DEFAULT_TTL = 60.0  # seconds a lease lives without a heartbeat


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def expired(lease: Mapping[str, Any], now: datetime | None = None) -> bool:
    when = _parse(lease.get("expiry"))
    return when is None or when <= (now or datetime.now(timezone.utc))


def dead_here(lease: Mapping[str, Any]) -> bool:
    """The holder ran on this host and its process is gone: no need to wait for expiry."""
    if lease.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(lease.get("pid") or 0), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, OverflowError):
        return False
    return not lease.get("pid")


def describe(lease: Mapping[str, Any]) -> str:
    """`update (run 1b2c..., pid 123 on headnode, since ..., last heartbeat ...)`."""
    return (f"{lease.get('command', '?')} (run {lease.get('run_uuid', '?')}, pid "
            f"{lease.get('pid', '?')} on {lease.get('host', '?')}, since "
            f"{lease.get('started', '?')}, last heartbeat {lease.get('heartbeat', '?')})")


def _busy(held: Mapping[str, Any]) -> LeaseError:
    """The refusal while a live run holds the lease."""
    return LeaseError(f"the datacenter is being changed by {describe(held)}: wait for it to "
                      f"finish; if that process is gone, its lease expires at "
                      f"{held.get('expiry')}, or run \"sdcadm lock break --force\"")


class DatacenterLease:
    def __init__(self, sapi: Any, *, command: str, run_uuid: str, ttl: float = DEFAULT_TTL,
                 settle: float = 0.5, wait: float = 0.0, retries: int = 3,
                 info: Callable[[str], None] | None = None,
                 vet: Callable[[Mapping[str, Any]], None] | None = None,
                 work_dir: str | None = None) -> None:
        self.sapi = sapi
        self.command = command
        self.run_uuid = run_uuid
        self.work_dir = work_dir  # the run's journal, named in the lease
        self.vet = vet  # raises to refuse taking over a dead or expired lease
        self.ttl = ttl
        self.settle = settle
        self.wait = wait
        self.retries = retries  # transient SAPI errors ridden out while taking or giving back
        self.info = info or (lambda _m: None)
        self.token = str(uuidlib.uuid4())
        self.lost: str | None = None  # why the lease is no longer ours, if it was taken
        self._app: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = _iso(datetime.now(timezone.utc))

    # -- reading and writing ---------------------------------------------------------------
    def app_uuid(self) -> str:
        if self._app is None:
            from sdcadm.gather import sdc_application

            self._app = sdc_application(self.sapi).uuid
        return self._app

    def current(self) -> dict[str, Any] | None:
        app = self.sapi.get_application(self.app_uuid())
        lease = (app.get("metadata") or {}).get(KEY)
        return dict(lease) if isinstance(lease, Mapping) else None

    def _ours(self) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        return {"token": self.token, "host": socket.gethostname(), "pid": os.getpid(),
                "command": self.command, "run_uuid": self.run_uuid,
                **({"work_dir": self.work_dir} if self.work_dir else {}),
                "started": self._started,
                "heartbeat": _iso(now), "expiry": _iso(now + timedelta(seconds=self.ttl))}

    def _write(self, lease: Mapping[str, Any]) -> None:
        self.sapi.update_application(self.app_uuid(), {"metadata": {KEY: dict(lease)}})

    # -- taking and giving back ---------------------------------------------------------------
    def acquire(self) -> "DatacenterLease":
        deadline = time.monotonic() + self.wait
        said = False
        blips = 0
        try:
            while True:
                try:
                    held = self._take_once()
                except SdcAdmError as e:
                    # Read, write, read again: safe to repeat after a SAPI hiccup.
                    if not transient(e) or blips >= self.retries:
                        raise
                    blips += 1
                    time.sleep(min(5.0, self.settle * 2 ** blips))
                    continue
                if held is None:
                    break
                if self._in_the_way(held):
                    said = self._wait_for(held, deadline, said)
                    continue
                if time.monotonic() >= deadline:
                    raise LeaseError(f"another sdcadm took the datacenter lease at the same "
                                     f"moment: {describe(held)}; try again")
        except (LeaseError, UnfinishedRunError):
            raise
        except SdcAdmError as e:
            raise LeaseError(f"cannot take the datacenter lease (nothing was changed): "
                             f"{e.message.splitlines()[0]}", runtime=True) from e
        self._thread = threading.Thread(target=self._renew, name="lease", daemon=True)
        self._thread.start()
        return self

    def check_free(self) -> None:
        """Read only, for a look at the datacenter that must not overlap a run elsewhere:
        wait for a live holder as `acquire` does and refuse as it would (a run still holding
        it; a dead or expired one whose run did not finish), without writing the lease."""
        deadline = time.monotonic() + self.wait
        said = False
        while True:
            try:
                held = self.current()
            except SdcAdmError as e:
                raise LeaseError(f"cannot read the datacenter lease (nothing was changed): "
                                 f"{e.message.splitlines()[0]}", runtime=True) from e
            if not held or held.get("token") == self.token:
                return
            if not self._in_the_way(held):  # dead or expired
                self._vet(held)
                return
            said = self._wait_for(held, deadline, said)

    def _in_the_way(self, held: Mapping[str, Any] | None) -> bool:
        """Another holder's lease, alive: not ours, not expired, not a dead process here."""
        if not held:
            return False
        return held.get("token") != self.token and not expired(held) and not dead_here(held)

    def _vet(self, held: Mapping[str, Any]) -> None:
        """A dead or expired lease of another run is let go only if that run finished."""
        if self.vet is not None and held.get("run_uuid") != self.run_uuid:
            self.vet(held)

    def _wait_for(self, held: Mapping[str, Any], deadline: float, said: bool) -> bool:
        """A moment's wait for a live holder (said once), or its refusal at the deadline;
        True: the wait was said."""
        if time.monotonic() >= deadline:
            raise _busy(held)
        if not said:
            self.info("Waiting for the datacenter lease")
        time.sleep(min(1.0, max(0.05, self.settle)))
        return True

    def _take_once(self) -> dict[str, Any] | None:
        """One attempt: None once the lease is ours, else the live lease in the way."""
        held = self.current()
        if self._in_the_way(held):
            return held
        if held and held.get("token") != self.token:
            self._vet(held)  # its run did not finish: taking it over would orphan it
            why = "dead" if dead_here(held) else "expired"
            self.info(f"Taking over the {why} datacenter lease of {describe(held)}")
        self._write(self._ours())
        time.sleep(self.settle)  # a racing writer's write lands in this window
        now = self.current()
        if now and now.get("token") == self.token:
            return None
        return now or {}

    def _renew(self) -> None:
        every = max(0.05, self.ttl / 3)
        while not self._stop.wait(every):
            try:
                held = self.current()
                if not held or held.get("token") != self.token:
                    self.lost = (f"the datacenter lease was taken by {describe(held)}"
                                 if held else "the datacenter lease was broken")
                    return
                self._write(self._ours())
            except SdcAdmError:
                continue  # SAPI blips: the lease outlives a few missed heartbeats

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for attempt in range(self.retries + 1):
            try:
                held = self.current()
                if held and held.get("token") == self.token:
                    self.sapi.update_application(self.app_uuid(),
                                                 {"action": "delete", "metadata": {KEY: None}})
                return
            except SdcAdmError as e:
                if not transient(e) or attempt >= self.retries:
                    return  # it expires by itself
                time.sleep(min(5.0, self.settle * 2 ** attempt))


def read(sapi: Any) -> dict[str, Any] | None:
    """The datacenter's lease as it stands (for `sdcadm lock status`)."""
    return DatacenterLease(sapi, command="", run_uuid="").current()


def break_lease(sapi: Any) -> dict[str, Any] | None:
    """Remove the lease whoever holds it; returns what it was."""
    lease = DatacenterLease(sapi, command="", run_uuid="")
    held = lease.current()
    if held is not None:
        sapi.update_application(lease.app_uuid(), {"action": "delete", "metadata": {KEY: None}})
    return held
