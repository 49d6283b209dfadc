"""Reboot plans end to end: `sdcadm reboot-plan ...` processes against the simulated `small`
datacenter, whose quorum model records every quorum loss."""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from e2e_runs import cli, kill, var_dir

HN, CN01, CN02, CN03, CN04 = "headnode", "cn01", "cn02", "cn03", "cn04"


def _fresh(sim_factory: Any, time_scale: float) -> Any:
    sim = sim_factory("small", time_scale)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    return sim


@pytest.fixture
def dc(sim_factory):
    """`small` at a clock where a reboot takes 0.45 s, with no reboot plan yet."""
    return _fresh(sim_factory, 0.005)


@pytest.fixture
def slow_dc(sim_factory):
    """`small` at a clock slow enough (a 1.8 s reboot) to act while a server reboots."""
    return _fresh(sim_factory, 0.02)


def servers(sim: Any) -> dict[str, dict[str, Any]]:
    rows = requests.get(sim.urls["cnapi"] + "/servers", params={"extras": "sysinfo"},
                        timeout=10).json()
    return {s["hostname"]: s for s in rows}


def reboots_sent(sim: Any) -> list[str]:
    """Hostnames in the order their reboot was asked for."""
    name = {s["uuid"]: h for h, s in servers(sim).items()}
    return [name[m["path"].split("/")[2]] for m in sim.mutations()
            if m["service"] == "cnapi" and m["path"].endswith("/reboot")]


def ssh_commands(sim: Any) -> list[str]:
    return [m["path"] for m in sim.mutations() if m["service"] == "ssh"]


def zone_commands(sim: Any) -> list[list[str]]:
    """The words each mutating `zlogin ZONE LINE` ran in its zone (LINE split as its shell
    splits it)."""
    import shlex

    out = []
    for c in ssh_commands(sim):
        argv = shlex.split(c.split(": ", 1)[1])
        if argv[0] == "zlogin":
            out.append(shlex.split(" ".join(argv[2:])))
    return out


def plan_dir(sim: Any) -> Path:
    (only,) = list((var_dir(sim) / "reboot-plans").iterdir())
    return only


def down_together(sim: Any) -> int:
    """The most servers rebooting at once, from the plan's journal."""
    from sdcadm.executor.journal import read_events

    down: set[str] = set()
    worst = 0
    for e in read_events(plan_dir(sim) / "events.jsonl"):
        if e.get("event") == "step-start":
            down.add(e["step"])
            worst = max(worst, len(down))
        elif e.get("event") == "step-end":
            down.discard(e["step"])
    return worst


def wait_back(sim: Any, host: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if servers(sim)[host]["status"] == "running":
                return
        except requests.RequestException:
            pass  # the APIs live on the headnode: they are down while it reboots
        time.sleep(0.05)
    raise AssertionError(f"{host} did not come back")


def test_a_rolling_reboot_of_small_keeps_every_quorum(dc) -> None:
    r = cli(dc, "reboot-plan", "create", "--all", "--max-unavailable", "2")
    assert r.returncode == 0, r.stderr
    assert "Created reboot plan" in r.stderr
    order = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()[:2] in ("1.", "2.",
                                                                             "3.", "4.", "5.")]
    assert order[0].startswith("1. cn02: holds manatee async")
    assert order[3].startswith("4. cn01: holds manatee sync, shard frozen")
    assert order[4].startswith("5. headnode: headnode (sdcadm runs here): last; holds manatee "
                               "primary, shard frozen")
    assert dc.mutations() == []  # making a plan changes nothing

    r = cli(dc, "reboot-plan", "run", "-y")
    # The headnode is last and is where sdcadm runs: the run stops once it reboots itself.
    assert r.returncode == 75, r.stderr
    assert r.stderr.rstrip().endswith(
        "sdcadm reboot-plan run: error (HeadnodeRebooting): this headnode (headnode) is "
        "rebooting: run again once it is back")
    assert "it checks the headnode and goes on." in r.stderr
    wait_back(dc, HN)
    r = cli(dc, "reboot-plan", "run", "-y")
    assert r.returncode == 0, r.stderr
    assert "4 of 5 servers already rebooted by an earlier run" in r.stdout
    assert "done" in r.stdout.splitlines()[-1]

    assert dc.quorum_losses() == []
    sent = reboots_sent(dc)
    assert sorted(sent) == sorted([HN, CN01, CN02, CN03, CN04])  # each one once
    assert sent.index(CN02) < sent.index(CN01) < sent.index(HN) and sent[-1] == HN
    assert down_together(dc) <= 2
    # The shard was frozen around the sync's and the primary's reboots, and left unfrozen.
    zoned = zone_commands(dc)
    freezes = [w for w in zoned if w[:2] == ["manatee-adm", "freeze"]]
    assert len(freezes) == 2 and all(w[2] == "-r" and w[3].startswith("sdcadm reboot of ")
                                     for w in freezes), freezes
    assert sum(w[:2] == ["manatee-adm", "unfreeze"] for w in zoned) == 2
    status = cli(dc, "reboot-plan", "status", "-j")
    doc = json.loads(status.stdout)
    assert doc["state"] == "done" and doc["summary"] == "5/5 rebooted"
    hist = cli(dc, "history")
    assert "reboot-servers(servers)" in hist.stdout


