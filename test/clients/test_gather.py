"""The pure parts of gather: admin IPs, agent rows, channel resolution."""
from __future__ import annotations

import pytest

from sdcadm.gather import (
    _agent_instances,
    resolve_channel,
    server_admin_ip,
    server_record,
    vm_admin_ip,
)
from sdcadm.model import Channel


@pytest.mark.parametrize("server, ip", [
    ({"sysinfo": {"Admin IP": "10.0.0.1"}}, "10.0.0.1"),
    ({"sysinfo": {"Network Interfaces": {
        "e0": {"ip4addr": "192.168.1.2", "NIC Names": ["external"]},
        "e1": {"ip4addr": "10.0.0.2", "NIC Names": ["admin"]}}}}, "10.0.0.2"),
    ({"sysinfo": {"Admin NIC Tag": "adm", "Network Interfaces": {
        "e1": {"ip4addr": "10.0.0.3", "NIC Names": ["adm"]}}}}, "10.0.0.3"),
    ({"sysinfo": {}}, None),
    ({}, None),
])
def test_server_admin_ip(server, ip) -> None:
    assert server_admin_ip(server) == ip


@pytest.mark.parametrize("nics, ip", [
    ([{"nic_tag": "external", "ip": "1.2.3.4"}, {"nic_tag": "admin", "ip": "10.0.0.9"}],
     "10.0.0.9"),
    ([{"nic_tag": "Admin_rack_r1", "ip": "10.1.0.9"}], "10.1.0.9"),
    ([{"nic_tag": "administrator", "ip": "10.2.0.9"}], None),
    ([], None),
])
def test_vm_admin_ip(nics, ip) -> None:
    assert vm_admin_ip({"nics": nics}) == ip


def test_agents_fall_back_to_sysinfo() -> None:
    with_agents = server_record({"uuid": "s1", "hostname": "cn1", "agents": [
        {"name": "cn-agent", "uuid": "a1", "image_uuid": "i1", "version": "2.0"}],
        "sysinfo": {"SDC Agents": [{"name": "old", "image_uuid": "x"}], "Admin IP": "10.0.0.5"}})
    from_sysinfo = server_record({"uuid": "s2", "hostname": "cn2", "sysinfo": {
        "SDC Agents": [{"name": "vm-agent", "image_uuid": "i2", "version": "1.0"}]}})
    rows = _agent_instances([with_agents, from_sysinfo])
    assert [(r.instance, r.service, r.image, r.version, r.hostname, r.server_ip) for r in rows] == [
        ("a1", "cn-agent", "i1", "2.0", "cn1", "10.0.0.5"),
        ("s2/vm-agent", "vm-agent", "i2", "1.0", "cn2", None),
    ]


CHANNELS = [Channel("dev", default=True), Channel("release")]


@pytest.mark.parametrize("explicit, metadata, expected", [
    ("release", {"update_channel": "dev"}, "release"),
    (None, {"update_channel": "release"}, "release"),
    (None, {}, "dev"),
])
def test_resolve_channel(explicit, metadata, expected) -> None:
    assert resolve_channel(explicit, metadata, CHANNELS) == expected
    assert resolve_channel(None, {}, [Channel("x")]) is None


def test_records_are_what_their_constructors_make() -> None:
    """`server_record` and the instance builders skip the dataclasses' `__init__`: every field
    must still be set, as the constructor would set it."""
    from dataclasses import fields

    from sdcadm.gather import _vm_instances
    from sdcadm.model import Instance, Server

    raw = {"uuid": "s1", "hostname": "cn1", "headnode": True, "status": "running",
           "current_platform": "P1", "boot_platform": "P2", "ram": 4096, "traits": {"a": 1},
           "agents": [{"name": "cn-agent", "uuid": "a1", "image_uuid": "i1", "version": "2"}],
           "sysinfo": {"Admin IP": "10.0.0.5"}}
    server = server_record(raw)
    assert server == Server(uuid="s1", hostname="cn1", headnode=True, setup=True,
                            status="running", current_platform="P1", boot_platform="P2",
                            admin_ip="10.0.0.5", ram=4096, traits={"a": 1},
                            agents=tuple(raw["agents"]), raw=raw)
    vm = {"uuid": "v1", "alias": "papi0", "tags": {"smartdc_role": "papi"}, "image_uuid": "i9",
          "server_uuid": "s1", "state": "running", "nics": [{"nic_tag": "admin", "ip": "1.2.3.4"}]}
    (inst,) = _vm_instances([vm], {"s1": server}, {}, {})
    (agent,) = _agent_instances([server])
    for record in (inst, agent):
        assert set(record.__dict__) == {f.name for f in fields(Instance)}
    assert inst == Instance(instance="v1", service="papi", type="vm", alias="papi0", image="i9",
                            version=None, server="s1", hostname="cn1", server_ip="10.0.0.5",
                            state="running", ip="1.2.3.4")
    assert set(server.__dict__) == {f.name for f in fields(Server)}


