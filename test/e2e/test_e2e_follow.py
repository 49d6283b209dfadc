"""Following a run from another terminal, and naming runs by their uuid."""
from __future__ import annotations

import json
import shutil

from e2e_runs import cli, run_dirs, var_dir, wait_for_event


def test_history_follow_sees_each_step_of_a_run_in_another_process(sim_factory) -> None:
    sim = sim_factory("small", 0.02)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    runner = cli(sim, "update", "workflow", "cloudapi", "-y", wait=False)
    wait_for_event(sim, lambda e: e.get("event") == "run-start", proc=runner)
    run_dir = run_dirs(sim)[-1]
    run_uuid = json.loads((run_dir / "plan.json").read_text())["run_uuid"]
    # While it runs, history shows how far each step got (not "pending" for all).
    wait_for_event(sim, lambda e: e.get("event") == "step-end", proc=runner)
    entry = json.loads(cli(sim, "history", run_uuid).stdout)
    assert {s["status"] for s in entry["steps"]} & {"done", "verified", "running"}
    follower = cli(sim, "history", "--follow", wait=False)
    out, err = follower.communicate(timeout=120)
    runner.communicate(timeout=120)
    assert follower.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Following run {run_uuid} ({run_dir})"
    steps = json.loads((run_dir / "plan.json").read_text())["steps"]
    for s in steps:
        assert any(s["id"] in ln and ("done" in ln or "verified" in ln) for ln in lines), s["id"]
    assert lines[-1].split()[1:3] == ["run", "done"]


def test_rollback_names_the_update_by_its_run_uuid(sim_factory) -> None:
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    assert cli(sim, "update", "workflow", "-y").returncode == 0
    run_uuid = json.loads((run_dirs(sim)[-1] / "plan.json").read_text())["run_uuid"]
    r = cli(sim, "rollback", run_uuid, "--force", "-n")
    assert r.returncode == 0, r.stderr
    assert 'rollback "workflow" service' in r.stdout
    bad = cli(sim, "rollback", "0000", "--force", "-n")
    assert bad.returncode == 2 and 'no update run "0000" here' in bad.stderr
