"""HA roles through the remote seam: parsing, request counts, failures, and the simulator."""
from __future__ import annotations

import json
from typing import Any

import pytest
from dcbuilder import DC

from sdcadm.clients.remote import CommandResult, RemoteError
from sdcadm.planner.topology import manatee_roles, read_topology, zk_mode

STAT = "Zookeeper version: 3.4.14\nLatency min/avg/max: 0/0/17\nMode: {}\nNode count: 212\n"


class FakeRemote:
    """Answers commands in zones like the servers would; records every call."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers  # zone uuid -> stdout, or an exception to raise
        self.calls: list[tuple[str, list[str]]] = []

    def learn(self, servers: Any) -> None:
        pass

    def run(self, server: str, argv: list[str], **kw: Any) -> CommandResult:
        zone = argv[1]
        self.calls.append((server, list(argv)))
        answer = self.answers[zone]
        if isinstance(answer, Exception):
            raise answer
        return CommandResult(server, tuple(argv), answer, "", 0)


def three(dc: DC, service: str, image_name: str) -> list:
    cns = [dc.hn, dc.server("cn1"), dc.server("cn2")]
    dc.vm_service(service, dc.image(image_name, "20240101"), 3, servers=cns)
    return [i for i in dc.instances if i.service == service]


def test_manatee_one_call_describes_the_shard() -> None:
    dc = DC()
    m0, m1, m2 = three(dc, "manatee", "sdc-postgres")
    zk = {"primary": {"zoneId": m1.instance}, "sync": {"zoneId": m0.instance},
          "async": [{"zoneId": m2.instance}], "deposed": []}
    remote = FakeRemote({m0.instance: json.dumps(zk)})
    roles = read_topology(remote, dc.state(), ["manatee"])
    assert roles == {"manatee": {m1.instance: "primary", m0.instance: "sync",
                                 m2.instance: "async"}}
    assert remote.calls == [(dc.hn.uuid, ["zlogin", m0.instance, "manatee-adm zk-state"])]


def test_binder_asks_until_the_leader_answers() -> None:
    dc = DC()
    b0, b1, b2 = three(dc, "binder", "mantav2-nameservice")
    remote = FakeRemote({b0.instance: STAT.format("follower"), b1.instance: STAT.format("leader"),
                       b2.instance: STAT.format("follower")})
    roles = read_topology(remote, dc.state(), ["binder", "vmapi"])
    assert roles == {"binder": {b0.instance: "follower", b1.instance: "leader",
                                b2.instance: "follower"}}
    assert len(remote.calls) == 2  # stopped at the leader


def test_binder_leader_inferred_when_all_others_follow() -> None:
    dc = DC()
    b0, b1, b2 = three(dc, "binder", "mantav2-nameservice")
    remote = FakeRemote({b0.instance: STAT.format("follower"), b1.instance: STAT.format("follower"),
                       b2.instance: RuntimeError("must not be asked")})
    roles = read_topology(remote, dc.state(), ["binder"])
    assert roles == {"binder": {b0.instance: "follower", b1.instance: "follower",
                                b2.instance: "leader"}}
    assert len(remote.calls) == 2


def test_standalone_binder() -> None:
    dc = DC()
    dc.vm_service("binder", dc.image("mantav2-nameservice", "20240101"))
    (b0,) = dc.instances
    roles = read_topology(FakeRemote({b0.instance: STAT.format("standalone")}), dc.state(),
                          ["binder"])
    assert roles == {"binder": {b0.instance: "standalone"}}


def test_unreadable_roles_warn_and_are_left_out() -> None:
    dc = DC()
    m0, m1, _ = three(dc, "manatee", "sdc-postgres")
    err = RemoteError("server headnode (10.0.0.1): cannot connect: Connection refused",
                      kind="unreachable")
    warnings: list[str] = []
    roles = read_topology(FakeRemote({m0.instance: err, m1.instance: err}), dc.state(),
                          ["manatee"], warn=warnings.append)
    assert roles == {}
    assert warnings == ['warning: could not read the roles of the "manatee" instances '
                        "(server headnode (10.0.0.1): cannot connect: Connection refused); the "
                        "instance on the headnode will be updated last"]


@pytest.mark.parametrize("text, mode", [
    (STAT.format("leader"), "leader"), (STAT.format("follower"), "follower"),
    ("no mode here\n", None)])
def test_zk_mode(text: str, mode: str | None) -> None:
    assert zk_mode(text) == mode


def test_manatee_roles_with_deposed() -> None:
    zk = {"primary": {"zoneId": "a"}, "sync": None, "async": [], "deposed": [{"zoneId": "d"}]}
    assert manatee_roles(zk) == {"a": "primary", "d": "deposed"}


def test_roles_from_the_simulated_datacenter(sim) -> None:
    from sdcadm.clients import Clients
    from sdcadm.config import load_config
    from sdcadm.gather import gather

    cfg = load_config(str(sim.config_path))
    clients = Clients(cfg, request_id="test-topology")
    state = gather(clients, cfg)
    roles = read_topology(clients, state, ["manatee", "binder"])
    manatees = state.instances_of("manatee")
    assert sorted(roles["manatee"].values()) == sorted(
        ["primary", "sync"] + ["async"] * (len(manatees) - 2))
    assert list(roles["binder"].values()).count("leader") == 1
    assert sim.mutations() == []  # reading roles changes nothing, on any server
