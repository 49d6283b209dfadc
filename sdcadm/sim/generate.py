"""Builds scenario data (plain dicts, the same shape as the YAML files).

`lab.yaml` and `small.yaml` were written by `write_builtin()`; `large.yaml` keeps a
`generate:` section that `expand()` turns into plain data when the scenario is loaded.
Everything is deterministic: uuids come from uuid5 over names, sizes and times from hashes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid as uuidlib
from pathlib import Path
from typing import Any, Sequence

NS = uuidlib.UUID("6f1c1d2e-3b4a-5c6d-8e9f-0a1b2c3d4e5f")
ADMIN_UUID = "930896af-bf8c-48d4-885c-6573a94b1853"

CORE_SERVICES = [
    "adminui", "amon", "amonredis", "assets", "binder", "cloudapi", "cmon", "cnapi", "cns",
    "dhcpd", "docker", "fwapi", "imgapi", "mahi", "manatee", "moray", "napi", "papi",
    "portolan", "rabbitmq", "redis", "sapi", "sdc", "ufds", "vmapi", "workflow",
]
AGENTS = [
    "cn-agent", "vm-agent", "net-agent", "config-agent", "amon-agent", "amon-relay",
    "cmon-agent", "firewaller", "hagfish-watcher", "smartlogin", "agents_core", "cabase",
]
IMAGE_NAME = {"manatee": "sdc-postgres", "binder": "mantav2-nameservice",
              "moray": "mantav2-moray", "mahi": "mantav2-authcache"}
RAM = {"manatee": 2048, "moray": 1024, "binder": 1024, "ufds": 1024, "cloudapi": 1024,
       "imgapi": 512, "vmapi": 512, "cnapi": 512, "workflow": 512, "sdc": 1024}
CHANNELS = [
    {"name": "dev", "description": "main development branch builds", "default": True},
    {"name": "staging", "description": "staging for release branch builds before a full release"},
    {"name": "release", "description": "release bits"},
]
BUILD_CHANNELS = [["dev", "staging", "release"], ["dev", "staging", "release"],
                  ["dev", "staging"], ["dev"]]
NEW_ORIGIN = {"cloudapi", "docker", "cns", "portolan", "cmon"}
PLATFORMS = ["20240411T001730Z", "20241010T000000Z", "20250115T120000Z"]
CHANGE_LINES = [
    "fix a leak of connection handles under load", "log the request id of failed calls",
    "retry moray connections with backoff", "update node to v18 LTS",
    "validate uuids in query parameters", "faster listing of large collections",
    "drop unused dependency on restify-clients 1.x", "handle missing sysinfo on new servers",
    "add /ping details for monitoring", "correct paging when marker is a date",
]


def uid(*parts: str) -> str:
    return str(uuidlib.uuid5(NS, ":".join(parts)))


def _h(*parts: str) -> int:
    return int(hashlib.sha1(":".join(parts).encode()).hexdigest(), 16)


def _stamp(name: str, build: int) -> dt.datetime:
    base = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    h = _h(name, str(build))
    return base + dt.timedelta(days=build * 75 + h % 30, hours=h % 24, minutes=h % 60,
                               seconds=h % 59)


def _size(name: str, build: int, lo: int = 256 * 1024, hi: int = 2 * 1024 * 1024) -> int:
    return lo + _h("size", name, str(build)) % (hi - lo)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _version(name: str, build: int) -> str:
    t = _stamp(name, build)
    sha = hashlib.sha1(f"{name}{build}".encode()).hexdigest()[:7]
    return f"master-{t.strftime('%Y%m%dT%H%M%SZ')}-g{sha}"


def image_uuid(name: str, build: int) -> str:
    return uid("image", name, str(build))


def catalog() -> list[dict[str, Any]]:
    """The updates-server catalog: origins, core services, agents, platforms, tools."""
    images: list[dict[str, Any]] = []
    for rel, base, when in (("21.4.0", "21.4.0",
                             dt.datetime(2021, 11, 2, 10, tzinfo=dt.timezone.utc)),
                            ("24.4.1", "24.4.1",
                             dt.datetime(2024, 6, 10, 9, tzinfo=dt.timezone.utc)),
                            ("24.4.2", "24.4.1",
                             dt.datetime(2024, 8, 20, 9, tzinfo=dt.timezone.utc))):
        minimal = uid("image", "minimal-64-lts", base)
        origin = uid("image", "triton-origin-x86_64", rel)
        if rel == base:
            images.append({"uuid": minimal, "name": "minimal-64-lts", "version": rel,
                           "published_at": _iso(when), "type": "zone-dataset", "os": "smartos",
                           "size": _size("minimal", 0),
                           "description": f"A 64-bit SmartOS image, {rel}",
                           "channels": ["dev", "staging", "release"]})
        images.append({"uuid": origin, "name": f"triton-origin-x86_64-{rel}",
                       "version": (f"master-{when.strftime('%Y%m%dT%H%M%SZ')}"
                                   f"-g{rel.replace('.', '')}0ab"),
                       "published_at": _iso(when + dt.timedelta(hours=3)), "type": "zone-dataset",
                       "os": "smartos", "size": _size("origin", 0), "origin": minimal,
                       "description": f"Triton origin image based on minimal-64-lts {rel}",
                       "channels": ["dev", "staging", "release"]})
    for svc in CORE_SERVICES:
        name = IMAGE_NAME.get(svc, svc)
        for b in range(4):
            version = _version(name, b)
            # A few newest builds sit on an origin no scenario has imported yet, so an
            # update must import the origin chain first.
            rel = ("24.4.2" if name in NEW_ORIGIN else "24.4.1") if b == 3 else "21.4.0"
            images.append({
                "uuid": image_uuid(name, b), "name": name, "version": version,
                "published_at": _iso(_stamp(name, b) + dt.timedelta(hours=2)),
                "type": "zone-dataset", "os": "smartos", "size": _size(name, b),
                "origin": uid("image", "triton-origin-x86_64", rel),
                "description": f"{name}: TRITON-{1000 + _h(name, str(b)) % 9000} "
                               f"{CHANGE_LINES[_h('line', name, str(b)) % len(CHANGE_LINES)]}",
                "channels": BUILD_CHANNELS[b],
                "requirements": {"min_platform": {"7.0": "20210826T002459Z"}},
                "tags": {"smartdc_service": True, "buildstamp": version}})
    for agent in AGENTS:
        for b in range(4):
            version = _version(agent, b)
            images.append({
                "uuid": image_uuid(agent, b), "name": agent, "version": version,
                "published_at": _iso(_stamp(agent, b) + dt.timedelta(hours=2)),
                "type": "other", "os": "other", "size": _size(agent, b, hi=1024 * 1024),
                "description": f"{agent}: TRITON-{1000 + _h(agent, str(b)) % 9000} "
                               f"{CHANGE_LINES[_h('line', agent, str(b)) % len(CHANGE_LINES)]}",
                "channels": BUILD_CHANNELS[b],
                "tags": {"smartdc_service": True, "buildstamp": version,
                         "version": f"{1 + _h(agent) % 3}.{b + 4}.{_h(agent, str(b)) % 5}"}})
    for b, stamp in enumerate(PLATFORMS):
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        images.append({"uuid": image_uuid("platform", b), "name": "platform",
                       "version": f"master-{stamp}",
                       "published_at": _iso(when + dt.timedelta(hours=1)),
                       "type": "other", "os": "other",
                       "size": 3 * 1024 * 1024 + _size("platform", b, lo=0, hi=512 * 1024),
                       "description": f"SmartOS platform {stamp}",
                       "channels": BUILD_CHANNELS[b + 1], "tags": {"buildstamp": stamp}})
    # No sdcadm builds here: their versions follow the running one, and their files are
    # real wheels, so they are added when a scenario is loaded (sdcadm.sim.builds).
    for tool in ("agentsshar", "gz-tools"):
        for b in (2, 3):
            version = _version(tool, b)
            images.append({"uuid": image_uuid(tool, b), "name": tool, "version": version,
                           "published_at": _iso(_stamp(tool, b)), "type": "other", "os": "other",
                           "size": _size(tool, b), "description": f"{tool} {version}",
                           "channels": BUILD_CHANNELS[b], "tags": {"buildstamp": version}})
    return images


def _dc(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name, "description": description,
        "datacenter": {"name": "coal", "dns_domain": "joyent.us", "admin_uuid": ADMIN_UUID,
                       "sdc_app_uuid": uid("application", "sdc"), "region_name": "coal-region"},
        "sapi_mode": "full",
        "latencies": {"job-queue": 0.5, "import-image": 20.0, "reprovision": 30.0,
                      "install-agent": 15.0, "reboot": 90.0, "vm-update": 5.0},
        "channels": CHANNELS,
        "platforms": [{"version": PLATFORMS[0], "os": "smartos"},
                      {"version": PLATFORMS[1], "os": "smartos"}],
        "default_platform": PLATFORMS[1],
        "images": catalog(),
    }


def _server(uuid: str, hostname: str, headnode: bool, ip: str, platform: str,
            agents: dict[str, int], boot: str | None = None) -> dict[str, Any]:
    return {"uuid": uuid, "hostname": hostname, "headnode": headnode, "admin_ip": ip,
            "ram": 262144 if headnode else 131072, "current_platform": platform,
            "boot_platform": boot or platform,
            "agents": {a: image_uuid(a, b) for a, b in agents.items()}}


def _services(builds: dict[str, int], agent_build: int) -> list[dict[str, Any]]:
    out = []
    for svc in CORE_SERVICES:
        out.append({"uuid": uid("service", svc), "name": svc, "type": "vm",
                    "image_uuid": image_uuid(IMAGE_NAME.get(svc, svc), builds[svc]),
                    "ram": RAM.get(svc, 256)})
    for agent in AGENTS:
        out.append({"uuid": uid("service", agent), "name": agent, "type": "agent",
                    "image_uuid": image_uuid(agent, agent_build)})
    return out


def lab() -> dict[str, Any]:
    data = _dc("lab",
               "One headnode with the core services (one instance each) and the usual agents.")
    hn = uid("server", "headnode")
    current = {"vmapi", "cnapi", "sapi", "papi"}
    old = {"manatee", "moray"}
    builds = {s: 3 if s in current else 1 if s in old else 2 for s in CORE_SERVICES}
    data["servers"] = [_server(hn, "headnode", True, "10.99.99.7", PLATFORMS[1],
                               {a: 2 for a in AGENTS})]
    data["services"] = _services(builds, 2)
    data["instances"] = [
        {"uuid": uid("instance", f"{svc}0"), "service": svc, "alias": f"{svc}0", "server": hn,
         "image_uuid": image_uuid(IMAGE_NAME.get(svc, svc), builds[svc]),
         "ip": f"10.99.99.{10 + i}"}
        for i, svc in enumerate(CORE_SERVICES)]
    data["manatee"] = {"generation": 1, "primary": uid("instance", "manatee0"), "sync": None,
                       "async": [], "deposed": []}
    data["local_images"] = _local_images(data)
    return data


def small() -> dict[str, Any]:
    data = _dc("small", "Headnode + 4 compute nodes; HA moray, binder and manatee; work to plan.")
    hn = uid("server", "headnode")
    cns = [uid("server", f"cn{i:02d}") for i in range(1, 5)]
    current = {"vmapi", "cnapi", "papi", "napi", "fwapi", "adminui", "amon", "amonredis",
               "assets", "dhcpd", "binder", "mahi", "rabbitmq", "redis"}
    two = {"imgapi", "sapi", "workflow", "cloudapi", "cns", "ufds", "moray"}
    builds = {s: 3 if s in current else 2 if s in two else 1 for s in CORE_SERVICES}
    mixed_agents = {a: (1 if i % 3 == 0 else 3) for i, a in enumerate(AGENTS)}
    data["servers"] = [
        _server(hn, "headnode", True, "10.99.99.7", PLATFORMS[1], {a: 3 for a in AGENTS}),
        _server(cns[0], "cn01", False, "10.99.99.41", PLATFORMS[1], {a: 2 for a in AGENTS}),
        _server(cns[1], "cn02", False, "10.99.99.42", PLATFORMS[1], {a: 2 for a in AGENTS}),
        _server(cns[2], "cn03", False, "10.99.99.43", PLATFORMS[0], mixed_agents),
        _server(cns[3], "cn04", False, "10.99.99.44", PLATFORMS[0], mixed_agents,
                boot=PLATFORMS[1]),
    ]
    data["services"] = _services(builds, 2)
    instances = []
    n = 10
    for svc in CORE_SERVICES:
        count = 3 if svc in ("moray", "binder", "manatee") else 1
        for k in range(count):
            build = builds[svc]
            if svc == "moray" and k == 1:
                build = 3  # one moray already moved: mixed current images
            instances.append({"uuid": uid("instance", f"{svc}{k}"), "service": svc,
                              "alias": f"{svc}{k}", "server": [hn, cns[0], cns[1]][k],
                              "image_uuid": image_uuid(IMAGE_NAME.get(svc, svc), build),
                              "ip": f"10.99.99.{n}"})
            n += 1
    data["instances"] = instances
    data["manatee"] = {"generation": 3, "primary": uid("instance", "manatee0"),
                       "sync": uid("instance", "manatee1"), "async": [uid("instance", "manatee2")],
                       "deposed": []}
    data["local_images"] = _local_images(data, extra=[image_uuid("imgapi", 3)])
    return data


def _local_images(data: dict[str, Any], extra: Sequence[str] = ()) -> list[str]:
    """Images already in the DC IMGAPI: everything in use, with its origin chain."""
    by_uuid = {i["uuid"]: i for i in data["images"]}
    wanted = ({i["image_uuid"] for i in data["instances"]}
              | {s["image_uuid"] for s in data["services"]})
    for server in data["servers"]:
        wanted |= set(server["agents"].values())
    wanted |= set(extra)
    for u in list(wanted):
        origin = by_uuid[u].get("origin")
        while origin:
            wanted.add(origin)
            origin = by_uuid[origin].get("origin")
    return [i["uuid"] for i in data["images"] if i["uuid"] in wanted]


def expand(data: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Apply a `generate:` section: add `compute_nodes` servers to the base scenario."""
    gen = data["generate"]
    out = dict(base)
    out.update({k: v for k, v in data.items() if k not in ("generate", "extends")})
    servers = list(base["servers"])
    count = int(gen.get("compute_nodes", 0))
    agents = gen.get("agents") or AGENTS
    newer = int(gen.get("newer_every", 4))
    for i in range(1, count + 1):
        builds = {a: (3 if newer and i % newer == 0 else 2) for a in agents}
        platform = PLATFORMS[0] if i % 3 == 0 else PLATFORMS[1]
        servers.append(_server(uid("server", f"cn{i:04d}"), f"cn{i:04d}", False,
                               f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", platform,
                               builds))
        servers[-1]["admin_ip"] = f"10.88.{i // 250}.{i % 250 + 1}"
    out["servers"] = servers
    for extra in gen.get("extra_images") or []:
        out["images"] = list(out["images"]) + [extra]
    out["local_images"] = _local_images(out, extra=list(base.get("local_images") or []))
    return out


def write_builtin(directory: Path) -> None:
    import yaml

    header = ("# Written by sdcadm.sim.generate.write_builtin(); plain data, edit freely.\n"
              "# Image files are generated from the uuid; sizes are declared here.\n")
    for name, build in (("lab", lab), ("small", small)):
        text = yaml.safe_dump(build(), sort_keys=False, width=110, default_flow_style=None)
        (directory / f"{name}.yaml").write_text(header + text)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    write_builtin(Path(__file__).parent / "scenarios")
