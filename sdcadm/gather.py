"""The read phase: everything planning and the read-only commands need, read once.

The number of requests does not depend on the size of the fleet (apart from paging):
one server listing with agents (and sysinfo where a command needs the servers' admin
IPs), one VM listing, one local image listing (all states) and one listing of the whole
channel on the updates server, instead of one request per image or per server. Each asks
only for the fields the model reads. Independent reads run in parallel.
"""
from __future__ import annotations

import gc
import re
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from sdcadm import __version__, buildstamp
from sdcadm.errors import InternalError, ValidationError
from sdcadm.model import (
    Application,
    Channel,
    DatacenterState,
    Image,
    Instance,
    Server,
    Service,
)

if TYPE_CHECKING:
    from sdcadm.clients import Clients
    from sdcadm.config import Config

ADMIN_NIC_TAG = "admin"

# What the model reads of a VM (VMAPI ListVms `fields`).
VM_FIELDS = "uuid,alias,tags,image_uuid,server_uuid,state,nics"
# What the model reads of a server (CNAPI ServerList `fields`), besides sysinfo.
SERVER_FIELDS = ("uuid,hostname,headnode,setup,status,current_platform,boot_platform,ram,"
                 "traits,agents")
# How much of each server a command reads (`server_detail`):
#   full    every field CNAPI has, sysinfo included (snapshots, health)
#   admin   the model's fields and sysinfo, for the servers' admin IPs (instances, update,
#           rollback, self-update)
#   agents  the model's fields without sysinfo, by far the largest part of a server
#           (avail): what a server does not report at the top level is read from its
#           sysinfo alone
SERVER_DETAIL = ("full", "admin", "agents")
SYSINFO_BATCH = 100  # server uuids per ServerList call that reads missing sysinfo


def sdcadm_buildstamp() -> str | None:
    return buildstamp() or None


def resolve_channel(
    explicit: str | None, app_metadata: Mapping[str, Any], channels: list[Channel]
) -> str | None:
    """`-C` > the sdc application's `update_channel` > the server's default channel."""
    if explicit:
        return explicit
    if app_metadata.get("update_channel"):
        return str(app_metadata["update_channel"])
    return next((c.name for c in channels if c.default), None)


def gather(
    app_or_clients: Any,
    config: "Config | None" = None,
    *,
    channel: str | None = None,
    updates: bool = True,
    servers: bool = True,
    vms: bool = True,
    server_detail: str = "full",
    meanwhile: Callable[[], None] | None = None,
) -> DatacenterState:
    """Read the datacenter into a DatacenterState.

    `updates=False` skips the updates server (channels and catalog) for commands that only
    look at what is deployed, so they work when the updates server is out of reach.
    `servers=False` / `vms=False` skip the instance inventory for commands that do not
    need it. `server_detail` says how much of each server to read (`SERVER_DETAIL`).
    `meanwhile` is work of the caller's that does not need the datacenter (loading the
    planner, say), done while the reads are on their way.
    """
    with _kept():
        return _gather(app_or_clients, config, channel=channel, updates=updates,
                       servers=servers, vms=vms, server_detail=server_detail,
                       meanwhile=meanwhile)


@contextmanager
def _kept() -> Iterator[None]:
    """The cyclic garbage collector off while the datacenter is read and modelled, and what
    was made left out of its later scans: a thousand servers make about a million objects,
    none in a reference cycle, that live as long as the command (reference counting still
    frees them). Otherwise the collections they set off cost `update --all -n -j` on a
    thousand servers about a tenth of its time.

    A later read collects what is garbage first, so that none of it is kept for good; the
    first read of a process leaves that out (3 ms on a thousand servers): what imports left
    is all there is then."""
    collecting = gc.isenabled()
    if gc.get_freeze_count():
        gc.collect()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if collecting:
            gc.enable()


