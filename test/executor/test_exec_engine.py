"""The executor loop through its Python API, with recording handlers (no datacenter)."""
from __future__ import annotations

import json
import threading

import pytest
from exec_fakes import FakeApp, Recorder, empty_plan, steps

from sdcadm.errors import Interrupted, MultiError, StepFailedError
from sdcadm.executor.engine import groups
from sdcadm.executor.journal import RunState, read_events
from sdcadm.executor.run import execute, resume
from sdcadm.plan import Step


def as_journalled(doc) -> list[Step]:
    """These runs' steps act on fakes no plan derives: the engine alone is under test."""
    return [Step.from_json(s) for s in doc["steps"]]


def _ids(group_list: list[list[Step]]) -> list[list[str]]:
    return [[s.target for s in g] for g in group_list]


@pytest.mark.parametrize(
    "layout, expected",
    [
        ([(None, 3)], [["t0"], ["t1"], ["t2"]]),
        ([("a", 3)], [["t0", "t1", "t2"]]),
        ([("a", 2), ("b", 2)], [["t0", "t1"], ["t2", "t3"]]),
        ([("a", 1), (None, 1), ("a", 1)], [["t0"], ["t1"], ["t2"]]),
    ],
)
def test_groups_follow_parallel_keys(layout, expected):
    all_steps: list[Step] = []
    for key, n in layout:
        all_steps += steps(n, parallel=key, start=len(all_steps))
    assert _ids(groups(all_steps)) == expected


def test_runs_every_step_in_order_and_journals_it(tmp_path):
    app = FakeApp(tmp_path)
    rec = Recorder()
    plan_steps = steps(3)
    result = execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    assert rec.ran == [s.id for s in plan_steps]
    assert result.status == "done"
    assert app.lines[0] == f"Create work dir: {result.work_dir}"
    assert result.work_dir.parent == tmp_path / "var" / "updates"
    assert app.outs == ["Updated successfully (elapsed 0s)."]
    doc = json.loads((result.work_dir / "plan.json").read_text())
    assert doc["run_uuid"] == app.request_id and doc["command"] == "update"
    assert [s["id"] for s in doc["steps"]] == [s.id for s in plan_steps]
    events = read_events(result.work_dir / "events.jsonl")
    kinds = [(e["event"], e.get("step")) for e in events]
    assert kinds[0] == ("run-start", None) and kinds[-1] == ("run-end", None)
    for s in plan_steps:
        assert ("step-intent", s.id) in kinds and ("step-start", s.id) in kinds
        assert {"outcome": "done"}.items() <= next(
            e for e in events if e["event"] == "step-end" and e["step"] == s.id).items()
    assert events[-1]["status"] == "done"


def test_rollback_runs_use_their_own_work_dir_and_last_line(tmp_path):
    app = FakeApp(tmp_path)
    result = execute(app, empty_plan(), steps(1), command="rollback", handlers={"fake": Recorder()})
    assert result.work_dir.parent == tmp_path / "var" / "rollbacks"
    assert app.outs == ["Rolledback successfully (elapsed 0s)."]


def test_failure_stops_the_run_and_resume_retries_only_what_is_left(tmp_path):
    app = FakeApp(tmp_path)
    plan_steps = steps(4)
    rec = Recorder(fail={plan_steps[1].id: 1})
    with pytest.raises(StepFailedError, match="boom on 1:fake:t1"):
        execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    assert rec.ran == [plan_steps[0].id, plan_steps[1].id]
    assert any("step 2 of 4 (1:fake:t1) failed" in line for line in app.lines)
    assert any("--resume" in line for line in app.lines)
    run_dir = next((tmp_path / "var/updates").iterdir())
    state = RunState.from_events(read_events(run_dir / "events.jsonl"))
    assert state.status == "failed"
    assert state.steps[plan_steps[1].id].outcome == "failed"
    assert state.steps[plan_steps[1].id].error["message"] == "boom on 1:fake:t1"
    assert plan_steps[2].id not in state.steps

    app2 = FakeApp(tmp_path, clients=app.clients)
    result = resume(app2, {}, handlers={"fake": rec}, derive=as_journalled)
    assert result.status == "done"
    # Step 0 was done: neither checked nor run again. Step 1 retried, then the rest.
    assert rec.ran == [s.id for s in plan_steps[:2]] + [s.id for s in plan_steps[1:]]
    assert app2.outs == ["Updated successfully (elapsed 0s)."]
    # Nothing left: a second resume says so and runs nothing.
    app3 = FakeApp(tmp_path, clients=app.clients)
    assert resume(app3, {}, handlers={"fake": rec}, derive=as_journalled).status == "nothing"
    assert any("Nothing to resume" in line for line in app3.lines)


def test_resume_verifies_an_in_doubt_step_instead_of_redoing_it(tmp_path):
    app = FakeApp(tmp_path)
    plan_steps = steps(3)
    rec = Recorder(fail={plan_steps[1].id: 1})
    with pytest.raises(StepFailedError):
        execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    # The effect of the failed step happened after all (e.g. the job finished late).
    rec.applied.add(plan_steps[1].id)
    app2 = FakeApp(tmp_path, clients=app.clients)
    result = resume(app2, {}, handlers={"fake": rec}, derive=as_journalled)
    assert rec.ran == [plan_steps[0].id, plan_steps[1].id, plan_steps[2].id]
    assert [o.outcome for o in result.outcomes] == ["skipped", "verified", "done"]


