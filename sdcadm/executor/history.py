"""History of mutating commands: SAPI `/history` first, a local directory when SAPI fails.

Two-phase, as the original: `start()` records `{uuid, username, started, changes}` before
anything is executed (so a crashed run shows up without `finished`), `finish()` adds
`finished`, the per-step outcomes and the error. Entries that could only be written locally
(`<varDir>/history/<uuid>.json`) are pushed to SAPI after the next successful SAPI write.
History errors never fail a command: they are reported as warnings.

Other commands (channel set, platform changes, dc-maint) record themselves with
`record_start(app, changes)` / `record_finish(app, entry, error=...)`.
"""
from __future__ import annotations

import getpass
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from sdcadm.errors import WriteFailedError
from sdcadm.executor.compact import compact_changes
from sdcadm.model import is_uuid
from sdcadm.private_files import make_dirs, open_private
from sdcadm.redact import redact


def now_ms() -> int:
    return int(time.time() * 1000)


def current_username() -> str | None:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:  # no passwd entry (containers): the field is optional
        return None


# `HistoryStore.list` shadows the builtin inside the class body.
Entries = list[dict[str, Any]]


class HistoryStore:
    def __init__(
        self,
        sapi: Any,
        var_dir: Path,
        *,
        warn: Callable[[str], None] | None = None,
        log_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.sapi = sapi
        self.dir = Path(var_dir) / "history"
        self.warn = warn or (lambda _m: None)
        # The log of the run writing its entry: named in it (`logFile`).
        self.log_file = str(log_file) if log_file else None
        # Entries already reported as kept locally: a run's start and end both fail while
        # SAPI is down, and one line per entry says it all.
        self._warned: set[str] = set()

    # -- writing ------------------------------------------------------------------------
    def create(self, entry: Mapping[str, Any]) -> None:
        self._save(dict(entry), create=True)

    def update(self, entry: Mapping[str, Any]) -> None:
        self._save(dict(entry), create=False)

    def _save(self, entry: dict[str, Any], *, create: bool) -> None:
        uuid = entry["uuid"]
        if "changes" in entry:  # counts and hostnames, not every agent instance (compact.py)
            entry["changes"] = compact_changes(entry["changes"])
        local = self._local_path(uuid)
        if local.exists():
            # An earlier phase only reached the local file: SAPI must get the merged entry.
            entry = {**self._read_local(local), **entry}
            create = True
        if self.log_file:
            entry["logFile"] = self.log_file
        entry = redact(entry)  # neither SAPI nor the local file gets a secret's value
        try:
            if self.sapi is None:
                raise RuntimeError("no SAPI client")
            self._sapi_write(entry, create=create)
        except Exception as e:  # any SAPI failure: keep the entry locally
            try:
                self._write_local(entry)
            except OSError as lost:
                raise WriteFailedError(
                    f"could not save history entry {uuid} to SAPI ({_short(e)}) nor to "
                    f"{local} ({lost.strerror or lost})") from lost
            if uuid not in self._warned:
                self._warned.add(uuid)
                self.warn(f"Warning: could not save history entry {uuid} to SAPI "
                          f"({_short(e)}); saved it to {local}")
            return
        if local.exists():
            local.unlink(missing_ok=True)
        self.push_local()

    def _sapi_write(self, entry: dict[str, Any], *, create: bool) -> None:
        if create:
            try:
                self.sapi.create_history(entry)
                return
            except Exception as e:
                if not _is_conflict(e):
                    raise
            self.sapi.update_history(entry["uuid"], entry)
            return
        try:
            self.sapi.update_history(entry["uuid"], entry)
        except Exception as e:
            if not _is_not_found(e):
                raise
            self.sapi.create_history(entry)

    def push_local(self) -> int:
        """Push every locally saved entry to SAPI; returns how many were pushed."""
        pushed = 0
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            entry = redact(self._read_local(path))  # it may predate redaction
            if not entry:
                continue
            try:
                try:
                    self.sapi.get_history(entry["uuid"])
                    exists = True
                except Exception as e:
                    if not _is_not_found(e):
                        raise
                    exists = False
                if exists:
                    self.sapi.update_history(entry["uuid"], entry)
                else:
                    self.sapi.create_history(entry)
            except Exception:
                return pushed  # SAPI went away again: try at the next write
            path.unlink(missing_ok=True)
            pushed += 1
        return pushed

    # -- reading --------------------------------------------------------------------------
    def list(self, since: str | None = None, until: str | None = None,
             shape: Callable[[dict[str, Any]], Any] | None = None) -> list[Any]:
        """SAPI's entries, or every local one when SAPI cannot be read (as the original).

        `shape` makes each entry what the caller keeps of it (a table row, say) as soon as
        it is decoded, so listing many large entries never holds them all at once."""
        keep = shape or (lambda e: e)
        local = {e["uuid"]: e for e in self._all_local()
                 if isinstance(e, dict) and e.get("uuid") and _in_range(e, since, until)}
        try:
            if self.sapi is None:
                raise RuntimeError("no SAPI client")
            # A local file holds what SAPI missed while it was down (the entry's end, say)
            # until the next write pushes it: show that, not SAPI's older copy.
            kept: dict[Any, Any] = {}
            for e in self.sapi.each_history(since=since, until=until):
                if isinstance(e, dict):
                    mine = local.pop(e.get("uuid"), None)
                    kept[e.get("uuid")] = keep({**e, **mine} if mine else e)
        except Exception as e:
            self.warn(f"Warning: could not read history from SAPI ({_short(e)}); "
                      f"showing local entries from {self.dir}")
            return [keep(e) for e in self._all_local()
                    if isinstance(e, dict) and _in_range(e, since, until)]
        return [*kept.values(), *(keep(e) for e in local.values())]

    def get(self, uuid: str) -> dict[str, Any] | None:
        local = self._local_path(uuid)
        try:
            if self.sapi is None:
                raise RuntimeError("no SAPI client")
            remote = dict(self.sapi.get_history(uuid))
        except Exception as e:
            if local.exists():
                return self._read_local(local)
            if _is_not_found(e):
                return None
            raise
        # As in list(): the local file is newer than SAPI's copy until it is pushed.
        return {**remote, **self._read_local(local)} if local.exists() else remote

    # -- local files ------------------------------------------------------------------------
    def _local_path(self, uuid: str) -> Path:
        return self.dir / f"{uuid}.json"

    def _write_local(self, entry: Mapping[str, Any]) -> None:
        make_dirs(self.dir)
        path = self._local_path(entry["uuid"])
        tmp = path.with_suffix(".tmp")
        try:
            with open_private(tmp, "w") as fh:
                fh.write(json.dumps(entry, indent=4, default=str) + "\n")
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # no half entry left for the next listing
            raise

    def _read_local(self, path: Path) -> dict[str, Any]:
        """A valid local entry, or {} (invalid files are deleted, as the original did)."""
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            entry = None
        if not valid_entry(entry):
            path.unlink(missing_ok=True)
            return {}
        return entry

    def _all_local(self) -> Entries:
        if not self.dir.is_dir():
            return []
        return [e for e in (self._read_local(p) for p in sorted(self.dir.glob("*.json"))) if e]


def valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and is_uuid(entry.get("uuid"))
        and isinstance(entry.get("changes"), (list, dict))
        and entry.get("started") is not None
    )


