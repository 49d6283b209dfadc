"""Unfinished runs: which one `--resume` continues, `--abandon`, and the refusal of a new run
while one is open (it would orphan the old one's remaining steps): an open run of this work
directory, or a run of another one (another `varDir`, another host) that died unfinished and
still holds the datacenter lease."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Mapping

from sdcadm.errors import JournalError
from sdcadm.executor import history as hist
from sdcadm.executor.journal import (
    Journal,
    RunState,
    find_run,
    last_status,
    latest_run_dir,
    open_runs,
    run_uuid_of,
)
from sdcadm.executor.lock import RunLock

# Commands whose runs `update --resume` continues (the lease names the command).
RESUMABLE = ("update", "update --resume", "rollback")


def run_to_resume(var_dir: Path, app: Any, run: str | None
                   ) -> tuple[Path, Journal, RunState] | None:
    """The run to continue: `run` (which must be unfinished), else the newest unfinished
    one; None (said so) when there is none."""
    if run:
        run_dir, journal, state = named_run(var_dir, run)
        if not state.open:
            how = "was abandoned" if state.status == "abandoned" else "finished successfully"
            app.info(f"Nothing to resume: run {run} ({run_dir}) {how}.")
            return None
        return run_dir, journal, state
    runs = open_runs(var_dir)
    if not runs:
        if latest_run_dir(var_dir) is None:
            app.info("Nothing to resume: no update has been run from this headnode.")
        else:
            app.info("Nothing to resume: every update and rollback run finished (or was "
                     "abandoned).")
        return None
    run_dir, state = runs[0]
    journal = Journal(run_dir)
    if state.damaged:
        state = journal_state(journal)  # refused, in the journal's own words
    return run_dir, journal, state


def named_run(var_dir: Path, run: str) -> tuple[Path, Journal, RunState]:
    """The run `run` names (its uuid, a unique prefix, or its work dir), or a usage error."""
    from sdcadm.errors import UsageError

    run_dir = find_run(var_dir, run)
    if run_dir is None:
        raise UsageError(f'no run "{run}" (sdcadm history lists them)')
    journal = Journal(run_dir)
    return run_dir, journal, journal_state(journal)


def journal_state(journal: Journal) -> RunState:
    """The run's state from its journal; JournalError saying how to give it up if the
    journal cannot be read."""
    try:
        return journal.state()
    except JournalError as e:
        raise JournalError(f"{e.message}: {give_up(journal.dir)}") from e


def read_plan(journal: Journal) -> dict[str, Any]:
    """The run's plan.json; JournalError saying how to give it up if it is damaged."""
    try:
        return journal.read_plan()
    except JournalError as e:
        raise JournalError(f"{e.message}: {give_up(journal.dir)}") from e


def give_up(run_dir: Path) -> str:
    """How to be done with a run that cannot be resumed."""
    return f'give the run up with "sdcadm update --abandon {run_uuid_of(run_dir) or run_dir}"'


def abandon(app: Any, run: str) -> None:
    """Give up an unfinished run for good: journalled, and its history entry says so. A run
    whose journal or plan is damaged can be given up too. A run of another work directory
    (or host) that left its lease behind is given up in history and its lease is given back;
    its journal stays where it is."""
    from sdcadm.errors import UsageError

    var_dir = Path(app.config.var_dir)
    lock = RunLock.for_app(app, "update --abandon", run_uuid=app.request_id).acquire()
    try:
        run_dir = find_run(var_dir, run)
        if run_dir is None:
            _abandon_elsewhere(app, lock, run)
            return
        journal = Journal(run_dir)
        damaged: str | None = None
        try:
            state = journal.state()
        except JournalError as e:
            state, damaged = RunState(), e.message
        if not state.open:
            how = "was abandoned already" if state.status == "abandoned" else "finished"
            raise UsageError(f"run {run} {how}: there is nothing to abandon")
        try:
            doc = journal.read_plan()
        except JournalError as e:
            doc, damaged = {}, damaged or e.message
        steps = doc.get("steps") or []
        done = sum(1 for s in steps if s.get("id") in state.steps
                   and state.steps[s["id"]].done)
        run_uuid = str(doc.get("run_uuid") or state.run_uuid or run_uuid_of(run_dir)
                       or run_dir.name)
        # Its own lease, should it have died holding it, is this command's to give back.
        lock.retitle(run_uuid)
        lock.take_lease(work_dir=run_dir)
        who = hist.current_username() or "?"
        journal.repair()
        journal.append("run-abandon", by=who, resumed_by=app.request_id)
        journal.close()
        what = (f"after {done} of {len(steps)} steps" if not damaged else
                "(its journal could not be read)")
        _record_abandon(app, run_uuid, doc.get("changes") or [], doc.get("command"),
                        f"abandoned by {who} {what}")
        if damaged:
            app.out(f"Run {run_uuid} abandoned ({damaged}); the datacenter stays as it is.")
        else:
            app.out(f"Run {run_uuid} abandoned: {len(steps) - done} of {len(steps)} steps "
                    "will not run; the datacenter stays as it is.")
    finally:
        lock.release()


