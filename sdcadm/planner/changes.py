"""One request -> one PlannedChange: which instances move, which stay, what is refused.

Split from `core` so each rule reads on its own: the no-op and downgrade rules for
services and agents, platform changes, and the per-procedure refusals (manatee instance,
imgapi layout, deposed manatee peer).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Sequence

from sdcadm.errors import UpdateError, UsageError
from sdcadm.model import DatacenterState, Image, Instance, Server
from sdcadm.plan import PlannedChange
from sdcadm.planner.options import PlanOptions
from sdcadm.planner.resolve import Resolved, StateIndex

Topology = Mapping[str, Mapping[str, str]]


def _newer(a: Image | None, b: Image) -> bool:
    """Is `a` (an image in use) published after `b` (the target)?"""
    return bool(a and a.published_at and b.published_at and a.published_at > b.published_at)


def planned_change(r: Resolved, idx: StateIndex, options: PlanOptions,
                    agent_servers: set[str] | None, downgrades: list[str],
                    warnings: list[str], topology: Topology | None = None
                    ) -> PlannedChange | None:
    if r.kind == "platform":
        return platform_change(r, idx.state, topology)
    state = idx.state
    svc = r.service
    assert svc is not None
    img = r.image
    text = r.request.describe()
    if img is None:
        if svc.type != "agent" or r.instances:
            warnings.append(f'warning: no candidate image found for service "{svc.name}"'
                            f' in channel "{state.channel}"')
        return None
    insts = list(r.instances)
    is_agent = r.kind in ("agent", "agent-instance")
    if is_agent and agent_servers is not None:
        insts = [i for i in insts if i.server in agent_servers]
        if not insts and not r.implicit:
            raise UpdateError(f'service "{svc.name}" has no instances on the selected servers '
                              f"(change: {text})")
    if not is_agent and agent_servers is not None and r.kind == "instance":
        inst = insts[0]
        if inst.server not in agent_servers:
            names = ", ".join(options.servers)
            raise UpdateError(f'Instance "{inst.instance}" is not on server(s) "{names}"')
    if options.force_same_image:
        todo, already = insts, []
    else:
        todo = [i for i in insts if i.image != img.uuid]
        already = [i for i in insts if i.image == img.uuid]
    # Whether each image in use is newer than the target, asked once per image (a thousand
    # agent instances run two or three images).
    newer = {u: _newer(state.image(u), img) for u in {i.image for i in todo}}
    if not r.explicit_image:
        # The candidate rule picked the target: it never takes an instance backwards (its
        # newer image is not in this channel, say). Such instances stay where they are,
        # and the breakdown says so; downgrades are only ever explicit.
        keep = [i for i in todo if newer[i.image]]
        if keep:
            todo = [i for i in todo if not newer[i.image]]
            already = already + keep
    if not insts:
        if is_agent:
            if not r.implicit:
                warnings.append(f'warning: agent "{svc.name}" is not installed on any server: '
                                "nothing to update")
            return None
        if svc.image_uuid == img.uuid and not options.force_same_image:
            return None  # the service is already on it
    elif not todo:
        return None

    older = [i for i in todo if newer[i.image]]
    if not insts and r.explicit_image and _newer(state.image(svc.image_uuid), img):
        older_cur = state.image(svc.image_uuid)
    else:
        older_cur = state.image(older[0].image) if older else None
    if older_cur is not None and not options.allow_downgrade:
        if older:
            alias = f" ({older[0].alias})" if older[0].alias else ""
            who = f'instance "{older[0].instance}"{alias}'
        else:
            who = "the service"
        raise UpdateError(
            f"image {img.uuid} ({img.label}) is older than image {older_cur.uuid} "
            f'({older_cur.label}) in use by {who} of service "{svc.name}": '
            f"use --allow-downgrade to downgrade (change: {text})")
    downgrades.extend(i.instance for i in older)

    notes: list[str] = []
    if not insts:
        notes.append(f'there are no "{svc.name}" instances: only the service configuration '
                     "will be updated")
    elif (r.procedure == "stateless" and r.kind == "service" and len(insts) > 1):
        notes.append(f'"{svc.name}" is not HA-ready: its instances are updated one at a time '
                     "and the service may be briefly unavailable")
    if is_agent:
        ctype = "update-agent"
    elif r.kind == "instance":
        ctype = "update-instance"
    else:
        ctype = "update-service"
    return PlannedChange(
        type=ctype,
        procedure=r.procedure or "stateless",
        service=svc,
        image=img,
        instances=tuple(todo),
        already=tuple(already),
        downgrade=bool(older or (older_cur is not None)),
        servers=tuple(dict.fromkeys(i.server for i in todo if i.server)) if is_agent else (),
        notes=tuple(notes),
        request=dict(r.request.source),
    )


def _server_record(s: Any) -> Instance:
    # Servers of a platform change ride in Instance records (type "server") so the
    # breakdown can group them by current platform like instances by image.
    return Instance(instance=s.uuid, service="platform", type="server", hostname=s.hostname,
                    server=s.uuid, version=s.current_platform, image=s.boot_platform,
                    state="headnode" if s.headnode else None)


def platform_change(r: Resolved, state: DatacenterState,
                    topology: Topology | None) -> PlannedChange | None:
    plat = r.request.platform
    todo = [s for s in r.servers if s.current_platform != plat or s.boot_platform != plat]
    done = [s for s in r.servers if s not in todo]
    if not todo:
        return None
    pc = PlannedChange(
        type="update-platform", procedure="platform", platform=plat,
        already=tuple(_server_record(s) for s in done), request=dict(r.request.source))
    return rolling_reboot(pc, todo, state, topology, r.request.max_unavailable)


def rolling_reboot(pc: PlannedChange, servers: Sequence[Server], state: DatacenterState,
                   topology: Topology | None, max_unavailable: Any) -> PlannedChange:
    """`pc` with its servers placed for a rolling reboot (order, keys, freezes, window)."""
    from sdcadm.planner.reboots import (
        group_sizes,
        holdings,
        parse_max_unavailable,
        plan_slots,
        window_note,
    )

    try:
        window = parse_max_unavailable(max_unavailable, len(servers))
    except UsageError as e:
        raise UpdateError(f"{e.message} (change: {json.dumps(dict(pc.request))})") from e
    slots = plan_slots(servers, holdings(state, topology), group_sizes(state),
                       roles_known=topology is not None)
    if pc.platform:
        slots = [dataclasses.replace(s, platform=pc.platform) for s in slots]
    by_uuid = {s.uuid: s for s in servers}
    notes = [n for n in (window_note(slots, window),) if n]
    if topology is None and any(h.group in ("manatee", "binder") for s in slots for h in s.holds):
        notes.append(ROLES_UNREAD)
    return dataclasses.replace(
        pc, servers=tuple(s.server for s in slots),
        instances=tuple(_server_record(by_uuid[s.server]) for s in slots),
        max_unavailable=window, reboots=tuple(s.to_json() for s in slots),
        notes=pc.notes + tuple(notes))


ROLES_UNREAD = ("roles were not read (dry run): servers holding manatee and binder members "
                "are ordered by role when it runs")


def refusal(r: Resolved, pc: PlannedChange, state: DatacenterState,
             topology: Topology) -> str | None:
    name = pc.service.name if pc.service else ""
    if pc.procedure == "manatee":
        if r.kind == "instance":
            return "Individual update of manatee instances is not allowed"
        deposed = [u for u, role in (topology.get("manatee") or {}).items() if role == "deposed"]
        if deposed:
            return (f"manatee shard has a deposed peer ({', '.join(deposed)}): rebuild it with "
                    '"manatee-adm rebuild" before updating manatee')
    if pc.procedure == "imgapi" and r.kind == "service":
        insts = r.instances
        hn = state.headnode
        if len(insts) != 1 or (hn is not None and insts[0].server != hn.uuid):
            where = ", ".join(f"{i.alias or i.instance} on {i.hostname or i.server}" for i in insts)
            return (f'the "{name}" service can only be updated when it has a single instance on '
                    f"the headnode (it has {len(insts)}: {where or 'none'})")
    return None
