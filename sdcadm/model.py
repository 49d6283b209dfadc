"""The datacenter as sdcadm sees it: plain, immutable records built by the gather phase.

Everything downstream (planner, procedures, render) reads these and nothing else, so the
planner stays a pure function of a `DatacenterState`.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
STAMP_RE = re.compile(r"^\d{8}T\d{6}Z$")


def is_uuid(value: str | None) -> bool:
    return bool(value) and bool(UUID_RE.match(value or ""))


def buildstamp_of(version: str | None) -> str | None:
    """Build time of a `<branch>-<YYYYMMDDTHHMMSSZ>-g<sha>` version (second-to-last field)."""
    if not version:
        return None
    parts = version.split("-")
    if len(parts) >= 3 and STAMP_RE.match(parts[-2]):
        return parts[-2]
    return None


@dataclass(frozen=True)
class Image:
    uuid: str
    name: str
    version: str
    published_at: str | None = None
    state: str = "active"
    type: str = "zone-dataset"
    os: str = "smartos"
    size: int = 0
    sha1: str | None = None
    origin: str | None = None
    description: str | None = None
    channels: tuple[str, ...] = ()
    tags: Mapping[str, Any] = field(default_factory=dict)
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def buildstamp(self) -> str | None:
        return buildstamp_of(str(self.tags.get("buildstamp") or self.version))

    @classmethod
    def from_manifest(cls, m: Mapping[str, Any]) -> "Image":
        files = m.get("files") or [{}]
        return cls(
            uuid=m["uuid"],
            name=m.get("name", ""),
            version=m.get("version", ""),
            published_at=m.get("published_at"),
            state=m.get("state", "active"),
            type=m.get("type", "zone-dataset"),
            os=m.get("os", "smartos"),
            size=int(files[0].get("size") or 0),
            sha1=files[0].get("sha1"),
            origin=m.get("origin"),
            description=m.get("description"),
            channels=tuple(m.get("channels") or ()),
            tags=dict(m.get("tags") or {}),
            manifest=dict(m),
        )


@dataclass(frozen=True)
class Application:
    uuid: str
    name: str
    owner_uuid: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    uuid: str
    name: str
    type: str = "vm"  # vm | agent | other
    application_uuid: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def image_uuid(self) -> str | None:
        return self.params.get("image_uuid")

    @classmethod
    def from_sapi(cls, s: Mapping[str, Any]) -> "Service":
        return cls(
            uuid=s["uuid"],
            name=s["name"],
            type=s.get("type") or "vm",
            application_uuid=s.get("application_uuid"),
            params=dict(s.get("params") or {}),
            metadata=dict(s.get("metadata") or {}),
            raw=dict(s),
        )


@dataclass(frozen=True)
class Instance:
    """A core VM or a global-zone agent, with the fields of the original `listInsts`."""

    instance: str  # VM uuid, or the agent's instance uuid
    service: str  # service name (smartdc_role for VMs, agent name for agents)
    type: str = "vm"  # vm | agent
    alias: str | None = None
    image: str | None = None  # image uuid in use
    version: str | None = None  # version of that image, when known
    server: str | None = None  # server uuid
    hostname: str | None = None
    server_ip: str | None = None
    state: str | None = None  # VM state; None for agents
    ip: str | None = None  # admin IP of the VM

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Server:
    uuid: str
    hostname: str
    headnode: bool = False
    setup: bool = True
    status: str = "running"
    current_platform: str | None = None
    boot_platform: str | None = None
    admin_ip: str | None = None
    ram: int | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)
    agents: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Channel:
    name: str
    description: str = ""
    default: bool = False


@dataclass(frozen=True)
class DatacenterState:
    """A snapshot of everything planning needs, read once by `gather`."""

    app: Application
    services: Mapping[str, Service]  # by name, in SAPI order
    instances: tuple[Instance, ...]
    servers: Mapping[str, Server]  # by uuid
    local_images: Mapping[str, Image]  # local IMGAPI, all states, by uuid
    update_images: Mapping[str, Image]  # updates server, current channel, by uuid
    channel: str | None = None
    channels: tuple[Channel, ...] = ()
    sapi_mode: str = "full"
    platforms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sdcadm_version: str = "0.0.0"
    sdcadm_buildstamp: str | None = None

    # -- lookups (pure) ------------------------------------------------------
    def image(self, uuid: str | None) -> Image | None:
        if not uuid:
            return None
        return self.local_images.get(uuid) or self.update_images.get(uuid)

    def images_named(self, names: Iterable[str]) -> list[Image]:
        """Updates-server images with one of `names`, oldest first (by published_at)."""
        wanted = set(names)
        found = [i for i in self.update_images.values() if i.name in wanted]
        return sorted(found, key=lambda i: (i.published_at or "", i.uuid))

    def instances_of(self, service: str) -> list[Instance]:
        return list(self.instances_by_service.get(service, ()))

    @cached_property
    def instances_by_service(self) -> dict[str, list[Instance]]:
        """The instances grouped by service name, in the order of `instances` (built once;
        not to be changed)."""
        out: dict[str, list[Instance]] = {}
        for inst in self.instances:
            out.setdefault(inst.service, []).append(inst)
        return out

    def find_instance(self, ident: str) -> Instance | None:
        for inst in self.instances:
            if inst.instance == ident or (inst.alias and inst.alias == ident):
                return inst
        return None

    def find_server(self, ident: str) -> Server | None:
        if ident in self.servers:
            return self.servers[ident]
        for s in self.servers.values():
            if s.hostname == ident:
                return s
        return None

    @property
    def headnode(self) -> Server | None:
        return next((s for s in self.servers.values() if s.headnode), None)

    # -- fingerprint -----------------------------------------------------------
    def fingerprint_facts(self) -> dict[str, Any]:
        """The facts a plan depends on, in a stable, JSON-able form (worked out once: the
        state never changes)."""
        return self._facts

    @cached_property
    def _facts(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "sapi_mode": self.sapi_mode,
            "services": {n: s.image_uuid for n, s in sorted(self.services.items())},
            "instances": {i.instance: i.image
                          for i in sorted(self.instances, key=lambda i: i.instance)},
            "servers": {
                u: [s.status, s.current_platform, s.boot_platform]
                for u, s in sorted(self.servers.items())
            },
            "local_images": {u: i.state for u, i in sorted(self.local_images.items())},
        }

    def fingerprint(self) -> str:
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        blob = json.dumps(self.fingerprint_facts(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()
