"""`verify`: the last step of an update or reboot plan (`sdcadm.health.verify`)."""
from __future__ import annotations

from sdcadm.errors import StepFailedError
from sdcadm.executor.context import ExecContext
from sdcadm.plan import Step


class Verify:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return False  # it only reads: a resumed run verifies again, as of now

    def run(self, ctx: ExecContext, step: Step) -> None:
        from sdcadm.health.verify import verify

        p = step.params
        what = [", ".join(p.get("services") or [])] if p.get("services") else []
        if p.get("servers"):
            what.append(f"the instances on {len(p['servers'])} rebooted servers")
        ctx.say(f"Verifying {' and '.join(what) or 'the datacenter'}")
        result = verify(ctx.clients, ctx.config, services=list(p.get("services") or []),
                        servers=list(p.get("servers") or []))
        ctx.note(step, verification=result.to_json())
        ctx.say(*result.lines())
        if not result.ok:
            raise StepFailedError(result.problem())
