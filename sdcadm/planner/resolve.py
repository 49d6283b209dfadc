"""Resolve change requests against the datacenter: which service, which instances, which image.

Every "unknown X" message of the original lives here, quoting the change as given.
"""
from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Sequence

from sdcadm.errors import UpdateError
from sdcadm.model import DatacenterState, Image, Instance, Server, Service
from sdcadm.plan import ChangeRequest
from sdcadm.planner import rules


@dataclass
class Resolved:
    """A request tied to the datacenter, before rules decide what to do with it."""

    request: ChangeRequest
    implicit: bool  # came from --all (lenient: problems become warnings, not refusals)
    kind: str  # service | instance | agent | agent-instance | platform | unsupported
    service: Service | None = None
    procedure: str | None = None
    instances: list[Instance] = field(default_factory=list)  # in scope of the change
    image: Image | None = None
    explicit_image: bool = False  # the operator named the image (uuid or version)
    servers: list[Server] = field(default_factory=list)  # platform changes


class StateIndex:
    """Lookups built once per state, so planning stays linear in the fleet size."""

    _last: "StateIndex | None" = None

    @classmethod
    def of(cls, state: DatacenterState) -> "StateIndex":
        """The index of `state`, built once however often it is planned against (`avail`
        plans once per service it has a note for; `--all` selects, then plans)."""
        last = cls._last
        if last is None or last.state is not state:
            last = cls._last = cls(state)
        return last

    def __init__(self, state: DatacenterState) -> None:
        self.state = state
        self.by_service: dict[str, list[Instance]] = state.instances_by_service
        self.by_id: dict[str, Instance] = {}
        self.by_alias: dict[str, Instance] = {}
        for inst in state.instances:
            self.by_id.setdefault(inst.instance, inst)
            if inst.alias:
                self.by_alias.setdefault(inst.alias, inst)
        self.by_hostname = {s.hostname: s for s in state.servers.values()}
        self.services: dict[str, Service] = dict(state.services)
        # Agents reported by servers but without a SAPI service record are still
        # updatable through CNAPI: give them a service without a SAPI uuid.
        for name, insts in self.by_service.items():
            if name not in self.services and insts and insts[0].type == "agent":
                self.services[name] = Service(uuid="", name=name, type="agent")

    def instances_of(self, name: str) -> list[Instance]:
        return self.by_service.get(name, [])

    def instance(self, ident: str) -> Instance | None:
        return self.by_id.get(ident) or self.by_alias.get(ident)

    def server(self, ident: str) -> Server | None:
        return self.state.servers.get(ident) or self.by_hostname.get(ident)


def quote_names(names: Sequence[str]) -> str:
    """`"a"`, `"a" or "b"`, `"a", "b" or "c"` -- as the original words image-name lists."""
    q = [f'"{n}"' for n in names]
    if len(q) <= 1:
        return "".join(q)
    return ", ".join(q[:-1]) + " or " + q[-1]


def allowed_names(service: str, config: Any) -> list[str]:
    from sdcadm.planner import candidates

    return list(candidates.allowed_image_names(service, config) or [])


def candidate_list(idx: "StateIndex", service: Service, instances: Sequence[Instance],
                   config: Any) -> list[Image]:
    """Same-or-newer candidates relative to the images of `instances` (all of the service's
    for a service change, just one for an instance change), else the service's image."""
    from sdcadm.planner import candidates

    uuids = list(dict.fromkeys(i.image for i in instances if i.image))
    if not uuids and service.image_uuid:
        uuids = [service.image_uuid]
    current = [img for img in map(idx.state.image, uuids) if img is not None]
    return list(candidates.candidate_images(idx.state, service.name, config,
                                            current=current) or [])


