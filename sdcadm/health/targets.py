"""Which instances a health check covers (pure: a function of the DatacenterState).

As the original: instances of SAPI services of type vm or agent; VMs without an admin IP
are skipped (hostvolume excepted, it is checked by SMF alone); `cabase` and `cainstsvc`
are ignored and `agents_core` has no SMF service to check; plus one `global` target per
chosen server (the headnode by default) for the rest of its global zone's services.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from sdcadm.model import DatacenterState, Instance, is_uuid

IGNORED = frozenset({"cabase", "cainstsvc", "agents_core"})
TYPES = ("vm", "agent")


@dataclass(frozen=True)
class Target:
    """One thing to check. `ip` is where its ping goes: the VM's admin IP, or the server's
    admin IP for a global-zone agent."""

    type: str  # vm | agent | global
    instance: str
    service: str
    server: str | None
    hostname: str | None = None
    alias: str | None = None
    ip: str | None = None

    @classmethod
    def of(cls, inst: Instance) -> "Target":
        if inst.type == "agent":
            return cls("agent", inst.instance, inst.service, inst.server, inst.hostname,
                       None, inst.server_ip)
        return cls(inst.type, inst.instance, inst.service, inst.server, inst.hostname,
                   inst.alias, inst.ip)

    @classmethod
    def of_vm(cls, vm: Mapping[str, Any], hostname: str | None = None) -> "Target":
        """A target for a VMAPI VM object (what an update step has in hand)."""
        from sdcadm.gather import vm_admin_ip

        role = (vm.get("tags") or {}).get("smartdc_role") or ""
        return cls("vm", str(vm["uuid"]), str(role), vm.get("server_uuid"), hostname,
                   vm.get("alias"), vm_admin_ip(vm))

    @classmethod
    def global_zone(cls, uuid: str, hostname: str | None, ip: str | None) -> "Target":
        return cls("global", uuid, "global", uuid, hostname, "global", ip)


def select_targets(state: DatacenterState, *, services: Iterable[str] | None = None,
                   instances: Iterable[str] | None = None, types: Iterable[str] | None = None,
                   servers: Iterable[str] | None = None,
                   global_servers: Iterable[str] | None = None) -> list[Target]:
    """The targets of a check.

    `services` (names) and `instances` (uuids) select what they name (either matching is
    enough); both None selects everything. `types` keeps vm and/or agent instances,
    `servers` (uuids) keeps targets on those servers. `global_servers` (uuids) get a
    `global` target each; None means the headnode, as the original."""
    wanted_types = set(types) if types is not None else set(TYPES)
    names = set(services) if services is not None else None
    uuids = set(instances) if instances is not None else None
    everything = names is None and uuids is None
    known = {s.name for s in state.services.values() if s.type in TYPES}
    out = []
    for inst in state.instances:
        if inst.type not in wanted_types or inst.service in IGNORED:
            continue
        if inst.service not in known and not (uuids and inst.instance in uuids):
            continue
        if not everything and not ((names and inst.service in names)
                                   or (uuids and inst.instance in uuids)):
            continue
        if inst.type == "vm" and not inst.ip and inst.service != "hostvolume":
            continue
        out.append(Target.of(inst))
    if global_servers is None:
        hn = state.headnode
        global_servers = [hn.uuid] if hn else []
    for uuid in global_servers:
        srv = state.servers.get(uuid)
        if srv is not None:
            out.append(Target.global_zone(srv.uuid, srv.hostname, srv.admin_ip))
    if servers is not None:
        keep = set(servers)
        out = [t for t in out if t.server in keep]
    return out


def resolve_words(state: DatacenterState,
                  words: Iterable[str]) -> tuple[set[str], set[str], list[str]]:
    """Command-line words -> (service names, instance uuids, unrecognized words).

    A UUID names a service or an instance; another word is a service name, else an
    instance alias (the original's order)."""
    by_uuid = {s.uuid: s.name for s in state.services.values() if s.uuid}
    inst_uuids = {i.instance for i in state.instances}
    names = set(state.services) | {i.service for i in state.instances}
    aliases: dict[str, str] = {}
    for i in state.instances:
        if i.alias:
            aliases.setdefault(i.alias, i.instance)
    services: set[str] = set()
    instances: set[str] = set()
    unknown: list[str] = []
    for w in dict.fromkeys(words):
        if is_uuid(w):
            if w in by_uuid:
                services.add(by_uuid[w])
            elif w in inst_uuids:
                instances.add(w)
            else:
                unknown.append(w)
        elif w in names:
            services.add(w)
        elif w in aliases:
            instances.add(aliases[w])
        else:
            unknown.append(w)
    return services, instances, unknown


def resolve_servers(state: DatacenterState,
                    idents: Iterable[str]) -> tuple[set[str], list[str]]:
    """Server uuids or hostnames -> (server uuids, unknown ones)."""
    found: set[str] = set()
    unknown: list[str] = []
    for ident in dict.fromkeys(idents):
        srv = state.find_server(ident)
        if srv is None:
            unknown.append(ident)
        else:
            found.add(srv.uuid)
    return found, unknown
