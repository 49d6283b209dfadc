"""The reboot model's quorums (`sim/quorum.py`): servers rebooted through the simulated
CNAPI take their manatee peers, binders and morays down with them; what that does to the
shard's roles and the ZooKeeper leader, and every quorum loss on `GET /_sim/quorum-losses`."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import requests


def reboots_take(sim, seconds: float) -> None:
    """Reboots started from now on take that long on the tests' clock (latencies are
    seconds of real-world time, which the simulator's time scale shortens)."""
    sim.set_latencies({"reboot": seconds / sim.time_scale})


def reboot(api, *hosts: str) -> list[str]:
    """Reboot the servers, in this order: their jobs."""
    return [api.ok("POST", "cnapi", f"/servers/{api.server(h)['uuid']}/reboot")["job_uuid"]
            for h in hosts]


def reboot_headnode(api, sim, until) -> None:
    """Reboot the headnode and wait for it: its APIs are down meanwhile."""
    reboots_take(sim, 0.3)
    (job,) = reboot(api, "headnode")

    def done() -> bool:
        try:
            return api.ok("GET", "workflow", f"/jobs/{job}")["execution"] == "succeeded"
        except (requests.RequestException, AssertionError):
            return False
    until(done, timeout=30)


def down(api, until, host: str) -> None:
    until(lambda: api.server(host, "sysinfo")["status"] == "unknown")


def losses(sim, group: str) -> list[dict[str, Any]]:
    return [q for q in sim.quorum_losses() if q["group"] == group]


def opened(sim, until, group: str) -> dict[str, Any]:
    """The group's loss, once it is recorded."""
    return until(lambda: next(iter(losses(sim, group)), None))


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def execute(api, alias: str, command: str) -> dict[str, Any]:
    vm = api.vm(alias)
    return api.ok("POST", "cnapi", f"/servers/{vm['server_uuid']}/execute", json={
        "script": f"#!/bin/bash\nzlogin {vm['uuid']} {command}\n", "json": True})


def zk(api, alias: str, word: str) -> str:
    return execute(api, alias, f"\"bash -c 'echo {word} | nc 127.0.0.1 2181'\"")["stdout"]


def zk_mode(api, alias: str) -> str | None:
    return next((ln.split(": ", 1)[1] for ln in zk(api, alias, "stat").splitlines()
                 if ln.startswith("Mode: ")), None)


def shard(api) -> dict[str, Any]:
    """`manatee-adm zk-state`, in peers' aliases."""
    state = json.loads(execute(api, "manatee1", "manatee-adm zk-state")["stdout"])
    alias = {api.vm(a)["uuid"]: a for a in ("manatee0", "manatee1", "manatee2")}

    def name(peer: dict[str, Any] | None) -> str | None:
        return alias[peer["zoneId"]] if peer else None
    return {"generation": state["generation"], "primary": name(state["primary"]),
            "sync": name(state["sync"]), "async": [name(p) for p in state["async"]],
            "deposed": [name(p) for p in state["deposed"]]}


def test_two_of_three_manatee_peers_down_is_a_loss_with_time_and_members(api, sim, until):
    reboots_take(sim, 1.5)
    asked = datetime.now(timezone.utc)
    jobs = reboot(api, "cn01", "cn02")
    loss = opened(sim, until, "manatee")
    assert loss["ended"] is None
    assert asked - timedelta(seconds=1) <= when(loss["started"]) <= datetime.now(timezone.utc)
    assert loss["members"] == ["manatee0", "manatee1", "manatee2"]
    assert sorted(loss["down"]) == ["manatee1 on cn01", "manatee2 on cn02"]
    assert loss["reason"] == "1 of 3 peers up: writes stop"
    for job in jobs:
        assert api.wait_job(job)["execution"] == "succeeded"
    (over,) = losses(sim, "manatee")  # closed once a majority was back, not opened again
    assert over["id"] == loss["id"] and over["ended"] is not None
    assert when(over["started"]) <= when(over["ended"]) <= datetime.now(timezone.utc)


def test_one_manatee_peer_down_keeps_every_quorum(api, sim):
    reboots_take(sim, 0.2)
    (job,) = reboot(api, "cn02")
    assert api.wait_job(job)["execution"] == "succeeded"
    assert sim.quorum_losses() == []


def test_a_moray_shard_without_its_manatee_fails_though_a_moray_is_up(api, sim, until):
    reboots_take(sim, 1.5)
    jobs = reboot(api, "cn01", "cn02")
    loss = opened(sim, until, "moray")
    assert loss["ended"] is None
    assert loss["members"] == ["moray0", "moray1", "moray2"]
    assert sorted(loss["down"]) == ["moray1 on cn01", "moray2 on cn02"]
    assert loss["reason"] == "its manatee shard has no quorum"  # moray0 still runs
    for job in jobs:
        api.wait_job(job)
    assert all(q["ended"] for q in sim.quorum_losses())


