"""Run integrity: saved plans and journals are derived, not trusted; an unfinished run is
resumed or abandoned, never orphaned by another one."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from e2e_runs import cli, events, kill, run_dirs, var_dir, wait_for_event


def _fresh(sim_factory, scale: float = 0.002):
    sim = sim_factory("small", scale)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    return sim


def test_an_edited_plan_file_is_refused(sim_factory, tmp_path) -> None:
    from sdcadm.plan import digest

    sim = _fresh(sim_factory)
    path = tmp_path / "plan.json"
    assert cli(sim, "update", "workflow", "--plan-out", str(path)).returncode == 0
    doc = json.loads(path.read_text())
    # Another image for the instance: the digest no longer matches.
    edited = json.loads(json.dumps(doc))
    edited["steps"][-2]["params"]["image_uuid"] = "00000000-0000-0000-0000-000000000000"
    path.write_text(json.dumps(edited))
    r = cli(sim, "update", "--plan", str(path), "-y")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"sdcadm update: error (PlanTampered): {path} was changed after it was saved (its "
        "digest does not match): make the plan again with --plan-out"]
    # The same edit with the digest made again: the steps are not the plan's own.
    edited["digest"] = digest(edited)
    path.write_text(json.dumps(edited))
    r = cli(sim, "update", "--plan", str(path), "-y")
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"sdcadm update: error (PlanTampered): {path} does not hold the "
                           "steps of its own plan: step ")
    assert "has other parameters than the plan derives" in line
    # A shell command smuggled in as a step of another kind.
    edited = json.loads(json.dumps(doc))
    edited["steps"].insert(1, {"id": "2:reprovision:x", "action": "reprovision", "target": "x",
                               "params": {"instance": "x; rm -rf /"}})
    edited["digest"] = digest(edited)
    path.write_text(json.dumps(edited))
    r = cli(sim, "update", "--plan", str(path), "-y")
    assert r.returncode == 2 and "does not hold the steps of its own plan" in r.stderr
    assert sim.mutations() == []


def test_an_edited_or_damaged_journal_is_refused_on_resume(sim_factory) -> None:
    sim = _fresh(sim_factory)
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert cli(sim, "update", "workflow", "-y").returncode == 1
    run_dir = run_dirs(sim)[-1]
    plan = run_dir / "plan.json"
    original = plan.read_text()
    doc = json.loads(original)
    doc["steps"][-2]["params"]["server_uuid"] = "00000000-0000-0000-0000-000000000000"
    plan.write_text(json.dumps(doc))
    sim.clear_mutations()
    r = cli(sim, "update", "--resume", "-y")
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1].startswith(
        f"sdcadm update: error (PlanTampered): {run_dir}/plan.json does not hold the steps of "
        "its own plan: step ")
    plan.write_text(original)
    journal = run_dir / "events.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:2] + ["{not json"] + lines[2:]) + "\n")
    r = cli(sim, "update", "--resume", "-y")
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == (
        f"sdcadm update: error (Journal): {journal}: line 3 is not a journal event (not JSON)")
    assert sim.mutations() == []
    journal.write_text("\n".join(lines) + "\n" + '{"event": "step-end", "step": 1')  # torn
    r = cli(sim, "update", "--resume", "-y")
    assert r.returncode == 0, r.stderr  # a torn last line is what a crash leaves


def test_a_killed_run_blocks_others_until_resumed_or_abandoned(sim_factory) -> None:
    sim = _fresh(sim_factory, 0.02)
    proc = cli(sim, "update", "--all", "-y", wait=False)
    wait_for_event(sim, lambda e: e.get("event") == "step-end"
                   and ":reprovision:" in e.get("step", ""), proc=proc)
    kill(proc)
    run_uuid = json.loads((run_dirs(sim)[-1] / "plan.json").read_text())["run_uuid"]
    sim.clear_mutations()
    r = cli(sim, "update", "cloudapi", "-y")
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"sdcadm update: error (UnfinishedRun): run {run_uuid} (update, "
                           "died) is unfinished: stopped at step ")
    assert line.endswith(f'continue it with "sdcadm update --resume {run_uuid}" or give it up '
                         f'with "sdcadm update --abandon {run_uuid}"')
    assert sim.mutations() == []
    rb = cli(sim, "rollback", "--latest", "--force", "-y")
    assert rb.returncode == 2
    h = cli(sim, "history")
    assert f"{run_uuid}" in h.stdout and "unfinished" in h.stdout
    r = cli(sim, "update", "--resume", run_uuid, "-y", timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"Resuming run {run_uuid}" in r.stderr
    assert cli(sim, "update", "--resume", run_uuid).stderr.startswith(
        f"Nothing to resume: run {run_uuid} (")


def test_abandon_is_recorded_and_lets_the_next_run_go(sim_factory) -> None:
    sim = _fresh(sim_factory)
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert cli(sim, "update", "workflow", "-y").returncode == 1
    run_uuid = json.loads((run_dirs(sim)[-1] / "plan.json").read_text())["run_uuid"]
    r = cli(sim, "update", "--abandon", run_uuid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Run {run_uuid} abandoned: ")
    entry = json.loads(cli(sim, "history", run_uuid).stdout)
    assert entry["error"]["code"] == "Abandoned" and entry["abandoned"]
    assert "abandoned by" in cli(sim, "history").stdout
    assert cli(sim, "update", "--abandon", run_uuid).returncode == 2
    assert cli(sim, "update", "--resume", "-y").stderr.startswith("Nothing to resume")
    assert cli(sim, "update", "cloudapi", "-y").returncode == 0
    assert any(e.get("event") == "run-abandon"
               for d in run_dirs(sim) for e in events(Path(d)))
    time.sleep(0)
