"""Transient failures of mutations: re-checked and retried in the same run, journalled, and
never a second effect when only the answer was lost."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import requests
from e2e_runs import cli, end_state, events, run_dirs, var_dir


def _fresh(sim_factory):
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    return sim


def _install_posts(sim, server: str) -> list:
    return [m for m in sim.mutations() if m["service"] == "cnapi"
            and m["path"] == f"/servers/{server}/install-agent"]


def test_a_lost_answer_to_an_agent_install_starts_no_second_task(sim_factory) -> None:
    sim = _fresh(sim_factory)
    cn01 = next(s for s in requests.get(sim.urls["cnapi"] + "/servers", timeout=10).json()
                if s["hostname"] == "cn01")
    sim.add_fault({"type": "drop", "after": True, "service": "cnapi", "method": "POST",
                   "path": f"/servers/{cn01['uuid']}/install-agent", "count": 1})
    r = cli(sim, "update", "cn01/vm-agent", "-y")
    assert r.returncode == 0, r.stderr
    assert "hit a transient error (cnapi client error (ConnectionError): connection closed " \
           "without a response" in r.stderr
    assert len(_install_posts(sim, cn01["uuid"])) == 1  # the task the lost answer started
    retries = [e for e in events(run_dirs(sim)[-1]) if e["event"] == "step-retry"]
    assert len(retries) == 1 and retries[0]["error"]["code"] == "SDCClient"
    ends = [e for e in events(run_dirs(sim)[-1]) if e["event"] == "step-end"
            and ":install-agent:" in e["step"]]
    assert [e["outcome"] for e in ends] == ["verified"]


def test_a_resume_after_a_lost_answer_starts_no_second_task(sim_factory) -> None:
    sim = _fresh(sim_factory)
    cfg = Path(sim.config_path)
    doc = json.loads(cfg.read_text())
    no_retry = cfg.with_name("no-retry.conf")
    no_retry.write_text(json.dumps({**doc, "mutationRetries": 0}))
    cn01 = next(s for s in requests.get(sim.urls["cnapi"] + "/servers", timeout=10).json()
                if s["hostname"] == "cn01")
    sim.add_fault({"type": "drop", "after": True, "service": "cnapi", "method": "POST",
                   "path": f"/servers/{cn01['uuid']}/install-agent", "count": 1})
    r = cli(sim, "--config", str(no_retry), "update", "cn01/vm-agent", "-y")
    assert r.returncode == 1
    again = cli(sim, "--config", str(no_retry), "update", "--resume", "-y")
    assert again.returncode == 0, again.stderr
    assert len(_install_posts(sim, cn01["uuid"])) == 1


def test_ten_percent_of_mutations_failing_converges_in_one_run(sim_factory) -> None:
    sim = _fresh(sim_factory)
    cfg = Path(sim.config_path)
    patient = cfg.with_name("patient.conf")
    patient.write_text(json.dumps({**json.loads(cfg.read_text()), "mutationRetries": 8}))
    for method in ("POST", "PUT"):
        sim.add_fault({"type": "error", "service": ["sapi", "imgapi", "vmapi", "cnapi"],
                       "method": method, "status": 503, "rate": 0.1,
                       "path": "^/(?!history)"})  # history has its own fallback
    r = cli(sim, "--config", str(patient), "update", "--all", "-y", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    fired = sum(f.get("fired", 0) for f in sim.faults())
    assert fired > 0  # the faults did fire: the run got through them
    sim.clear_faults()
    assert cli(sim, "update", "--all", "-n").stdout.strip().endswith("Up-to-date.")
    assert end_state(sim)["services"]
