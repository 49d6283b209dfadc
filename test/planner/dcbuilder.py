"""Build small `DatacenterState`s in Python for table-driven planner and procedure tests."""
from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sdcadm.model import Application, Channel, DatacenterState, Image, Instance, Server, Service

NS = uuidlib.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")

IMAGE_NAMES = {
    "adminui": ["adminui"], "amon": ["amon"], "assets": ["assets"], "cnapi": ["cnapi"],
    "vmapi": ["vmapi"], "papi": ["papi"], "workflow": ["workflow"], "rabbitmq": ["rabbitmq"],
    "portolan": ["portolan"], "imgapi": ["imgapi"], "sapi": ["sapi"],
    "manatee": ["sdc-postgres"], "binder": ["mantav2-nameservice", "manta-nameservice"],
    "mahi": ["mantav2-authcache", "manta-authcache"], "moray": ["mantav2-moray", "manta-moray"],
    "cn-agent": ["cn-agent"], "vm-agent": ["vm-agent"], "net-agent": ["net-agent"],
    "ufds": ["ufds"], "sdc": ["sdc"], "napi": ["napi"],
}
MIN_IMAGES = {"vmapi": "20140710T171616Z", "moray": "20140710T181209Z",
              "manatee": "20141225T181254Z", "binder": "20140731T211135Z"}


def uid(key: str) -> str:
    return str(uuidlib.uuid5(NS, key))


def config(**kw: Any) -> SimpleNamespace:
    base = dict(image_names=IMAGE_NAMES, min_images=MIN_IMAGES,
                vm_min_platform="20130606T000000Z", agent_concurrency=5,
                updates_url="https://updates.example.com")
    base.update(kw)
    return SimpleNamespace(**base)


def stamp_of(day: str) -> str:
    """'20240101' -> '20240101T000000Z'."""
    return f"{day}T000000Z"


@dataclass
class DC:
    servers: dict[str, Server] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    local: dict[str, Image] = field(default_factory=dict)
    updates: dict[str, Image] = field(default_factory=dict)
    platforms: dict[str, Any] = field(default_factory=lambda: {
        "20240101T000000Z": {"os": "smartos"}, "20250101T000000Z": {"os": "smartos"}})
    sapi_mode: str = "full"
    channel: str = "dev"

    def __post_init__(self) -> None:
        self.hn = self.server("headnode", headnode=True)

    # -- builders --------------------------------------------------------------------
    def server(self, hostname: str, *, headnode: bool = False,
               platform: str = "20240101T000000Z", boot: str | None = None) -> Server:
        s = Server(uuid=uid("server/" + hostname), hostname=hostname, headnode=headnode,
                   current_platform=platform, boot_platform=boot or platform)
        self.servers[s.uuid] = s
        return s

    def image(self, name: str, day: str, *, local: bool = True, updates: bool = True,
              state: str = "active", origin: Image | None = None, size: int = 10 * 1048576,
              ) -> Image:
        version = f"master-{stamp_of(day)}-gabc{day[-4:]}"
        img = Image(uuid=uid(f"image/{name}/{day}"), name=name, version=version,
                    published_at=f"{day[:4]}-{day[4:6]}-{day[6:8]}T00:00:00.000Z",
                    state=state, size=size, sha1="0" * 40,
                    origin=origin.uuid if origin else None,
                    tags={"buildstamp": version})
        if local:
            self.local[img.uuid] = img
        if updates:
            self.updates[img.uuid] = img if state == "active" else \
                Image(**{**img.__dict__, "state": "active"})
        return img

    def service(self, name: str, image: Image | None = None, *, type: str = "vm") -> Service:
        svc = Service(uuid=uid("service/" + name), name=name, type=type,
                      params={"image_uuid": image.uuid} if image and type == "vm" else {})
        self.services[name] = svc
        return svc

    def inst(self, service: str, image: Image | None, *, alias: str | None = None,
             server: Server | None = None, type: str = "vm") -> Instance:
        server = server or self.hn
        n = sum(1 for i in self.instances if i.service == service)
        if alias is None and type == "vm":
            alias = f"{service}{n}"
        key = f"inst/{service}/{alias or server.hostname}/{n}"
        inst = Instance(instance=uid(key), service=service, type=type, alias=alias,
                        image=image.uuid if image else None,
                        version=image.version if image else None, server=server.uuid,
                        hostname=server.hostname, state="running" if type == "vm" else None)
        self.instances.append(inst)
        return inst

    def vm_service(self, name: str, image: Image, count: int = 1,
                   servers: list[Server] | None = None) -> Service:
        svc = self.service(name, image)
        for n in range(count):
            self.inst(name, image, server=(servers[n] if servers else None))
        return svc

    def state(self) -> DatacenterState:
        return DatacenterState(
            app=Application(uuid=uid("app/sdc"), name="sdc"),
            services=dict(self.services), instances=tuple(self.instances),
            servers=dict(self.servers), local_images=dict(self.local),
            update_images=dict(self.updates), channel=self.channel,
            channels=(Channel("dev", default=True), Channel("release")),
            sapi_mode=self.sapi_mode, platforms=dict(self.platforms),
        )


def plan_for(dc: "DC", *args: str, cfg: Any = None, topology: Any = None, **opts: Any) -> Any:
    """Plan `sdcadm update ARGS...` (with PlanOptions `opts`) against the built datacenter."""
    from sdcadm.planner import PlanOptions, plan, requests_from_args

    state = dc.state()
    names = list(state.services) + [i.service for i in state.instances if i.type == "agent"]
    return plan(state, requests_from_args(args, names), PlanOptions(**opts), cfg or config(),
                topology=topology)
