"""Scenarios: YAML data describing a datacenter, turned into the documents the services serve."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator, NoReturn

import yaml

from sdcadm.sim import pool
from sdcadm.sim.files import SumCache

SCENARIO_DIR = Path(__file__).parent / "scenarios"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# Operation latencies a scenario (`latencies:`) or `--latency NAME=SECONDS` may set.
LATENCY_KEYS = ("job-queue", "import-image", "reprovision", "vm-update", "install-agent",
                "reboot")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file and what is wrong."""


class NoSuchScenario(ScenarioError, FileNotFoundError):
    pass


def builtin_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_path(name_or_path: str | Path, *, relative_to: Path | None = None) -> Path:
    """A bare name (`lab`) is a built-in scenario unless a file of that name exists; a name
    with a `/` or a .yaml/.yml suffix is a path (relative to `relative_to`, the file that
    extends it, if given). A directory is never a scenario: `up --scenario lab --state-dir
    lab` means the built-in lab, whatever `lab/` holds."""
    text = str(name_or_path)
    p = Path(text)
    if relative_to is not None and not p.is_absolute():
        p = relative_to / p
    if "/" in text or p.suffix in (".yaml", ".yml") or p.is_file():
        return p
    return SCENARIO_DIR / f"{text}.yaml"


def load_scenario(name_or_path: str | Path) -> dict[str, Any]:
    """The scenario's data, `extends:` and `generate:` applied, checked (ScenarioError)."""
    data = _load(name_or_path, None, ())
    validate_scenario(data, str(name_or_path))
    return data


def _load(name_or_path: str | Path, relative_to: Path | None,
          chain: tuple[Path, ...]) -> dict[str, Any]:
    path = scenario_path(name_or_path, relative_to=relative_to)
    if not path.exists():
        if path.parent == SCENARIO_DIR and "/" not in str(name_or_path):
            raise NoSuchScenario(f'no such scenario "{name_or_path}": one of '
                                 f'{", ".join(builtin_names())}, or the path of a YAML file')
        raise NoSuchScenario(f"no such scenario: {path} does not exist")
    if path.resolve() in chain:
        raise ScenarioError(f"{path}: extends itself (through {chain[-1]})")
    data = _read_yaml(path)
    if "extends" in data:
        if not isinstance(data["extends"], str) or not data["extends"]:
            raise ScenarioError(f'{path}: "extends" must be a scenario name or path')
        base = _load(data["extends"], path.parent, (*chain, path.resolve()))
        if "generate" in data:
            from sdcadm.sim.generate import expand

            if not isinstance(data["generate"], dict):
                raise ScenarioError(f'{path}: "generate" must be a mapping')
            try:
                return expand(data, base)
            except (KeyError, TypeError, ValueError) as e:
                raise ScenarioError(f'{path}: bad "generate" section: {e!r}') from None
        merged = dict(base)
        merged.update({k: v for k, v in data.items() if k != "extends"})
        return merged
    return data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ScenarioError(f"{path} is a directory, not a scenario file") from None
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or "malformed"
        raise ScenarioError(f"{path}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping (name, datacenter, servers, "
                            "services, ...)")
    return data


# -- what a scenario must hold -------------------------------------------------------------

# section -> keys every entry must have (the simulator reads them without a default)
_ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "images": ("uuid", "name", "version", "published_at"),
    "servers": ("uuid", "hostname", "admin_ip", "current_platform"),
    "services": ("uuid", "name", "image_uuid"),
    "instances": ("uuid", "service", "alias", "server", "image_uuid"),
    "channels": ("name",),
    "platforms": ("version",),
}
_DATACENTER_KEYS = ("name", "dns_domain", "admin_uuid", "sdc_app_uuid")


