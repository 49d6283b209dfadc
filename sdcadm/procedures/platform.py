"""Platform updates: assign the platform to every server, then reboot them in a rolling
window that keeps every quorum (`procedures/reboot.py`), the headnode last."""
from __future__ import annotations

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures import reboot
from sdcadm.procedures.context import Context, plural

SUMMARY = "assign the platform, then reboot servers in a rolling, quorum-safe order"
ASSIGN_CONCURRENCY = 10  # boot parameters are one CNAPI call per server


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    n = len(change.instances)
    mu = max(1, change.max_unavailable or 1)
    head = (f"update platform to {change.platform} on {plural(n, 'server')} "
            f"(at most {mu} unavailable at once):")
    groups: dict[str | None, int] = {}
    for s in change.instances:
        groups[s.version] = groups.get(s.version, 0) + 1
    body = [f"{plural(c, 'server')} will reboot from platform {v or 'unknown'}"
            for v, c in sorted(groups.items(), key=lambda kv: -kv[1])]
    if change.already:
        body.append(f"{plural(len(change.already), 'server')} already at platform "
                    f"{change.platform}")
    body += reboot.summary_body(change)[1:]
    return [head] + ["    " + b for b in body]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    plat = change.platform
    assign = [
        Step(id="", action="set-boot-platform", target=slot["server"],
             params={"server_uuid": slot["server"], "hostname": slot["hostname"],
                     "platform": plat},
             summary=f"set boot platform of {slot['hostname']} ({slot['server']}) to {plat}",
             change="platform", parallel=f"platform:{plat}:assign",
             concurrency=ASSIGN_CONCURRENCY)
        for slot in change.reboots]
    return assign + reboot.reboot_steps(change, group=f"platform:{plat}:reboot",
                                        name="platform")
