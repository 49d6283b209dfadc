"""Reboot plans on disk: `<varDir>/reboot-plans/<uuid>/`, readable from any terminal.

- `plan.json`: the selection (servers, window), when and by whom it was made, the order it
  had then; `sdcadm reboot-plan run` derives the steps again from the datacenter as it is.
- `events.jsonl`: the run journal (`executor/journal.py`), one file for every run of the
  plan, so a second run continues the first and `status` reads how far it got.
- `control.json`: pause or cancel, written by `pause`/`resume`/`cancel` from another
  terminal and read by the running plan before it starts the next server.
- `run.json`: the pid of the process running the plan, while it runs.

The headnode's `/var/sdcadm` survives its reboots, so does a plan.
"""
from __future__ import annotations

import json
import os
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from sdcadm.errors import UsageError, WriteFailedError
from sdcadm.executor.journal import Journal, RunState, iso_now
from sdcadm.private_files import make_dir, make_dirs, open_private
from sdcadm.redact import redact

PLAN, CONTROL, RUNNER = "plan.json", "control.json", "run.json"
# Plan states: created (never run), running, paused, stopped (a run ended early: failed,
# interrupted, the headnode rebooting), cancelled, done.
FINISHED = ("done", "cancelled")


def plans_root(var_dir: Path) -> Path:
    return Path(var_dir) / "reboot-plans"


