"""Core VM updates: record the service image in SAPI, reprovision, wait for the instance."""
from __future__ import annotations

import time
from typing import Any, Mapping

from sdcadm.errors import InstanceIsDownError, SdcAdmError
from sdcadm.executor.context import ExecContext, minutes
from sdcadm.executor.handlers.jobs import follow_job, settle_jobs
from sdcadm.executor.health import HealthGate, default_gate
from sdcadm.plan import Step

REPROVISION_TIMEOUT = 3600.0
WAIT_INSTANCE_TIMEOUT = 300.0  # 60 polls of 5 s, as the original


class SapiUpdateService:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        svc = ctx.clients.sapi.get_service(p["service_uuid"])
        return (svc.get("params") or {}).get("image_uuid") == p["image_uuid"]

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f'Updating image for SAPI service "{p.get("service")}"',
                f"    service uuid: {p['service_uuid']}")
        ctx.clients.sapi.update_service(p["service_uuid"],
                                        {"params": {"image_uuid": p["image_uuid"]}})


class Reprovision:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        # The run may have died with a reprovision job in flight (journalled or not yet).
        settle_jobs(ctx, step, ctx.clients.vmapi.get_job, "vm_uuid", p["instance"],
                    timeout=ctx.scaled(REPROVISION_TIMEOUT),
                    what=f"reprovision of {p['instance']}")
        vm = ctx.clients.vmapi.get_vm(p["instance"])
        return vm.get("image_uuid") == p["image_uuid"]

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f"Reprovisioning VM {p['instance']} on server {p.get('server_uuid')}")
        res = ctx.clients.vmapi.reprovision(p["instance"], p["image_uuid"])
        follow_job(ctx, step, res, ctx.clients.vmapi.get_job,
                   request=f"reprovision of VM {p['instance']}",
                   timeout=ctx.scaled(REPROVISION_TIMEOUT),
                   what=f"reprovision of VM {p['instance']} ({p.get('alias') or p.get('service')})")


class WaitInstance:
    def __init__(self, gate: HealthGate | None = None) -> None:
        self.gate = gate or default_gate()

    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        vm = ctx.clients.vmapi.get_vm(p["instance"], sync=True)
        return vm.get("image_uuid") == p["image_uuid"] and self.gate.check(
            ctx, p.get("service") or "", vm).ok

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        svc = p.get("service") or "?"
        alias = f" ({p['alias']})" if p.get("alias") else ""
        ctx.say(f"Waiting for {svc} instance {p['instance']}{alias} to come up")
        nominal = float(p.get("timeout") or WAIT_INSTANCE_TIMEOUT)
        with ctx.waiting(f"wait for {svc} instance {p['instance']}{alias}") as shown:
            self._wait(ctx, step, nominal, shown)

    def _wait(self, ctx: ExecContext, step: Step, nominal: float, shown: Any) -> None:
        p = step.params
        svc = p.get("service") or "?"
        deadline = time.monotonic() + ctx.scaled(nominal)
        detail = ""
        while True:
            vm = _get_vm(ctx, p["instance"])
            if vm is not None:
                if vm.get("image_uuid") != p["image_uuid"]:
                    detail = f"image is {vm.get('image_uuid')}"
                    shown.detail(detail)
                else:
                    health = self.gate.check(ctx, svc, vm)
                    if health.ok:
                        return
                    detail = health.detail
                    shown.detail(detail)
                    if health.fatal:
                        raise InstanceIsDownError(
                            f"{svc} instance {p['instance']} is not healthy: {detail}")
            if time.monotonic() >= deadline:
                # The first line is the original's; the second says what was still wrong.
                last = f"\n    last seen: {detail}" if detail else ""
                raise InstanceIsDownError(
                    f"Timeout ({minutes(nominal)}) waiting for {svc} instance {p['instance']} "
                    f"to come up{last}")
            ctx.sleep()


def _get_vm(ctx: ExecContext, uuid: str) -> Mapping[str, Any] | None:
    """GetVm with sync=true; a transient API error is one failed poll, not a failed step."""
    try:
        return ctx.clients.vmapi.get_vm(uuid, sync=True)
    except SdcAdmError as e:
        status = getattr(e, "status", None)
        if status and status < 500 and not getattr(e, "not_found", False):
            raise
        return None
