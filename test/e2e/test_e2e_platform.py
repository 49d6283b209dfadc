"""A rolling platform change from a spec file: set boot platform, reboot, batch by batch."""
from __future__ import annotations

import json
import shutil
import time

import requests
from e2e_runs import cli, events, run_dirs, var_dir


def _servers(sim):
    return requests.get(sim.urls["cnapi"] + "/servers", params={"extras": "agents"},
                        timeout=10).json()


def test_platform_spec_reboots_in_batches_of_max_unavailable(sim_factory, tmp_path):
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    cns = sorted((s for s in _servers(sim) if not s.get("headnode")), key=lambda s: s["hostname"])
    platforms = sorted(requests.get(sim.urls["cnapi"] + "/platforms", timeout=10).json())
    target = next(p for p in reversed(platforms) if any(s["current_platform"] != p for s in cns))
    chosen = [s for s in cns if s["current_platform"] != target][:3]
    spec = tmp_path / "platform.json"
    spec.write_text(json.dumps({"changes": [{
        "type": "update-platform", "platform": target,
        "servers": [s["hostname"] for s in chosen], "max_unavailable": 2}]}))
    r = cli(sim, "update", "-f", str(spec), "-y")
    assert r.returncode == 0, r.stderr
    assert "Updated successfully" in r.stdout
    after = {s["uuid"]: s for s in _servers(sim)}
    for s in chosen:
        assert after[s["uuid"]]["current_platform"] == target
        assert after[s["uuid"]]["status"] == "running"
        assert f"Rebooting server {s['uuid']} ({s['hostname']})" in r.stderr
    # Never more than max_unavailable servers rebooting at once, per the journal.
    down, worst = set(), 0
    for e in events(run_dirs(sim)[-1]):
        if e.get("event") == "step-start" and ":reboot-server:" in e["step"]:
            down.add(e["step"])
            worst = max(worst, len(down))
        elif e.get("event") == "step-end" and e["step"] in down:
            down.discard(e["step"])
    assert 1 <= worst <= 2


def test_platform_rollout_of_small_at_two_keeps_quorum_and_finishes_after_the_headnode(
        sim_factory, tmp_path):
    """The spec that once took cn01 and cn02 down together (manatee sync and async, two of
    three binders and morays): now they go one at a time, the headnode last."""
    sim = sim_factory("small", 0.005)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    # Every server but cn03 runs or boots the newer platform: moving them all to the older
    # one reboots the headnode, cn01, cn02 (the HA trio) and cn04.
    target = min(requests.get(sim.urls["cnapi"] + "/platforms", timeout=10).json())
    spec = tmp_path / "platform.yaml"
    spec.write_text(f"changes:\n  - type: update-platform\n    platform: '{target}'\n"
                    "    selector: all\n    max_unavailable: 2\n")
    by_uuid = {s["uuid"]: s["hostname"] for s in _servers(sim)}
    r = cli(sim, "update", "-f", str(spec), "-y")
    assert r.returncode == 75, r.stderr  # the headnode rebooted itself: continue later
    assert 'run "sdcadm update --resume": it checks the headnode and goes on.' in r.stderr
    deadline = time.monotonic() + 30
    while True:
        try:
            if all(s["status"] == "running" for s in _servers(sim)):
                break
        except requests.RequestException:
            pass  # the APIs are on the headnode
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = cli(sim, "update", "--resume", "-y")
    assert r.returncode == 0, r.stderr
    assert "Updated successfully" in r.stdout
    assert all(s["current_platform"] == target for s in _servers(sim))
    assert sim.quorum_losses() == []
    spans: dict[str, list[str]] = {}
    for e in events(run_dirs(sim)[-1]):
        if ":reboot-server:" in e.get("step", "") and (
                e["event"] == "step-start" or e.get("outcome") in ("done", "verified")):
            spans.setdefault(by_uuid[e["step"].rsplit(":", 1)[1]], []).append(e["time"])
    cn01, cn02 = spans["cn01"], spans["cn02"]
    assert cn02[-1] <= cn01[0] or cn01[-1] <= cn02[0]  # never down together
    assert max(t for v in spans.values() for t in v) == spans["headnode"][-1]