def _gather(app_or_clients: Any, config: "Config | None", *, channel: str | None,
            updates: bool, servers: bool, vms: bool, server_detail: str,
            meanwhile: Callable[[], None] | None) -> DatacenterState:
    clients: "Clients" = getattr(app_or_clients, "clients", app_or_clients)
    config = config or clients.config
    # Create the clients here: cached_property is not meant to race between threads.
    sapi = clients.sapi
    imgapi = clients.imgapi
    cnapi = clients.cnapi if servers else None
    vmapi = clients.vmapi if vms else None

    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gather")
    try:
        f_app = pool.submit(sdc_application, sapi)
        f_mode = pool.submit(sapi.get_mode)
        f_images = pool.submit(imgapi.list_images, state="all")
        f_servers = pool.submit(read_servers, cnapi, server_detail) if cnapi else None
        f_platforms = pool.submit(cnapi.list_platforms) if cnapi else None
        f_vms = None
        if vmapi and config.admin_uuid:
            f_vms = pool.submit(vmapi.list_vms, state="active", owner_uuid=config.admin_uuid,
                                fields=VM_FIELDS)

        first: list[Future[Any] | None] = [f_app, f_mode, f_images, f_servers, f_platforms,
                                           f_vms]
        _settle(first, until=f_app)
        app = f_app.result()
        if vmapi and f_vms is None:
            f_vms = pool.submit(vmapi.list_vms, state="active", owner_uuid=app.owner_uuid,
                                fields=VM_FIELDS)
        f_services = pool.submit(sapi.list_services, application_uuid=app.uuid)
        f_channels = f_catalog = None
        if updates:
            # The updates server is outside the DC: reach it through the sdc app's proxy.
            clients.updates_proxy = app.metadata.get("http_proxy") or None
            known = channel or app.metadata.get("update_channel")
            f_channels = pool.submit(clients.updates.list_channels)
            f_catalog = pool.submit(clients.updates_for(known).list_images) if known else None
        if meanwhile is not None:
            meanwhile()

        chans: list[Channel] = []
        resolved = channel
        catalog_rows: list[Any] = []
        if f_channels is not None:
            _settle([f_channels])
            chans = [
                Channel(name=c.get("name", ""), description=c.get("description") or "",
                        default=bool(c.get("default")))
                for c in f_channels.result()
            ]
            # `-C ""` is a channel name too (no channel has it), not "use the default".
            if channel is not None and chans and channel not in {c.name for c in chans}:
                raise ValidationError(
                    f'unknown update channel "{channel}" (valid channels: '
                    + ", ".join(c.name for c in chans) + ")"
                )
            resolved = resolve_channel(channel, app.metadata, chans)
            if f_catalog is None:
                f_catalog = pool.submit(clients.updates_for(resolved).list_images)
            _settle([*first, f_vms, f_services, f_catalog], until=f_catalog)
            catalog_rows = f_catalog.result()

        _settle([*first, f_vms, f_services])
        local = _images(f_images.result())
        catalog = _images(catalog_rows)
        server_rows = f_servers.result() if f_servers else []
        vm_rows = f_vms.result() if f_vms else []
        services = _services(f_services.result())
        mode = f_mode.result()
        platforms = f_platforms.result() if f_platforms else {}
    finally:
        # After an error or Ctrl-C, do not wait for reads still in flight: a slow or hung API
        # would hold the error line (or the operator's Ctrl-C) for a whole read timeout.
        pool.shutdown(wait=False, cancel_futures=True)

    server_map = {s["uuid"]: server_record(s) for s in server_rows}
    instances = _vm_instances(vm_rows, server_map, local, catalog) + _agent_instances(
        server_map.values()
    )
    return DatacenterState(
        app=app,
        services=services,
        instances=tuple(instances),
        servers=server_map,
        local_images=local,
        update_images=catalog,
        channel=resolved,
        channels=tuple(chans),
        sapi_mode=str(mode or "full"),
        platforms=dict(platforms or {}),
        sdcadm_version=__version__,
        sdcadm_buildstamp=sdcadm_buildstamp(),
    )


def read_servers(cnapi: Any, detail: str = "full") -> list[dict[str, Any]]:
    """Every server, as much of each as `detail` says (`SERVER_DETAIL`)."""
    if detail == "full":
        return cnapi.list_servers(extras="sysinfo,agents")
    if detail == "admin":
        return cnapi.list_servers(extras="sysinfo,agents", fields=SERVER_FIELDS + ",sysinfo")
    if detail != "agents":
        raise InternalError(f"unknown server detail {detail!r}")
    rows: list[dict[str, Any]] = cnapi.list_servers(extras="agents", fields=SERVER_FIELDS)
    # A server that reports no agents (an older cn-agent), hostname or platform at the top
    # level has them in its sysinfo only (as `server_record` reads them): read just those.
    short = [r["uuid"] for r in rows if not (r.get("agents") and r.get("hostname")
                                             and r.get("current_platform"))]
    found: dict[str, Any] = {}
    for n in range(0, len(short), SYSINFO_BATCH):
        batch = ",".join(short[n:n + SYSINFO_BATCH])
        for r in cnapi.list_servers(uuids=batch, extras="sysinfo", fields="uuid,sysinfo"):
            found[r["uuid"]] = r.get("sysinfo")
    for r in rows:
        if r["uuid"] in found:
            r["sysinfo"] = found[r["uuid"]]
    return rows


# -- conversions (pure) -----------------------------------------------------------------

def _settle(futures: list["Future[Any] | None"], until: "Future[Any] | None" = None) -> None:
    """Wait until `until` is done (or all of `futures` are), raising as soon as a read fails:
    a failed API is reported without waiting for a slow one.

    Reads that fail together (an API that is down fails all its reads within a moment) get a
    short grace, and the first of them in `futures` order is the one reported, so the same
    outage always gives the same line.
    """
    listed = [f for f in futures if f is not None]
    pending = set(listed)
    while pending and not (until is not None and until.done()):
        # A bounded wait: Ctrl-C delivered to a reading thread only sets a flag, which the
        # main thread sees when it runs again, not while blocked until a slow read ends.
        done, pending = wait(pending, timeout=SIGNAL_CHECK, return_when=FIRST_COMPLETED)
        if any(f.exception() is not None for f in done):
            wait(pending, timeout=FAILURE_GRACE)
            for f in listed:
                if f.done() and f.exception() is not None:
                    f.result()


