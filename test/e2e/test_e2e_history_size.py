"""History stays small whatever the datacenter's size: an `update --all` with agents keeps
counts and hostnames, not every agent instance and install step; its journal says each step
event in one short line. Structure, not timing (tools/bench/bench_history.py measures)."""
from __future__ import annotations

import json
import shutil

import requests
from e2e_runs import cli, events, run_dirs, var_dir


def test_update_all_with_agents_leaves_a_compact_history_entry(sim_factory) -> None:
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    r = cli(sim, "update", "--all", "-y")
    assert r.returncode == 0, r.stderr
    run_dir = run_dirs(sim)[-1]
    plan = json.loads((run_dir / "plan.json").read_text())
    entry = requests.get(f"{sim.urls['sapi']}/history/{plan['run_uuid']}", timeout=10).json()

    agents = {c["service"]["name"]: c for c in plan["changes"] if c["type"] == "update-agent"}
    kept = {c["service"]["name"]: c for c in entry["changes"] if c["type"] == "update-agent"}
    assert agents and kept.keys() == agents.keys()
    for name, change in kept.items():
        planned = agents[name]
        assert "insts" not in change and "already" not in change and "servers" not in change
        assert change["counts"] == {k: len(planned[k]) for k in ("insts", "already", "servers")
                                    if planned[k]}
        # The servers changed, by hostname, grouped by the version each ran before.
        assert sorted(h for g in change["per_server"] for h in g["servers"]) == sorted(
            i["hostname"] for i in planned["insts"])
        assert {(g["version"], g["image"]) for g in change["per_server"]} == {
            (i["version"], i["image"]) for i in planned["insts"]}
        assert change["image"] == planned["image"] and change["service"] == planned["service"]
    services = [c for c in entry["changes"] if c["type"] == "update-service"]
    assert services and all(c["insts"] for c in services)  # VM instances stay listed

    # Steps: one record per step but one per agent group, with its counts.
    installs = [s for s in plan["steps"] if s["action"] == "install-agent"]
    groups = [s for s in entry["steps"] if s["action"] == "install-agent"]
    assert len(groups) == len(agents) < len(installs)
    assert sum(g["steps"] for g in groups) == len(installs)
    assert all(g["status"] == "done" and g["counts"] == {"done": g["steps"]} and
               g["id"] == f"agents:{g['change']}" for g in groups)
    singles = [s for s in entry["steps"] if s["action"] != "install-agent"]
    assert [s["id"] for s in singles] == [s["id"] for s in plan["steps"]
                                          if s["action"] != "install-agent"]
    assert len(json.dumps(entry)) < 256 * 1024

    # `history UUID` shows that entry; the listing's line is the same as ever.
    shown = json.loads(cli(sim, "history", plan["run_uuid"]).stdout)
    assert shown["steps"] == entry["steps"] and shown["changes"] == entry["changes"]
    row = cli(sim, "history", "-H", "-o", "uuid,finished,error").stdout.split()
    assert row[0] == plan["run_uuid"] and row[1] != "unfinished" and row[2] == "-"

    # The journal: a step's events name it and say what is new; plan.json says the rest.
    evs = [e for e in events(run_dir) if e.get("step")]
    assert {tuple(sorted(e)) for e in evs if e["event"] == "step-start"} == {
        ("event", "step", "time")}
    assert all("summary" not in e for e in evs)
