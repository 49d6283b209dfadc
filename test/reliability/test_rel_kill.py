"""SIGKILL at every step index of a full `update --all` of `small`, then `update --resume`
until it is done; and a resume killed in its turn. Whatever the step, the datacenter ends
where a clean run leaves it, with a sound journal and history and nothing done twice."""
from __future__ import annotations

import shutil
import time

import pytest
from e2e_runs import cli, end_state, events, kill, run_dirs, var_dir, wait_for_event
from rel_harness import (
    FULL,
    Verdicts,
    converge,
    data_lost,
    done_twice,
    plan_of_newest_update,
    target_state,
)

SHARDS = 8 if FULL else 2
# The reduced set kills once in each of these kinds of step (its first such step).
REDUCED_KINDS = ("import-image", "dns-leave", "check-shard", "install-agent", "verify")
RESUME_KILLS = 6 if FULL else 1


@pytest.fixture(scope="module")
def clean(sim_factory):
    """A clean `update --all` of `small`: the datacenter before, its plan's steps, after."""
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    before = end_state(sim)
    r = cli(sim, "update", "--all", "-y")
    assert r.returncode == 0, r.stderr
    plan = plan_of_newest_update(var_dir(sim))
    after = end_state(sim)
    assert after == target_state(before, plan)
    return before, plan["steps"], after


def kill_points(steps: list[dict]) -> list[int]:
    if FULL:
        return list(range(len(steps)))
    return [next(i for i, s in enumerate(steps) if s["action"] == kind)
            for kind in REDUCED_KINDS]


def start_and_kill(sim, step_id: str, argv: tuple[str, ...] = ("update", "--all", "-y"),
                   event: str = "step-start"):
    """Start `sdcadm ARGV`, SIGKILL it once its journal has `event` for step `step_id`; the
    run's dir."""
    proc = cli(sim, *argv, wait=False)
    try:
        wait_for_event(sim, lambda e: e.get("event") == event
                       and e.get("step") == step_id, proc=proc)
    finally:
        if proc.poll() is None:
            kill(proc)
    return run_dirs(sim)[-1]


def judge(verdicts: Verdicts, sim, before, after, kind: str, case: str, run) -> None:
    lost = data_lost(sim, sim.config_path, before=before, target=after)
    if run.ok and end_state(sim) != after:
        lost.append("the datacenter is not where a clean run leaves it")
    verdicts.add(kind, case, run.ok, run.problem, lost, done_twice(sim))


@pytest.mark.parametrize("shard", range(SHARDS))
def test_killed_at_every_step_then_resumed(small, clean, shard) -> None:
    before, steps, after = clean
    verdicts = Verdicts()
    kind = "SIGKILL: update --all"
    for index in kill_points(steps)[shard::SHARDS]:
        step = steps[index]
        case = f"step {index} ({step['action']})"
        with verdicts.trying(kind, case):
            small.reset()
            shutil.rmtree(var_dir(small), ignore_errors=True)
            start_and_kill(small, step["id"])
            run = converge(small, small.config_path, ("update", "--resume", "-y"))
            judge(verdicts, small, before, after, kind, case, run)
    verdicts.check()


@pytest.mark.parametrize("n", range(RESUME_KILLS))
def test_a_killed_resume_is_resumed(small, clean, n) -> None:
    before, steps, after = clean
    first = (n + 1) * len(steps) // (RESUME_KILLS + 2)
    verdicts = Verdicts()
    kind = "SIGKILL: update --resume"
    with verdicts.trying(kind, f"step {first}"):
        run_dir = start_and_kill(small, steps[first]["id"])
        begun = {e.get("step") for e in events(run_dir)}
        later = next((i for i, s in enumerate(steps) if i > first and s["id"] not in begun),
                     None)
        if later is not None:
            # A resume re-checks before it starts a step, and may find it in place without
            # starting it: its intent is what every step has.
            start_and_kill(small, steps[later]["id"], ("update", "--resume", "-y"),
                           "step-intent")
        run = converge(small, small.config_path, ("update", "--resume", "-y"))
        judge(verdicts, small, before, after, kind, f"step {first}, then {later}", run)
    verdicts.check()


def test_killed_while_its_history_entry_is_being_finished(small) -> None:
    verdicts = Verdicts()
    kind = "SIGKILL: after the last step"
    with verdicts.trying(kind, "history being written"):
        before = end_state(small)
        # The history entry's last write (PUT /history/UUID) takes 30 s: the run is killed
        # while it waits, every step done. The journal ends only after that write, so the run
        # is still open and `--resume` finishes both.
        small.add_fault({"type": "latency", "service": "sapi", "method": "PUT",
                         "path": "^/history/", "delay": 30})
        proc = cli(small, "update", "workflow", "-y", wait=False)
        try:
            wait_for_event(small, lambda e: e.get("event") == "run-start", proc=proc)
            steps = [s["id"] for s in plan_of_newest_update(var_dir(small))["steps"]]
            wait_for_event(small, lambda e: e.get("event") == "step-end"
                           and e.get("step") == steps[-1], proc=proc)
            time.sleep(0.5)  # into the history write
        finally:
            if proc.poll() is None:
                kill(proc)
        small.clear_faults()
        run = converge(small, small.config_path, ("update", "--resume", "-y"))
        plan = plan_of_newest_update(var_dir(small))
        lost = data_lost(small, small.config_path, before=before,
                         target=target_state(before, plan))
        verdicts.add(kind, "history being written", run.ok, run.problem, lost)
    verdicts.check()
