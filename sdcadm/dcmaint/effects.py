"""Reading what dc-maint decides on, and applying its decisions: the one place dc-maint
changes anything (SAPI metadata, config-agent refreshes over SSH, the start-time file, the
wait for Workflow to drain). The decisions themselves are in `sdcadm.dcmaint.rules`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from sdcadm.dcmaint.rules import (
    SERVICES,
    MaintFacts,
    MaintService,
    Plan,
    Status,
    Zone,
    busy_summary,
    plan_start,
    plan_stop,
    scope_of,
    services_in,
    status_of,
)
from sdcadm.errors import InternalError, SdcAdmError, SDCClientError

if TYPE_CHECKING:
    from sdcadm.clients.remote import Session

INFO_FILE = "dc-maint.json"
DRAIN_TIMEOUT = 300.0  # the original's 60 polls of 5 s, scaled with pollInterval
MAX_LIST_ERRORS = 3
JOB_LIST_LIMIT = 10


def info_path(config: Any) -> Path:
    return Path(config.var_dir) / INFO_FILE


def read_start_time(path: Path) -> str | None:
    """The recorded start time; a missing or unreadable file is no start time (the file is
    a convenience and never fails a command)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    value = data.get("startTime") if isinstance(data, dict) else None
    return str(value) if value else None


def refresh_argv(zone: str) -> list[str]:
    return ["/usr/sbin/svcadm", "-z", zone, "refresh", "config-agent"]


# -- reading ---------------------------------------------------------------------------------

def read_facts(app: Any) -> MaintFacts:
    """The sdc application, the cloudapi and docker services that exist, the start time."""
    from sdcadm.gather import sdc_application

    sapi = app.clients.sapi
    sdc = sdc_application(sapi)
    found: dict[str, MaintService] = {}
    for name in SERVICES:
        rows = sapi.list_services(application_uuid=sdc.uuid, name=name)
        if rows:
            found[name] = MaintService(name, rows[0]["uuid"], dict(rows[0].get("metadata") or {}))
    return MaintFacts(app_uuid=sdc.uuid, app_metadata=dict(sdc.metadata), services=found,
                      start_time=read_start_time(info_path(app.config)))


def with_zones(app: Any, facts: MaintFacts, names: Iterable[str]) -> MaintFacts:
    """The facts plus the active VMs of the named services (their config-agents)."""
    app.info("Getting SDC's cloudapi and docker instances")
    owner = app.config.admin_uuid
    zones: list[Zone] = []
    for name in names:
        filters: dict[str, Any] = {"state": "active", "tag.smartdc_role": name}
        if owner:
            filters["owner_uuid"] = owner
        for vm in app.clients.vmapi.list_vms(**filters):
            zones.append(Zone(uuid=vm["uuid"], service=name, alias=vm.get("alias"),
                              server=vm.get("server_uuid")))
    return dataclasses.replace(facts, zones=tuple(zones))


def status(app: Any) -> Status:
    return status_of(read_facts(app))


# -- the commands ----------------------------------------------------------------------------

def start(app: Any, *, message: str | None, eta: str | None, cloudapi_only: bool,
          docker_only: bool) -> None:
    facts = read_facts(app)
    # Refuse (nothing changed) before reading more.
    names = services_in(facts, scope_of(cloudapi_only, docker_only))
    facts = with_zones(app, facts, names)
    plan = plan_start(facts, message=message, eta=eta, cloudapi_only=cloudapi_only,
                      docker_only=docker_only, now=datetime.now(timezone.utc))
    run(app, plan)


def stop(app: Any) -> None:
    facts = read_facts(app)
    facts = with_zones(app, facts, [n for n in SERVICES if n in facts.services])
    run(app, plan_stop(facts))


def run(app: Any, plan: Plan) -> None:
    """Apply a plan, recorded in history (started before, finished with any error after)."""
    from sdcadm.executor.history import recorded

    if plan.refresh:
        # A bad ssh configuration is reported before anything changes.
        app.clients.remote  # noqa: B018
    with recorded(app, plan.changes()):
        apply(app, plan)


def apply(app: Any, plan: Plan) -> None:
    """Make the changes of `plan`, in the original's order. Zones whose config-agent could
    not be refreshed are listed as they fail and reported in the end, after the rest of the
    plan: the change is in SAPI by then, and the wait for Workflow still matters."""
    sapi = app.clients.sapi
    for note in plan.notes:
        app.info(note)
    for change in plan.services:
        app.info(change.say)
        sapi.update_service(change.service.uuid, {"metadata": {change.key: change.readonly}})
    if plan.app_metadata:
        app.info(plan.app_say)
        body: dict[str, Any] = {"metadata": dict(plan.app_metadata)}
        if plan.app_delete:
            body["action"] = "delete"
        sapi.update_application(plan.app_uuid, body)
    failed = refresh_config_agents(app, plan.refresh)
    path = info_path(app.config)
    if plan.write_start_time:
        _write_start_time(app, path, plan.write_start_time)
    if plan.remove_start_time:
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            app.warn(f"Warning: could not remove {path}: {e.strerror or e}")
    if plan.drain:
        drain_workflow(app)
    if failed:
        from sdcadm.clients.remote import RemoteError

        raise RemoteError(f"config-agent was not refreshed in {len(failed)} of "
                          f"{len(plan.refresh)} zones (listed above): run `sdcadm dc-maint "
                          f"{plan.action}` again to retry")


