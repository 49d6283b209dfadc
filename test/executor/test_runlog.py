"""The run log alone: bunyan records, what it keeps before the run, a logDir it cannot
write, journal events with their durations."""
from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sdcadm import observers
from sdcadm.executor.journal import Journal
from sdcadm.executor.runlog import RunLog, slug

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret-body\n-----END RSA PRIVATE KEY-----"


@pytest.fixture
def said() -> list[str]:
    return []


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_are_bunyan_and_the_run_keeps_what_came_before(tmp_path: Path,
                                                               said: list[str]) -> None:
    log = RunLog("req-1")
    heard = observers.listener("req-1")
    assert heard is not None
    heard({"client": "sapi", "method": "GET", "path": "/services", "status": 200,
           "latency": 12})
    log.output("Finding candidate update images for the \"vmapi\" service.")
    config = SimpleNamespace(log_dir=tmp_path / "logs" / "sdcadm", source="/etc/x.conf")
    path = log.begin(config, "update", say=said.append, warn=said.append, run_uuid="run-9")
    assert path is not None and path.parent == tmp_path / "logs" / "sdcadm"
    assert re.fullmatch(r"\d{13}-\d+-update\.log", path.name)
    heard({"client": "cnapi", "method": "POST", "path": "/servers/s1/install-agent",
           "status": None, "latency": 30001})
    log.output(f"key: {PEM}")
    log.end(said.append)
    heard({"client": "sapi", "method": "GET", "path": "/after", "status": 200, "latency": 1})
    log.close()
    assert said == [f"Log: {path}", f"Log: {path}"]
    recs = records(path)
    for rec in recs:
        assert {k: rec[k] for k in ("name", "pid", "v", "req_id")} == {
            "name": "sdcadm", "pid": rec["pid"], "v": 0, "req_id": "req-1"}
        assert isinstance(rec["hostname"], str) and rec["level"] in (20, 30, 40, 50)
        assert ISO_MS.match(rec["time"]) and isinstance(rec["msg"], str)
    assert [r["msg"] for r in recs] == [
        "sapi GET /services 200 12ms",
        'Finding candidate update images for the "vmapi" service.',
        "update started", "cnapi POST /servers/s1/install-agent ERR 30001ms",
        "[REDACTED]", "ended"]
    assert recs[2]["run_uuid"] == "run-9" and recs[2]["config"] == "/etc/x.conf"
    assert (recs[3]["level"], recs[3]["status"], recs[3]["latency"]) == (40, None, 30001)
    assert "secret-body" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert observers.listener("req-1") is None


def test_journal_events_carry_their_step_and_its_duration(tmp_path: Path,
                                                         said: list[str]) -> None:
    log = RunLog("req-2")
    path = log.begin(SimpleNamespace(log_dir=tmp_path), "reboot-plan run", say=said.append,
                     warn=said.append)
    assert path is not None and path.name.endswith("-reboot-plan-run.log")
    journal = Journal.create(tmp_path / "updates")
    journal.observers.append(log.event)
    journal.append("step-intent", step="2:reboot-server:s1", action="reboot-server",
                   target="s1", summary="reboot cn01 (s1)")
    journal.append("step-note", step="2:reboot-server:s1", facts={"password": "hunter2"})
    journal.append("step-end", step="2:reboot-server:s1", outcome="failed",
                   error={"code": "StepFailed", "message": "did not come back"})
    journal.append("run-end", status="paused", elapsed=3)
    journal.close()
    log.close()
    recs = [r for r in records(path) if "event" in r]
    assert [(r["msg"], r["level"]) for r in recs] == [
        ("step-intent 2:reboot-server:s1", 30), ("step-note 2:reboot-server:s1", 30),
        ("step-end 2:reboot-server:s1 failed", 50), ("run-end paused", 40)]
    end = recs[2]
    assert (end["action"], end["target"], end["outcome"]) == ("reboot-server", "s1", "failed")
    assert isinstance(end["duration"], int) and end["duration"] >= 0
    assert end["error"]["message"] == "did not come back"
    assert "hunter2" not in path.read_text()


def test_an_unwritable_log_dir_is_said_once_and_nothing_else_changes(tmp_path: Path,
                                                                   said: list[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    log = RunLog("req-3")
    config = SimpleNamespace(log_dir=blocker / "logs")
    assert log.begin(config, "update", say=said.append, warn=said.append) is None
    log.output("Create work dir: /var/sdcadm/updates/x")
    log.end(said.append)
    assert log.begin(config, "update", say=said.append, warn=said.append) is None
    log.close()
    assert len(said) == 1
    assert said[0].startswith(f"sdcadm: warning: cannot write a run log in {blocker}/logs: ")
    assert said[0].endswith("; the run goes on without one")


def test_a_run_within_a_run_keeps_the_outer_log(tmp_path: Path, said: list[str]) -> None:
    log = RunLog("req-4")
    config = SimpleNamespace(log_dir=tmp_path)
    outer = log.begin(config, "update", say=said.append, warn=said.append)
    assert log.begin(config, "platform install", say=said.append, warn=said.append) == outer
    log.end(said.append)
    log.output("still the outer run")
    log.end(said.append)
    log.close()
    assert said == [f"Log: {outer}", f"Log: {outer}"]
    assert "still the outer run" in outer.read_text()  # type: ignore[union-attr]
    assert list(tmp_path.iterdir()) == [outer]


def test_a_config_without_a_log_dir_logs_nothing(said: list[str]) -> None:
    log = RunLog("req-5")
    assert log.begin(SimpleNamespace(), "update", say=said.append, warn=said.append) is None
    log.end(said.append)
    log.close()
    assert said == []


@pytest.mark.parametrize("command, name", [
    ("update", "update"), ("reboot-plan run", "reboot-plan-run"),
    ("update --resume", "update-resume"), ("channel set", "channel-set"),
    ("platform install", "platform-install"), ("../x", "x"), ("", "run"),
])
def test_slug(command: str, name: str) -> None:
    assert slug(command) == name
