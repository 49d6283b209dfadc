"""Rolling reboots, pure: selection, the window, what servers hold, and the order."""
from __future__ import annotations

import dataclasses

import pytest
from dcbuilder import DC

from sdcadm.errors import UsageError
from sdcadm.planner.reboots import (
    group_sizes,
    holdings,
    parse_max_unavailable,
    plan_slots,
    select_servers,
    window_note,
)


@pytest.mark.parametrize("text, servers, window", [
    (None, 10, 1), ("1", 10, 1), ("2", 10, 2), (3, 10, 3), ("50", 999, 50),
    ("10%", 999, 99), ("50%", 10, 5), ("100%", 7, 7), ("1%", 10, 1), ("33%", 4, 1),
])
def test_max_unavailable(text, servers, window) -> None:
    assert parse_max_unavailable(text, servers) == window


@pytest.mark.parametrize("text, message", [
    ("0", "--max-unavailable 0: at least one server must be allowed down at a time"),
    ("150%", "--max-unavailable 150%: a percentage must be between 1% and 100%"),
    ("0%", "--max-unavailable 0%: a percentage must be between 1% and 100%"),
    ("two", '--max-unavailable must be a number of servers or a percentage (N or N%), not '
            '"two"'),
    ("-1", '--max-unavailable must be a number of servers or a percentage (N or N%), not '
           '"-1"'),
])
def test_bad_max_unavailable(text, message) -> None:
    with pytest.raises(UsageError) as e:
        parse_max_unavailable(text, 10)
    assert e.value.message == message


def fleet() -> DC:
    dc = DC()
    for n, plat in ((1, "20240101T000000Z"), (2, "20250101T000000Z"), (11, "20240101T000000Z"),
                    (12, "20240101T000000Z")):
        s = dc.server(f"cn{n}", platform=plat)
        if n in (2, 11):
            dc.servers[s.uuid] = dataclasses.replace(s, traits={"ssd": True, "rack": "r1"})
    return dc


@pytest.mark.parametrize("kw, hosts", [
    ({"all_": True}, ["cn1", "cn11", "cn12", "cn2", "headnode"]),
    ({"idents": ("cn2", "cn1")}, ["cn1", "cn2"]),
    ({"hostnames": ("cn1*",)}, ["cn1", "cn11", "cn12"]),
    ({"hostnames": ("cn1?", "cn2")}, ["cn11", "cn12", "cn2"]),
    ({"selectors": ("traits.ssd=true",)}, ["cn11", "cn2"]),
    ({"selectors": ("traits.ssd=true", "hostname=cn1*")}, ["cn11"]),
    ({"selectors": ("traits.rack!=r1",), "all_": True}, ["cn1", "cn12", "headnode"]),
    ({"platforms": ("20240101T000000Z",)}, ["cn1", "cn11", "cn12", "headnode"]),
    ({"idents": ("cn1", "cn2"), "platforms": ("20250101T000000Z",)}, ["cn2"]),
])
def test_select_servers(kw, hosts) -> None:
    dc = fleet()
    idents = kw.pop("idents", ())
    got = select_servers(dc.state(), idents, **kw)
    assert sorted(s.hostname for s in got) == hosts
    assert got[-1].headnode == ("headnode" in hosts)  # the headnode is listed last


@pytest.mark.parametrize("kw, message", [
    ({}, "which servers? name them (uuid or hostname), or use --all, --selector, --hostname "
         "or --platform"),
    ({"idents": ("cn1", "ghost")}, 'unknown server "ghost"'),
    ({"idents": ("a", "b")}, 'unknown servers "a", "b"'),
    ({"idents": ("cn1",), "all_": True}, "name servers or use --all, not both"),
    ({"hostnames": ("db*",)}, "no servers match --hostname db*"),
    ({"selectors": ("traits.gpu=true",)}, "no servers match --selector traits.gpu=true"),
    ({"selectors": ("ssd",)}, 'bad selector "ssd": use FIELD=VALUE or FIELD!=VALUE, e.g. '
                              "traits.ssd=true"),
    ({"selectors": ("colour=red",)}, 'unknown selector field "colour" (traits.NAME, hostname, '
                                     "uuid, current_platform, boot_platform, status, "
                                     "headnode, setup)"),
    ({"platforms": ("19990101T000000Z",)}, 'unknown platform "19990101T000000Z"'),
])
def test_bad_selection(kw, message) -> None:
    dc = fleet()
    idents = kw.pop("idents", ())
    with pytest.raises(UsageError) as e:
        select_servers(dc.state(), idents, **kw)
    assert e.value.message == message


# -- order ----------------------------------------------------------------------------------

def ha_dc(place: dict[str, list[str]], roles: dict[str, list[str | None]]):
    """A DC whose manatee/binder/moray instances k run on the named servers; roles[svc][k]."""
    dc = DC()
    servers = {"headnode": dc.hn}
    for name in ("cn1", "cn2", "cn3", "cn4"):
        servers[name] = dc.server(name)
    images = {"manatee": "sdc-postgres", "binder": "mantav2-nameservice",
              "moray": "mantav2-moray"}
    topology: dict[str, dict[str, str]] = {}
    for svc, hosts in place.items():
        dc.vm_service(svc, dc.image(images[svc], "20240101"), len(hosts),
                      servers=[servers[h] for h in hosts])
        insts = [i for i in dc.instances if i.service == svc]
        for inst, role in zip(insts, roles.get(svc, []), strict=False):
            if role:
                topology.setdefault(svc, {})[inst.instance] = role
    return dc, topology


