"""`sdcadm update` executing against the simulator (in-process CLI)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def clean_var(sim):
    var = Path(json.loads(Path(sim.config_path).read_text())["varDir"])
    shutil.rmtree(var, ignore_errors=True)
    return var


def test_update_all_then_up_to_date(sdcadm, sim, clean_var):
    r = sdcadm("update", "--all", "-y")
    assert r.exit_code == 0, r.err
    assert r.out.endswith(r.out.splitlines()[-1] + "\n")
    assert r.out.splitlines()[-1].startswith("Updated successfully (elapsed ")
    assert "Create work dir: " + str(clean_var / "updates") in r.err
    assert "--- Updating " in r.err
    again = sdcadm("update", "--all", "-y")
    assert again.exit_code == 0, again.err
    assert again.out.strip().splitlines()[-1] == "Up-to-date."
    # The run is history.
    h = sdcadm("history", "-H", "-o", "uuid,changes,error")
    assert h.exit_code == 0, h.err
    assert len(h.out.splitlines()) == 1
    uuid, rest = h.out.split(None, 1)
    assert "update-service(" in rest and rest.rstrip().endswith("-")


def test_failed_step_then_update_resume(sdcadm, sim, clean_var):
    plan = json.loads(sdcadm("update", "--all", "-j").out)
    step = next(s for s in plan["steps"] if s["action"] == "reprovision")
    sim.add_fault({"type": "fail-job", "target": step["params"]["instance"],
                   "action": "reprovision", "count": 1})
    r = sdcadm("update", "--all", "-y")
    assert r.exit_code == 1
    assert "sdcadm update: error (StepFailed): " in r.err
    assert 'Run "sdcadm update --resume" to retry the failed step and continue.' in r.err
    r = sdcadm("update", "--resume")
    assert r.exit_code == 0, r.err
    assert "Resuming run " in r.err
    assert r.out.strip().endswith("s).") and "Updated successfully" in r.out
    assert sdcadm("update", "--all", "-y").out.strip() == "Up-to-date."
    r = sdcadm("update", "--resume")
    assert r.exit_code == 0 and "Nothing to resume" in r.err


def test_resumed_run_that_succeeds_leaves_a_clean_history_entry(sdcadm, sim, clean_var):
    import requests

    for e in requests.get(sim.urls["sapi"] + "/history", timeout=10).json():
        requests.delete(f"{sim.urls['sapi']}/history/{e['uuid']}", timeout=10)
    plan = json.loads(sdcadm("update", "cloudapi", "-j").out)
    step = next(s for s in plan["steps"] if s["action"] == "reprovision")
    sim.add_fault({"type": "fail-job", "target": step["params"]["instance"],
                   "action": "reprovision", "count": 1})
    assert sdcadm("update", "cloudapi", "-y").exit_code == 1
    failed = json.loads(sdcadm("history", "-j").out)
    assert len(failed) == 1 and failed[0]["error"]
    r = sdcadm("update", "--resume")
    assert r.exit_code == 0, r.err
    # SAPI takes no history update without `finished`: resuming must not fall back to a
    # local file, and the success must replace the failed attempt's error.
    assert "could not save history" not in r.err
    assert not list((clean_var / "history").glob("*.json"))
    h = sdcadm("history", "-H", "-o", "uuid,error")
    assert h.out.split() == [failed[0]["uuid"], "-"], h.out
    entry = json.loads(sdcadm("history", failed[0]["uuid"]).out)
    assert entry["finished"] > failed[0]["finished"] and entry.get("resumed")
    assert all(s["status"] != "failed" for s in entry["steps"]), entry["steps"]


def test_rolling_update_stops_at_an_instance_left_in_maintenance(sdcadm, sim, clean_var):
    plan = json.loads(sdcadm("update", "moray", "-j").out)
    order = [s["params"]["instance"] for s in plan["steps"] if s["action"] == "reprovision"]
    assert len(order) >= 2
    sim.add_fault({"type": "unhealthy", "target": order[0]})
    r = sdcadm("update", "moray", "-y")
    assert r.exit_code == 2
    assert "error (InstanceIsDown): " in r.err and "is in maintenance" in r.err, r.err
    # the next instance of the service was not taken down as well
    reprovisioned = [m["path"] for m in sim.mutations()
                     if m["service"] == "vmapi" and "reprovision" in m["path"]]
    assert len(reprovisioned) == 1 and order[0] in reprovisioned[0], reprovisioned


def test_resume_announces_only_the_services_it_still_works_on(sdcadm, sim, clean_var):
    plan = json.loads(sdcadm("update", "--all", "-j").out)
    reprovs = [s for s in plan["steps"] if s["action"] == "reprovision"]
    stop = reprovs[len(reprovs) // 2]
    sim.add_fault({"type": "fail-job", "target": stop["params"]["instance"],
                   "action": "reprovision", "count": 1})
    first = sdcadm("update", "--all", "-y")
    assert first.exit_code == 1
    r = sdcadm("update", "--resume")
    assert r.exit_code == 0, r.err
    headers = [ln[len("--- Updating "):-len(" ...")] for ln in r.err.splitlines()
               if ln.startswith("--- Updating ")]
    finished_before = {ln[len("--- Updating "):-len(" ...")] for ln in first.err.splitlines()
                       if ln.startswith("--- Updating ")} - {stop["change"]}
    assert headers and headers[0] == stop["change"], headers
    assert not finished_before & set(headers), headers


def test_resume_dry_run_lists_the_steps_left_and_changes_nothing(sdcadm, sim, clean_var):
    plan = json.loads(sdcadm("update", "moray", "-j").out)
    first = next(s for s in plan["steps"] if s["action"] == "reprovision")
    sim.add_fault({"type": "fail-job", "target": first["params"]["instance"],
                   "action": "reprovision", "count": 1})
    assert sdcadm("update", "moray", "-y").exit_code == 1
    sim.clear_mutations()
    r = sdcadm("update", "--resume", "-n")
    assert r.exit_code == 0, r.err
    assert r.out.splitlines()[-1] == "Dry run: nothing was changed."
    assert f"    {first['id']}: {first['summary']}" in r.out.splitlines()
    for opt in ("-j", "--plan-out=x.json"):
        r = sdcadm("update", "--resume", opt)
        assert (r.exit_code, r.err.strip()) == (
            2, "sdcadm update: error (Usage): --resume cannot be combined with -j or "
               "--plan-out")
    assert sim.mutations() == []
    assert sdcadm("update", "--resume").exit_code == 0  # the run is still there to resume


def test_dry_run_never_takes_the_lock_or_writes_a_journal(sdcadm, sim, clean_var):
    r = sdcadm("update", "--all", "-n")
    assert r.exit_code == 0, r.err
    assert not (clean_var / "updates").exists()
    assert not (clean_var / "sdcadm.lock").exists()
    assert sim.mutations() == []


def test_download_via_sdcadm_streams_the_image_into_imgapi(sdcadm, sim, clean_var):
    plan = json.loads(sdcadm("update", "cns", "-j").out)
    images = [d["uuid"] for d in plan["downloads"]]
    assert images
    r = sdcadm("update", "cns", "-y", "--download-via", "sdcadm")
    assert r.exit_code == 0, r.err
    paths = [(m["service"], m["method"], m["path"]) for m in sim.mutations()]
    # sdcadm itself put each file into the local IMGAPI; IMGAPI was never asked to import.
    for uuid in images:
        assert any(svc == "imgapi" and meth == "PUT" and p.startswith(f"/images/{uuid}/file")
                   for svc, meth, p in paths), paths
    assert not any("action=import-remote" in p for _s, _m, p in paths), paths
    run = sorted((clean_var / "updates").iterdir())[-1]
    assert json.loads((run / "plan.json").read_text())["run_options"]["download_via"] == "sdcadm"


def test_download_via_rejects_an_unknown_mode(sdcadm, sim):
    r = sdcadm("update", "cns", "-y", "--download-via", "carrier-pigeon")
    # a bad option value is an option parse error, as in the original: (Option), exit 1
    assert r.exit_code == 1
    assert r.err.startswith("sdcadm update: error (Option): ")
    assert sim.mutations() == []


@pytest.mark.parametrize("keys, message", [
    ({"varDir": "{blocker}/var"}, "error (InternalError): error acquiring lock {blocker}/var/"
                                  "sdcadm.lock: Not a directory"),
    ({"varDir": "{blocker}/var", "lockPath": "{tmp}/sdcadm.lock"},
     "error (Preflight): the work directory {blocker}/var/updates cannot be written "
     "(Not a directory); nothing was changed"),
])
def test_unusable_var_dir_is_one_error_line_and_changes_nothing(sdcadm, sim, tmp_path, keys,
                                                                 message):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    conf = json.loads(Path(sim.config_path).read_text())
    conf.update({k: v.format(blocker=blocker, tmp=tmp_path) for k, v in keys.items()})
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(conf))
    r = sdcadm("--config", str(path), "update", "cns", "-y")
    assert r.exit_code == 1
    assert r.err.splitlines()[-1] == "sdcadm update: " + message.format(blocker=blocker), r.err
    assert "Traceback" not in r.err
    assert sim.mutations() == []


def test_bad_lock_wait_in_the_environment_is_a_config_error(sdcadm, sim, clean_var):
    r = sdcadm("update", "cns", "-y", env={"SDCADM_LOCK_WAIT": "soon"})
    assert r.exit_code == 2
    assert r.err.splitlines()[-1] == ('sdcadm update: error (Config): SDCADM_LOCK_WAIT: "soon" '
                                      "is not a number of seconds")
    assert sim.mutations() == []


def test_several_failed_agent_steps_are_counted(sdcadm, sim, clean_var):
    plan = json.loads(sdcadm("update", "cn-agent", "-j").out)
    servers = [s["params"]["server_uuid"] for s in plan["steps"]
               if s["action"] == "install-agent"][:2]
    for uuid in servers:
        sim.add_fault({"type": "fail-job", "target": uuid, "action": "install-agent",
                       "count": 1})
    r = sdcadm("update", "cn-agent", "-y")
    assert r.exit_code == 1
    assert "Update error: 2 steps failed, the first: step " in r.err, r.err
    assert 'Run "sdcadm update --resume" to retry the 2 failed steps and continue.' in r.err
