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
                   *, rejoin: tuple[str, ...] = (), ctx: Context | None = None) -> list[Step]:
    """Reprovision and wait, one instance after the other. `rejoin` ("dns", "zk") wraps
    each instance of an HA service: out of DNS before it goes down, back in DNS (and in its
    ZooKeeper ensemble) before the next one leaves."""
    svc, img = change.service, change.image
    assert svc is not None and img is not None
    wait = timeout or WAIT_TIMEOUTS.get(change.procedure, 300)
    domain = (svc.metadata or {}).get("SERVICE_DOMAIN")
    steps: list[Step] = []
    for inst in insts:
        dns = "dns" in rejoin and bool(domain and inst.ip and inst.server)
        base = {"instance": inst.instance, "alias": inst.alias, "service": svc.name,
                "server_uuid": inst.server}
        named = f"{inst_name(inst)} ({inst.instance})"
        dns_params = {**base, "ip": inst.ip, "domain": domain,
                      "headnode": ctx.headnode if ctx else None}
        if dns:
            steps.append(Step(id="", action="dns-leave", target=inst.instance,
                              params=dns_params, change=svc.name,
                              summary=f"take {named} out of DNS ({domain})"))
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
        if dns:
            steps.append(Step(id="", action="dns-join", target=inst.instance,
                              params=dns_params, change=svc.name,
                              summary=f"wait for {named} to be back in DNS ({domain})"))
        if "zk" in rejoin and inst.server:
            steps.append(Step(id="", action="zk-join", target=inst.instance, params=base,
                              change=svc.name,
                              summary=f"wait for {named} to rejoin the ZooKeeper ensemble"))
    return steps


def is_ha(change: PlannedChange) -> bool:
    """More than one instance: the service stays up while each one is replaced."""
    return len(change.instances) + len(change.already) > 1


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
