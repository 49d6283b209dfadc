"""End to end: whole updates against the simulated `small` datacenter, in subprocesses.

A clean `update --all` is the reference; runs that are killed, interrupted or hit a fault
must reach exactly the same end state through `--resume`.
"""
from __future__ import annotations

import json
import signal
from collections import Counter

import pytest
from e2e_runs import driver, end_state, events, kill, run_dirs, var_dir, wait_for_event

SCALE = 0.002


@pytest.fixture(scope="module")
def e2e_sim(sim_factory):
    return sim_factory("small", SCALE)


@pytest.fixture(scope="module")
def reference(e2e_sim):
    """Before/after of a clean `update --all`, and the steps it ran."""
    e2e_sim.reset()
    before = end_state(e2e_sim)
    r = driver(e2e_sim, "update")
    assert r.returncode == 0, r.stderr
    after = end_state(e2e_sim)
    plan = json.loads((run_dirs(e2e_sim)[-1] / "plan.json").read_text())
    return {"before": before, "after": after, "steps": plan["steps"], "out": r.stdout,
            "err": r.stderr}


@pytest.fixture
def fresh(e2e_sim):
    """Reset datacenter and an empty sdcadm var dir (journals, history, lock)."""
    import shutil

    e2e_sim.reset()
    shutil.rmtree(var_dir(e2e_sim), ignore_errors=True)
    return e2e_sim


def test_update_all_brings_everything_to_the_latest_images(reference):
    before, after = reference["before"], reference["after"]
    assert "Updated successfully (elapsed" in reference["out"]
    assert "Create work dir: " in reference["err"]
    changed_vms = [u for u in before["vms"] if before["vms"][u] != after["vms"][u]]
    changed_agents = [k for k in before["agents"] if before["agents"][k] != after["agents"][k]]
    assert changed_vms and changed_agents
    # Every agent the plan updates now runs one image on every server.
    updated = {s["params"]["agent"] for s in reference["steps"] if s["action"] == "install-agent"}
    per_agent: dict[str, set] = {}
    for (_server, name), image in after["agents"].items():
        if name in updated:
            per_agent.setdefault(name, set()).add(image)
    assert updated and all(len(images) == 1 for images in per_agent.values()), per_agent
    actions = Counter(s["action"] for s in reference["steps"])
    assert actions["import-image"] and actions["reprovision"] and actions["install-agent"]


def test_second_run_is_up_to_date(e2e_sim, reference):
    e2e_sim.reset()
    assert driver(e2e_sim, "update").returncode == 0
    r = driver(e2e_sim, "update")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Up-to-date."
    assert end_state(e2e_sim) == reference["after"]


def _step_index(reference, action: str, nth: int = 0) -> str:
    ids = [s["id"] for s in reference["steps"] if s["action"] == action]
    return ids[min(nth, len(ids) - 1)]


@pytest.mark.parametrize("action, nth", [
    ("import-image", 0),
    ("sapi-update-service", 1),
    ("reprovision", 2),
    ("wait-instance", 3),
    ("install-agent", 5),
])
def test_killed_at_a_step_then_resume_ends_like_a_clean_run(fresh, reference, action, nth):
    step_id = _step_index(reference, action, nth)
    proc = driver(fresh, "update", wait=False)
    wait_for_event(fresh, lambda e: e.get("event") == "step-start" and e.get("step") == step_id,
                   proc=proc)
    kill(proc)
    run_dir = run_dirs(fresh)[-1]
    assert not any(e["event"] == "run-end" for e in events(run_dir))
    fresh.clear_mutations()
    r = driver(fresh, "resume")
    assert r.returncode == 0, r.stderr
    assert "Resuming run" in r.stderr
    assert "Updated successfully" in r.stdout
    assert end_state(fresh) == reference["after"]
    # Nothing done before the kill was done again.
    done_before = {e["step"] for e in events(run_dir)[: _resume_index(run_dir)]
                   if e.get("event") == "step-end" and e.get("outcome") == "done"}
    repro = Counter(m["path"].split("?")[0] for m in fresh.mutations()
                    if m["method"] == "POST" and "action=reprovision" in m["path"])
    for s in reference["steps"]:
        if s["id"] in done_before and s["action"] == "reprovision":
            assert repro[f"/vms/{s['params']['instance']}"] == 0
    assert all(n == 1 for n in repro.values()), repro


def _resume_index(run_dir) -> int:
    evs = events(run_dir)
    return next(i for i, e in enumerate(evs) if e["event"] == "run-resume")