FAILURE_GRACE = 0.25  # seconds other reads get to fail too before one error is chosen
SIGNAL_CHECK = 0.1  # seconds between the main thread's looks at a pending Ctrl-C


def sdc_application(sapi: Any) -> Application:
    apps = sapi.list_applications(name="sdc")
    if not apps:
        raise InternalError('no "sdc" application in SAPI: is this a Triton headnode?')
    a = apps[0]
    return Application(uuid=a["uuid"], name=a.get("name", "sdc"),
                       owner_uuid=a.get("owner_uuid"), metadata=dict(a.get("metadata") or {}))


def _images(rows: Sequence[Mapping[str, Any]]) -> dict[str, Image]:
    return {r["uuid"]: Image.from_manifest(r) for r in rows if r.get("uuid")}


def _services(rows: Sequence[Mapping[str, Any]]) -> dict[str, Service]:
    services = {r["name"]: Service.from_sapi(r) for r in rows if r.get("name")}
    # As the original: `assets` is a core zone without a SAPI service on older DCs.
    if "assets" not in services:
        services["assets"] = Service(uuid="", name="assets", type="vm", raw={
            "type": "vm", "name": "assets"})
    return services


def server_admin_ip(server: Mapping[str, Any]) -> str | None:
    """sysinfo `Admin IP`, else the ip4addr of the NIC tagged admin (as sdcadm netconfig)."""
    sysinfo = server.get("sysinfo") or {}
    if not sysinfo:
        return None
    if sysinfo.get("Admin IP"):
        return sysinfo["Admin IP"]
    tag = sysinfo.get("Admin NIC Tag") or ADMIN_NIC_TAG
    for nic in (sysinfo.get("Network Interfaces") or {}).values():
        if tag in (nic.get("NIC Names") or []) and nic.get("ip4addr"):
            return nic["ip4addr"]
    return None


def _record(cls: Any, fields: dict[str, Any]) -> Any:
    """A frozen model record from values read here, every field given, without running its
    `__init__` (a thousand servers make twelve thousand agent instances): `fields`, a new
    mapping of the caller's, becomes the record's own, not a copy."""
    obj = object.__new__(cls)
    object.__setattr__(obj, "__dict__", fields)
    return obj


def server_record(s: Mapping[str, Any]) -> Server:
    """The model Server of a CNAPI server object. The parsed answer is kept as it is (never
    changed afterwards), not copied."""
    sysinfo = s.get("sysinfo") or {}
    agents = s.get("agents") or sysinfo.get("SDC Agents") or []
    return _record(Server, {
        "uuid": s["uuid"],
        "hostname": s.get("hostname") or sysinfo.get("Hostname") or s["uuid"],
        "headnode": bool(s.get("headnode")),
        "setup": bool(s.get("setup", True)),
        "status": s.get("status") or "unknown",
        "current_platform": s.get("current_platform") or sysinfo.get("Live Image"),
        "boot_platform": s.get("boot_platform"),
        "admin_ip": server_admin_ip(s),
        "ram": s.get("ram"),
        "traits": s.get("traits") or {},
        "agents": tuple(agents),
        "raw": s,
    })


_ADMIN_TAG = re.compile(r"^admin(_rack_.+)?$", re.I)


def vm_admin_ip(vm: Mapping[str, Any]) -> str | None:
    for nic in vm.get("nics") or []:
        if _ADMIN_TAG.match(str(nic.get("nic_tag") or "")):
            return nic.get("ip")
    return None


def _vm_instances(
    vms: Sequence[Mapping[str, Any]],
    servers: Mapping[str, Server],
    local: Mapping[str, Image],
    catalog: Mapping[str, Image],
) -> list[Instance]:
    out = []
    for vm in vms:
        role = (vm.get("tags") or {}).get("smartdc_role")
        if not role:
            continue
        image = vm.get("image_uuid")
        # same uuid, same build
        img = (local.get(image) or catalog.get(image)) if image else None
        server = servers.get(vm.get("server_uuid") or "")
        out.append(_record(Instance, {
            "instance": vm["uuid"],
            "service": str(role),
            "type": "vm",
            "alias": vm.get("alias"),
            "image": image,
            "version": img.version if img else None,
            "server": vm.get("server_uuid"),
            "hostname": server.hostname if server else None,
            "server_ip": server.admin_ip if server else None,
            "state": vm.get("state"),
            "ip": vm_admin_ip(vm),
        }))
    return out


def _agent_instances(servers: Any) -> list[Instance]:
    out: list[Instance] = []
    append = out.append
    for server in servers:
        uuid, hostname, ip = server.uuid, server.hostname, server.admin_ip
        for a in server.agents:
            name = a.get("name")
            if not name:
                continue
            append(_record(Instance, {
                "instance": a.get("uuid") or f"{uuid}/{name}",
                "service": name,
                "type": "agent",
                "alias": None,
                "image": a.get("image_uuid"),
                "version": a.get("version"),
                "server": uuid,
                "hostname": hostname,
                "server_ip": ip,
                "state": None,
                "ip": None,
            }))
    return out