def test_a_binder_ensemble_without_a_majority_has_no_leader_then_elects_one(api, sim, until):
    assert [zk_mode(api, b) for b in ("binder0", "binder1", "binder2")] == \
        ["leader", "follower", "follower"]
    # The leader's server (the headnode) reboots: the first live follower takes over, and
    # two of three binders up is still a quorum.
    reboot_headnode(api, sim, until)
    assert [zk_mode(api, b) for b in ("binder0", "binder1", "binder2")] == \
        ["follower", "leader", "follower"]
    assert losses(sim, "binder") == []
    # cn02 goes down for long, the leader's cn01 briefly meanwhile: no majority.
    reboots_take(sim, 4)
    (slow,) = reboot(api, "cn02")
    down(api, until, "cn02")
    reboots_take(sim, 1.5)
    (quick,) = reboot(api, "cn01")
    loss = opened(sim, until, "binder")
    assert loss["ended"] is None and loss["members"] == ["binder0", "binder1", "binder2"]
    assert sorted(loss["down"]) == ["binder1 on cn01", "binder2 on cn02"]
    assert loss["reason"] == "1 of 3 ZooKeeper servers up: no leader"
    assert zk(api, "binder0", "ruok") != "imok"
    assert "not currently serving requests" in zk(api, "binder0", "stat")
    # cn01 is back, cn02 not yet: a majority again, and a leader elected among it; the old
    # leader, just rebooted, does not lead on by itself.
    assert api.wait_job(quick)["execution"] == "succeeded"
    assert api.server("cn02", "sysinfo")["status"] == "unknown"
    assert [q["ended"] is not None for q in losses(sim, "binder")] == [True]
    assert zk(api, "binder0", "ruok") == "imok"
    assert [zk_mode(api, b) for b in ("binder0", "binder1")] == ["leader", "follower"]
    assert api.wait_job(slow)["execution"] == "succeeded"
    assert zk_mode(api, "binder2") == "follower"


def test_a_lost_primary_hands_over_to_the_sync_and_comes_back_deposed(api, sim, until):
    before = shard(api)
    assert before["primary"] == "manatee0" and before["deposed"] == []
    reboot_headnode(api, sim, until)
    after = shard(api)
    assert after == {"generation": before["generation"] + 1, "primary": "manatee1",
                     "sync": "manatee2", "async": [], "deposed": ["manatee0"]}
    assert sim.quorum_losses() == []


def test_a_frozen_shard_keeps_its_roles_while_the_primary_is_down(api, sim, until):
    before = shard(api)
    assert execute(api, "manatee1", "manatee-adm freeze -r maintenance")["exitCode"] == 0
    reboot_headnode(api, sim, until)
    assert shard(api) == before
    assert sim.quorum_losses() == []


def test_a_lost_sync_is_replaced_by_the_async(api, sim):
    before = shard(api)
    reboots_take(sim, 0.2)
    (job,) = reboot(api, "cn01")
    api.wait_job(job)
    assert shard(api) == {**before, "generation": before["generation"] + 1,
                          "sync": "manatee2", "async": ["manatee1"]}


def test_reset_empties_the_losses_and_restores_the_roles(api, sim):
    before = shard(api)
    reboots_take(sim, 0.5)
    api.wait_job(*reboot(api, "cn01"))  # the sync's server: the async takes over
    for job in reboot(api, "cn01", "cn02"):
        api.wait_job(job)
    assert {q["group"] for q in sim.quorum_losses()} == {"manatee", "binder", "moray"}
    assert shard(api) != before
    sim.reset()
    assert sim.quorum_losses() == []
    assert shard(api) == before


def vm_action(api, alias: str, action: str) -> None:
    job = api.ok("POST", "vmapi", f"/vms/{api.vm(alias)['uuid']}?action={action}")["job_uuid"]
    assert api.ok("GET", "vmapi", f"/jobs/{job}/wait")["execution"] == "succeeded"


def test_zones_stopped_through_vmapi_count_like_a_reboot(api, sim) -> None:
    """Not only reboots: two manatee zones stopped through VMAPI take the shard (and the
    morays on it) below quorum, recorded; one started again ends both losses."""
    vm_action(api, "manatee1", "stop")
    assert sim.quorum_losses() == []  # two of three still up
    vm_action(api, "manatee2", "stop")
    (manatee,) = losses(sim, "manatee")
    assert manatee["ended"] is None and sorted(d.split(" on ")[0] for d in manatee["down"]) \
        == ["manatee1", "manatee2"]
    (moray,) = losses(sim, "moray")
    assert moray["reason"] == "its manatee shard has no quorum"
    vm_action(api, "manatee2", "start")
    assert all(q["ended"] for q in sim.quorum_losses())


def test_a_group_of_one_has_no_quorum_to_lose(lab_api, lab) -> None:
    """lab's single manatee, moray and binder: stopping them is the outage of services that
    are not HA, not a quorum loss."""
    for alias in ("manatee0", "moray0", "binder0"):
        vm_action(lab_api, alias, "stop")
    assert lab.quorum_losses() == []