def _write(path: Path, doc: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open_private(tmp, "w") as fh:
            json.dump(redact(doc), fh, indent=4)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise WriteFailedError(f"cannot write {path}: {e.strerror or e}") from e


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RebootPlan:
    dir: Path

    @property
    def uuid(self) -> str:
        return self.dir.name

    @property
    def doc(self) -> dict[str, Any]:
        return _read(self.dir / PLAN) or {}

    @property
    def journal(self) -> Journal:
        return Journal(self.dir)

    def run_state(self) -> RunState:
        return self.journal.state()

    # -- control ---------------------------------------------------------------------------
    def control(self) -> dict[str, Any]:
        return _read(self.dir / CONTROL) or {}

    def set_control(self, state: str | None, *, by: str | None, reason: str) -> None:
        _write(self.dir / CONTROL, {"state": state, "by": by, "at": iso_now(),
                                    "reason": reason})
        self.journal.append("control", state=state, by=by, reason=reason)

    def control_reader(self) -> Any:
        """A cheap `ExecContext.control`: re-reads control.json only when it changed."""
        path = self.dir / CONTROL
        seen: dict[str, Any] = {"mtime": None, "value": None}

        def read() -> tuple[str, str] | None:
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                return None
            if mtime != seen["mtime"]:
                seen["mtime"] = mtime
                doc = _read(path) or {}
                state = doc.get("state")
                who = f" by {doc['by']}" if doc.get("by") else ""
                text = f"{doc.get('reason') or state}{who} at {doc.get('at', '?')}"
                seen["value"] = (state, text) if state in ("pause", "cancel") else None
            return seen["value"]
        return read

    # -- the process running it ---------------------------------------------------------------
    def runner(self) -> dict[str, Any] | None:
        doc = _read(self.dir / RUNNER)
        return doc if doc and _alive(doc.get("pid")) else None

    def claim(self, run_uuid: str) -> None:
        _write(self.dir / RUNNER, {"pid": os.getpid(), "started": iso_now(),
                                   "run_uuid": run_uuid})

    def release(self) -> None:
        doc = _read(self.dir / RUNNER)
        if doc and doc.get("pid") == os.getpid():
            (self.dir / RUNNER).unlink(missing_ok=True)

    # -- state -------------------------------------------------------------------------------
    def state(self) -> str:
        ctl = self.control().get("state")
        run = self.run_state()
        if ctl == "cancel" and (run.status in (None, "cancelled") or not self.runner()):
            return "cancelled" if not self.runner() else "cancelling"
        if run.status == "done":
            return "done"
        if self.runner():
            return "paused" if ctl == "pause" else "running"
        if ctl == "pause":
            return "paused"
        if not run.steps and run.status is None:
            return "created"
        if run.status == "rebooting":
            return "headnode rebooting"
        return "stopped"


def create(var_dir: Path, doc: Mapping[str, Any]) -> RebootPlan:
    root = plans_root(var_dir)
    make_dirs(root)
    plan_dir = make_dir(root / str(uuidlib.uuid4()))
    _write(plan_dir / PLAN, {**doc, "uuid": plan_dir.name})
    return RebootPlan(plan_dir)


def all_plans(var_dir: Path) -> list[RebootPlan]:
    """Every plan, newest first."""
    root = plans_root(var_dir)
    if not root.is_dir():
        return []
    plans = [RebootPlan(p) for p in root.iterdir() if (p / PLAN).exists()]
    return sorted(plans, key=lambda p: (p.doc.get("created") or "", p.uuid), reverse=True)


def find(var_dir: Path, ident: str | None, *, what: str) -> RebootPlan:
    """The plan named by uuid (or a unique prefix), else the newest unfinished one."""
    plans = all_plans(var_dir)
    if ident:
        found = [p for p in plans if p.uuid == ident or p.uuid.startswith(ident)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UsageError(f'"{ident}" names several reboot plans: give more of the uuid')
        raise UsageError(f'no reboot plan "{ident}" (sdcadm reboot-plan list shows them)')
    open_ = [p for p in plans if p.state() not in FINISHED]
    if not open_:
        raise UsageError(f"no reboot plan to {what}: create one with sdcadm reboot-plan create")
    return open_[0]


# -- per-server progress, from the journal ---------------------------------------------------

def server_states(plan: RebootPlan) -> list[dict[str, Any]]:
    """One row per server in plan order: state (pending, rebooting, rebooted, failed,
    blocked), when, the error, and why it is in its place."""
    doc = plan.doc
    run = plan.run_state()
    slots = doc.get("order") or []
    records = run.steps
    rows: list[dict[str, Any]] = []
    state_of: dict[str, str] = {}
    for slot in slots:
        rec = records.get(f"reboot:{slot['server']}")
        err = None
        if rec is None or (rec.started is None and not rec.done):
            state = "pending"
        elif rec.done:
            state = "rebooted"
        elif rec.outcome == "failed":
            state, err = "failed", (rec.error or {}).get("message")
        elif rec.outcome == "interrupted":
            state = "rebooting" if rec.notes.get("rebooted") else "pending"
            err = (rec.error or {}).get("message") if rec.notes.get("self_reboot") else None
        else:
            state = "rebooting"
        state_of[slot["server"]] = state
        rows.append({"hostname": slot["hostname"], "uuid": slot["server"], "state": state,
                     "started": rec.started if rec else None,
                     "finished": rec.finished if rec and state != "rebooting" else None,
                     "why": slot.get("why") or None, "error": err,
                     "after": list(slot.get("after") or ())})
    for row in rows:
        if row["state"] == "pending" and any(state_of.get(a) == "failed" for a in row["after"]):
            row["state"] = "blocked"
    return rows


def counts_line(rows: list[dict[str, Any]]) -> str:
    """`5/10 rebooted; 2 rebooting, 1 failed, 2 pending`."""
    n: dict[str, int] = {}
    for r in rows:
        n[r["state"]] = n.get(r["state"], 0) + 1
    rest = [f"{n[k]} {k}" for k in ("rebooting", "failed", "blocked", "pending") if n.get(k)]
    head = f"{n.get('rebooted', 0)}/{len(rows)} rebooted"
    return head + ("; " + ", ".join(rest) if rest else "")


# -- running a plan ---------------------------------------------------------------------------

def run(app: Any, rp: RebootPlan, plan: Any, steps: list[Any], *,
        handlers: Mapping[str, Any] | None = None) -> Any:
    """Run (or continue) a reboot plan under the headnode lock, journalled in its own
    directory; the history entry is the plan's, updated by every run."""
    from sdcadm.executor import history as hist
    from sdcadm.executor import preflight, runlog
    from sdcadm.executor.lock import RunLock
    from sdcadm.executor.openruns import refuse_if_open
    from sdcadm.executor.run import _drive, with_lease

    # The lock (and the lease) name the plan: its next run takes over a lease it left.
    lock = RunLock.for_app(app, "reboot-plan run", run_uuid=rp.uuid).acquire()
    with runlog.held(app, lock):
        refuse_if_running(rp)
        refuse_if_open(app, rp.uuid)  # an unfinished update or rollback: finish it first
        runlog.begin(app, "reboot-plan run", run_uuid=rp.uuid)
        journal = rp.journal
        runlog.follow(app, journal)
        previous = journal.state()
        resuming = bool(previous.steps) or previous.status is not None
        doc = {**plan.to_json(), "run_uuid": rp.uuid, "command": "reboot-plan run",
               # One history entry per plan: it started when its first run did.
               "created": rp.doc.get("created"),
               "started_ms": hist.to_ms(previous_start(journal)) or hist.now_ms(),
               "done_message": f"Reboot plan {rp.uuid} done (elapsed {{elapsed}}s).",
               "steps": [s.to_json() for s in steps]}
        preflight.check(app, preflight.needs(rp.dir, steps, done={
            sid for sid, rec in previous.steps.items() if rec.done}))
        journal.repair()  # a line an earlier run may have torn
        lock.take_lease(work_dir=rp.dir)
        rp.claim(app.request_id)
        journal.append("run-resume" if resuming else "run-start", run_uuid=rp.uuid,
                       command="reboot-plan run", steps=len(steps), by=app.request_id)

        def on_end(status: str, error: Any) -> None:
            if status == "paused":
                rp.set_control("pause", by="sdcadm",
                               reason=error.message if error else "paused")
        try:
            return _drive(app, doc, steps, journal, command="reboot-plan run", options={},
                          handlers=handlers, previous=previous.steps, resuming=resuming,
                          again=f"sdcadm reboot-plan run {rp.uuid}",
                          control=with_lease(lock, rp.control_reader()), on_end=on_end)
        finally:
            rp.release()


def previous_start(journal: Journal) -> str | None:
    """When the plan's first run started (its journal's first run-start), if any."""
    return next((e.get("time") for e in journal.events() if e.get("event") == "run-start"),
                None)


def refuse_if_running(rp: RebootPlan) -> None:
    runner = rp.runner()
    if runner and runner.get("pid") != os.getpid():
        raise UsageError(f"reboot plan {rp.uuid} is already running (pid {runner['pid']}, "
                         f"since {runner.get('started', '?')}): follow it with "
                         f'"sdcadm reboot-plan status"')
