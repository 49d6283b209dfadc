"""The run journal: a work directory with `plan.json` and an append-only `events.jsonl`.

Every event is one JSON object per line, flushed and fsynced before the executor moves on,
so a crash loses at most the event being written and another process (or `--resume`) can
follow exactly how far a run got.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

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
        self._fh: Any = None

    @classmethod
    def create(cls, root: Path, now: float | None = None) -> "Journal":
        """A new work dir `<root>/<UTC stamp>`; a second run in the same second gets `.N`."""
        from sdcadm.errors import InternalError

        root = Path(root)
        stamp = utc_stamp(now)
        try:
            root.mkdir(parents=True, exist_ok=True)
            for n in range(0, 1000):
                path = root / (stamp if n == 0 else f"{stamp}.{n}")
                try:
                    path.mkdir()
                except FileExistsError:
                    continue
                return cls(path)
        except OSError as e:
            raise InternalError(
                f"cannot create a work directory under {root}: {e.strerror or e}") from e
        raise InternalError(f"cannot create a work directory under {root}")

    def write_plan(self, doc: Mapping[str, Any]) -> None:
        tmp = self.plan_path.with_suffix(".json.tmp")
        with open(tmp, "w") as fh:
            json.dump(doc, fh, indent=4)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.plan_path)

    def read_plan(self) -> dict[str, Any]:
        return json.loads(self.plan_path.read_text())

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"time": iso_now(), "event": event, **fields}
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            if self._fh is None:
                self._fh = open(self.events_path, "a")
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
        return record

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.events_path)

    def state(self) -> "RunState":
        return RunState.from_events(self.events())


def read_events(path: Path) -> list[dict[str, Any]]:
    """Events of a journal; a torn last line (the process died mid-write) is ignored."""
    out: list[dict[str, Any]] = []
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


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

    @property
    def finished(self) -> bool:
        return self.status == "done"

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


def run_finished(work_dir: Path) -> bool:
    return RunState.from_events(read_events(Path(work_dir) / EVENTS_FILE)).finished


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
