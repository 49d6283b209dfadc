"""Run integrity: saved plans and journals are derived, not trusted; an unfinished run is
resumed or abandoned, never orphaned by another one."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import requests
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
        f"sdcadm update: error (Journal): {journal}: line 3 is not a journal event (not JSON): "
        f'give the run up with "sdcadm update --abandon {doc["run_uuid"]}"')
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


def test_a_plan_whose_changes_were_edited_with_its_steps_and_digest_is_refused(
        sim_factory, tmp_path) -> None:
    from sdcadm.plan import Plan, digest
    from sdcadm.procedures import expand

    sim = _fresh(sim_factory)
    path = tmp_path / "plan.json"
    assert cli(sim, "update", "workflow", "--plan-out", str(path)).returncode == 0
    insts = json.loads(cli(sim, "instances", "-j").stdout)
    portolan = next(i["instance"] for i in insts if i["service"] == "portolan")
    doc = json.loads(path.read_text())
    (change,) = doc["changes"]
    workflow = change["insts"][0]["instance"]
    # The workflow change aimed at the portolan instance, its steps and digest made to match:
    # consistent with itself, but not what the datacenter plans.
    change["insts"][0]["instance"] = portolan
    doc["steps"] = [s.to_json() for s in expand(Plan.from_json(doc))]
    assert any(s["target"] == portolan for s in doc["steps"])
    doc["digest"] = digest(doc)
    path.write_text(json.dumps(doc))
    sim.clear_mutations()
    r = cli(sim, "update", "--plan", str(path), "-y")
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"sdcadm update: error (PlanTampered): {path} does not hold the "
                           "changes its request plans: change 1 (update-service workflow) has "
                           "instance 1 ")
    assert line.endswith(f"({portolan}) where the planner has workflow0 ({workflow})")
    assert sim.mutations() == []
    # A plan of an older sdcadm has no request to plan again from: refused, said why.
    del doc["requests"]
    doc["digest"] = digest(doc)
    path.write_text(json.dumps(doc))
    r = cli(sim, "update", "--plan", str(path), "-y")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"sdcadm update: error (Usage): {path} was saved by an older sdcadm, without the "
        "request it was planned from (needed to plan it again): make the plan again with "
        "--plan-out"]
    assert sim.mutations() == []


def test_a_resumed_run_whose_change_was_aimed_elsewhere_is_refused(sim_factory) -> None:
    from sdcadm.plan import Plan
    from sdcadm.procedures import expand

    sim = _fresh(sim_factory)
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert cli(sim, "update", "workflow", "-y").returncode == 1
    insts = json.loads(cli(sim, "instances", "-j").stdout)
    portolan = next(i["instance"] for i in insts if i["service"] == "portolan")
    run_dir = run_dirs(sim)[-1]
    plan = run_dir / "plan.json"
    doc = json.loads(plan.read_text())
    doc["changes"][0]["insts"][0]["instance"] = portolan
    doc["steps"] = [s.to_json() for s in expand(Plan.from_json(doc))]
    plan.write_text(json.dumps(doc))
    sim.clear_mutations()
    r = cli(sim, "update", "--resume", "-y")
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        f"sdcadm update: error (PlanTampered): {run_dir}/plan.json does not match the "
        f"datacenter: change 1 (update-service workflow) lists instance workflow0 ({portolan}), "
        f'which is an instance of portolan; give the run up with "sdcadm update --abandon '
        f'{doc["run_uuid"]}" and make a new plan']
    assert sim.mutations() == []


def test_a_malformed_plan_is_refused_in_one_line_and_its_run_can_be_abandoned(
        sim_factory, tmp_path) -> None:
    from sdcadm.plan import digest

    sim = _fresh(sim_factory)
    path = tmp_path / "plan.json"
    assert cli(sim, "update", "workflow", "--plan-out", str(path)).returncode == 0
    saved = json.loads(path.read_text())
    saved["steps"][0]["params"] = [1]
    saved["digest"] = digest(saved)
    path.write_text(json.dumps(saved))
    r = cli(sim, "update", "--plan", str(path), "-y")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"sdcadm update: error (Usage): {path} is not a plan saved with --plan-out: "
        "steps[0].params is an array, not an object"]
    # No such run: said before the datacenter lease is taken (nothing written).
    sim.clear_mutations()
    r = cli(sim, "update", "--abandon", "0000")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        'sdcadm update: error (Usage): no run "0000" (sdcadm history lists them)']
    assert sim.mutations() == []

    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert cli(sim, "update", "workflow", "-y").returncode == 1
    run_dir = run_dirs(sim)[-1]
    plan = run_dir / "plan.json"
    doc = json.loads(plan.read_text())
    run_uuid = doc["run_uuid"]
    sim.clear_mutations()
    for damaged, problem in (({**doc, "steps": [1, *doc["steps"][1:]]},
                              "steps[0] is a number, not an object"),
                             ({**doc, "steps": 5}, '"steps" is a number, not an array'),
                             ([doc], "it is an array, not a JSON object")):
        plan.write_text(json.dumps(damaged))
        for args in (["update", "--resume", "-y"], ["update", "--resume", run_uuid, "-y"],
                     ["update", "--resume", "-n"], ["update", "cloudapi", "-y"]):
            r = cli(sim, *args)
            assert r.returncode == 2, (args, r.stderr)
            (line,) = r.stderr.splitlines()
            assert line.startswith("sdcadm update: error ("), line
            assert f"{plan} is not a run's plan: {problem}" in line, line
            assert line.endswith(f'"sdcadm update --abandon {run_uuid}"'), line
        follow = cli(sim, "history", "--follow", run_uuid)
        assert follow.returncode == 0 and "run failed" in follow.stdout, follow.stderr
        assert sim.mutations() == []
    r = cli(sim, "update", "--abandon", run_uuid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Run {run_uuid} abandoned ({plan} is not a run's plan: ")
    entry = json.loads(cli(sim, "history", run_uuid).stdout)
    assert entry["error"]["code"] == "Abandoned" and entry["abandoned"]
    assert cli(sim, "update", "cloudapi", "-y").returncode == 0


def test_a_reboot_plan_does_not_run_while_an_update_is_unfinished(sim_factory) -> None:
    sim = _fresh(sim_factory)
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert cli(sim, "update", "workflow", "-y").returncode == 1
    run_uuid = json.loads((run_dirs(sim)[-1] / "plan.json").read_text())["run_uuid"]
    assert cli(sim, "reboot-plan", "create", "cn03").returncode == 0
    sim.clear_mutations()
    r = cli(sim, "reboot-plan", "run", "-y")
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"sdcadm reboot-plan run: error (UnfinishedRun): run {run_uuid} "
                           "(update, failed) is unfinished: stopped at step "), line
    assert line.endswith(f'"sdcadm update --abandon {run_uuid}"')
    assert sim.mutations() == []
    assert cli(sim, "update", "--abandon", run_uuid).returncode == 0
    r = cli(sim, "reboot-plan", "run", "-y", timeout=300)
    assert r.returncode == 0, r.stderr


def test_an_image_deleted_after_its_import_is_imported_again_by_the_resume(sim_factory) -> None:
    """The journal says the import is done, but the image went away before the resume: the
    reprovision after it needs it, so the resume looks again and imports it again."""
    sim = _fresh(sim_factory)
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert cli(sim, "update", "workflow", "-y").returncode == 1
    doc = json.loads((run_dirs(sim)[-1] / "plan.json").read_text())
    (image,) = [s["params"]["image_uuid"] for s in doc["steps"]
                if s["action"] == "import-image"]
    url = f"{sim.urls['imgapi']}/images/{image}"
    assert requests.delete(url, timeout=10).status_code in (200, 204)
    assert requests.get(url, timeout=10).status_code == 404
    sim.clear_faults()
    r = cli(sim, "update", "--resume", "-y")
    assert r.returncode == 0, r.stderr
    assert "was done in an earlier run but is no longer in place" in r.stderr
    assert requests.get(url, timeout=10).json()["state"] == "active"
    vms = requests.get(f"{sim.urls['vmapi']}/vms", params={"alias": "workflow0"},
                       timeout=10).json()
    assert vms[0]["image_uuid"] == image
