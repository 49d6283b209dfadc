"""`sdcadm rehearse` against a simulated "live" datacenter: the prediction holds against the
real run, failures and resumes are reported, the live side only ever receives reads, and a
rehearsed plan is recognised by `update --plan`."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_runner import make_runner
from e2e_runs import events, run_dirs, var_dir

from sdcadm.rehearse.timeline import seconds

# The clock of the timing test: latencies dominate sdcadm's own time, so that the rehearsal
# and the real run can be compared within 15% on a busy machine.
TIMED_SCALE = 0.01


def _clean(handle: Any) -> None:
    """Rehearsals leave reports and local history entries in the live var dir: other tests
    share this simulator, so none may outlive the test that made it."""
    for sub in ("rehearsals", "history", "updates"):
        shutil.rmtree(var_dir(handle) / sub, ignore_errors=True)


@pytest.fixture
def live(sim: Any):
    _clean(sim)
    yield sim
    _clean(sim)


@pytest.fixture
def run(live: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> Callable:
    return make_runner(live, monkeypatch, capfd)


def _report(r: Any) -> dict[str, Any]:
    assert r.out.strip(), r.err
    return json.loads(r.out)


def _only_reads(report: dict[str, Any], handle: Any) -> None:
    live = report["live"]
    assert live["requests"] > 0 and live["writes"] == [] and set(live["by_method"]) == {"GET"}
    assert live["from_private_run"] == 0
    # The snapshot reads the HA roles over SSH: manatee's zk-state, binder's ZooKeeper stat.
    assert live["ssh_commands"] == 2
    assert report["last_line"] == (f"The live datacenter received only reads: "
                                   f"{live['requests']} requests, all GET, and 2 read-only "
                                   "SSH commands.")
    assert handle.mutations() == []


def test_rehearse_all_predicts_the_real_run(sim_factory, monkeypatch, capfd):
    handle = sim_factory("small", TIMED_SCALE)
    handle.reset()
    _clean(handle)
    run = make_runner(handle, monkeypatch, capfd)
    try:
        r = run("rehearse", "--all", "--speed", str(round(1 / TIMED_SCALE)), "-j")
        assert r.exit_code == 0, r.err
        report = _report(r)
        _only_reads(report, handle)
        assert report["status"] == "ok" and report["failures"] == []
        assert report["quorum_losses"] == [] and report["fidelity"]["same"]
        waves = [w["wave"] for w in report["predicted"]["waves"]]
        assert waves[0] == "download" and "moray" in waves and waves[-1] == "verify"
        # At real latencies: 16 reprovisions of 30.5 s (the five services outside the update
        # machinery four at a time, the rest one after another), imports and agents:
        # between 8 and 13 minutes.
        assert 480 < report["predicted"]["total_s"] < 780, report["predicted"]
        # The services outside the update machinery run together: one wave, and the waves
        # follow one another to the total.
        together = [w for w in report["predicted"]["waves"] if len(w["changes"]) > 1]
        assert [set(w["changes"]) for w in together] == [
            {"cns", "docker", "sdc", "cloudapi", "cmon"}]
        assert sum(w["predicted_s"] for w in report["predicted"]["waves"]) == pytest.approx(
            report["predicted"]["total_s"], abs=0.1)
        services = {s["service"]: s for s in report["services"]}
        assert (services["moray"]["instances"], services["moray"]["most_down"]) == (3, 1)
        # Each service with one instance is down for one reprovision (30.5 s) and the wait
        # for it, whether it ran alone or beside others.
        single = {name: s["longest_below_usual_s"] for name, s in services.items()
                  if s["instances"] == 1}
        assert {"cloudapi", "cns", "sapi", "imgapi"} <= set(single)
        assert all(30.4 <= t < 33 for t in single.values()), single

        history = json.loads(run("history", "-j").out)
        mine = [e for e in history if e.get("command") == "rehearse"]
        assert [e["rehearsal"]["key"] for e in mine] == [report["key"]]

        handle.reset()
        real = run("update", "--all", "-y")
        assert real.exit_code == 0, real.err
        evs = events(run_dirs(handle)[-1])
        took = seconds(evs[-1]["time"]) - seconds(evs[0]["time"])
        rehearsed = report["rehearsal"]["elapsed_s"]
        assert abs(rehearsed - took) <= 0.15 * took, (rehearsed, took)
    finally:
        _clean(handle)


def test_a_reprovision_fault_is_reported_with_the_resume_that_fixed_it(run, live):
    r = run("rehearse", "cns", "docker", "--faults", "reprovision:cns0", "-j")
    assert r.exit_code == 0, r.err
    report = _report(r)
    _only_reads(report, live)
    assert [(f["summary"].split(" (")[0], f["fault"], f["done_after_resume"])
            for f in report["failures"]] == [("reprovision cns0", "reprovision:cns0", True)]
    assert "rehearsal fault reprovision:cns0" in report["failures"][0]["error"]
    assert report["resume"] == {"attempts": 1, "converged": True, "error": None}
    assert report["status"] == "ok"


def test_a_fault_that_never_fires_is_said_in_one_line(run, live):
    spec = Path(__file__).resolve().parents[2] / "procedures" / "all-but-data-path.yaml"
    r = run("rehearse", "-f", str(spec), "--faults", "reboot-hang:cn03")
    assert r.exit_code == 0, r.err
    out = r.out.splitlines()
    assert "Fault reboot-hang:cn03 never fired: the plan reboots no server." in out
    assert out[-1].startswith("The live datacenter received only reads: ")
    assert live.mutations() == []


def test_a_fault_that_stays_fails_the_rehearsal_after_the_report(run, live):
    r = run("rehearse", "cns", "--faults", "reprovision:cns0:always")
    assert r.exit_code == 1
    out = r.out.splitlines()
    assert "Failed steps: 1" in out and "        fault: reprovision:cns0:always" in out
    assert any(ln.startswith("update --resume did not converge after 3 attempt(s): ")
               for ln in out)
    assert out[-1].startswith("The live datacenter received only reads: ")
    assert r.err.startswith("sdcadm rehearse: error (RehearsalFailed): the rehearsed update "
                            "did not complete cleanly: 1 step(s) failed, first: "
                            "reprovision cns0 (reprovision:cns0:always)")
    assert len(r.err.splitlines()) == 1
    assert live.mutations() == []


def test_update_plan_of_a_rehearsed_plan_says_how_the_rehearsal_went(run, live, tmp_path):
    plan = tmp_path / "plan.json"
    other = tmp_path / "other.json"
    assert run("update", "cns", "--plan-out", str(plan)).exit_code == 0
    assert run("update", "docker", "--plan-out", str(other)).exit_code == 0
    assert "Rehearsed" not in run("update", "--plan", str(plan), "-n").err

    r = run("rehearse", "--plan", str(plan))
    assert r.exit_code == 0, r.err
    assert r.out.startswith("Rehearsal of `sdcadm update --plan ")
    dry = run("update", "--plan", str(plan), "-n")
    assert dry.exit_code == 0, dry.err
    said = [ln for ln in dry.err.splitlines() if ln.startswith("Rehearsed ")]
    assert len(said) == 1 and re.fullmatch(
        r"Rehearsed \d{4}-\d\d-\d\d \d\d:\d\d UTC \(sdcadm rehearse\): succeeded, "
        r"predicted (\d+m )?\d+s, no quorum loss\.", said[0]), said
    assert "Rehearsed" not in run("update", "--plan", str(other), "-n").err
    # The same update planned again from the same datacenter is the rehearsed plan too.
    again = tmp_path / "again.json"
    assert run("update", "cns", "--plan-out", str(again)).exit_code == 0
    assert "Rehearsed " in run("update", "--plan", str(again), "-n").err
    assert live.mutations() == []


def test_durations_of_past_runs_in_history_feed_the_prediction(run, live):
    assert run("update", "cns", "-y").exit_code == 0
    live.clear_mutations()
    r = run("rehearse", "docker", "-j")
    assert r.exit_code == 0, r.err
    report = _report(r)
    assert report["predicted"]["basis"]["reprovision"]["source"] == "history"
    assert report["predicted"]["basis"]["reprovision"]["samples"] == 1
    # A reprovision of the live datacenter takes 30 ms (its clock is 0.001): so does the
    # predicted one, instead of the simulator's default 30.5 s.
    assert report["predicted"]["total_s"] < 5
    _only_reads(report, live)


def _dead_config(tmp_path: Path, live: Any) -> Path:
    conf = json.loads(Path(live.config_path).read_text())
    dead = "http://127.0.0.1:9"
    for key in ("sapi", "imgapi", "vmapi", "cnapi", "wfapi"):
        conf[key] = {"url": dead}
    conf.update(updatesServerUrl=dead, retries=0)
    path = tmp_path / "dead.conf"
    path.write_text(json.dumps(conf))
    return path


@pytest.mark.parametrize("case", ["unreachable", "plan fails", "simulator fails", "usage"])
def test_bad_input_and_faults_are_one_line_and_write_nothing(
        case: str, run: Callable, live: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env: dict[str, str] = {}
    args = ["rehearse", "--all"]
    if case == "unreachable":
        env["SDCADM_CONFIG"] = str(_dead_config(tmp_path, live))
        want, status = "sdcadm rehearse: error (SDCClient): ", 1
    elif case == "plan fails":
        args = ["rehearse", "nosuchservice"]
        want, status = "sdcadm rehearse: error (Update): unknown SDC instance or service ", 2
    elif case == "simulator fails":
        from sdcadm.rehearse import private

        monkeypatch.setattr(private, "SIM_COMMAND", [
            sys.executable, "-c", "import sys; print('sdcadm-sim up: error: boom'); sys.exit(3)"])
        want, status = ("sdcadm rehearse: error (Simulator): the private simulator exited "
                        "with status 3: sdcadm-sim up: error: boom"), 1
    else:
        args = ["rehearse", "--all", "-n"]
        want, status = "sdcadm rehearse: error (Usage): -n is not an option of rehearse", 2
    r = run(*args, env=env)
    assert r.exit_code == status, r.err
    assert r.out == "" and len(r.err.splitlines()) == 1 and r.err.startswith(want), r.err
    assert live.mutations() == []
    assert not (var_dir(live) / "rehearsals").exists()
    assert not (var_dir(live) / "history").exists()


def test_sdcadm_never_imports_the_simulator():
    code = ("import sys\n"
            "from sdcadm.cli.main import run\n"
            "run(['rehearse', '--help'])\n"
            "import sdcadm.rehearse.run, sdcadm.rehearse.record, sdcadm.rehearse.report\n"
            "import sdcadm.cli.update\n"
            "print([m for m in sys.modules if m.startswith('sdcadm.sim')])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_copy_that_cannot_hold_everything_runs_the_plan_and_says_what_differs(run, live):
    import requests

    # A disabled local image: a scenario only has active ones.
    old = "de32c862-f617-5253-909d-268198c2068e"  # minimal-64-lts 21.4.0, an origin
    r = requests.post(f"{live.urls['imgapi']}/images/{old}", params={"action": "disable"},
                      timeout=10)
    assert r.status_code == 200, r.text
    live.clear_mutations()
    r = run("rehearse", "cns", "-j")
    assert r.exit_code == 0, r.err
    report = _report(r)
    assert report["fidelity"]["same"] is False
    assert any(old in line for line in report["fidelity"]["differences"])
    assert report["status"] == "ok" and report["rehearsal"]["steps_run"] > 0
    _only_reads(report, live)