def _abandon_elsewhere(app: Any, lock: RunLock, run: str) -> None:
    """`update --abandon RUN` for a run this work directory has no journal of: the run the
    datacenter lease names, or an unfinished history entry (its lease broken or expired)."""
    from sdcadm.errors import UsageError
    from sdcadm.model import is_uuid

    held = _read_lease(app)
    holder = str((held or {}).get("run_uuid") or "")
    run_uuid = holder if holder and holder.startswith(run) else None
    entry = None
    if is_uuid(run_uuid or run):
        try:
            entry = hist.store_for(app).get(run_uuid or run)
        except Exception:  # unreadable history: the lease alone says the run exists
            entry = None
    if run_uuid is None and entry is None:
        raise UsageError(f'no run "{run}" (sdcadm history lists them)')
    run_uuid = run_uuid or run
    if entry is not None and finished_entry(entry):
        how = "was abandoned already" if entry.get("abandoned") else "finished"
        raise UsageError(f"run {run_uuid} {how}: there is nothing to abandon")
    lease: dict[str, Any] = (held or {}) if holder == run_uuid else {}
    where = str(lease.get("work_dir") or "")
    lock.retitle(run_uuid)
    # Its lease, if it still holds one, is taken over (a live holder refuses) and given back
    # when this command ends.
    lock.take_lease(work_dir=where or None)
    who = hist.current_username() or "?"
    journal = (f"its journal stays in {where} on {lease.get('host') or '?'}" if where
               else "its journal is not on this headnode")
    _record_abandon(app, run_uuid, (entry or {}).get("changes") or [],
                    (entry or {}).get("command") or lease.get("command"),
                    f"abandoned by {who} on {socket.gethostname()} from another work "
                    f"directory; {journal}",
                    entry=entry)
    close = (f'; "sdcadm update --abandon {run_uuid}" there closes it too'
             if where and lease.get("command") in RESUMABLE else "")
    app.out(f"Run {run_uuid} abandoned: history says so and its datacenter lease is given "
            f"back; {journal}{close}. The datacenter stays as it is.")


def _record_abandon(app: Any, run_uuid: str, changes: Any, command: Any, message: str, *,
                    entry: Mapping[str, Any] | None = None) -> None:
    store = hist.store_for(app)
    with hist.quietly(app):
        found = dict(entry) if entry is not None else store.get(run_uuid)
        record = found or hist.new_entry(run_uuid, changes if isinstance(changes, list) else [],
                                         command=command)
        record.update(finished=hist.now_ms(), abandoned=hist.now_ms(),
                      error={"code": "Abandoned", "message": message})
        store.update(record)


def refuse_if_open(app: Any, run_uuid: str | None = None) -> None:
    """A new mutating run while an update or rollback is unfinished would orphan it: one of
    this work directory's, or one of another that died holding the datacenter lease (but
    `run_uuid`'s, the run that asks: a reboot plan continuing)."""
    from sdcadm.errors import UnfinishedRunError

    runs = open_runs(Path(app.config.var_dir))
    if not runs:
        refuse_if_orphaning(app, run_uuid)
        return
    run_dir, state = runs[0]
    try:
        doc = Journal(run_dir).read_plan()
    except JournalError as e:
        doc, state.damaged = {}, state.damaged or e.message
    run_uuid = doc.get("run_uuid") or state.run_uuid or run_uuid_of(run_dir) or run_dir.name
    if state.damaged:
        raise UnfinishedRunError(
            f"run {run_uuid} ({run_dir}) is unfinished and its journal is damaged "
            f"({state.damaged}): give it up with \"sdcadm update --abandon {run_uuid}\"")
    steps = doc.get("steps") or []
    where = next(((n, s) for n, s in enumerate(steps, start=1)
                  if not (s.get("id") in state.steps and state.steps[s["id"]].done)), None)
    if where:
        what = where[1].get("summary") or where[1].get("action")
        at = f"stopped at step {where[0]} of {len(steps)} ({what})"
    else:
        at = "stopped after its last step"
    how = state.status or "died"
    raise UnfinishedRunError(
        f"run {run_uuid} ({doc.get('command') or 'update'}, {how}) is unfinished: {at}; "
        f'continue it with "sdcadm update --resume {run_uuid}" or give it up with '
        f'"sdcadm update --abandon {run_uuid}"')


