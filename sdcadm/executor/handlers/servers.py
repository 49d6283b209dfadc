"""Servers: assign a boot platform; reboot a server and see it back and healthy.

`reboot-server` goes through phases, each journalled as a step note so that a run that
died (or the headnode that rebooted itself) continues where it stood instead of rebooting
again: freeze the manatee shard (when the server holds its primary or sync) -> reboot ->
back on the expected platform -> health gate (`executor/gate.py`) -> unfreeze.

A retry of a step that failed once its reboot was over (the server came back on the old
platform, or unhealthy) reboots the server again; a run that died, or a reboot still under
way, is waited for instead.

Rebooting the headnode, where sdcadm runs, ends the run: the notes say the reboot was sent,
the operator is told what to run once the headnode is back, and that run verifies it like
any other server.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Mapping

from sdcadm.errors import HeadnodeRebooting, SdcAdmError, StepFailedError
from sdcadm.executor.context import ExecContext, minutes
from sdcadm.executor.gate import HEARTBEAT_MAX_AGE, ServerGate
from sdcadm.executor.handlers.jobs import job_error
from sdcadm.executor.journal import iso_now
from sdcadm.plan import Step
from sdcadm.planner.topology import read_shard_state, zone_argv

REBOOT_TIMEOUT = 1800.0
GATE_TIMEOUT = 600.0
WATCH_SPEEDUP = 5  # servers rebooting are polled this many times per poll interval
JOB_EVERY = 4 * WATCH_SPEEDUP  # polls of the server per look at its reboot job


class SetBootPlatform:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        boot = ctx.clients.cnapi.get_boot_params(p["server_uuid"]) or {}
        return boot.get("platform") == p["platform"]

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f"Setting boot platform of server {p['server_uuid']} ({p.get('hostname', '?')}) "
                f"to {p['platform']}")
        ctx.clients.cnapi.set_boot_params(p["server_uuid"], {"platform": p["platform"]})


class ServerWatch:
    """Servers being waited on, read together: one CNAPI listing per poll for all of them
    instead of one request per server per poll (fifty reboots in flight would otherwise
    ask CNAPI a thousand times a second at the simulator's pace, and fifty a second at a
    real datacenter's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refresh = threading.Lock()
        self._wanted: set[str] = set()
        self._seen: dict[str, tuple[float, Mapping[str, Any]]] = {}

    def get(self, ctx: ExecContext, uuid: str) -> Mapping[str, Any] | None:
        fresh = ctx.poll_interval / (2 * WATCH_SPEEDUP)
        with self._lock:
            self._wanted.add(uuid)
        with self._refresh:  # one listing at a time; the others find it fresh afterwards
            with self._lock:
                hit = self._seen.get(uuid)
                if hit and time.monotonic() - hit[0] < fresh:
                    return hit[1]
                wanted = sorted(self._wanted)
            try:
                rows = ctx.clients.cnapi.list_servers(uuids=",".join(wanted),
                                                      extras="agents,vms")
            except SdcAdmError:
                return None  # CNAPI may blip while servers reboot; deadlines bound the wait
            now = time.monotonic()
            with self._lock:
                for row in rows:
                    self._seen[row["uuid"]] = (now, row)
                hit = self._seen.get(uuid)
            return hit[1] if hit else None

    def forget(self, uuid: str) -> None:
        with self._lock:
            self._wanted.discard(uuid)
            self._seen.pop(uuid, None)


class RebootServer:
    def __init__(self, gate: ServerGate | None = None) -> None:
        self.gate = gate
        self.watch = ServerWatch()

    def _gate(self, ctx: ExecContext) -> ServerGate:
        if self.gate is None:
            reboot = getattr(ctx.config, "reboot", None) or {}
            self.gate = ServerGate(max_age=float(reboot.get("heartbeatMaxAge",
                                                            HEARTBEAT_MAX_AGE)))
        return self.gate

    def fanout(self, steps: Any) -> tuple[str, str, str]:
        """How the executor shows a rolling reboot: `reboot: 40/751 servers rebooted`."""
        return str(steps[0].change or "reboot"), "servers", "rebooted"

    # -- resume: is this server's reboot already behind us? -------------------------------
    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        notes = ctx.notes(step)
        since = notes.get("rebooted") or p.get("since")
        try:
            server = ctx.clients.cnapi.get_server(p["server_uuid"])
        except SdcAdmError:
            return False
        if server.get("status") != "running":
            return False
        if since and str(server.get("last_boot") or "") <= since:
            return False  # not rebooted since the plan asked for it
        if not since and p.get("platform") and server.get("current_platform") != p["platform"]:
            return False
        if notes.get("froze") and not notes.get("unfrozen"):
            return False  # run() finishes the job: the shard must be unfrozen
        try:
            return self._gate(ctx).check(ctx, p, server).ok
        finally:
            ctx.clients.remote.release(p["server_uuid"])

    # -- the phases -------------------------------------------------------------------------
    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        sid, host = p["server_uuid"], p.get("hostname", "?")
        notes = dict(ctx.notes(step))
        if notes.get("rebooted") and self._failed_after_reboot(ctx, step, notes):
            ctx.say(f"Server {sid} ({host}) failed after its reboot at {notes['rebooted']}: "
                    "rebooting it again")
            notes.update(self._forget_reboot(ctx, step))
        if not notes.get("rebooted") and notes.get("reboot_sent") and \
                self._reboot_took(ctx, sid, notes["reboot_sent"]):
            notes["rebooted"] = notes["reboot_sent"]  # its answer was lost, not the reboot
        if notes.get("rebooted"):
            ctx.say(f"Server {sid} ({host}) was rebooted at {notes['rebooted']}: "
                    "waiting for it to be back")
        else:
            if p.get("freeze"):
                notes.update(self._freeze(ctx, step))
            notes.update(self._reboot(ctx, step))
        try:
            self._wait_back(ctx, step, notes)
            self._wait_healthy(ctx, step)
            if notes.get("froze") and not notes.get("unfrozen"):
                self._unfreeze(ctx, step)
        finally:
            # A fleet of a thousand must not keep a thousand SSH sessions (and their
            # threads) open: this server's gate is passed or given up.
            ctx.clients.remote.release(sid)
            self.watch.forget(sid)
        ctx.say(f"Server {sid} ({host}) is back and healthy")

    def _failed_after_reboot(self, ctx: ExecContext, step: Step,
                             notes: Mapping[str, Any]) -> bool:
        """Did an earlier run fail this step with the reboot it sent over? Its server runs
        again, so nothing is under way: a retry must reboot it anew. Not when the earlier run
        died (the step is in doubt, its reboot may be under way) or when this run sent the
        reboot noted (a retry after a transient error)."""
        prev = ctx.previous.get(step.id)
        if getattr(prev, "outcome", None) != "failed":
            return False
        if (getattr(prev, "notes", None) or {}).get("rebooted") != notes.get("rebooted"):
            return False
        srv = self.watch.get(ctx, step.params["server_uuid"])
        return srv is not None and srv.get("status") == "running"

    def _forget_reboot(self, ctx: ExecContext, step: Step) -> dict[str, Any]:
        """Journal that the earlier reboot is behind us, so that a run that dies before the
        new one is sent sends it, and one that dies after waits for it."""
        forgotten = {"reboot_sent": None, "rebooted": None, "reboot_job": None}
        ctx.note(step, **forgotten)
        return forgotten

    def _reboot(self, ctx: ExecContext, step: Step) -> dict[str, Any]:
        p = step.params
        sid, host = p["server_uuid"], p.get("hostname", "?")
        if p.get("headnode"):
            ctx.note(step, self_reboot=True)
            ctx.say(f"Rebooting the headnode {sid} ({host}), where this sdcadm runs")
        else:
            ctx.say(f"Rebooting server {sid} ({host})")
        when = iso_now()
        # Noted before it is sent: a lost answer must not make a retry reboot it twice.
        ctx.note(step, reboot_sent=when)
        job = ctx.clients.cnapi.reboot(sid)
        ctx.note(step, rebooted=when, reboot_job=job)
        if p.get("headnode"):
            raise HeadnodeRebooting(f"this headnode ({host}) is rebooting: run again once it "
                                    "is back")
        return {"rebooted": when, "reboot_job": job}

    def _reboot_took(self, ctx: ExecContext, sid: str, sent: str) -> bool:
        """A reboot was sent and its answer lost: did the server go down or come back since?
        (Asked twice, a poll apart, so a reboot just starting is seen.)"""
        for _ in range(2):
            srv = self.watch.get(ctx, sid)
            if srv is not None and (srv.get("status") != "running"
                                    or str(srv.get("last_boot") or "") > sent):
                return True
            ctx.sleep()
        return False

    def _wait_back(self, ctx: ExecContext, step: Step, notes: Mapping[str, Any]) -> None:
        p = step.params
        sid, host, plat = p["server_uuid"], p.get("hostname", "?"), p.get("platform")
        job, since = notes.get("reboot_job"), notes.get("rebooted") or ""
        nominal = float(p.get("timeout") or REBOOT_TIMEOUT)
        deadline = time.monotonic() + ctx.scaled(nominal)
        went_down = False
        polls = 0
        execution = error = None
        while True:
            # One listing serves every server in flight, so it can be asked often: a server
            # back is seen within a fifth of the usual poll.
            ctx.sleep(ctx.poll_interval / WATCH_SPEEDUP)
            srv = self.watch.get(ctx, sid)
            polls += 1
            if polls % JOB_EVERY == 1 or (srv or {}).get("status") == "running":
                # The job only says whether the reboot failed: a few looks are enough.
                execution, error = _job_state(ctx, job)
            if srv is not None:
                if srv.get("status") != "running":
                    went_down = True
                elif went_down or execution == "succeeded" or \
                        str(srv.get("last_boot") or "") > since:
                    if plat and srv.get("current_platform") != plat:
                        raise StepFailedError(
                            f"server {sid} ({host}) came back running platform "
                            f"{srv.get('current_platform')}, not {plat}")
                    ctx.say(f"Server {sid} ({host}) is back" +
                            (f" on platform {plat}" if plat else ""))
                    return
            if execution in ("failed", "canceled"):
                raise StepFailedError(f"server {sid} ({host}) did not come back"
                                      + (f" running platform {plat}" if plat else "")
                                      + f": {error or 'reboot job ' + execution}")
            if time.monotonic() >= deadline:
                raise StepFailedError(
                    f"Timeout ({minutes(nominal)}) waiting for server {sid} ({host}) to come "
                    "back" + (f" running platform {plat}" if plat else ""))

    def _wait_healthy(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        sid, host = p["server_uuid"], p.get("hostname", "?")
        nominal = float(p.get("gate_timeout") or GATE_TIMEOUT)
        deadline = time.monotonic() + ctx.scaled(nominal)
        gate = self._gate(ctx)
        while True:
            health = gate.check(ctx, p, self.watch.get(ctx, sid))
            if health.ok:
                return
            if health.fatal:
                raise StepFailedError(f"server {sid} ({host}) failed its health gate: "
                                      f"{health.detail}")
            if time.monotonic() >= deadline:
                raise StepFailedError(f"Timeout ({minutes(nominal)}) waiting for server {sid} "
                                      f"({host}) to pass its health gate: {health.detail}")
            ctx.sleep()

    # -- the manatee shard ------------------------------------------------------------------
    def _freeze(self, ctx: ExecContext, step: Step) -> dict[str, Any]:
        p = step.params
        members = _peers_first_elsewhere(p)
        remote = ctx.clients.remote
        state = _shard_state(ctx, members)
        notes = ctx.notes(step)
        if state.get("freeze") and notes.get("froze") and not notes.get("unfrozen"):
            ctx.say("The manatee shard is still frozen from the earlier attempt")
            return {"froze": True}
        if state.get("freeze"):
            reason = (state["freeze"] or {}).get("reason", "?")
            ctx.say(f"The manatee shard is already frozen ({reason}): leaving it so")
            ctx.note(step, froze=False)
            return {"froze": False}
        reason = f"sdcadm reboot of {p.get('hostname', p['server_uuid'])} ({ctx_run(ctx)})"
        ctx.say(f"Freezing the manatee shard while {p.get('hostname')} reboots")
        _in_any_member(remote, members, ["manatee-adm", "freeze", "-r", reason])
        ctx.note(step, froze=True)
        return {"froze": True}

    def _unfreeze(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say("Unfreezing the manatee shard")
        _in_any_member(ctx.clients.remote, _peers_first_elsewhere(p),
                       ["manatee-adm", "unfreeze"])
        ctx.note(step, unfrozen=True)


def ctx_run(ctx: ExecContext) -> str:
    journal = getattr(ctx, "journal", None)
    return f"run {journal.dir.name}" if journal is not None else "sdcadm"


def _peers_first_elsewhere(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Manatee members, those on other servers first (this one may be down)."""
    members = [(m[0], m[1]) for m in (p.get("peers") or {}).get("manatee") or ()]
    return sorted(members, key=lambda m: m[1] == p["server_uuid"])


def _shard_state(ctx: ExecContext, members: list[tuple[str, str]]) -> Mapping[str, Any]:
    try:
        return read_shard_state(ctx.clients.remote, members)
    except ValueError as e:
        raise StepFailedError(str(e)) from e


def _in_any_member(remote: Any, members: list[tuple[str, str]], command: list[str]) -> None:
    errors = []
    for zone, server in members:
        try:
            res = remote.run(server, zone_argv(zone, *command))
        except SdcAdmError as e:
            errors.append(e.message.splitlines()[0])
            continue
        if res.exit_status == 0:
            return
        errors.append(f"{zone}: {(res.stderr or res.stdout).strip() or res.exit_status}")
    raise StepFailedError(f"{' '.join(command)} failed in every manatee zone: "
                          + "; ".join(errors))


def _job_state(ctx: ExecContext, job: str | None) -> tuple[str | None, str | None]:
    """(execution, error) of the reboot job; (None, None) when it cannot be read."""
    if not job:
        return None, None
    try:
        data = ctx.clients.wfapi.get_job(job) or {}
    except SdcAdmError:
        return None, None
    return data.get("execution"), job_error(data)