def test_one_unhealthy_server_holds_its_slot_two_pause_the_plan(dc) -> None:
    s = servers(dc)
    for host in (CN03, CN04):
        dc.add_fault({"type": "reboot-maintenance", "target": s[host]["uuid"],
                      "message": "config-agent exited"})
    assert cli(dc, "reboot-plan", "create", "cn01", "cn03", "cn04", "--max-unavailable", "2"
               ).returncode == 0
    r = cli(dc, "reboot-plan", "run", "-y")
    assert r.returncode == 1
    assert "error (StepFailed): reboot-plan run paused: 2 failed and are still out: " \
           "reboot cn03" in r.stderr
    assert "SMF service svc:/smartdc/agent/cn-agent:default is in maintenance" in r.stderr
    assert CN01 not in reboots_sent(dc)  # no slot was handed out once two were unhealthy
    st = cli(dc, "reboot-plan", "status")
    assert st.stdout.splitlines()[0].endswith("(paused): 0/3 rebooted; 2 failed, 1 pending")
    assert "Paused by sdcadm at" in st.stdout
    # Refused while paused; resumed once the operator fixed the servers, the run re-checks
    # them and finishes without rebooting them again.
    again = cli(dc, "reboot-plan", "run", "-y")
    assert again.returncode == 2 and "is paused" in again.stderr
    dc.clear_faults()
    assert "resumed: continue it with" in cli(dc, "reboot-plan", "resume").stdout
    done = cli(dc, "reboot-plan", "run", "-y")
    assert done.returncode == 0, done.stderr
    assert sorted(reboots_sent(dc)) == [CN01, CN03, CN04]


def test_the_gate_is_check_healths_verdict_agents_pings_included(dc) -> None:
    """An agent whose ping fails after the reboot (firewaller, answered by its server) keeps
    the server out, as check-health would call it unhealthy; once it answers, a new run
    finds the server healthy without rebooting it again."""
    s = servers(dc)
    dc.add_fault({"type": "ping-fail", "target": s[CN03]["uuid"]})
    assert cli(dc, "reboot-plan", "create", "cn03").returncode == 0
    r = cli(dc, "reboot-plan", "run", "-y")
    assert r.returncode == 1
    assert "to pass its health gate: firewaller: ping check to " in r.stderr, r.stderr
    assert "failed with HTTP code 500" in r.stderr
    dc.clear_faults()
    done = cli(dc, "reboot-plan", "run", "-y")
    assert done.returncode == 0, done.stderr
    assert reboots_sent(dc) == [CN03]


