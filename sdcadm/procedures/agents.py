"""Agents: one CNAPI install-agent per server, `--concurrency` at a time; a failure on
one server does not stop the others (on_failure "continue")."""
from __future__ import annotations

from sdcadm.plan import PlannedChange, Step
from sdcadm.procedures.breakout import breakout_lines
from sdcadm.procedures.context import Context, plural

SUMMARY = "update an agent on each server through CNAPI install-agent tasks"


def _whole_service(change: PlannedChange, ctx: Context) -> bool:
    req = change.request
    return not ctx.servers_option and "server" not in req and "instance" not in req


def summary(change: PlannedChange, ctx: Context) -> list[str]:
    svc, img = change.service, change.image
    assert svc is not None and img is not None
    total = len(change.instances) + len(change.already)
    servers = len({i.server for i in change.instances})
    label = ctx.image_labels.get(img.uuid) or img.label
    head = (f'update "{svc.name}" service ({plural(total, "instance")}) on '
            f'{plural(servers, "server")} to image {img.uuid} ({label})')
    body = breakout_lines(change, ctx)
    if not _whole_service(change, ctx):
        body.append("only the selected servers are updated; the service image stays as is")
    body += [f"note: {n}" for n in change.notes]
    return [head + ":"] + ["    " + b for b in body]


def steps(change: PlannedChange, ctx: Context) -> list[Step]:
    svc, img = change.service, change.image
    assert svc is not None and img is not None
    out: list[Step] = []
    if svc.uuid and _whole_service(change, ctx):
        out.append(Step(id="", action="sapi-update-service", target=svc.name,
                        params={"service_uuid": svc.uuid, "service": svc.name,
                                "image_uuid": img.uuid},
                        summary=f'update SAPI service "{svc.name}" to image {img.uuid}',
                        change=svc.name))
    install = Step(id="", action="install-agent", target="", change=svc.name,
                   parallel=f"agents:{svc.name}", concurrency=ctx.concurrency,
                   on_failure="continue")
    seen: set[str] = set()
    for inst in change.instances:
        if not inst.server or inst.server in seen:
            continue
        seen.add(inst.server)
        out.append(install.but(
            target=inst.server,
            params={"server_uuid": inst.server, "hostname": inst.hostname, "agent": svc.name,
                    "image_uuid": img.uuid},
            summary=f"install {svc.name} {img.uuid} on server {inst.server} ({inst.hostname})"))
    return out