def resolve(req: ChangeRequest, idx: StateIndex, config: Any, *,
            implicit: bool = False) -> Resolved:
    text = req.describe()
    if req.type == "update-platform":
        return _resolve_platform(req, idx)
    if req.type not in ("update-service", "update-instance"):
        return Resolved(req, implicit, "unsupported",
                        service=idx.services.get(req.service or ""))
    if "sdcadm" in (req.instance, req.service) and "sdcadm" not in idx.services:
        # `avail` lists sdcadm itself; `update` does not update it (self-update does).
        return Resolved(req, implicit, "unsupported",
                        service=Service(uuid="", name="sdcadm", type="other"))
    svc: Service | None
    if req.instance is not None:
        inst = idx.instance(req.instance)
        if inst is None:
            raise UpdateError(f'unknown SDC instance or service "{req.instance}" from {text}')
        svc = idx.services.get(inst.service) or Service(uuid="", name=inst.service, type=inst.type)
        res = Resolved(req, implicit, "agent-instance" if inst.type == "agent" else "instance",
                       service=svc, instances=[inst])
    elif req.servers and req.service:
        # SERVER/AGENT, or {"service": ..., "server": ...}: one agent on one server.
        svc = idx.services.get(req.service)
        if svc is None:
            raise UpdateError(f'unknown service "{req.service}" from {text}')
        server = idx.server(req.servers[0])
        if server is None:
            raise UpdateError(f'unknown SDC server "{req.servers[0]}" from {text}')
        insts = [i for i in idx.instances_of(svc.name) if i.server == server.uuid]
        if not insts:
            raise UpdateError(
                f'service "{svc.name}" has no instance on server {server.uuid} '
                f'({server.hostname}) from {text}')
        res = Resolved(req, implicit, "agent-instance", service=svc, instances=insts)
    else:
        svc = idx.services.get(req.service or "")
        if svc is None:
            raise UpdateError(f'unknown service "{req.service}" from {text}')
        kind = "agent" if svc.type == "agent" or svc.name in rules.AGENTS else "service"
        res = Resolved(req, implicit, kind, service=svc,
                       instances=list(idx.instances_of(svc.name)))
    assert res.service is not None
    res.procedure = rules.procedure_for(res.service.name, res.service.type)
    if res.procedure is None:
        res.kind = "unsupported"
        return res
    res.image, res.explicit_image = _target_image(req, res, idx, config)
    return res


def _target_image(req: ChangeRequest, res: Resolved, idx: StateIndex,
                  config: Any) -> tuple[Image | None, bool]:
    state = idx.state
    svc = res.service
    assert svc is not None
    text = req.describe()
    names = allowed_names(svc.name, config)
    if req.image:
        img = state.image(req.image)
        if img is None:
            raise UpdateError(f'unknown image "{req.image}" from {text}')
        if names and img.name not in names:
            raise UpdateError(
                f"image {img.uuid} ({img.label}) is invalid for service {svc.name}, "
                f"valid images must have name {quote_names(names)} (update change: {text})")
        return img, True
    if req.version:
        seen: dict[str, Image] = {}
        for img in (*state.update_images.values(), *state.local_images.values()):
            if img.version == req.version and img.name in names:
                seen.setdefault(img.uuid, img)
        if not seen:
            raise UpdateError(
                f'no image with version "{req.version}" and name {quote_names(names)} '
                f"was found (update change: {text})")
        from sdcadm.planner.candidates import published_key

        return max(seen.values(), key=published_key), True
    if not names:
        if res.implicit:
            return None, False
        raise UpdateError(f'do not know valid image names for service "{svc.name}" from {text}')
    cands = candidate_list(idx, svc, res.instances, config)
    return (cands[-1] if cands else None), False


def _resolve_platform(req: ChangeRequest, idx: StateIndex) -> Resolved:
    text = req.describe()
    state = idx.state
    if req.platform == "latest":
        # The newest installed SmartOS platform (what `platform assign --latest` takes).
        from sdcadm.planner.platforms import latest_installed

        newest = latest_installed(state.platforms)
        if newest is None:
            raise UpdateError(f"no platform installed for \"latest\" from {text}")
        req = dataclasses.replace(req, platform=newest)
    if req.platform not in state.platforms:
        raise UpdateError(f'unknown platform "{req.platform}" from {text}')
    servers: list[Server] = []
    selector = req.source.get("selector")
    if selector is not None:
        for s in state.servers.values():
            if not s.setup:
                continue
            if selector == "all" or (selector == "computenodes" and not s.headnode) \
                    or (selector == "headnode" and s.headnode) \
                    or fnmatch.fnmatchcase(s.hostname, selector):
                servers.append(s)
        if not servers:
            raise UpdateError(f'no servers match selector "{selector}" from {text}')
    else:
        unknown: list[str] = []
        for ident in req.servers:
            found = idx.server(ident)
            if found is None:
                unknown.append(ident)
            elif found not in servers:
                servers.append(found)
        if len(unknown) == 1:
            raise UpdateError(f'unknown SDC server "{unknown[0]}" from {text}')
        if unknown:
            raise UpdateError(f'unknown SDC servers "{", ".join(unknown)}" from {text}')
    return Resolved(req, False, "platform", procedure="platform", servers=servers)