def validate_scenario(data: dict[str, Any], source: str) -> None:
    """Everything the simulator reads without a default is there and of the right kind:
    a bad scenario is one line naming what is missing, not a KeyError at start-up."""
    def fail(what: str) -> NoReturn:
        raise ScenarioError(f"scenario {source}: {what}")

    dc = data.get("datacenter")
    if not isinstance(dc, dict):
        fail('"datacenter" (name, dns_domain, admin_uuid, sdc_app_uuid) is required')
    for key in _DATACENTER_KEYS:
        if not isinstance(dc.get(key), str) or not dc[key]:
            fail(f'"datacenter.{key}" (a string) is required')
    for section, keys in _ENTRY_KEYS.items():
        entries = data.get(section)
        if entries is None:
            if section == "servers":
                fail('"servers" (a list with at least the headnode) is required')
            continue
        if not isinstance(entries, list):
            fail(f'"{section}" must be a list')
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict):
                fail(f"{section}[{n}] must be a mapping")
            missing = [k for k in keys if entry.get(k) in (None, "")]
            if missing:
                fail(f"{section}[{n}] has no " + ", ".join(f'"{k}"' for k in missing))
            if section == "servers" and not isinstance(entry.get("agents") or {}, dict):
                fail(f'servers[{n}].agents must be a mapping of agent name -> image uuid')
    if not data.get("servers"):
        fail('"servers" (a list with at least the headnode) is required')
    services = {s["name"] for s in data.get("services") or []}
    servers = {s["uuid"] for s in data["servers"]}
    for n, inst in enumerate(data.get("instances") or []):
        if inst["service"] not in services:
            fail(f'instances[{n}] names the service "{inst["service"]}", which is not in '
                 '"services"')
        if inst["server"] not in servers:
            fail(f'instances[{n}] is on the server "{inst["server"]}", which is not in '
                 '"servers"')
    images = {i["uuid"] for i in data.get("images") or []}
    for u in data.get("local_images") or []:
        if u not in images:
            fail(f'local_images lists "{u}", which is not in "images"')
    latencies = data.get("latencies") or {}
    if not isinstance(latencies, dict):
        fail('"latencies" must be a mapping of operation -> seconds')
    for name, secs in latencies.items():
        problem = latency_problem(name, secs)
        if problem:
            fail(problem)
    for key in ("usbkey", "manatee", "generate"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            fail(f'"{key}" must be a mapping')
    leader = data.get("binder_leader")
    if leader is not None:
        binders = {i.get("uuid") for i in data.get("instances") or []
                   if isinstance(i, dict) and i.get("service") == "binder"}
        if leader not in binders:
            fail(f'"binder_leader" is "{leader}", which is not a binder instance')
    faults = data.get("faults") or []
    if not isinstance(faults, list):
        fail('"faults" must be a list')
    from sdcadm.sim.world import FaultError, validate_fault

    for n, fault in enumerate(faults):
        try:
            validate_fault(fault)
        except FaultError as e:
            fail(f"faults[{n}]: {e}")


def latency_problem(name: Any, secs: Any) -> str | None:
    """Why `name: secs` is not a latency (None when it is one)."""
    import math

    if name not in LATENCY_KEYS:
        return f'unknown latency "{name}": one of {", ".join(LATENCY_KEYS)}'
    ok = isinstance(secs, (int, float)) and not isinstance(secs, bool)
    if not ok or not math.isfinite(secs) or secs < 0:
        return f'latency "{name}" must be a number of seconds >= 0, not {secs!r}'
    return None


def _h(*parts: str) -> int:
    return int(hashlib.sha1(":".join(parts).encode()).hexdigest(), 16)


def _mac(seed: str) -> str:
    h = _h("mac", seed)
    return "90:b8:d0:" + ":".join(f"{(h >> (8 * i)) & 255:02x}" for i in range(3))


def manifest(img: dict[str, Any], sums: SumCache, *, owner: str,
             with_channels: bool) -> dict[str, Any]:
    """A v2 manifest (fields in IMGAPI's order) plus internal `_md5`."""
    size = int(img.get("size") or 1024)
    s = sums.get(img["uuid"], size)
    m: dict[str, Any] = {
        "v": 2, "uuid": img["uuid"], "owner": owner, "name": img["name"],
        "version": str(img["version"]),
        "state": "active", "disabled": False, "public": False, "published_at": img["published_at"],
        "type": img.get("type", "zone-dataset"), "os": img.get("os", "smartos"),
        "files": [{"sha1": s["sha1"], "size": size, "compression": img.get("compression", "gzip")}],
    }
    if img.get("description"):
        m["description"] = img["description"]
    if img.get("requirements"):
        m["requirements"] = img["requirements"]
    if img.get("origin"):
        m["origin"] = img["origin"]
    if img.get("tags"):
        m["tags"] = img["tags"]
    if with_channels:
        m["channels"] = list(img.get("channels") or [])
    m["_md5"] = s["md5"]
    return m


def build_docs(data: dict[str, Any], sums: SumCache) -> Iterator[tuple[str, str, Any]]:
    """Every document of the scenario, in a stable order."""
    dc = data["datacenter"]
    admin = dc["admin_uuid"]
    dns = f"{dc['name']}.{dc['dns_domain']}"
    images = data.get("images") or []
    sums.fill((i["uuid"], int(i.get("size") or 1024)) for i in images)
    by_uuid = {i["uuid"]: i for i in images}

    yield "sim", "mode", data.get("sapi_mode", "full")
    yield "sim", "shard", data.get("manatee")
    if data.get("binder_leader"):
        # The ZooKeeper leader the scenario starts with (else the lowest alias is elected).
        yield "sim", "binder", {"leader": data["binder_leader"]}
    for ch in data.get("channels") or []:
        yield "channel", ch["name"], ch
    for img in images:
        yield "uimage", img["uuid"], manifest(img, sums, owner=ZERO_UUID, with_channels=True)
    for u in data.get("local_images") or []:
        yield "image", u, manifest(by_uuid[u], sums, owner=admin, with_channels=False)
    for p in data.get("platforms") or []:
        yield "platform", str(p["version"]), {"os": p.get("os", "smartos")}

    app_uuid = dc["sdc_app_uuid"]
    metadata = {"datacenter_name": dc["name"], "dns_domain": dc["dns_domain"],
                "region_name": dc.get("region_name", dc["name"]),
                "SAPI_URL": f"http://sapi.{dns}", "sapi-url": f"http://sapi.{dns}",
                "ufds_admin_uuid": admin}
    if dc.get("update_channel"):
        metadata["update_channel"] = dc["update_channel"]
    yield "app", app_uuid, {"uuid": app_uuid, "name": "sdc", "owner_uuid": admin, "params": {},
                            "metadata": metadata, "manifests": {},
                            "metadata_schema": {"type": "object"}}

    services = {s["name"]: s for s in data.get("services") or []}
    for s in services.values():
        if s.get("type", "vm") == "agent":
            params = {"image_uuid": s["image_uuid"],
                      "tags": {"smartdc_role": s["name"], "smartdc_type": "core"}}
            meta = {"SERVICE_NAME": s["name"]}
        else:
            params = {"image_uuid": s["image_uuid"], "max_physical_memory": s.get("ram", 256),
                      "quota": 25, "cpu_cap": 200, "networks": ["admin"],
                      "tags": {"smartdc_role": s["name"], "smartdc_type": "core"},
                      "billing_id": "0ea54d9d-8d4d-4959-a87e-bf47c0f61a47",
                      "delegate_dataset": False}
            meta = {"SERVICE_NAME": f"{s['name']}.{dns}", "SERVICE_DOMAIN": f"{s['name']}.{dns}"}
        params.update(s.get("params") or {})
        meta.update(s.get("metadata") or {})
        yield "service", s["uuid"], {"uuid": s["uuid"], "name": s["name"],
                                     "application_uuid": app_uuid,
                                     "type": s.get("type", "vm"), "params": params,
                                     "metadata": meta, "manifests": {}}

    latest = max((str(p["version"]) for p in data.get("platforms") or []), default="")
    yield "boot", "default", _boot("default", data.get("default_platform") or latest, dns)
    for srv in data.get("servers") or []:
        yield "server", srv["uuid"], server_doc(srv, dc, by_uuid)
        yield "boot", srv["uuid"], _boot(srv["hostname"],
                                         srv.get("boot_platform") or srv["current_platform"], dns)
        for agent in srv.get("agents") or {}:
            svc = services.get(agent)
            if svc and svc.get("type") == "agent":
                iu = agent_uuid(srv["uuid"], agent)
                yield "instance", iu, {"uuid": iu, "service_uuid": svc["uuid"], "type": "agent",
                                       "params": {"server_uuid": srv["uuid"]}, "metadata": {},
                                       "manifests": {}}

    for inst in data.get("instances") or []:
        svc = services[inst["service"]]
        yield "instance", inst["uuid"], {"uuid": inst["uuid"], "service_uuid": svc["uuid"],
                                         "type": "vm",
                                         "params": {"alias": inst["alias"],
                                                    "server_uuid": inst["server"]},
                                         "metadata": {}, "manifests": {}}
        yield "vm", inst["uuid"], vm_doc(inst, svc, dc)

    for n, fault in enumerate(data.get("faults") or [], start=1):
        yield "fault", f"scenario-{n}", dict(fault, id=f"scenario-{n}")


def agent_uuid(server_uuid: str, agent: str) -> str:
    import uuid as uuidlib

    return str(uuidlib.uuid5(uuidlib.UUID(server_uuid), f"agent:{agent}"))


def _boot(hostname: str, platform: str, dns: str) -> dict[str, Any]:
    return {"platform": platform,
            "kernel_args": {"hostname": hostname, "rabbitmq": f"guest:guest:rabbitmq.{dns}:5672",
                            "rabbitmq_dns": f"guest:guest:rabbitmq.{dns}:5672"},
            "kernel_flags": {}, "boot_modules": [], "default_console": "serial", "serial": "ttyb"}


def server_doc(srv: dict[str, Any], dc: dict[str, Any], images: dict[str, Any]) -> dict[str, Any]:
    uuid = srv["uuid"]
    agents = []
    for name, img in (srv.get("agents") or {}).items():
        manifest_ = images.get(img) or {}
        agents.append({"name": name, "version": str((manifest_.get("tags") or {}).get("version")
                                                    or manifest_.get("version") or "1.0.0"),
                       "image_uuid": img, "uuid": agent_uuid(uuid, name)})
    booted = "2026-11-01T10:00:00.000Z"
    ram = int(srv.get("ram", 131072))
    return {
        "uuid": uuid, "hostname": srv["hostname"], "headnode": bool(srv.get("headnode")),
        "setup": srv.get("setup", True), "setting_up": False,
        "status": srv.get("status", "running"), "transitional_status": "",
        "reserved": bool(srv.get("reserved", False)), "reservoir": False,
        "current_platform": str(srv["current_platform"]),
        "boot_platform": str(srv.get("boot_platform") or srv["current_platform"]),
        "datacenter": dc["name"], "ram": ram, "last_boot": booted,
        "created": "2024-01-15T12:00:00.000Z", "last_heartbeat": booted,
        "boot_params": {"rabbitmq": f"guest:guest:rabbitmq.{dc['name']}.{dc['dns_domain']}:5672"},
        "kernel_flags": {}, "default_console": "serial", "serial": "ttyb", "traits": {},
        "rack_identifier": "", "comments": "", "overprovision_ratios": {"ram": 1},
        "reservation_ratio": 0.15, "agents": agents,
        "sysinfo": {
            "UUID": uuid, "Hostname": srv["hostname"], "Live Image": str(srv["current_platform"]),
            "System Type": "SunOS", "SDC Version": "7.0", "Setup": "true",
            "Boot Time": "1793527200", "Datacenter Name": dc["name"], "Admin IP": srv["admin_ip"],
            "Manufacturer": "Joyent", "Product": "Joyent-Compute-Platform-3301",
            "CPU Total Cores": 32, "MiB of Memory": str(ram),
            "Network Interfaces": {"ixgbe0": {"MAC Address": _mac(uuid), "ip4addr": srv["admin_ip"],
                                              "Link Status": "up", "NIC Names": ["admin"]}},
            "Virtual Network Interfaces": {},
            "Boot Parameters": {"headnode": "true"} if srv.get("headnode") else {},
            "SDC Agents": [{"name": a["name"], "version": a["version"],
                            "image_uuid": a["image_uuid"]}
                           for a in agents],
        },
        "memory_available_bytes": ram * 1024 * 1024 // 2, "memory_total_bytes": ram * 1024 * 1024,
        "disk_pool_size_bytes": pool.POOL_SIZE, "disk_pool_alloc_bytes": pool.initial_alloc(srv),
        "unreserved_cpu": 3200,
        "unreserved_ram": ram // 2, "unreserved_disk": 3_000_000,
    }


def vm_doc(inst: dict[str, Any], svc: dict[str, Any], dc: dict[str, Any]) -> dict[str, Any]:
    name = svc["name"]
    ram = int(svc.get("ram", 256))
    created = "2026-10-01T08:00:00.000Z"
    ip = inst.get("ip") or "10.99.99.99"
    return {
        "uuid": inst["uuid"], "alias": inst["alias"], "autoboot": True,
        "brand": "joyent" if name in ("manatee", "moray", "binder") else "joyent-minimal",
        "billing_id": "0ea54d9d-8d4d-4959-a87e-bf47c0f61a47", "cpu_cap": 200, "cpu_shares": 64,
        "create_timestamp": created, "customer_metadata": {
            "sapi-url": f"http://sapi.{dc['name']}.{dc['dns_domain']}",
            "user-script": "#!/usr/bin/bash\n"},
        "datasets": [], "destroyed": None, "firewall_enabled": False, "internal_metadata": {},
        "last_modified": created, "limit_priv": "default", "max_locked_memory": ram,
        "max_lwps": 4000 if name == "manatee" else 2000, "max_physical_memory": ram,
        "max_swap": ram * 2,
        "nics": [{"interface": "net0", "mac": _mac(inst["uuid"]), "nic_tag": "admin", "vlan_id": 0,
                  "ip": ip, "ips": [f"{ip}/24"], "netmask": "255.255.255.0",
                  "gateway": "10.99.99.7",
                  "primary": True, "network_uuid": "0e2d7d4c-0a4d-4a4b-9b87-44b35f45a1e3"}],
        "owner_uuid": dc["admin_uuid"], "platform_buildstamp": "20241010T000000Z", "quota": 25,
        "ram": ram, "resolvers": ["10.99.99.11"], "server_uuid": inst["server"], "snapshots": [],
        "state": "running", "tags": {"smartdc_role": name, "smartdc_type": "core"},
        "zfs_filesystem": f"zones/{inst['uuid']}", "zfs_io_priority": 100, "zone_state": "running",
        "zonepath": f"/zones/{inst['uuid']}", "zpool": "zones", "image_uuid": inst["image_uuid"],
    }
