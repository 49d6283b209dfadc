"""SIGKILL a rolling reboot of the whole of `small` (`sdcadm reboot-plan run`) at every step
and every phase its journal records (freeze, reboot sent, back, unfreeze, the headnode's own
reboot), then `reboot-plan run` again until it is done; a killed second run in its turn.
Nobody is rebooted twice, no quorum is ever lost, every server ends on its platform."""
from __future__ import annotations

import json
import shutil
import time
from collections import Counter

import pytest
import requests
from e2e_runs import cli, end_state, events, kill, run_dirs, var_dir
from rel_harness import FULL, Verdicts, converge, data_lost, wait_until

SCALE = 0.005  # a reboot takes 0.45 s
RUN = ("reboot-plan", "run", "-y")
SHARDS = 6 if FULL else 1
# The reduced set: the first server's start, the sync's server frozen, the headnode
# rebooting itself.
REDUCED = ("step-start", "froze", "self_reboot")
RESUME_KILLS = 4 if FULL else 1


def fresh(sim_factory):
    sim = sim_factory("small", SCALE)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    r = cli(sim, "reboot-plan", "create", "--all", "--max-unavailable", "2")
    assert r.returncode == 0, r.stderr
    return sim


def plan_events(sim) -> list[dict]:
    dirs = run_dirs(sim, "reboot-plans")
    return events(dirs[-1]) if dirs else []


def points(evs: list[dict]) -> list[tuple[str, str, int]]:
    """Kill points: (what, step, occurrence), what being `step-start` or the fact a
    step-note records."""
    out = []
    seen: Counter = Counter()
    for e in evs:
        if e.get("event") == "step-start":
            what = "step-start"
        elif e.get("event") == "step-note":
            what = "+".join(sorted(e.get("facts") or {}))
        else:
            continue
        key = (what, e["step"])
        out.append((what, e["step"], seen[key]))
        seen[key] += 1
    return out


def label(point: tuple[str, str, int]) -> str:
    what, step, n = point
    return f"{what} of {step[:15]}" + (f" (#{n + 1})" if n else "")


def headnode_back(sim) -> None:
    def up() -> bool:
        rows = requests.get(sim.urls["cnapi"] + "/servers", params={"headnode": "true",
                            "extras": "sysinfo"}, timeout=5).json()
        return all(s.get("status") == "running" for s in rows)

    wait_until(up, 60, "the headnode to come back")


def run_and_kill(sim, point: tuple[str, str, int], timeout: float = 120) -> bool:
    """Run the plan and SIGKILL the run once its journal shows `point`; a run that stops
    for the headnode's own reboot (exit 75) is run again once the headnode is back.
    False when the plan finished before the point."""
    deadline = time.monotonic() + timeout
    proc = cli(sim, *RUN, wait=False)
    try:
        while time.monotonic() < deadline:
            if point in points(plan_events(sim)):
                kill(proc)
                return True
            if proc.poll() is not None:
                if proc.returncode != 75:
                    return False
                headnode_back(sim)
                proc = cli(sim, *RUN, wait=False)
            time.sleep(0.002)
        raise AssertionError(f"no {point} within {timeout} s")
    finally:
        if proc.poll() is None:
            kill(proc)


def reboots_twice(sim) -> list[str]:
    sent = Counter(m["path"].split("/")[2] for m in sim.mutations()
                   if m["service"] == "cnapi" and m["path"].endswith("/reboot"))
    out = [f"server {uuid}: rebooted {n} times" for uuid, n in sent.items() if n != 1]
    if len(sent) != 5:
        out.append(f"{len(sent)} of 5 servers rebooted")
    return out


def plan_done(sim) -> bool:
    r = cli(sim, "reboot-plan", "status", "-j")
    return r.returncode == 0 and json.loads(r.stdout).get("state") == "done"


def finish(sim, verdicts: Verdicts, kind: str, case: str, before) -> None:
    run = converge(sim, sim.config_path, RUN, again=None, tries=8,
                   between=lambda _a: headnode_back(sim), done=lambda: plan_done(sim))
    lost = data_lost(sim, sim.config_path, before=before, target=before, quorums=True,
                     on_boot_platform=True)
    verdicts.add(kind, case, run.ok, run.problem, lost, reboots_twice(sim))


@pytest.fixture(scope="module")
def clean_points(sim_factory):
    """The kill points of a clean run of the plan (with the run again after the
    headnode's reboot)."""
    sim = fresh(sim_factory)
    r = converge(sim, sim.config_path, RUN, again=None, between=lambda _a: headnode_back(sim))
    assert r.ok, r.problem
    found = points(plan_events(sim))
    assert any(p[0] == "self_reboot" for p in found), found
    return found


def chosen(found: list) -> list:
    if FULL:
        return found
    return [next(p for p in found if p[0] == what) for what in REDUCED]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_a_reboot_plan_killed_at_every_phase_finishes(sim_factory, clean_points, shard):
    verdicts = Verdicts()
    kind = "SIGKILL: reboot-plan run"
    for point in chosen(clean_points)[shard::SHARDS]:
        case = label(point)
        with verdicts.trying(kind, case):
            sim = fresh(sim_factory)
            before = end_state(sim)
            run_and_kill(sim, point)
            finish(sim, verdicts, kind, case, before)
    verdicts.check()


@pytest.mark.parametrize("n", range(RESUME_KILLS))
def test_a_killed_second_run_is_run_again(sim_factory, clean_points, n):
    verdicts = Verdicts()
    kind = "SIGKILL: reboot-plan run, again"
    first = clean_points[(n + 1) * len(clean_points) // (RESUME_KILLS + 2)]
    with verdicts.trying(kind, label(first)):
        sim = fresh(sim_factory)
        before = end_state(sim)
        run_and_kill(sim, first)
        seen = set(points(plan_events(sim)))
        later = next((p for p in clean_points if p not in seen), None)
        if later is not None:
            run_and_kill(sim, later)
        finish(sim, verdicts, kind, f"{label(first)}, then {later and label(later)}", before)
    verdicts.check()
