"""Steps shared by every VM procedure: bump the SAPI service, then reprovision and wait,
one instance at a time (a rolling update)."""
from __future__ import annotations

from typing import Iterable

from sdcadm.model import Instance
from sdcadm.plan import PlannedChange, Step
from sdcadm.planner.rules import WAIT_TIMEOUTS
from sdcadm.procedures.context import Context, inst_name, plural


def service_step(change: PlannedChange) -> list[Step]:
    """`sapi-update-service`, for service-wide changes of services SAPI knows."""
    svc, img = change.service, change.image
    if svc is None or img is None or not svc.uuid or change.type == "update-instance":
        return []
    return [Step(id="", action="sapi-update-service", target=svc.name,
                 params={"service_uuid": svc.uuid, "service": svc.name, "image_uuid": img.uuid},
                 summary=f'update SAPI service "{svc.name}" to image {img.uuid}',
                 change=svc.name)]


def instance_steps(change: PlannedChange, insts: Iterable[Instance], timeout: int | None = None,
                   ) -> list[Step]:
    svc, img = change.service, change.image
    assert svc is not None and img is not None
    wait = timeout or WAIT_TIMEOUTS.get(change.procedure, 300)
    steps: list[Step] = []
    for inst in insts:
        steps.append(Step(
            id="", action="reprovision", target=inst.instance,
            params={"instance": inst.instance, "alias": inst.alias, "service": svc.name,
                    "server_uuid": inst.server, "image_uuid": img.uuid},
            summary=f"reprovision {inst_name(inst)} ({inst.instance}) with image {img.uuid}",
            change=svc.name))
        steps.append(Step(
            id="", action="wait-instance", target=inst.instance,
            params={"instance": inst.instance, "alias": inst.alias, "service": svc.name,
                    "image_uuid": img.uuid, "timeout": wait},
            summary=f"wait for {inst_name(inst)} ({inst.instance}) to come up",
            change=svc.name))
    return steps


def header(change: PlannedChange, ctx: Context) -> str:
    svc, img = change.service, change.image
    assert svc is not None and img is not None
    target = ctx.image_text(img.uuid) if img.uuid in ctx.image_labels else \
        f"image {img.uuid} ({img.label})"
    if change.type == "update-instance" and len(change.instances) == 1:
        inst = change.instances[0]
        alias = f" ({inst.alias})" if inst.alias else ""
        return f'update instance "{inst.instance}"{alias} of service "{svc.name}" to {target}'
    total = len(change.instances) + len(change.already)
    return f'update "{svc.name}" service ({plural(total, "instance")}) to {target}'


def headnode_last(insts: Iterable[Instance], ctx: Context) -> list[Instance]:
    return sorted(insts, key=lambda i: bool(ctx.headnode and i.server == ctx.headnode))


def order_line(ordered: list[Instance], ctx: Context, service: str) -> str:
    names = []
    for inst in ordered:
        role = ctx.role(service, inst)
        names.append(f"{inst_name(inst)} ({role})" if role else inst_name(inst))
    return "order: " + ", ".join(names)
