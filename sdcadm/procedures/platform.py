"""Platform updates: set the boot platform, then reboot, `max_unavailable` servers at a
time; the headnode alone in the last batch. A batch is waited for before the next one
starts, so never more than `max_unavailable` servers are down at once."""
from __future__ import annotations

from sdcadm.model import Instance
from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures.context import Context, plural

SUMMARY = "set the boot platform and reboot servers in batches, the headnode last"


# One parallel group per batch and phase: every boot platform of a batch is set, then
# every server of the batch reboots.
PHASES = (
    ("set-boot-platform", "set", "set boot platform of {host} ({uuid}) to {plat}"),
    ("reboot-server", "reboot", "reboot {host} ({uuid}) onto platform {plat}"),
)


def _max_unavailable(change: PlannedChange) -> int:
    return max(1, change.max_unavailable or 1)


def _is_headnode(s: Instance, ctx: Context) -> bool:
    return s.state == "headnode" or s.instance == ctx.headnode


def batches(change: PlannedChange, ctx: Context) -> list[list[Instance]]:
    size = _max_unavailable(change)
    hn = [s for s in change.instances if _is_headnode(s, ctx)]
    rest = [s for s in change.instances if s not in hn]
    out = [rest[i:i + size] for i in range(0, len(rest), size)]
    return out + [[s] for s in hn]


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    n = len(change.instances)
    mu = _max_unavailable(change)
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
        if _is_headnode(s, ctx):
            body.append(f"headnode {s.instance} ({s.hostname}) reboots last")
    return [head] + ["    " + b for b in body]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    plat = change.platform
    mu = _max_unavailable(change)
    return [
        Step(id="", action=action, target=s.instance,
             params={"server_uuid": s.instance, "hostname": s.hostname, "platform": plat},
             summary=text.format(host=s.hostname, uuid=s.instance, plat=plat),
             change="platform", parallel=f"platform:{plat}:{phase}:{n}", concurrency=mu)
        for n, batch in enumerate(batches(change, ctx), start=1)
        for action, phase, text in PHASES
        for s in batch
    ]
