"""A rolling platform change from a spec file: set boot platform, reboot, batch by batch."""
from __future__ import annotations

import json
import shutil

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
