"""Platform changes: set a server's boot platform, reboot it and wait until it is back."""
from __future__ import annotations

import time
from typing import Any, Mapping

from sdcadm.errors import SdcAdmError, StepFailedError
from sdcadm.executor.context import ExecContext, minutes
from sdcadm.executor.handlers.jobs import job_error
from sdcadm.plan import Step

REBOOT_TIMEOUT = 1800.0


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


class RebootServer:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        return _back(ctx.clients.cnapi.get_server(p["server_uuid"]), p["platform"])

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        server, host = p["server_uuid"], p.get("hostname", "?")
        ctx.say(f"Rebooting server {server} ({host})")
        job = ctx.clients.cnapi.reboot(server)
        if job:
            ctx.note(step, job_uuid=job)
        nominal = float(p.get("timeout") or REBOOT_TIMEOUT)
        deadline = time.monotonic() + ctx.scaled(nominal)
        went_down = False
        while True:
            ctx.sleep()
            srv = _get_server(ctx, server)
            execution, error = _job_state(ctx, job)
            if srv is not None:
                if srv.get("status") != "running":
                    went_down = True
                elif _back(srv, p["platform"]) and (went_down or execution == "succeeded"):
                    ctx.say(f"Server {server} ({host}) is back on platform {p['platform']}")
                    return
            if execution in ("failed", "canceled"):
                raise StepFailedError(
                    f"server {server} ({host}) did not come back running platform "
                    f"{p['platform']}: {error or 'reboot job ' + execution}")
            if time.monotonic() >= deadline:
                raise StepFailedError(
                    f"Timeout ({minutes(nominal)}) waiting for server {server} ({host}) to come "
                    f"back running platform {p['platform']}")


def _back(server: Mapping[str, Any], platform: str) -> bool:
    return server.get("status") == "running" and server.get("current_platform") == platform


def _get_server(ctx: ExecContext, uuid: str) -> Mapping[str, Any] | None:
    try:
        return ctx.clients.cnapi.get_server(uuid)
    except SdcAdmError:
        return None  # CNAPI may blip while a server reboots; the deadline bounds the wait


def _job_state(ctx: ExecContext, job: str | None) -> tuple[str | None, str | None]:
    """(execution, error) of the reboot job; (None, None) when it cannot be read."""
    if not job:
        return None, None
    try:
        data = ctx.clients.wfapi.get_job(job) or {}
    except SdcAdmError:
        return None, None
    return data.get("execution"), job_error(data)
