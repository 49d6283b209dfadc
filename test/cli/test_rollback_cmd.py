"""`sdcadm rollback` against the simulator."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests


@pytest.fixture
def clean_var(sim):
    var = Path(json.loads(Path(sim.config_path).read_text())["varDir"])
    shutil.rmtree(var, ignore_errors=True)
    return var


def _service_image(sim, name):
    svc = requests.get(sim.urls["sapi"] + "/services", params={"name": name},
                       headers={"Accept-Version": "~2"}, timeout=10).json()[0]
    return svc["params"].get("image_uuid")


def _vm_images(sim, role):
    vms = requests.get(sim.urls["vmapi"] + "/vms", params={"tag.smartdc_role": role,
                                                          "state": "active"}, timeout=10).json()
    return sorted((v["uuid"], v["image_uuid"]) for v in vms)


@pytest.mark.parametrize("args, message", [
    (("--force",), "File including update plan to rollback must be specified"),
    (("-f", "plan.json"), 'Migrations and version dependencies not implemented. Use "--force" '
                          'to rollback (warning: you know what you are doing w.r.t. migrations).'),
])
def test_required_options(sdcadm, sim, args, message):
    r = sdcadm("rollback", *args)
    assert (r.exit_code, r.err.strip()) == (2, f"sdcadm rollback: error (Usage): {message}")
    assert sim.mutations() == []


def test_latest_with_no_finished_update(sdcadm, sim, clean_var):
    r = sdcadm("rollback", "--latest", "--force", "-y")
    assert r.exit_code == 2 and "no finished update to roll back" in r.err


def test_rollback_latest_puts_the_old_images_back(sdcadm, sim, clean_var):
    before_svc, before_vms = _service_image(sim, "cns"), _vm_images(sim, "cns")
    r = sdcadm("update", "cns", "-y")
    assert r.exit_code == 0, r.err
    assert _service_image(sim, "cns") != before_svc
    sim.clear_mutations()
    dry = sdcadm("rollback", "--latest", "--force", "-n")
    assert dry.exit_code == 0, dry.err
    assert dry.out.startswith("\nThis rollback will make the following changes:\n")
    assert '    rollback "cns" service' in dry.out
    # the block is closed by a blank line and the summary, as update's is
    assert dry.out.endswith("\n\nrollback 1 service; 0 reboots.\nDry run: nothing was changed.\n")
    assert [m for m in sim.mutations() if m["method"] != "GET"] == []
    r = sdcadm("rollback", "--latest", "--force", "-y")
    assert r.exit_code == 0, r.err
    assert r.out.strip().splitlines()[-1].startswith("Rolledback successfully (elapsed ")
    assert f"Create work dir: {clean_var / 'rollbacks'}" in r.err
    assert _service_image(sim, "cns") == before_svc
    assert _vm_images(sim, "cns") == before_vms


def test_rollback_leaves_instances_the_update_did_not_move(sdcadm, sim, clean_var):
    # In the small scenario moray1 already runs moray's latest image; moray0 and moray2 not.
    before_svc, before_vms = _service_image(sim, "moray"), _vm_images(sim, "moray")
    assert len({img for _, img in before_vms}) == 2
    r = sdcadm("update", "moray", "-y")
    assert r.exit_code == 0, r.err
    dry = sdcadm("rollback", "--latest", "--force", "-n")
    assert "2 instances forced downgrade from image" in dry.out, dry.out
    assert "1 instance left at newer image" in dry.out, dry.out
    r = sdcadm("rollback", "--latest", "--force", "-y")
    assert r.exit_code == 0, r.err
    assert _service_image(sim, "moray") == before_svc
    assert _vm_images(sim, "moray") == before_vms


def test_latest_refuses_to_skip_a_newer_update_that_stopped_half_way(sdcadm, sim, clean_var):
    assert sdcadm("update", "cns", "-y").exit_code == 0
    cns_after = _vm_images(sim, "cns")
    plan = json.loads(sdcadm("update", "moray", "-j").out)
    last = [s for s in plan["steps"] if s["action"] == "reprovision"][-1]
    sim.add_fault({"type": "fail-job", "target": last["params"]["instance"],
                   "action": "reprovision"})
    assert sdcadm("update", "moray", "-y").exit_code != 0
    sim.clear_faults()
    sim.clear_mutations()
    r = sdcadm("rollback", "--latest", "--force", "-y")
    assert r.exit_code == 2
    failed = max((clean_var / "updates").iterdir())
    assert r.err.strip() == (
        f"sdcadm rollback: error (Usage): the latest update, in {failed}, has not finished "
        f'(it is running, or it stopped): finish it with "sdcadm update --resume", or roll '
        f'it back with "sdcadm rollback -f {failed / "plan.json"} --force"')
    assert sim.mutations() == [] and _vm_images(sim, "cns") == cns_after


def test_rolling_back_the_same_update_twice_has_nothing_to_do(sdcadm, sim, clean_var):
    # moray1 was already on the target image; the second rollback used to offer a
    # "rollback moray ... 0 instances" block for it and ask to go ahead.
    assert sdcadm("update", "moray", "-y").exit_code == 0
    assert sdcadm("rollback", "--latest", "--force", "-y").exit_code == 0
    after = _vm_images(sim, "moray")
    sim.clear_mutations()
    r = sdcadm("rollback", "--latest", "--force", "-y")
    assert (r.exit_code, r.out) == (0, "Nothing to rollback\n"), r.out + r.err
    assert sim.mutations() == []
    assert _vm_images(sim, "moray") == after


def test_an_agent_rollback_is_recorded_as_a_rollback(sdcadm, sim, clean_var):
    assert sdcadm("update", "cn-agent", "-y").exit_code == 0
    assert sdcadm("rollback", "--latest", "--force", "-y").exit_code == 0
    r = sdcadm("history", "-H", "-o", "changes")
    assert r.out.splitlines()[0] == "rollback-agent(cn-agent)", r.out


def test_rollback_from_a_plan_file_with_nothing_to_do(sdcadm, sim, clean_var, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"v": 2, "changes": []}))
    r = sdcadm("rollback", "-f", str(plan), "--force", "-y")
    assert (r.exit_code, r.out.strip()) == (0, "Nothing to rollback")


def test_rollback_without_a_terminal_needs_yes(sdcadm, sim, clean_var):
    assert sdcadm("update", "cns", "-y").exit_code == 0
    sim.clear_mutations()
    r = sdcadm("rollback", "--latest", "--force")
    assert r.exit_code == 2 and "-y" in r.err
    assert [m for m in sim.mutations() if m["method"] != "GET"] == []


@pytest.mark.parametrize("change", [
    "update-service",
    {"type": "update-service", "service": "cns"},
    {"type": "update-service", "service": {"name": "cns"}, "insts": [1]},
    {"type": "update-service", "service": {"name": "cns"}, "image": "abc"},
])
def test_a_malformed_plan_file_is_one_error_line(sdcadm, sim, tmp_path, change):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"changes": [change]}))
    r = sdcadm("rollback", "-f", str(plan), "--force", "-y")
    assert r.exit_code == 2
    assert r.err == (f"sdcadm rollback: error (Usage): update plan {plan} has an invalid "
                     f"change: {json.dumps(change, separators=(',', ':'))}\n")
    assert sim.mutations() == []


def test_dry_run_of_an_ha_rollback_sends_nothing_then_the_real_one_reads_roles(
        sdcadm, sim, clean_var):
    assert sdcadm("update", "manatee", "-y").exit_code == 0
    sim.clear_mutations()
    # The simulator leaves read-only scripts out of its mutation log: count them with a fault
    # that watches (and refuses) every CommandExecute.
    watch = sim.add_fault({"type": "error", "service": "cnapi", "method": "POST",
                           "path": "/execute", "status": 500})
    r = sdcadm("rollback", "--latest", "--force", "-n")
    assert r.exit_code == 0, r.err
    assert 'rollback "manatee" service' in r.out
    assert r.out.rstrip().endswith("Dry run: nothing was changed.")
    # Not even the CommandExecute POST that reads the shard roles.
    assert [f.get("fired", 0) for f in sim.faults()] == [0]
    assert sim.mutations() == []
    sim.remove_fault(watch)
    r = sdcadm("rollback", "--latest", "--force", "-y")
    assert r.exit_code == 0, r.err
    assert "(primary)" in r.out  # the real rollback orders manatee by role