# -- runs of other work directories: the datacenter lease they left -----------------------------

def _read_lease(app: Any) -> dict[str, Any] | None:
    """The datacenter lease, or None (none, no SAPI client, or SAPI cannot be read: taking
    the lease says what is wrong)."""
    from sdcadm.executor.lease import read

    try:
        sapi = app.clients.sapi
        return read(sapi) if sapi is not None else None
    except Exception:
        return None


def refuse_if_orphaning(app: Any, run_uuid: str | None = None) -> None:
    """Refuse now, before planning and asking, what taking the lease would refuse: the
    lease of a run (not `run_uuid`) that died, or stopped renewing it, before it finished."""
    from sdcadm.executor.lease import dead_here, expired

    held = _read_lease(app)
    if held and held.get("run_uuid") != run_uuid and (expired(held) or dead_here(held)):
        vet_takeover(app, held)


def vet_takeover(app: Any, held: Mapping[str, Any]) -> None:
    """Before the lease of a dead or expired holder is taken over: UnfinishedRunError when
    it belongs to a run that did not finish (its history entry is unfinished, or no record
    says it finished). Taking it over would leave that run's remaining steps to nobody."""
    from sdcadm.errors import UnfinishedRunError
    from sdcadm.executor.lease import dead_here

    if not held.get("work_dir"):
        return  # no run journal behind it (reading roles, an older sdcadm): nothing to orphan
    run_uuid = str(held.get("run_uuid") or "")
    if run_uuid and finished_record(app, run_uuid):
        return
    command = str(held.get("command") or "update")
    host = held.get("host") or "?"
    if command in RESUMABLE:
        ways = (f'continue it with "sdcadm update --resume {run_uuid}" on {host} (with the '
                f'configuration whose varDir holds its work directory), or give it up with '
                f'"sdcadm update --abandon {run_uuid}"')
    elif command == "reboot-plan run":
        ways = (f'continue it with "sdcadm reboot-plan run {run_uuid}" on {host}, or give it '
                f'up with "sdcadm update --abandon {run_uuid}"')
    else:
        ways = f'give it up with "sdcadm update --abandon {run_uuid}"'
    why = "died" if dead_here(held) else "stopped renewing its datacenter lease"
    raise UnfinishedRunError(
        f"run {run_uuid} ({command}, pid {held.get('pid', '?')} on {host}, work directory "
        f"{held.get('work_dir')}) {why} before it finished: {ways}")


def finished_record(app: Any, run_uuid: str) -> bool:
    """Does a record say that run `run_uuid` finished (it ended, failed or not, or was
    abandoned)? Its journal, when this work directory has it; else its history entry."""
    from sdcadm.model import is_uuid

    run_dir = find_run(Path(app.config.var_dir), run_uuid)
    if run_dir is not None and (run_uuid_of(run_dir) or "") == run_uuid:
        try:
            return last_status(run_dir) is not None
        except JournalError:
            return False
    if not is_uuid(run_uuid):
        return False
    try:
        entry = hist.store_for(app).get(run_uuid)
    except Exception:  # unreadable: no record says it finished
        return False
    return entry is not None and finished_entry(entry)


def finished_entry(entry: Mapping[str, Any]) -> bool:
    """A history entry of a run that ended (or was abandoned); a resumed attempt that did
    not end leaves the interrupted attempt's `finished` behind, older than `resumed`."""
    if entry.get("abandoned"):
        return True
    finished = hist.to_ms(entry.get("finished"))
    if finished is None:
        return False
    resumed = hist.to_ms(entry.get("resumed"))
    return resumed is None or resumed <= finished