def test_a_failed_server_blocks_what_waits_for_it_and_says_so(dc) -> None:
    s = servers(dc)
    dc.add_fault({"type": "reboot-hang", "target": s[CN02]["uuid"]})
    assert cli(dc, "reboot-plan", "create", "cn01", "cn02", "cn03", "--max-unavailable",
               "2").returncode == 0
    r = cli(dc, "reboot-plan", "run", "-y")
    assert r.returncode == 1
    assert f"server {s[CN02]['uuid']} (cn02) did not come back" in r.stderr
    rows = {x["hostname"]: x for x in json.loads(
        cli(dc, "reboot-plan", "status", "-j").stdout)["servers"]}
    # cn02 (manatee async) failed: cn01 (the sync) must not follow it down; cn03 went on.
    assert rows[CN02]["state"] == "failed" and rows[CN03]["state"] == "rebooted"
    assert rows[CN01]["state"] == "blocked"
    assert CN01 not in reboots_sent(dc)
    assert dc.quorum_losses() == []


def test_pause_resume_and_cancel_from_another_terminal(slow_dc) -> None:
    dc = slow_dc
    assert cli(dc, "reboot-plan", "create", "cn03", "cn04").returncode == 0
    runner = cli(dc, "reboot-plan", "run", "-y", wait=False)
    try:
        _until(lambda: "1 rebooting" in cli(dc, "reboot-plan", "status").stdout)
        p = cli(dc, "reboot-plan", "pause", "--reason", "change freeze")
        assert p.returncode == 0 and "no new server will start; rebooting now: cn03" in p.stdout
        _until(lambda: "1/2 rebooted; 1 pending" in cli(dc, "reboot-plan", "status").stdout)
        time.sleep(0.5)  # paused: cn04 does not start while we wait
        st = cli(dc, "reboot-plan", "status").stdout
        assert "(paused): 1/2 rebooted; 1 pending" in st and "change freeze" in st
        assert reboots_sent(dc) == [CN03]
        assert cli(dc, "reboot-plan", "resume").stdout.endswith("resumed.\n")
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == 0, err
        assert "Paused: change freeze by " in err
    finally:
        if runner.poll() is None:
            kill(runner)
    assert reboots_sent(dc) == [CN03, CN04]

    dc.clear_mutations()
    assert cli(dc, "reboot-plan", "create", "cn01", "cn02", "cn03").returncode == 0
    runner = cli(dc, "reboot-plan", "run", "-y", wait=False)
    try:
        _until(lambda: "1 rebooting" in cli(dc, "reboot-plan", "status").stdout)
        c = cli(dc, "reboot-plan", "cancel")
        assert "cancelled: 2 of 3 servers will not be rebooted (the ones rebooting now " \
               "finish first)." in c.stdout
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            kill(runner)
    assert runner.returncode == 1 and "error (Cancelled): reboot-plan run cancelled" in err
    assert len(reboots_sent(dc)) == 1
    st = cli(dc, "reboot-plan", "status").stdout
    assert "(cancelled): 1/3 rebooted; 2 pending" in st
    again = cli(dc, "reboot-plan", "run", "-y")
    assert again.returncode == 2 and "no reboot plan to run" in again.stderr


def test_kill_9_mid_plan_then_run_continues_without_rebooting_twice(slow_dc) -> None:
    dc = slow_dc
    assert cli(dc, "reboot-plan", "create", "cn01", "cn02", "cn03", "cn04",
               "--max-unavailable", "2").returncode == 0
    runner = cli(dc, "reboot-plan", "run", "-y", wait=False)
    _until(lambda: len(reboots_sent(dc)) >= 2)
    kill(runner)
    st = cli(dc, "reboot-plan", "status")
    assert "(stopped): 0/4 rebooted; 2 rebooting, 2 pending" in st.stdout
    r = cli(dc, "reboot-plan", "run", "-y")
    assert r.returncode == 0, r.stderr
    assert sorted(reboots_sent(dc)) == [CN01, CN02, CN03, CN04]  # nobody rebooted twice
    assert "was rebooted at" in r.stderr  # the killed run's reboots were waited for
    assert dc.quorum_losses() == []


