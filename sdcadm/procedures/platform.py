"""Platform updates: set the boot platform, then reboot, `max_unavailable` servers at a
time; the headnode alone in the last batch. A batch is waited for before the next one
starts, so never more than `max_unavailable` servers are down at once."""
from __future__ import annotations

from sdcadm.model import Instance
from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures.context import Context, plural

SUMMARY = "set the boot platform and reboot servers in batches, the headnode last"


def batches(change: PlannedChange, ctx: Context) -> list[list[Instance]]:
    size = max(1, change.max_unavailable or 1)
    hn = [s for s in change.instances if s.state == "headnode" or s.instance == ctx.headnode]
    rest = [s for s in change.instances if s not in hn]
    out = [rest[i:i + size] for i in range(0, len(rest), size)]
    return out + [[s] for s in hn]


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
    bs = batches(change, ctx)
    body.append(f"{plural(len(bs), 'batch')} of at most {mu}".replace("batchs", "batches"))
    for s in change.instances:
        if s.state == "headnode" or s.instance == ctx.headnode:
            body.append(f"headnode {s.instance} ({s.hostname}) reboots last")
    return [head] + ["    " + b for b in body]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    out: list[Step] = []
    plat = change.platform
    mu = max(1, change.max_unavailable or 1)
    for n, batch in enumerate(batches(change, ctx), start=1):
        for s in batch:
            out.append(Step(
                id="", action="set-boot-platform", target=s.instance,
                params={"server_uuid": s.instance, "hostname": s.hostname, "platform": plat},
                summary=f"set boot platform of {s.hostname} ({s.instance}) to {plat}",
                change="platform", parallel=f"platform:{plat}:set:{n}", concurrency=mu))
        for s in batch:
            out.append(Step(
                id="", action="reboot-server", target=s.instance,
                params={"server_uuid": s.instance, "hostname": s.hostname, "platform": plat},
                summary=f"reboot {s.hostname} ({s.instance}) onto platform {plat}",
                change="platform", parallel=f"platform:{plat}:reboot:{n}", concurrency=mu))
    return out
