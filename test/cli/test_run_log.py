"""Every mutating run writes a bunyan log under logDir, named on stderr and in its history
entry: its steps, its API requests, never a secret; a logDir it cannot write never stops it."""
from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

PASSWORD = "hunter2-in-metadata-for-the-log"
PEM_BODY = "MHcCAQEEIPem-body-for-the-log"
PEM = f"-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}\n-----END EC PRIVATE KEY-----\n"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BUNYAN = ("name", "hostname", "pid", "level", "msg", "time", "v", "req_id")


def conf(sim: Any) -> dict[str, Any]:
    return json.loads(Path(sim.config_path).read_text())


@pytest.fixture
def clean(sim: Any) -> Any:
    c = conf(sim)
    for key in ("varDir", "logDir"):
        shutil.rmtree(c[key], ignore_errors=True)
    return sim


def named_logs(err: str) -> list[Path]:
    return [Path(line[len("Log: "):]) for line in err.splitlines() if line.startswith("Log: ")]


def read_log(path: Path) -> list[dict[str, Any]]:
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    for rec in recs:
        assert all(k in rec for k in BUNYAN), rec
        assert (rec["name"], rec["v"]) == ("sdcadm", 0) and rec["level"] in (20, 30, 40, 50)
        assert ISO_MS.match(rec["time"]), rec
    return recs


def history(sim: Any, uuid: str) -> dict[str, Any]:
    return requests.get(f"{sim.urls['sapi']}/history/{uuid}", timeout=10).json()


def test_an_update_logs_its_steps_and_requests_and_no_secret(sdcadm, clean) -> None:
    sim = clean
    [svc] = requests.get(f"{sim.urls['sapi']}/services", params={"name": "workflow"},
                         timeout=10).json()
    r = requests.put(f"{sim.urls['sapi']}/services/{svc['uuid']}", timeout=10, json={
        "action": "update", "metadata": {"WORKFLOW_ADMIN_PASSWORD": PASSWORD,
                                         "signing_material": PEM}})
    assert r.status_code == 200, r.text

    r = sdcadm("update", "workflow", "-y", "--no-verify")

    assert r.exit_code == 0, r.err
    [path, again] = named_logs(r.err)
    assert again == path and path.parent == Path(conf(sim)["logDir"])
    assert re.fullmatch(r"\d{13}-\d+-update\.log", path.name)
    lines = r.err.splitlines()
    assert lines[-1] == f"Log: {path}"
    assert lines.index(f"Log: {path}") < next(
        n for n, ln in enumerate(lines) if ln.startswith("Create work dir: "))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    [work] = (Path(conf(sim)["varDir"]) / "updates").iterdir()
    plan = json.loads((work / "plan.json").read_text())
    recs = read_log(path)
    assert {rec["req_id"] for rec in recs} == {plan["run_uuid"]}
    ends = {rec["step"]: rec for rec in recs if rec.get("event") == "step-end"}
    assert set(ends) == {s["id"] for s in plan["steps"]}
    for step in plan["steps"]:
        end = ends[step["id"]]
        assert (end["action"], end["target"], end["outcome"]) == (
            step["action"], step["target"], "done")
        assert isinstance(end["duration"], int)
    calls = [rec for rec in recs if "method" in rec]
    reprovision = [c for c in calls if c["method"] == "POST" and c["client"] == "vmapi"]
    assert reprovision and all(c["status"] == 202 or c["status"] == 200 for c in reprovision)
    assert all(isinstance(c["latency"], int) and c["path"].startswith("/") for c in calls)
    # the plan's reads, made before the run started, are there too
    assert any(c["client"] == "updates" and c["method"] == "GET" for c in calls)
    text = path.read_text()
    assert PASSWORD not in text and PEM_BODY not in text
    assert history(sim, plan["run_uuid"])["logFile"] == str(path)


def test_a_failed_run_logs_the_error_and_a_resume_logs_itself(sdcadm, clean) -> None:
    sim = clean
    plan = json.loads(sdcadm("update", "cloudapi", "-j").out)
    step = next(s for s in plan["steps"] if s["action"] == "reprovision")
    sim.add_fault({"type": "fail-job", "target": step["params"]["instance"],
                   "action": "reprovision", "count": 1})
    r = sdcadm("update", "cloudapi", "-y", "--no-verify")
    assert r.exit_code == 1
    [path, _] = named_logs(r.err)
    lines = r.err.splitlines()
    assert lines[-2] == f"Log: {path}" and lines[-1].startswith("sdcadm update: error (")
    recs = read_log(path)
    [failed] = [rec for rec in recs if rec.get("outcome") == "failed"]
    assert (failed["level"], failed["step"]) == (50, step["id"])
    assert any(rec.get("err", {}).get("code") == "StepFailed" for rec in recs)
    run_uuid = recs[0]["req_id"]

    r = sdcadm("update", "--resume")
    assert r.exit_code == 0, r.err
    [resumed, _] = named_logs(r.err)
    assert resumed != path and resumed.name.endswith("-update-resume.log")
    started = next(rec for rec in read_log(resumed) if rec["msg"] == "update --resume started")
    assert started["run_uuid"] == run_uuid and started["req_id"] != run_uuid
    assert history(sim, run_uuid)["logFile"] == str(resumed)


def test_channel_set_is_logged_with_its_request(sdcadm, clean) -> None:
    r = sdcadm("channel", "set", "staging")
    assert r.exit_code == 0, r.err
    [path, _] = named_logs(r.err)
    assert path.name.endswith("-channel-set.log")
    recs = read_log(path)
    assert [rec["msg"] for rec in recs].count("channel set started") == 1
    assert any(rec.get("method") == "PUT" and rec.get("client") == "sapi" and
               rec["path"].startswith("/applications/") for rec in recs)
    assert history(clean, recs[0]["req_id"])["logFile"] == str(path)


def test_an_unwritable_log_dir_warns_once_and_the_update_goes_on(sdcadm, clean, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    c = conf(clean)
    c["logDir"] = str(blocker / "logs")
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(c))

    r = sdcadm("update", "cn-agent", "-y", "--no-verify", env={"SDCADM_CONFIG": str(path)})

    assert r.exit_code == 0, r.err
    assert "Updated successfully" in r.out
    assert named_logs(r.err) == []
    warned = [ln for ln in r.err.splitlines() if "run log" in ln]
    assert warned == [f"sdcadm: warning: cannot write a run log in {blocker}/logs: Not a "
                      "directory; the run goes on without one"]
    [work] = (Path(c["varDir"]) / "updates").iterdir()
    run_uuid = json.loads((work / "plan.json").read_text())["run_uuid"]
    assert "logFile" not in history(clean, run_uuid)


def test_a_read_only_command_writes_no_log(sdcadm, clean) -> None:
    for args in (("instances",), ("update", "cn-agent", "-n"), ("history",)):
        r = sdcadm(*args)
        assert r.exit_code == 0, r.err
        assert named_logs(r.err) == []
    assert not Path(conf(clean)["logDir"]).exists()