def test_a_server_back_on_its_old_platform_is_rebooted_again_by_the_retry(dc) -> None:
    cn03 = servers(dc)[CN03]
    newer = "20241010T000000Z"
    assert cn03["current_platform"] != newer
    assert cli(dc, "platform", "assign", newer, CN03).returncode == 0
    dc.add_fault({"type": "reboot-old-platform", "target": cn03["uuid"]})
    assert cli(dc, "reboot-plan", "create", CN03).returncode == 0
    r = cli(dc, "reboot-plan", "run", "-y")
    assert r.returncode == 1
    assert f"server {cn03['uuid']} (cn03) came back running platform " \
           f"{cn03['current_platform']}, not {newer}" in r.stderr
    assert "0/1 rebooted; 1 failed" in cli(dc, "reboot-plan", "status").stdout
    dc.clear_faults()
    again = cli(dc, "reboot-plan", "run", "-y")
    assert again.returncode == 0, again.stderr
    assert f"Server {cn03['uuid']} (cn03) failed after its reboot at " in again.stderr
    assert "rebooting it again" in again.stderr and "was rebooted at" not in again.stderr
    assert reboots_sent(dc) == [CN03, CN03]
    assert servers(dc)[CN03]["current_platform"] == newer
    assert "(done): 1/1 rebooted" in cli(dc, "reboot-plan", "status").stdout
    assert dc.quorum_losses() == []


def test_a_stale_heartbeat_fails_the_gate_with_its_age(dc, tmp_path) -> None:
    conf = tmp_path / "sdcadm.conf"
    conf.write_text(json.dumps({**json.loads(Path(dc.config_path).read_text()),
                                "reboot": {"heartbeatMaxAge": 0.3}}))
    cn03 = servers(dc)[CN03]["uuid"]
    # A heartbeat as fresh as cn-agent sends them passes the gate, even that strict one.
    assert cli(dc, "--config", str(conf), "reboot-plan", "create", CN03).returncode == 0
    ok = cli(dc, "--config", str(conf), "reboot-plan", "run", "-y")
    assert ok.returncode == 0, ok.stderr
    # cn-agent stops: after its reboot CNAPI still has the heartbeat from before it.
    dc.add_fault({"type": "stale-heartbeat", "target": cn03})
    assert cli(dc, "--config", str(conf), "reboot-plan", "create", CN03).returncode == 0
    r = cli(dc, "--config", str(conf), "reboot-plan", "run", "-y")
    assert r.returncode == 1
    found = re.search(rf"server {cn03} \(cn03\) to pass its health gate: cn-agent heartbeat "
                      r"is stale \(last (\d+)s ago\)", r.stderr)
    assert found, r.stderr
    assert int(found.group(1)) >= 1  # the gate waited for a heartbeat that never came
    rows = json.loads(cli(dc, "reboot-plan", "status", "-j").stdout)["servers"]
    assert [x["state"] for x in rows] == ["failed"]
    assert reboots_sent(dc) == [CN03, CN03]


@pytest.mark.parametrize("args, message", [
    (("create", "ghost"), 'error (Usage): unknown server "ghost"'),
    (("create", "--hostname", "db*"), "error (Usage): no servers match --hostname db*"),
    (("create", "--platform", "19990101T000000Z"),
     'error (Usage): unknown platform "19990101T000000Z"'),
    (("create", "--all", "--max-unavailable", "0"),
     "error (Usage): --max-unavailable 0: at least one server must be allowed down at a "
     "time"),
    (("create", "--all", "--max-unavailable", "150%"),
     "error (Usage): --max-unavailable 150%: a percentage must be between 1% and 100%"),
    (("create",), "error (Usage): which servers?"),
    (("run", "-y"), "error (Usage): no reboot plan to run"),
    (("resume",), "error (Usage): no reboot plan to resume"),
    (("status",), "error (Usage): no reboot plan: create one"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(dc, args, message) -> None:
    r = cli(dc, "reboot-plan", *args)
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"sdcadm reboot-plan {args[0]}: {message}")
    assert dc.mutations() == []


def test_two_runs_at_once(slow_dc) -> None:
    dc = slow_dc
    assert cli(dc, "reboot-plan", "create", "cn03").returncode == 0
    runner = cli(dc, "reboot-plan", "run", "-y", wait=False)
    try:
        _until(lambda: "1 rebooting" in cli(dc, "reboot-plan", "status").stdout)
        second = cli(dc, "reboot-plan", "run", "-y")
        assert second.returncode == 2
        assert "is already running (pid" in second.stderr
        runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            kill(runner)
    assert reboots_sent(dc) == [CN03]


def _until(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")
