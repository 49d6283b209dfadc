"""The run journal: a work directory with `plan.json` and an append-only `events.jsonl`.

Every event is one JSON object per line, flushed and fsynced before the executor moves on,
so a crash loses at most the event being written and another process (or `--resume`) can
follow exactly how far a run got. A step's events name it by its id and say what is new
(its outcome, its error, a fact): what it is and does is in `plan.json`.

A write that fails (a full disk, an I/O error) is `WriteFailedError`, and so is every later
append of that journal: the run stops where it is, and `--resume`, once there is room, cuts
the line the failure may have torn and goes on.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from sdcadm.errors import JournalError, WriteFailedError
from sdcadm.private_files import FILE_MODE, make_dir, make_dirs, open_private, write_all
from sdcadm.redact import redact

PLAN_FILE = "plan.json"
EVENTS_FILE = "events.jsonl"

# Step outcomes that mean "this step's effect is in place"; resume never redoes them.
DONE_OUTCOMES = frozenset({"done", "verified", "skipped"})


def utc_stamp(now: float | None = None) -> str:
    return datetime.fromtimestamp(now or time.time(), timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """One run's work directory; `append` is safe to call from several threads."""

    def __init__(self, work_dir: Path) -> None:
        self.dir = Path(work_dir)
        self.events_path = self.dir / EVENTS_FILE
        self.plan_path = self.dir / PLAN_FILE
        self._lock = threading.Lock()
        self._fd: int | None = None
        # The first write that failed: every later append raises it again.
        self.failed: WriteFailedError | None = None
        # Hear each event once it is written (redacted): the run's log.
        self.observers: list[Callable[[dict[str, Any]], None]] = []

    @classmethod
    def create(cls, root: Path, now: float | None = None) -> "Journal":
        """A new work dir `<root>/<UTC stamp>`; a second run in the same second gets `.N`."""
        from sdcadm.errors import InternalError

        root = Path(root)
        stamp = utc_stamp(now)
        try:
            make_dirs(root)
            for n in range(0, 1000):
                path = root / (stamp if n == 0 else f"{stamp}.{n}")
                try:
                    make_dir(path)
                except FileExistsError:
                    continue
                return cls(path)
        except OSError as e:
            raise InternalError(
                f"cannot create a work directory under {root}: {e.strerror or e}") from e
        raise InternalError(f"cannot create a work directory under {root}")

    def write_plan(self, doc: Mapping[str, Any]) -> None:
        """plan.json, whole or not at all (compact JSON: it holds every step of the run)."""
        tmp = self.plan_path.with_suffix(".json.tmp")
        try:
            with open_private(tmp, "w") as fh:
                json.dump(redact(doc), fh, separators=(",", ":"))
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.plan_path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise WriteFailedError(f"cannot write the run's plan {self.plan_path}: "
                                   f"{e.strerror or e}") from e

    def read_plan(self) -> dict[str, Any]:
        """plan.json, or JournalError naming the file and what is wrong with it (a damaged
        or edited file is refused in one line, never half read)."""
        from sdcadm.plan import doc_problem

        try:
            doc = json.loads(self.plan_path.read_text())
        except FileNotFoundError:
            raise JournalError(f"{self.plan_path}: the run's plan is missing") from None
        except (OSError, UnicodeDecodeError) as e:
            raise JournalError(f"{self.plan_path}: cannot read the run's plan: "
                               f"{getattr(e, 'strerror', None) or e}") from e
        except ValueError:
            raise JournalError(f"{self.plan_path} is not a run's plan (not JSON)") from None
        problem = doc_problem(doc)
        if problem:
            raise JournalError(f"{self.plan_path} is not a run's plan: {problem}")
        return doc

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"time": iso_now(), "event": event, **fields}
        safe = redact(record)
        data = (json.dumps(safe, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            if self.failed is not None:
                raise self.failed
            try:
                if self._fd is None:
                    self._fd = os.open(self.events_path,
                                       os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
                write_all(self._fd, data)
                os.fsync(self._fd)
            except OSError as e:
                self.failed = WriteFailedError(
                    f"cannot write the journal {self.events_path}: {e.strerror or e}",
                    step=fields.get("step"))
                raise self.failed from e
        for observer in self.observers:
            observer(safe)
        return record

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def repair(self) -> None:
        """Cut a torn last line (the process died, or the disk filled, mid-write) before
        this process, which now runs the journal (it holds the run's lock), appends to it:
        appended after a fragment, the next event would make one line that is not an
        event. The event it held was lost when it was torn."""
        try:
            with open(self.events_path, "rb+") as fh:
                size = fh.seek(0, os.SEEK_END)
                end = size
                while end > 0:
                    start = max(0, end - 65536)
                    fh.seek(start)
                    chunk = fh.read(end - start)
                    if end == size and chunk.endswith(b"\n"):
                        return
                    cut = chunk.rfind(b"\n")
                    if cut >= 0:
                        end = start + cut + 1
                        break
                    end = start
                fh.truncate(end)
        except FileNotFoundError:
            return
        except OSError as e:
            raise WriteFailedError(f"cannot repair the journal {self.events_path}: "
                                   f"{e.strerror or e}") from e

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.events_path)

    def state(self) -> "RunState":
        return RunState.from_events(self.events())


def read_events(path: Path) -> list[dict[str, Any]]:
    """Events of a journal. A torn last line (the process died mid-write) is ignored; any
    other line that is not an event means the file was damaged or edited: JournalError."""
    out: list[dict[str, Any]] = []
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return out
    except (OSError, UnicodeDecodeError) as e:
        raise JournalError(f"{path}: cannot read the journal: {e}") from e
    lines = text.splitlines()
    for n, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            if n == len(lines) and not text.endswith("\n"):
                continue  # torn: the writer died in the middle of this line
            raise JournalError(f"{path}: line {n} is not a journal event (not JSON)") from None
        problem = _bad_event(ev)
        if problem:
            raise JournalError(f"{path}: line {n} is not a journal event ({problem})")
        out.append(ev)
    return out


def _bad_event(ev: Any) -> str | None:
    if not isinstance(ev, dict):
        return "not an object"
    if not isinstance(ev.get("event"), str):
        return 'no "event" name'
    for key in ("step", "outcome", "run_uuid", "status"):
        if key in ev and ev[key] is not None and not isinstance(ev[key], str):
            return f'"{key}" is not a string'
    if "facts" in ev and not isinstance(ev["facts"], dict):
        return '"facts" is not an object'
    return None


@dataclass
class StepRecord:
    id: str
    outcome: str | None = None  # last recorded outcome: done|verified|skipped|failed|interrupted
    started: str | None = None
    finished: str | None = None
    error: Any = None
    notes: dict[str, Any] = field(default_factory=dict)  # facts handlers recorded (job uuids...)

    @property
    def done(self) -> bool:
        return self.outcome in DONE_OUTCOMES

    @property
    def in_doubt(self) -> bool:
        """Started but never finished cleanly: the effect may or may not have happened."""
        return self.started is not None and not self.done


@dataclass
class RunState:
    run_uuid: str | None = None
    command: str | None = None
    # Status of the last run-end (done|failed|interrupted); None: still running, or died.
    status: str | None = None
    steps: dict[str, StepRecord] = field(default_factory=dict)
    # Why its journal could not be read (`open_runs`): the run counts as open, and only
    # `--abandon` gives it up.
    damaged: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == "done"

    @property
    def open(self) -> bool:
        """Neither done nor abandoned: resume it or abandon it before another run."""
        return self.status not in ("done", "abandoned")

    @classmethod
    def from_events(cls, events: Iterable[Mapping[str, Any]]) -> "RunState":
        st = cls()
        for ev in events:
            kind = ev.get("event")
            if kind in ("run-start", "run-resume"):
                st.run_uuid = ev.get("run_uuid") or st.run_uuid
                st.command = ev.get("command") or st.command
                st.status = None
            elif kind == "run-end":
                st.status = ev.get("status")
            elif kind == "run-abandon":
                st.status = "abandoned"
            step_id = ev.get("step")
            if not step_id:
                continue
            rec = st.steps.setdefault(step_id, StepRecord(step_id))
            if kind == "step-start":
                rec.started = ev.get("time")
                rec.outcome = None
                rec.finished = None
                rec.error = None
            elif kind == "step-end":
                if ev.get("outcome") == "skipped" and rec.done:
                    continue  # a later run passing over it: keep when it was really done
                rec.outcome = ev.get("outcome")
                rec.finished = ev.get("time")
                rec.error = ev.get("error")
            elif kind == "step-note":
                rec.notes.update(ev.get("facts") or {})
        return st


def run_uuid_of(run_dir: Path) -> str | None:
    """The run's uuid: from its first event (cheap), else from its plan (which holds every
    step of the run, megabytes for a large datacenter)."""
    try:
        with open(Path(run_dir) / EVENTS_FILE, "rb") as fh:
            first = json.loads(fh.readline())
        if isinstance(first, dict) and isinstance(first.get("run_uuid"), str):
            return str(first["run_uuid"])
    except (OSError, ValueError):
        pass
    try:
        doc = json.loads((Path(run_dir) / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc.get("run_uuid") if isinstance(doc, dict) else None


TAIL_BYTES = 65536
RUN_EVENTS = ("run-start", "run-resume", "run-end", "run-abandon")


def ended(run_dir: Path) -> tuple[bool, str | None]:
    """(known, status) of the run's last attempt from the end of its journal alone: known
    when its last run event is in the tail; status as `RunState.status` (None: running or
    died). A journal of many megabytes is not read to learn that its run is over."""
    try:
        with open(Path(run_dir) / EVENTS_FILE, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - TAIL_BYTES)
            fh.seek(start)
            lines = fh.read().split(b"\n")
    except FileNotFoundError:
        return True, None
    except OSError:
        return False, None
    for line in reversed(lines[1:] if start else lines):
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # empty, torn, or cut by the tail's start
        kind = ev.get("event") if isinstance(ev, dict) else None
        if kind == "run-end":
            status = ev.get("status")
            return True, status if isinstance(status, str) else None
        if kind == "run-abandon":
            return True, "abandoned"
        if kind in RUN_EVENTS:
            return True, None
    return False, None


def open_runs(var_dir: Path) -> list[tuple[Path, RunState]]:
    """Update and rollback runs neither done nor abandoned, newest first; one whose journal
    cannot be read is among them, said so (`RunState.damaged`)."""
    out = []
    for d in _work_dirs(var_dir, ("updates", "rollbacks")):
        known, status = ended(d)
        if known and status in ("done", "abandoned"):
            continue
        try:
            st = RunState.from_events(read_events(d / EVENTS_FILE))
        except JournalError as e:
            st = RunState(damaged=e.message)
        if st.open:
            out.append((d, st))
    return out


def find_run(var_dir: Path, ident: str) -> Path | None:
    """A run's work dir by its run uuid (or a unique prefix), or its directory."""
    if Path(ident).is_dir() and (Path(ident) / PLAN_FILE).exists():
        return Path(ident)
    found = [d for d in _work_dirs(var_dir, ("updates", "rollbacks"))
             if d.name == ident or (run_uuid_of(d) or "").startswith(ident)]
    return found[0] if len(found) == 1 else None


def latest_run_dir(var_dir: Path) -> Path | None:
    """The newest work dir of any update or rollback run (by its UTC stamp)."""
    return next(iter(_work_dirs(var_dir, ("updates", "rollbacks"))), None)


def update_dirs(var_dir: Path) -> list[Path]:
    """Work dirs of every update that has a plan, newest first."""
    return _work_dirs(var_dir, ("updates",))


def _work_dirs(var_dir: Path, kinds: tuple[str, ...]) -> list[Path]:
    runs: list[tuple[str, Path]] = []
    for kind in kinds:
        root = Path(var_dir) / kind
        if root.is_dir():
            runs.extend((p.name, p) for p in root.iterdir()
                        if p.is_dir() and (p / PLAN_FILE).exists())
    # A stable sort: on equal stamps the first kind listed wins, as max() did.
    runs.sort(key=_stamp_key, reverse=True)
    return [p for _, p in runs]


def last_status(run_dir: Path) -> str | None:
    """How the run's last attempt ended (`RunState.status`; None: running or died): from the
    end of its journal when that says, else from the whole of it."""
    known, status = ended(run_dir)
    if known:
        return status
    return RunState.from_events(read_events(Path(run_dir) / EVENTS_FILE)).status


def run_finished(work_dir: Path) -> bool:
    return last_status(work_dir) == "done"


def finished_update_dirs(var_dir: Path) -> list[Path]:
    """Work dirs of updates that finished successfully, newest first."""
    return [p for p in update_dirs(var_dir) if run_finished(p)]


def _stamp_key(item: tuple[str, Path]) -> tuple[str, int]:
    name = item[0]
    stamp, _, n = name.partition(".")
    return (stamp, int(n) if n.isdigit() else 0)


def stopped_run_of(var_dir: Path, plan_doc: dict[str, Any]) -> Path | None:
    """The newest update's work dir when it ran this very plan and did not finish."""
    newest = next(iter(update_dirs(var_dir)), None)
    if newest is None or run_finished(newest):
        return None
    try:
        saved = json.loads((newest / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("fingerprint") != plan_doc.get("fingerprint"):
        return None
    # The fingerprint is the datacenter's, shared by any plan made from the same state:
    # the changes (what moves to which image) tell this plan from another.
    return newest if _change_keys(saved) == _change_keys(plan_doc) else None


def _change_keys(doc: dict[str, Any]) -> list[Any]:
    def key(c: dict[str, Any]) -> Any:
        return (c.get("type"), (c.get("service") or {}).get("name"),
                (c.get("image") or {}).get("uuid"), c.get("platform"),
                sorted(str(i.get("instance")) for i in c.get("insts") or []))

    changes = doc.get("changes")
    return [key(c) for c in changes if isinstance(c, dict)] if isinstance(changes, list) else []
