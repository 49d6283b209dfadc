"""`install-agent`: CNAPI install-agent task on one server, long-polled to completion.

The planner puts one step per server in a parallel group (`agents:<name>`, concurrency =
--concurrency, on_failure "continue"), so one server's failure never stops the others;
the executor shows the group's progress (`fanout`) and `summarize` prints the
original-style tally once the group is over.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sdcadm.errors import StepFailedError
from sdcadm.executor.context import ExecContext
from sdcadm.executor.handlers.jobs import wait_task
from sdcadm.plan import Step
from sdcadm.render.progress import counted

TASK_TIMEOUT = 1800.0  # 30 min, as the original


class InstallAgent:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        # A task this step started (its answer may have been lost: look on the server too):
        # wait for it rather than start a second install.
        task = ctx.notes(step).get("task_id") or running_install(ctx, p)
        if task:
            try:
                wait_task(ctx, task, timeout=ctx.scaled(TASK_TIMEOUT), what="agent install")
            except StepFailedError:
                return False
        server = ctx.clients.cnapi.get_server(p["server_uuid"])
        return agent_image(server, p["agent"]) == p["image_uuid"]

    def fanout(self, steps: Sequence[Step]) -> tuple[str, str, str]:
        """How the executor shows the group's progress: `cn-agent: 412/751 servers updated`."""
        return str(steps[0].params.get("agent", "agent")), "servers", "updated"

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        task_id = ctx.clients.cnapi.install_agent(p["server_uuid"], p["image_uuid"])
        ctx.note(step, task_id=task_id)
        wait_task(ctx, task_id, timeout=ctx.scaled(TASK_TIMEOUT),
                  what=f"{p['agent']} install on server {p['server_uuid']}")

    def summarize(self, ctx: ExecContext, steps: Sequence[Step], outcomes: Sequence[Any]) -> None:
        agent = steps[0].params.get("agent", "agent")
        ok = sum(1 for o in outcomes if o.ok)
        failed = [o for o in outcomes if o.outcome == "failed"]
        stopped = sum(1 for o in outcomes if o.outcome in ("interrupted", "not-run"))
        # After Ctrl-C, say how many servers were left as they were, not just the count done.
        left = f", {stopped} not updated: interrupted" if stopped and ctx.cancelled() else ""
        total = len(steps)
        ctx.say(f"Updated {agent} on {ok}/{total} {counted(total, 'servers')} "
                f"({len(failed)} {counted(len(failed), 'failures')}{left})")
        for o in failed:
            p = o.step.params
            msg = o.error.message.splitlines()[0] if o.error else "failed"
            ctx.say(f"    server {p.get('server_uuid')} ({p.get('hostname', '?')}): {msg}")


def running_install(ctx: ExecContext, p: Mapping[str, Any]) -> str | None:
    """The id of an install of this image still running on the server, if any."""
    from sdcadm.errors import SdcAdmError

    try:
        tasks = ctx.clients.cnapi.task_history(p["server_uuid"])
    except SdcAdmError:
        return None  # an older CNAPI without task history: the agent's image decides
    for t in tasks:
        if t.get("task") == "agent_install" and t.get("status") == "active" and \
                (t.get("params") or {}).get("image_uuid") == p["image_uuid"]:
            return t.get("id")
    return None


def agent_image(server: Mapping[str, Any], name: str) -> str | None:
    agents = server.get("agents") or (server.get("sysinfo") or {}).get("SDC Agents") or []
    for a in agents:
        if a.get("name") == name:
            return a.get("image_uuid")
    return None