class FakeCnapi:
    """ServerList over a list of full server objects: extras, fields, uuids."""

    def __init__(self, servers: list[dict]) -> None:
        self.servers = servers
        self.calls: list[dict] = []

    def list_servers(self, **q) -> list[dict]:
        self.calls.append(q)
        rows = [s for s in self.servers
                if "uuids" not in q or s["uuid"] in q["uuids"].split(",")]
        extras = set(q.get("extras", "").split(","))
        out = []
        for s in rows:
            row = {k: v for k, v in s.items() if k not in ("sysinfo", "agents")}
            row.update({k: s[k] for k in ("sysinfo", "agents") if k in extras and k in s})
            if q.get("fields"):
                row = {k: v for k, v in row.items() if k in q["fields"].split(",")}
            out.append(row)
        return out


def fleet(n: int, bare: set[int] = frozenset()) -> list[dict]:
    """n servers; those in `bare` report neither agents nor hostname at the top level."""
    out = []
    for i in range(n):
        agents = [{"name": "vm-agent", "uuid": f"a{i}", "image_uuid": "i", "version": "1"}]
        s = {"uuid": f"s{i}", "hostname": f"cn{i}", "current_platform": "P", "status": "running",
             "reserved": False, "sysinfo": {"Hostname": f"cn{i}", "Live Image": "P",
                                            "Admin IP": f"10.0.0.{i}", "SDC Agents": agents},
             "agents": agents}
        if i in bare:
            del s["agents"], s["hostname"]
        out.append(s)
    return out


@pytest.mark.parametrize("detail, n, bare, calls", [
    ("full", 3, set(), [{"extras": "sysinfo,agents"}]),
    ("admin", 3, set(), [{"extras": "sysinfo,agents", "fields": "SERVER_FIELDS,sysinfo"}]),
    ("agents", 3, set(), [{"extras": "agents", "fields": "SERVER_FIELDS"}]),
    # what a server does not report at the top level comes from its sysinfo, in batches
    ("agents", 250, {1, 120, 249}, [
        {"extras": "agents", "fields": "SERVER_FIELDS"},
        {"uuids": "s1,s120", "extras": "sysinfo", "fields": "uuid,sysinfo"},
        {"uuids": "s249", "extras": "sysinfo", "fields": "uuid,sysinfo"}]),
])
def test_read_servers_asks_for_what_the_command_needs(detail, n, bare, calls,
                                                      monkeypatch) -> None:
    from sdcadm import gather

    monkeypatch.setattr(gather, "SYSINFO_BATCH", 2)
    cnapi = FakeCnapi(fleet(n, bare))
    rows = gather.read_servers(cnapi, detail)
    assert [{k: v.replace(gather.SERVER_FIELDS, "SERVER_FIELDS") for k, v in c.items()}
            for c in cnapi.calls] == calls
    servers = [server_record(r) for r in rows]
    assert [(s.hostname, s.current_platform, [a["name"] for a in s.agents]) for s in servers] \
        == [(f"cn{i}", "P", ["vm-agent"]) for i in range(n)]
    assert ("reserved" in rows[0]) == (detail == "full")


def test_each_detail_reads_the_same_inventory_from_the_simulator(sim) -> None:
    import dataclasses

    from sdcadm.clients import Clients
    from sdcadm.config import load_config
    from sdcadm.gather import SERVER_FIELDS, gather

    config = load_config(str(sim.config_path))
    states = {d: gather(Clients(config), config, server_detail=d)
              for d in ("full", "admin", "agents")}

    def shown(state, ips: bool) -> list:
        insts = [i if ips else dataclasses.replace(i, server_ip=None) for i in state.instances]
        servers = [dataclasses.replace(s, raw={}, admin_ip=s.admin_ip if ips else None)
                   for s in state.servers.values()]
        return [insts, servers, state.fingerprint()]

    assert shown(states["admin"], True) == shown(states["full"], True)
    assert shown(states["agents"], False) == shown(states["full"], False)
    assert {s.admin_ip for s in states["agents"].servers.values()} == {None}
    # the admin read keeps nothing the model does not read, sysinfo aside
    raw = next(iter(states["admin"].servers.values())).raw
    assert set(raw) <= {*SERVER_FIELDS.split(","), "sysinfo"}


def test_the_model_is_kept_out_of_the_collector_and_nothing_else_is(sim) -> None:
    """gather reads with the cyclic collector off, then freezes what it made (the model
    outlives every scan); garbage from before a later read is collected first, not frozen
    with it, and the collector is on again afterwards, after a failed read too."""
    import dataclasses
    import gc
    import weakref

    from sdcadm.clients import Clients
    from sdcadm.config import load_config
    from sdcadm.errors import SdcAdmError
    from sdcadm.gather import gather

    class Node:
        pass

    config = load_config(str(sim.config_path))
    gc.unfreeze()
    try:
        gather(Clients(config), config)  # a read before: this one collects first
        cycle = Node()
        cycle.me = cycle  # type: ignore[attr-defined]
        gone = weakref.ref(cycle)
        del cycle
        state = gather(Clients(config), config)
        assert gone() is None  # collected before the freeze, not kept with the model
        assert gc.isenabled()
        gc.collect()
        scanned = {id(o) for o in gc.get_objects()}  # what the collector still looks at
        assert state.instances and not scanned.intersection(
            map(id, [*state.instances, *state.servers.values(), state.servers]))

        # nothing listens on port 9
        broken = dataclasses.replace(config, sapi_url="http://127.0.0.1:9", retries=0)
        with pytest.raises(SdcAdmError):
            gather(Clients(broken), broken)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