def test_parallel_group_honours_concurrency(tmp_path):
    app = FakeApp(tmp_path)
    rec = Recorder(delay=0.05)
    execute(app, empty_plan(), steps(9, parallel="p", concurrency=3), handlers={"fake": rec})
    assert sorted(rec.ran) == sorted(s.id for s in steps(9, parallel="p"))
    assert rec.max_in_flight == 3


def test_fail_fast_group_starts_nothing_after_a_failure(tmp_path):
    app = FakeApp(tmp_path)
    plan_steps = steps(6, parallel="dl", concurrency=2) + steps(1, start=6)
    rec = Recorder(fail={plan_steps[0].id: 1}, delay=0.02)
    with pytest.raises(StepFailedError):
        execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    # The failing step and the one running beside it; nothing later, not the next group.
    assert len(rec.ran) <= 3
    assert plan_steps[6].id not in rec.ran


def test_continue_group_runs_everything_then_stops_with_all_errors(tmp_path):
    app = FakeApp(tmp_path)
    plan_steps = steps(5, parallel="agents:x", concurrency=2, on_failure="continue") \
        + steps(1, start=5)
    rec = Recorder(fail={plan_steps[1].id: 1, plan_steps[3].id: 1})
    with pytest.raises(MultiError) as info:
        execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    assert info.value.exit_status == 1
    assert "multiple (2) errors" in info.value.message
    assert sorted(rec.ran) == sorted(s.id for s in plan_steps[:5])
    assert rec.summaries == [(3, 5)]


def test_interrupt_records_the_step_and_resume_finishes(tmp_path):
    app = FakeApp(tmp_path)
    plan_steps = steps(3)

    def press_ctrl_c(ctx, step):
        if step.id == plan_steps[1].id and not getattr(press_ctrl_c, "done", False):
            press_ctrl_c.done = True
            ctx.cancel.set()  # what the SIGINT handler does
            ctx.sleep(0.01)

    rec = Recorder(on_run=press_ctrl_c)
    with pytest.raises(Interrupted) as info:
        execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    assert info.value.exit_status == 130
    assert "1:fake:t1" in info.value.message
    run_dir = next((tmp_path / "var/updates").iterdir())
    state = RunState.from_events(read_events(run_dir / "events.jsonl"))
    assert state.status == "interrupted"
    assert state.steps[plan_steps[1].id].outcome == "interrupted"
    result = resume(FakeApp(tmp_path, clients=app.clients), {}, handlers={"fake": rec},
                    derive=as_journalled)
    assert result.status == "done"
    assert rec.ran.count(plan_steps[0].id) == 1 and rec.ran.count(plan_steps[2].id) == 1


def test_an_unknown_action_is_refused_before_anything_runs(tmp_path):
    app = FakeApp(tmp_path)
    rec = Recorder()
    bad = steps(1) + [Step(id="1:nope:x", action="nope", target="x")]
    with pytest.raises(Exception, match="no handler for step action"):
        execute(app, empty_plan(), bad, handlers={"fake": rec})
    assert rec.ran == []


def test_history_is_recorded_in_two_phases(tmp_path):
    app = FakeApp(tmp_path)
    sapi = app.clients.sapi
    seen_during_run: list[dict] = []
    rec = Recorder(
        on_run=lambda ctx, step: seen_during_run.append(dict(sapi.entries[app.request_id])))
    plan_steps = steps(2)
    execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    assert "finished" not in seen_during_run[0] and seen_during_run[0]["started"]
    entry = sapi.entries[app.request_id]
    assert entry["finished"] >= entry["started"]
    assert [s["status"] for s in entry["steps"]] == ["done", "done"]
    assert "error" not in entry


def test_failed_run_history_names_the_step_and_error(tmp_path):
    app = FakeApp(tmp_path)
    plan_steps = steps(2)
    with pytest.raises(StepFailedError):
        execute(app, empty_plan(), plan_steps,
                handlers={"fake": Recorder(fail={plan_steps[0].id: 1})})
    entry = app.clients.sapi.entries[app.request_id]
    assert entry["error"]["message"] == "boom on 0:fake:t0"
    assert entry["steps"][0]["status"] == "failed"
    assert entry["steps"][0]["error"]["code"] == "StepFailed"
    assert entry["steps"][1]["status"] == "not-run"


def test_just_images_runs_are_not_history(tmp_path):
    from sdcadm.plan import Plan

    app = FakeApp(tmp_path)
    execute(app, Plan(just_images=True), steps(1), handlers={"fake": Recorder()})
    assert app.clients.sapi.entries == {}


def test_parallel_interrupt_stops_new_starts(tmp_path):
    app = FakeApp(tmp_path)
    started = threading.Event()

    def first_presses(ctx, step):
        if not started.is_set():
            started.set()
            ctx.cancel.set()

    rec = Recorder(on_run=first_presses, delay=0.02)
    with pytest.raises(Interrupted):
        execute(app, empty_plan(), steps(10, parallel="p", concurrency=2), handlers={"fake": rec})
    assert len(rec.ran) <= 2
