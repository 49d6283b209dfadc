"""The API the executor calls (`check`, `instance_health`, `server_health`) against the
simulated datacenter."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from sdcadm.clients import Clients
from sdcadm.config import load_config
from sdcadm.gather import gather
from sdcadm.health import HealthRow, HealthSettings, check, instance_health, server_health

FAST = HealthSettings(ping_timeout=1.0, ping_concurrency=8, command_timeout=1.0)


@pytest.fixture
def clients(sim: Any, tmp_path: Path) -> Iterator[Clients]:
    data = json.loads(Path(sim.config_path).read_text())
    data["ssh"] = dict(data["ssh"], connectTimeout=2, commandTimeout=2)
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(data))
    c = Clients(load_config(path))
    yield c
    c.close()


def vm(sim: Any, alias: str) -> dict[str, Any]:
    r = requests.get(sim.urls["vmapi"] + "/vms", params={"alias": alias, "state": "active"},
                     timeout=10)
    (found,) = r.json()
    return found


def test_check_everything_is_healthy_and_in_target_order(clients, sim):
    state = gather(clients, updates=False)
    rows = check(clients, state, settings=FAST)
    assert rows and all(r.healthy and r.errors == () for r in rows)
    assert {r.type for r in rows} == {"vm", "agent", "global"}
    chosen = [i for i in state.instances if i.service == "vmapi" or i.service == "cn-agent"]
    rows = check(clients, state, chosen, settings=FAST)
    assert [(r.instance, r.type) for r in rows] == [(i.instance, i.type) for i in chosen]


def test_instance_health_from_a_vmapi_object_is_pollable(clients, sim):
    vmapi0 = vm(sim, "vmapi0")
    row = instance_health(clients, vmapi0, settings=FAST)
    assert row == HealthRow("vm", vmapi0["uuid"], "vmapi", "headnode", "vmapi0",
                            vmapi0["server_uuid"], True, ())
    sim.add_fault({"type": "ping-fail", "target": vmapi0["uuid"], "count": 1})
    ip = vmapi0["nics"][0]["ip"]
    assert instance_health(clients, vmapi0, settings=FAST).errors == (
        f"ping check to {ip} failed with HTTP code 500",)
    # polled again: the fault is used up, the same SSH connection answers
    t0 = time.monotonic()
    assert instance_health(clients, vmapi0, settings=FAST).healthy
    assert time.monotonic() - t0 < 1.0
    assert vmapi0["server_uuid"] in clients.remote._clients
    assert sim.mutations() == []


def test_instance_health_of_a_model_instance_with_its_server(clients, sim):
    state = gather(clients, updates=False)
    inst = next(i for i in state.instances if i.alias == "moray1")
    sim.add_fault({"type": "unhealthy", "target": inst.instance})
    row = instance_health(clients, inst, state.servers[inst.server], settings=FAST)
    assert not row.healthy and row.hostname == "cn01"
    (err,) = row.errors
    assert err.startswith("SMF svcs check failed: stdout: svc:/smartdc/application/moray:default")


def test_instance_health_of_an_unreachable_server_is_a_row(clients, sim):
    moray2 = vm(sim, "moray2")
    sim.add_fault({"type": "ssh-unreachable", "target": moray2["server_uuid"]})
    row = instance_health(clients, moray2, settings=FAST)
    assert (row.healthy, row.hostname) == (False, "cn02")
    assert row.errors[0].startswith("server cn02 (10.99.99.42): cannot connect: ")


def test_server_health_covers_a_compute_nodes_global_zone_agents_and_vms(clients, sim):
    state = gather(clients, updates=False)
    cn01 = state.find_server("cn01")
    assert cn01 is not None
    sim.add_fault({"type": "unhealthy", "target": cn01.uuid})
    rows = server_health(clients, state, cn01.uuid, settings=FAST)
    assert {r.server for r in rows} == {cn01.uuid}
    kinds = {(r.type, r.service) for r in rows}
    assert ("global", "global") in kinds and ("agent", "cn-agent") in kinds
    assert ("vm", "moray") in kinds and ("agent", "agents_core") not in kinds
    bad = [r for r in rows if not r.healthy]
    assert [(r.type, r.instance) for r in bad] == [("global", cn01.uuid)]
    assert "svc:/system/filesystem/local:default" in bad[0].errors[0]


def test_a_hung_command_ends_at_the_command_timeout(clients, sim):
    state = gather(clients, updates=False)
    hn = state.headnode
    assert hn is not None
    before = [r for r in server_health(clients, state, hn.uuid, settings=FAST)
              if r.type == "vm"]
    assert len(before) > 20 and all(r.healthy for r in before)
    hung = before[len(before) // 2].instance
    sim.add_fault({"type": "ssh-hang", "target": hn.uuid, "command": f"svcs -vxz {hung}"})
    t0 = time.monotonic()
    rows = server_health(clients, state, hn.uuid, settings=FAST)
    assert time.monotonic() - t0 < 4  # one timeout, not one per VM after the hung one
    gz = [r for r in rows if r.type != "vm"]
    vms = [r for r in rows if r.type == "vm"]
    assert [r.instance for r in vms] == [r.instance for r in before]
    assert all(r.healthy for r in gz)  # svcs -vx still answered
    at = [r.instance for r in vms].index(hung)
    assert all(r.healthy and r.errors == () for r in vms[:at])  # checked before the hang
    assert vms[at].errors == (f"server headnode: timed out after 1s: svcs -vxz {hung}",)
    # the VMs after it were not checked, and say so in their own words
    assert [r.errors for r in vms[at + 1:]] == [
        (f"not checked: headnode stopped answering (svcs -vxz {hung} timed out after 1s)",)
    ] * (len(vms) - at - 1)
    assert not any(r.healthy for r in vms[at:])
