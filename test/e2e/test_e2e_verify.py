"""Every real update ends by verifying what it touched and the APIs; `update --verify` alone
checks the whole datacenter."""
from __future__ import annotations

import json
import shutil

import requests
from e2e_runs import cli, run_dirs, var_dir


def _fresh(sim_factory):
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    return sim


def test_an_update_ends_with_verify_and_history_keeps_its_result(sim_factory) -> None:
    sim = _fresh(sim_factory)
    r = cli(sim, "update", "workflow", "-y")
    assert r.returncode == 0, r.stderr
    assert "Verifying workflow\nVerified 1 of 1 instances healthy\n" \
           "API smoke test: 4 of 4 answered\n" in r.stderr
    plan = json.loads((run_dirs(sim)[-1] / "plan.json").read_text())
    assert plan["steps"][-1]["action"] == "verify"
    assert plan["steps"][-1]["params"] == {"services": ["workflow"], "servers": []}
    hist = json.loads(cli(sim, "history", "-j").stdout)
    assert hist[0]["steps"][-1]["action"] == "verify"
    assert hist[0]["steps"][-1]["status"] == "done"


def test_a_failed_verification_fails_the_run_and_resume_verifies_again(sim_factory) -> None:
    sim = _fresh(sim_factory)
    fault = sim.add_fault({"type": "error", "service": "vmapi", "method": "GET",
                           "path": r"^/vms\?(.*&)?limit=1(&|$)", "status": 503})
    r = cli(sim, "update", "workflow", "-y")
    assert r.returncode == 1
    assert "sdcadm update: error (StepFailed): verification failed: list VMs (vmapi) " \
           "failed: vmapi client error (ServiceUnavailableError): injected fault" in r.stderr
    wf = requests.get(sim.urls["vmapi"] + "/vms", params={"alias": "workflow0"},
                      timeout=10).json()[0]
    assert wf["image_uuid"] != json.loads((run_dirs(sim)[-1] / "plan.json").read_text())[
        "changes"][0]["insts"][0]["image"]  # the update itself is done
    sim.remove_fault(fault)
    again = cli(sim, "update", "--resume", "-y")
    assert again.returncode == 0, again.stderr
    assert "API smoke test: 4 of 4 answered" in again.stderr


def test_no_verify_leaves_the_step_out(sim_factory) -> None:
    sim = _fresh(sim_factory)
    r = cli(sim, "update", "workflow", "--no-verify", "-j")
    assert r.returncode == 0, r.stderr
    assert [s["action"] for s in json.loads(r.stdout)["steps"]][-1] == "wait-instance"
    dry = cli(sim, "update", "workflow", "-n")
    assert "then verify the health of workflow, and the APIs (list images, list VMs, a SAPI " \
           "read, a workflow ping)" in " ".join(dry.stdout.split())


def test_verify_alone_checks_the_datacenter_and_changes_nothing(sim_factory) -> None:
    sim = _fresh(sim_factory)
    ok = cli(sim, "update", "--verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Verified 83 of 83 instances healthy\n")
    (vm,) = requests.get(sim.urls["vmapi"] + "/vms", params={"alias": "cnapi0"},
                         timeout=10).json()
    sim.add_fault({"type": "unhealthy", "target": vm["uuid"]})
    bad = cli(sim, "update", "--verify")
    assert bad.returncode == 1
    assert "    cnapi cnapi0 on headnode: SMF svcs check failed" in bad.stdout
    assert bad.stderr.splitlines()[-1] == (
        "sdcadm update: error (Unhealthy): verification failed: 1 unhealthy instance: cnapi "
        "cnapi0 on headnode")
    assert sim.mutations() == []