def to_ms(value: Any) -> int | None:
    """Milliseconds since the epoch from a number or an ISO string (None if unparseable)."""
    from datetime import datetime

    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _in_range(entry: Mapping[str, Any], since: str | None, until: str | None) -> bool:
    started = to_ms(entry.get("started"))
    if since and started is not None and started < (to_ms(since) or 0):
        return False
    if until and started is not None and started > (to_ms(until) or 0):
        return False
    return True


def _is_not_found(e: BaseException) -> bool:
    return bool(getattr(e, "not_found", False))


def _is_conflict(e: BaseException) -> bool:
    return getattr(e, "status", None) == 409 or "AlreadyExists" in str(getattr(e, "rest_code", ""))


def _short(e: BaseException) -> str:
    return str(getattr(e, "message", None) or e).splitlines()[0]


# -- the small API other commands use ------------------------------------------------------
def store_for(app: Any) -> HistoryStore:
    try:
        sapi = app.clients.sapi
    except Exception:  # clients could not even be built: local files only
        sapi = None
    log = getattr(app, "run_log", None)
    return HistoryStore(sapi, app.config.var_dir, warn=getattr(app, "warn", None),
                        log_file=getattr(log, "path", None))


def record_start(
    app: Any,
    changes: Iterable[Mapping[str, Any]],
    *,
    uuid: str | None = None,
    steps: Iterable[Mapping[str, Any]] | None = None,
    store: HistoryStore | None = None,
) -> dict[str, Any]:
    """Phase one: record what is about to happen. Returns the entry for `record_finish`."""
    entry = new_entry(uuid or app.request_id, changes, steps=steps)
    (store or store_for(app)).create(entry)
    return entry


def new_entry(uuid: str, changes: Iterable[Mapping[str, Any]], *, started: int | None = None,
              steps: Iterable[Mapping[str, Any]] | None = None,
              **fields: Any) -> dict[str, Any]:
    """A history entry before its run: uuid, started, changes, username (when known)."""
    entry: dict[str, Any] = {"uuid": uuid, "started": started or now_ms(),
                             "changes": list(changes), **fields}
    user = current_username()
    if user:
        entry["username"] = user
    if steps is not None:
        entry["steps"] = list(steps)
    return entry


def record_finish(
    app: Any,
    entry: Mapping[str, Any],
    *,
    error: BaseException | Mapping[str, Any] | None = None,
    steps: Iterable[Mapping[str, Any]] | None = None,
    store: HistoryStore | None = None,
) -> dict[str, Any]:
    """Phase two: add `finished`, the step outcomes and the error (if any)."""
    done = dict(entry)
    done["finished"] = now_ms()
    if steps is not None:
        done["steps"] = list(steps)
    if error is not None:
        done["error"] = error_json(error)
    (store or store_for(app)).update(done)
    return done


@contextmanager
def quietly(app: Any) -> Iterator[None]:
    """Around a history write: history never fails a command, so a write that fails is one
    warning and the command goes on."""
    try:
        yield
    except Exception as e:
        (getattr(app, "warn", None) or app.info)(f"Warning: could not record history: {e}")


@contextmanager
def recorded(app: Any, changes: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Record a one-shot mutating command (channel set, ...) around its body: started before,
    finished (with the error, if the body raised) after; logged in a run log of its own."""
    from sdcadm.executor import runlog

    changes = list(changes)
    runlog.begin(app, runlog.cli_command(str(changes[0].get("type")) if changes else "run"))
    with runlog.held(app):
        store = store_for(app)
        entry = record_start(app, changes, store=store)
        try:
            yield entry
        except BaseException as e:
            record_finish(app, entry, error=e, store=store)
            raise
        record_finish(app, entry, store=store)


def error_json(error: BaseException | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(error, Mapping):
        return dict(error)
    to_json = getattr(error, "to_json", None)
    if callable(to_json):
        return dict(to_json())
    return {"code": type(error).__name__, "message": str(error)}
