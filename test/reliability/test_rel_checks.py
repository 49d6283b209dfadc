"""The "data lost" checks themselves: each one flags what it is there to find, so a case
that passes is one where nothing was lost, not one the checks could not see."""
from __future__ import annotations

import json

import pytest
from rel_harness import event_order, image_problems, journal_problems, target_state

BEFORE = {"services": {"vmapi": "old"}, "vms": {"vm1": "old"},
          "agents": {("s1", "vm-agent"): "old"}}
PLAN = {"steps": [
    {"action": "sapi-update-service", "params": {"service": "vmapi", "image_uuid": "new"}},
    {"action": "reprovision", "params": {"instance": "vm1", "image_uuid": "new"}},
    {"action": "install-agent", "params": {"server_uuid": "s1", "agent": "vm-agent",
                                           "image_uuid": "new"}},
]}


def state(svc: str, vm: str, agent: str, extra_vm: bool = False) -> dict:
    vms = {"vm1": vm, **({"vm2": "old"} if extra_vm else {})}
    return {"services": {"vmapi": svc}, "vms": vms, "agents": {("s1", "vm-agent"): agent}}


def test_the_target_is_what_the_plan_sets() -> None:
    assert target_state(BEFORE, PLAN) == state("new", "new", "new")


@pytest.mark.parametrize("now, finished, lost", [
    (state("new", "new", "new"), True, False),
    (state("old", "new", "new"), True, True),          # a finished run left one behind
    (state("old", "new", "old"), False, False),        # unfinished: original or target
    (state("new", "other", "new"), False, True),       # a third image
    (state("new", "new", "new", extra_vm=True), True, True),  # an instance appeared
])
def test_image_problems(now, finished, lost) -> None:
    found = image_problems(now, BEFORE, target_state(BEFORE, PLAN), finished)
    assert bool(found) == lost, found


@pytest.mark.parametrize("events, problems", [
    ([{"event": "run-start"}, {"event": "step-intent", "step": "a"},
      {"event": "step-start", "step": "a"}, {"event": "step-end", "step": "a",
                                              "outcome": "done"}], 0),
    ([{"event": "run-start"}, {"event": "step-end", "step": "a", "outcome": "done"}], 1),
    ([{"event": "run-start"}, {"event": "step-start", "step": "a"}, {"event": "run-resume"},
      {"event": "step-end", "step": "a", "outcome": "verified"}], 1),  # not in this run
    ([{"event": "run-resume"}, {"event": "step-end", "step": "a", "outcome": "skipped"}], 0),
])
def test_every_step_end_follows_its_beginning(events, problems) -> None:
    assert len(event_order(events)) == problems


def _run_dir(var, events: list[str], steps=("1:a:x",)) -> None:
    d = var / "updates" / "20260101T000000Z"
    d.mkdir(parents=True)
    (d / "plan.json").write_text(json.dumps({"run_uuid": "r", "steps": [
        {"id": s} for s in steps]}))
    (d / "events.jsonl").write_text("".join(e + "\n" for e in events))


@pytest.mark.parametrize("events, finished, problems", [
    (['{"event":"run-start"}', '{"event":"step-intent","step":"1:a:x"}',
      '{"event":"step-end","step":"1:a:x","outcome":"done"}',
      '{"event":"run-end","status":"done"}'], True, 0),
    (['{"event":"run-start"}', '{not json', '{"event":"run-end","status":"done"}'], True, 1),
    (['{"event":"run-start"}', '{"event":"step-intent","step":"9:b:y"}'], False, 1),
    (['{"event":"run-start"}', '{"event":"run-end","status":"failed"}'], True, 1),
    (['{"event":"run-start"}', '{"event":"run-end","status":"done"}'], True, 1),
])
def test_journal_problems(tmp_path, events, finished, problems) -> None:
    _run_dir(tmp_path, events)
    assert len(journal_problems(tmp_path, finished=finished)) == problems
