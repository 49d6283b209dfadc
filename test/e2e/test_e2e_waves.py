"""End to end: `update --all` on the small datacenter runs independent services together,
one service at a time runs today's serial order, and a run killed while several steps are
in flight converges through `--resume`."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from e2e_runs import cli, end_state, events, kill, run_dirs, var_dir, wait_for_event

from sdcadm.plan import Plan, Step
from sdcadm.procedures import expand

SCALE = 0.01  # a 30 s reprovision takes 0.3 s: long enough for steps to overlap visibly


@pytest.fixture
def dc(sim_factory):
    sim = sim_factory("small", SCALE)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    return sim


def _t(ev: dict[str, Any]) -> float:
    return datetime.fromisoformat(ev["time"].replace("Z", "+00:00")).timestamp()


def spans(run_dir) -> dict[str, tuple[float, float]]:
    """Step id -> (intent, end) from the journal."""
    begun: dict[str, float] = {}
    out: dict[str, tuple[float, float]] = {}
    for ev in events(run_dir):
        if ev["event"] == "step-intent":
            begun[ev["step"]] = _t(ev)
        elif ev["event"] == "step-end" and ev["step"] in begun:
            out[ev["step"]] = (begun[ev["step"]], _t(ev))
    return out


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def plan_of(run_dir) -> dict[str, Any]:
    return json.loads((run_dir / "plan.json").read_text())


def test_update_all_runs_independent_services_together(dc) -> None:
    r = cli(dc, "update", "--all", "-y")
    assert r.returncode == 0, r.stderr
    run = run_dirs(dc)[-1]
    steps = [Step.from_json(s) for s in plan_of(run)["steps"]]
    took = spans(run)
    assert set(took) == {s.id for s in steps}
    wave = [s for s in steps if (s.parallel or "").startswith("wave:")]
    assert len({s.change for s in wave}) >= 2
    # steps of different services overlapped; steps of one service never did
    assert any(overlap(took[a.id], took[b.id]) for a in wave for b in wave
               if a.change != b.change)
    for a in wave:
        for b in wave:
            if a.id < b.id and a.change == b.change:
                assert not overlap(took[a.id], took[b.id]), (a.id, b.id)
    # the update machinery ran alone: nothing overlapped any of its steps
    core = [s for s in steps if s.change in ("ufds", "workflow", "moray", "sapi", "manatee",
                                             "imgapi")]
    assert core
    for c in core:
        assert not any(overlap(took[c.id], took[s.id]) for s in steps if s.id != c.id), c.id
    assert "schedule (4 services at a time, --service-concurrency):" in r.stdout
    assert cli(dc, "update", "--all", "-n").stdout.strip().endswith("Up-to-date.")


def test_one_service_at_a_time_runs_todays_serial_order(dc) -> None:
    r = cli(dc, "update", "--all", "-y", "--service-concurrency", "1")
    assert r.returncode == 0, r.stderr
    assert "schedule (" not in r.stdout
    run = run_dirs(dc)[-1]
    doc = plan_of(run)
    steps = [Step.from_json(s) for s in doc["steps"]]
    # the steps a plan without the option derives (every plan before it existed)
    legacy = Plan.from_json({**doc, "options": {k: v for k, v in doc["options"].items()
                                                if k != "service_concurrency"}})
    assert expand(legacy) == steps
    assert not any((s.parallel or "").startswith("wave:") for s in steps)
    # every step outside the downloads' and agents' own fan-outs ran alone, in plan order
    serial = [s for s in steps if not s.parallel]
    started = [e["step"] for e in events(run) if e["event"] == "step-intent"]
    assert [sid for sid in started if sid in {s.id for s in serial}] == [s.id for s in serial]
    took = spans(run)
    for a, b in zip(serial, serial[1:], strict=False):
        assert took[a.id][1] <= took[b.id][0], (a.id, b.id)


def test_killed_with_steps_in_flight_then_resume_converges(dc) -> None:
    proc = cli(dc, "update", "--all", "-y", wait=False)
    in_flight: set[str] = set()

    def two_running(ev: dict[str, Any]) -> bool:
        if ev.get("event") == "step-start" and ev["step"] not in in_flight:
            in_flight.add(ev["step"])
        elif ev.get("event") == "step-end":
            in_flight.discard(ev["step"])
        return len(in_flight) >= 2 and all("reprovision" in s or "wait-instance" in s
                                           for s in in_flight)

    # poll the journal until two service steps are in flight at once (events are re-read
    # from the start on each poll: rebuild the set each time)
    def predicate(ev: dict[str, Any]) -> bool:
        if ev.get("event") == "run-start":
            in_flight.clear()
        return two_running(ev)

    wait_for_event(dc, predicate, proc=proc)
    kill(proc)
    run = run_dirs(dc)[-1]
    before = events(run)
    assert not any(e["event"] == "run-end" for e in before)
    done = {e["step"] for e in before if e["event"] == "step-end" and e.get("outcome") == "done"}
    dc.clear_mutations()
    r = cli(dc, "update", "--resume")
    assert r.returncode == 0, r.stderr
    assert "Updated successfully" in r.stdout
    assert cli(dc, "update", "--all", "-n").stdout.strip().endswith("Up-to-date.")
    # a reprovision that had completed is never sent again; one in doubt at most once
    steps = plan_of(run)["steps"]
    repro = Counter(m["path"].split("?")[0] for m in dc.mutations()
                    if m["method"] == "POST" and "action=reprovision" in m["path"])
    for s in steps:
        if s["action"] == "reprovision" and s["id"] in done:
            assert repro[f"/vms/{s['params']['instance']}"] == 0, s["id"]
    assert all(n == 1 for n in repro.values()), repro
    assert end_state(dc)["vms"]