def order_of(dc: DC, topology, hosts=None) -> list[tuple[str, list[str], tuple[str, ...], bool]]:
    state = dc.state()
    servers = [s for s in state.servers.values() if hosts is None or s.hostname in hosts]
    servers.sort(key=lambda s: (s.headnode, s.hostname))
    slots = plan_slots(servers, holdings(state, topology), group_sizes(state),
                       roles_known=bool(topology))
    name = {s.uuid: s.hostname for s in state.servers.values()}
    return [(s.hostname, sorted(name[a] for a in s.after), s.exclusive, s.freeze) for s in slots]


TRIPLE = ["headnode", "cn1", "cn2"]


@pytest.mark.parametrize("roles, expected", [
    # The usual layout: primary on the headnode, sync on cn1, async on cn2.
    ({"manatee": ["primary", "sync", "async"], "binder": ["leader", "follower", "follower"]},
     [("cn2", [], ("manatee", "binder", "moray"), False),
      ("cn3", [], (), False), ("cn4", [], (), False),
      ("cn1", ["cn2"], ("manatee", "binder", "moray"), True),
      ("headnode", ["cn1", "cn2", "cn3", "cn4"], ("manatee", "binder", "moray"), True)]),
    # The primary moved to cn2 after a takeover: cn1 (async) first, the headnode (sync) last
    # all the same, so cn2 holding the primary goes before it; the binder leader on cn1
    # cannot wait for its follower on cn2 without breaking the manatee chain.
    ({"manatee": ["sync", "async", "primary"], "binder": ["follower", "leader", "follower"]},
     [("cn1", [], ("manatee", "binder", "moray"), False),
      ("cn3", [], (), False), ("cn4", [], (), False),
      ("cn2", ["cn1"], ("manatee", "binder", "moray"), True),
      ("headnode", ["cn1", "cn2", "cn3", "cn4"], ("manatee", "binder", "moray"), True)]),
    # No roles known (a dry run): holdings still keep members apart, the headnode last.
    ({},
     [("cn1", [], ("manatee", "binder", "moray"), False),
      ("cn2", [], ("manatee", "binder", "moray"), False),
      ("cn3", [], (), False), ("cn4", [], (), False),
      ("headnode", ["cn1", "cn2", "cn3", "cn4"], ("manatee", "binder", "moray"), False)]),
])
def test_order_keeps_every_quorum(roles, expected) -> None:
    dc, topology = ha_dc({"manatee": TRIPLE, "binder": TRIPLE, "moray": TRIPLE}, roles)
    assert order_of(dc, topology) == expected


def test_binder_leader_after_its_followers() -> None:
    dc, topology = ha_dc({"binder": ["cn1", "cn2", "cn3"]},
                         {"binder": ["leader", "follower", "follower"]})
    got = order_of(dc, topology)
    assert got[:3] == [("cn2", [], ("binder",), False), ("cn3", [], ("binder",), False),
                       ("cn1", ["cn2", "cn3"], ("binder",), False)]


def test_single_members_need_no_key_and_say_the_service_goes_down() -> None:
    dc, topology = ha_dc({"manatee": ["headnode"], "binder": ["headnode"]},
                         {"manatee": ["primary"], "binder": ["standalone"]})
    state = dc.state()
    slots = plan_slots([dc.hn], holdings(state, topology), group_sizes(state))
    assert slots[0].exclusive == () and not slots[0].freeze
    assert "holds the only manatee: it is down while the server reboots" in slots[0].why


def test_window_note_names_what_keeps_the_window_narrow() -> None:
    dc, topology = ha_dc({"manatee": TRIPLE, "moray": ["cn1", "cn3", "cn4"]},
                         {"manatee": ["primary", "sync", "async"]})
    state = dc.state()
    servers = sorted(state.servers.values(), key=lambda s: (s.headnode, s.hostname))
    slots = plan_slots(servers, holdings(state, topology), group_sizes(state))
    assert window_note(slots, 1) is None
    assert window_note(slots, 3) == (
        "servers holding members of one quorum reboot one at a time (manatee on cn2, cn1, "
        "headnode; moray on cn3, cn4, cn1)")


def test_a_thousand_plain_servers_wait_only_to_keep_the_headnode_last() -> None:
    dc = DC()
    for n in range(1, 1000):
        dc.server(f"cn{n:04d}")
    state = dc.state()
    servers = sorted(state.servers.values(), key=lambda s: (s.headnode, s.hostname))
    slots = plan_slots(servers, holdings(state, None), group_sizes(state))
    assert all(not s.after for s in slots[:-1])
    assert slots[-1].headnode and len(slots[-1].after) == 999
    assert [s.hostname for s in slots[:3]] == ["cn0001", "cn0002", "cn0003"]
