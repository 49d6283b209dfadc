"""Kill the run at every step index of a plan that uses every kind of step, then resume.

Whatever step the process dies in, `update --resume` must reach exactly the state a clean run
reaches, without redoing a reprovision that had completed.
"""
from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from e2e_runs import driver, end_state, events, kill, run_dirs, var_dir, wait_for_event

# Downloads with an origin (cloudapi), a stateless service, moray (rolling), manatee (shard
# check, async/sync/primary) and an agent across servers.
SERVICES = ("cloudapi", "moray", "manatee", "vm-agent")
SCALE = 0.002


@pytest.fixture(scope="module")
def compact(sim_factory):
    sim = sim_factory("small", SCALE)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    r = driver(sim, "update", *SERVICES)
    assert r.returncode == 0, r.stderr
    steps = json.loads((run_dirs(sim)[-1] / "plan.json").read_text())["steps"]
    return sim, steps, end_state(sim)


def test_the_plan_has_every_kind_of_step(compact):
    _sim, steps, _after = compact
    kinds = {s["action"] for s in steps}
    assert {"import-image", "sapi-update-service", "reprovision", "wait-instance",
            "check-shard", "install-agent"} <= kinds, kinds


def test_killed_at_every_step_index_then_resume_ends_like_a_clean_run(compact):
    sim, steps, after = compact
    for index, step in enumerate(steps):
        sim.reset()
        shutil.rmtree(var_dir(sim), ignore_errors=True)
        proc = driver(sim, "update", *SERVICES, wait=False)
        wait_for_event(sim, lambda e, want=step["id"]: e.get("event") == "step-start"
                       and e.get("step") == want, proc=proc)
        kill(proc)
        run_dir = run_dirs(sim)[-1]
        before_kill = events(run_dir)
        assert not any(e["event"] == "run-end" for e in before_kill), index
        done = {e["step"] for e in before_kill
                if e.get("event") == "step-end" and e.get("outcome") == "done"}
        sim.clear_mutations()
        r = driver(sim, "resume")
        assert r.returncode == 0, f"killed at step {index} ({step['id']}): {r.stderr}"
        assert end_state(sim) == after, f"killed at step {index} ({step['id']})"
        # A reprovision that had completed is never sent again; one in doubt at most once.
        repro = Counter(m["path"].split("?")[0] for m in sim.mutations()
                        if m["method"] == "POST" and "action=reprovision" in m["path"])
        for s in steps:
            if s["action"] == "reprovision" and s["id"] in done:
                assert repro[f"/vms/{s['params']['instance']}"] == 0, (index, s["id"])
        assert all(n == 1 for n in repro.values()), (index, repro)