def test_ctrl_c_exits_130_records_it_and_resume_finishes(fresh, reference):
    step_id = _step_index(reference, "wait-instance", 1)
    proc = driver(fresh, "update", wait=False)
    wait_for_event(fresh, lambda e: e.get("event") == "step-start" and e.get("step") == step_id,
                   proc=proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    run_dir = run_dirs(fresh)[-1]
    evs = events(run_dir)
    why = f"stderr:\n{err}\njournal tail:\n" + "\n".join(json.dumps(e) for e in evs[-6:])
    assert proc.returncode == 130, why
    assert "error (Interrupted)" in err and "--resume" in err, why
    assert evs[-1]["event"] == "run-end" and evs[-1]["status"] == "interrupted", why
    # Either the step in flight was abandoned, or it completed and nothing new started.
    assert "interrupted at step" in evs[-1]["error"]["message"], why
    ended = [e for e in evs if e.get("event") == "step-end"]
    assert ended[-1]["outcome"] in ("interrupted", "done"), why
    started = [e["step"] for e in evs if e.get("event") == "step-start"]
    assert started[-1] == ended[-1]["step"], why
    r = driver(fresh, "resume")
    assert r.returncode == 0, r.stderr
    assert end_state(fresh) == reference["after"]


def test_failed_reprovision_is_reported_recorded_and_resumed(fresh, reference):
    step = next(s for s in reference["steps"] if s["action"] == "reprovision")
    vm = step["params"]["instance"]
    fresh.add_fault({"type": "fail-job", "target": vm, "action": "reprovision", "count": 1})
    r = driver(fresh, "update")
    assert r.returncode == 1, r.stderr
    assert "sdcadm update: error (StepFailed):" in r.stderr and vm in r.stderr
    assert f"({step['id']}) failed" in r.stderr
    run_dir = run_dirs(fresh)[-1]
    evs = events(run_dir)
    failed = [e for e in evs if e.get("event") == "step-end" and e.get("outcome") == "failed"]
    assert [e["step"] for e in failed] == [step["id"]]
    run_uuid = json.loads((run_dir / "plan.json").read_text())["run_uuid"]
    import requests

    entry = requests.get(f"{fresh.urls['sapi']}/history/{run_uuid}", timeout=10).json()
    assert entry["finished"] and vm in entry["error"]["message"]
    assert any(s["id"] == step["id"] and s["status"] == "failed" for s in entry["steps"])
    # No lock file blocks the next run: resume retries the failed step and finishes.
    r = driver(fresh, "resume")
    assert r.returncode == 0, r.stderr
    assert end_state(fresh) == reference["after"]


def test_an_api_error_mid_run_gives_the_client_error_line(fresh, reference):
    # Four in a row: the first try and the three retries a transient 500 gets.
    fresh.add_fault({"type": "error", "service": "sapi", "method": "PUT", "path": "^/services/",
                     "status": 500, "count": 4})
    r = driver(fresh, "update")
    assert r.returncode == 1
    assert "error (SDCClient): sapi client error" in r.stderr
    assert r.stderr.count("hit a transient error") == 3
    r = driver(fresh, "resume")
    assert r.returncode == 0, r.stderr
    assert end_state(fresh) == reference["after"]


def test_agent_failure_on_one_server_does_not_stop_the_others(fresh, reference):
    agent_steps = [s for s in reference["steps"] if s["action"] == "install-agent"]
    first = agent_steps[0]
    group = [s for s in agent_steps if s["parallel"] == first["parallel"]]
    bad = first["params"]["server_uuid"]
    fresh.add_fault({"type": "fail-job", "target": bad, "action": "install-agent", "count": 1})
    r = driver(fresh, "update")
    assert r.returncode == 1
    agent = first["params"]["agent"]
    n = len(group)
    assert f"Updated {agent} on {n - 1}/{n} servers (1 failure)" in r.stderr
    assert f"server {bad} (" in r.stderr
    state = end_state(fresh)
    for s in group:
        key = (s["params"]["server_uuid"], agent)
        want = reference["before"]["agents"][key] if s is first else s["params"]["image_uuid"]
        assert state["agents"][key] == want
    r = driver(fresh, "resume")
    assert r.returncode == 0, r.stderr
    assert end_state(fresh) == reference["after"]


def test_lock_held_by_another_process(fresh, tmp_path):
    import subprocess
    import sys

    conf = json.loads(open(fresh.config_path).read())
    lock_path = conf.get("lockPath") or str(var_dir(fresh) / "sdcadm.lock")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time;from sdcadm.executor.lock import RunLock;"
         "RunLock(sys.argv[1],command='rollback',run_uuid='x').acquire();print('ok',flush=True);"
         "time.sleep(60)", lock_path],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        import os

        os.environ["SDCADM_LOCK_WAIT"] = "0.3"
        try:
            r = driver(fresh, "update")
        finally:
            del os.environ["SDCADM_LOCK_WAIT"]
        assert r.returncode == 1
        assert "Waiting for sdcadm lock" in r.stderr
        assert f"error (Lock): another sdcadm is running (pid {holder.pid}, command \"rollback\"" \
            in r.stderr
        # Nothing changed (CommandExecute POSTs that read HA roles are reads in disguise).
        changes = [m for m in fresh.mutations() if not m["path"].split("?")[0].endswith("/execute")]
        assert changes == [], changes
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: nothing stale remains in the way.
    r = driver(fresh, "update", "--concurrency", "5")
    assert r.returncode == 0, r.stderr