def _write_start_time(app: Any, path: Path, start_time: str) -> None:
    try:
        from sdcadm.private_files import make_dirs, open_private

        make_dirs(path.parent)
        tmp = path.with_name(path.name + ".tmp")
        with open_private(tmp, "w") as fh:
            fh.write(json.dumps({"startTime": start_time}, indent=4))
        os.replace(tmp, path)
    except OSError as e:
        # Only `status` reads it (for "since"): maintenance itself is in SAPI already.
        app.warn(f"Warning: could not record the start time in {path}: {e.strerror or e}")


def refresh_config_agents(app: Any, zones: Iterable[Zone]) -> list[tuple[Zone, SdcAdmError]]:
    """`svcadm -z ZONE refresh config-agent` in every zone, over SSH to its server, many
    servers at a time. Returns the zones that failed, each with its error; one unreachable
    server never hides the others' results."""
    from sdcadm.clients.remote import RemoteError

    failed: list[tuple[Zone, SdcAdmError]] = []
    by_server: dict[str, list[Zone]] = {}
    for z in zones:
        if z.server:
            by_server.setdefault(z.server, []).append(z)
        else:
            failed.append((z, RemoteError("VMAPI knows no server for it", kind="unreachable")))

    def work(session: "Session") -> list[tuple[Zone, SdcAdmError | None]]:
        out: list[tuple[Zone, SdcAdmError | None]] = []
        broken: SdcAdmError | None = None
        for z in by_server[session.server]:
            if broken is not None:
                out.append((z, broken))
                continue
            try:
                session.run(refresh_argv(z.uuid), check=True)
                out.append((z, None))
            except RemoteError as e:
                out.append((z, e))
                if e.kind != "error":
                    broken = e  # the server itself failed: its other zones would too
        return out

    if by_server:
        results: Mapping[str, Any] = app.clients.remote.fleet(by_server, work)
        for server, result in results.items():
            if isinstance(result, SdcAdmError):
                failed.extend((z, result) for z in by_server[server])
            else:
                failed.extend((z, e) for z, e in result if e is not None)
    for z, e in failed:
        app.warn(f"Error refreshing config-agent in zone {z.label}: "
                 f"{e.message.splitlines()[0]}")
    return failed


def drain_workflow(app: Any) -> None:
    """Poll Workflow until no job is running or queued; a poll every `pollInterval`, up to
    5 minutes at the original's 5 s (less when polling faster, as the executor's waits).
    A listing error is retried at the next poll; the third one fails the wait."""
    from sdcadm.executor.context import ExecContext
    from sdcadm.render.progress import Progress

    app.info("Waiting up to 5 minutes for workflow jobs to drain")
    # Shown while it lasts, as the executor's waits: a spinner with its elapsed time on a
    # terminal, else a timestamped line at its start, every progressInterval and at its end.
    progress = Progress(interval=getattr(app.config, "progress_interval", None))
    try:
        ctx = ExecContext(clients=app.clients, config=app.config, progress=progress)
        with ctx.waiting("wait for workflow jobs to drain") as shown:
            _drain(ctx, app.clients.wfapi, shown)
    finally:
        progress.close()
    app.info("Workflow cleared of running and queued jobs")


def _drain(ctx: Any, wfapi: Any, shown: Any) -> None:
    deadline = time.monotonic() + ctx.scaled(DRAIN_TIMEOUT)
    errors = 0
    busy: list[dict[str, Any]] = []
    while True:
        # First wait, then look: config-agents need a moment to make the zones read-only,
        # and jobs may still be arriving until they have.
        ctx.sleep()
        try:
            busy = wfapi.list_jobs(execution="running", limit=JOB_LIST_LIMIT)
            if not busy:
                busy = wfapi.list_jobs(execution="queued", limit=JOB_LIST_LIMIT)
        except SDCClientError as e:
            errors += 1
            if errors >= MAX_LIST_ERRORS:
                raise
            shown.detail(f"cannot list jobs: {e.message.splitlines()[0]}")
        else:
            if not busy:
                return
            shown.detail(busy_summary(busy))
        if time.monotonic() >= deadline:
            raise InternalError(
                f"timeout waiting for workflow jobs to drain ({busy_summary(busy)})")
