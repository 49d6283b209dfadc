"""Which instances a check covers, and how command-line words resolve (pure)."""
from __future__ import annotations

import pytest

from sdcadm.health.targets import Target, resolve_servers, resolve_words, select_targets
from sdcadm.model import Application, DatacenterState, Instance, Server, Service

HN, CN = "00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000bb"
U = "11111111-1111-4111-8111-{:012d}".format


def state() -> DatacenterState:
    services = {n: Service(uuid=U(i), name=n, type=t) for i, (n, t) in enumerate([
        ("imgapi", "vm"), ("vmapi", "vm"), ("hostvolume", "vm"), ("cn-agent", "agent"),
        ("firewaller", "agent"), ("cabase", "agent"), ("agents_core", "agent"),
        ("cainstsvc", "agent"), ("dockerlogger", "other")], start=1)}
    vm = [
        Instance(U(101), "imgapi", "vm", "imgapi0", server=HN, hostname="headnode",
                 ip="10.0.0.1"),
        Instance(U(102), "vmapi", "vm", "vmapi0", server=HN, hostname="headnode",
                 ip="10.0.0.2"),
        Instance(U(103), "vmapi", "vm", "vmapi1", server=CN, hostname="cn1", ip="10.0.0.3"),
        Instance(U(104), "vmapi", "vm", "vmapi-noip", server=CN, hostname="cn1"),
        Instance(U(105), "hostvolume", "vm", "hv0", server=CN, hostname="cn1"),
        Instance(U(106), "unknownsvc", "vm", "x0", server=CN, hostname="cn1", ip="10.0.0.6"),
    ]
    agents = []
    for n, (srv, host, ip) in enumerate([(HN, "headnode", "10.0.0.7"), (CN, "cn1", "10.0.0.8")]):
        for k, name in enumerate(("cn-agent", "firewaller", "cabase", "agents_core",
                                  "cainstsvc", "dockerlogger")):
            agents.append(Instance(U(200 + 10 * n + k), name, "agent", server=srv,
                                   hostname=host, server_ip=ip))
    servers = {HN: Server(HN, "headnode", headnode=True, admin_ip="10.0.0.7"),
               CN: Server(CN, "cn1", admin_ip="10.0.0.8")}
    return DatacenterState(app=Application(U(0), "sdc"), services=services,
                           instances=tuple(vm + agents), servers=servers, local_images={},
                           update_images={})


def keys(targets: list[Target]) -> list[tuple[str, str, str | None]]:
    return [(t.type, t.service, t.hostname) for t in targets]


ALL = [("vm", "imgapi", "headnode"), ("vm", "vmapi", "headnode"), ("vm", "vmapi", "cn1"),
       ("vm", "hostvolume", "cn1"),
       ("agent", "cn-agent", "headnode"), ("agent", "firewaller", "headnode"),
       ("agent", "cn-agent", "cn1"), ("agent", "firewaller", "cn1"),
       ("global", "global", "headnode")]


@pytest.mark.parametrize("kwargs,expected", [
    ({}, ALL),
    ({"types": ["vm"]}, [k for k in ALL if k[0] != "agent"]),
    ({"types": ["agent"]}, [k for k in ALL if k[0] != "vm"]),
    ({"servers": [CN]}, [k for k in ALL if k[2] == "cn1"]),
    ({"servers": [HN], "types": ["agent"]},
     [("agent", "cn-agent", "headnode"), ("agent", "firewaller", "headnode"),
      ("global", "global", "headnode")]),
    ({"services": ["vmapi"]},
     [("vm", "vmapi", "headnode"), ("vm", "vmapi", "cn1"), ("global", "global", "headnode")]),
    ({"instances": [U(103)]}, [("vm", "vmapi", "cn1"), ("global", "global", "headnode")]),
    # an instance named by uuid is checked even when its service is not a SAPI one
    ({"instances": [U(106)]}, [("vm", "unknownsvc", "cn1"), ("global", "global", "headnode")]),
    ({"services": ["firewaller"], "instances": [U(101)]},
     [("vm", "imgapi", "headnode"), ("agent", "firewaller", "headnode"),
      ("agent", "firewaller", "cn1"), ("global", "global", "headnode")]),
    ({"services": ["vmapi"], "types": ["agent"]}, [("global", "global", "headnode")]),
    ({"global_servers": []}, [k for k in ALL if k[0] != "global"]),
    ({"servers": [CN], "global_servers": [CN]},
     [k for k in ALL if k[2] == "cn1"] + [("global", "global", "cn1")]),
])
def test_select_targets(kwargs, expected):
    assert keys(select_targets(state(), **kwargs)) == expected


def test_targets_carry_where_to_ping():
    by = {(t.type, t.service, t.hostname): t for t in select_targets(state())}
    assert by[("vm", "vmapi", "cn1")].ip == "10.0.0.3"
    assert by[("vm", "vmapi", "cn1")].alias == "vmapi1"
    fw = by[("agent", "firewaller", "cn1")]
    assert (fw.ip, fw.alias, fw.server) == ("10.0.0.8", None, CN)
    g = by[("global", "global", "headnode")]
    assert (g.instance, g.alias, g.server) == (HN, "global", HN)


@pytest.mark.parametrize("words,expected", [
    ([], (set(), set(), [])),
    (["imgapi", "cn-agent"], ({"imgapi", "cn-agent"}, set(), [])),
    (["vmapi1"], (set(), {U(103)}, [])),
    ([U(2)], ({"vmapi"}, set(), [])),
    ([U(104)], (set(), {U(104)}, [])),
    (["nope", "vmapi0", "zzz", "nope"], (set(), {U(102)}, ["nope", "zzz"])),
    (["99999999-9999-4999-8999-999999999999"],
     (set(), set(), ["99999999-9999-4999-8999-999999999999"])),
])
def test_resolve_words(words, expected):
    assert resolve_words(state(), words) == expected


def test_resolve_servers():
    assert resolve_servers(state(), ["cn1", HN, "cn9", "cn1"]) == ({CN, HN}, ["cn9"])
