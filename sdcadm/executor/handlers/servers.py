"""Platform changes: set a server's boot platform, reboot it and wait until it is back."""
from __future__ import annotations

import time
from typing import Any, Mapping

from sdcadm.errors import SdcAdmError, StepFailedError
from sdcadm.executor.context import ExecContext, minutes
from sdcadm.plan import Step

REBOOT_TIMEOUT = 1800.0


class SetBootPlatform:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        return (ctx.clients.cnapi.get_boot_params(p["server_uuid"]) or {}).get("platform") == p["platform"]

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f"Setting boot platform of server {p['server_uuid']} ({p.get('hostname', '?')}) "
                f"to {p['platform']}")
        ctx.clients.cnapi.set_boot_params(p["server_uuid"], {"platform": p["platform"]})


class RebootServer:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return _back(ctx.clients.cnapi.get_server(step.params["server_uuid"]), step.params["platform"])

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
            if srv is not None:
                if srv.get("status") != "running":
                    went_down = True
                elif _back(srv, p["platform"]) and (went_down or _job_done(ctx, job)):
                    ctx.say(f"Server {server} ({host}) is back on platform {p['platform']}")
                    return
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


def _job_done(ctx: ExecContext, job: str | None) -> bool:
    if not job:
        return False
    try:
        return (ctx.clients.wfapi.get_job(job) or {}).get("execution") in ("succeeded", "failed")
    except SdcAdmError:
        return False
