"""The datacenter's APIs go away mid-run and come back: the simulator is restarted (or
killed with SIGKILL and started again) on its state directory while `update --all` runs.
The run rides it out or stops; `update --resume` finishes it; nothing is lost."""
from __future__ import annotations

import os
import random
import shutil

import pytest
import requests
from e2e_runs import cli, end_state, kill, var_dir, wait_for_event
from rel_harness import (
    RESUME,
    Verdicts,
    converge,
    data_lost,
    done_twice,
    pick,
    plan_of_newest_update,
    target_state,
)

from sdcadm.sim.testing import SimError, start_sim

SCALE = 0.005  # slow enough that a restart lands inside the step
KINDS = ("import-image", "sapi-update-service", "reprovision", "wait-instance", "dns-leave",
         "check-shard", "install-agent", "verify")
CASES = pick([(mode, kind) for mode in ("restart", "crash") for kind in KINDS],
             [("restart", "reprovision"), ("crash", "install-agent")])


@pytest.fixture(scope="module")
def own_sim(tmp_path_factory):
    """A simulator of its own (restarting it must not disturb other tests), its APIs on
    ports below the kernel's ephemeral range: while it is down, no outgoing connection of
    another process can take one of them and send it elsewhere when it comes back."""
    state_dir = tmp_path_factory.mktemp("sim-restart")
    rng = random.Random(os.getpid())
    for attempt in range(5):
        try:
            sim = start_sim("small", state_dir=state_dir, time_scale=SCALE,
                            port_base=rng.randrange(20000, 32000, 10))
            break
        except SimError:  # a port of that range is taken: another one
            if attempt == 4:
                raise
    yield sim
    sim.stop()


def bounce(sim, mode: str) -> None:
    """`restart`: stop (SIGTERM) and start; `crash`: SIGKILL and start."""
    urls = dict(sim.urls)
    if mode == "restart":
        sim.restart()
    else:
        assert sim.proc is not None
        sim.proc.kill()
        sim.proc.wait(10)
        sim.session = requests.Session()
        sim.start()
    assert sim.urls == urls, f"the simulator came back on other ports: {urls} -> {sim.urls}"
    if not sim.status().get("restarted"):
        # A simulator whose scenario changed (its sdcadm builds follow the source tree, which
        # was edited meanwhile) starts afresh: that is no restart, and no case.
        pytest.skip("the simulator started afresh: its source tree changed during the case")


@pytest.mark.parametrize("mode, kind", CASES, ids=[f"{m}-{k}" for m, k in CASES])
def test_the_simulator_restarted_mid_run(own_sim, mode, kind) -> None:
    sim = own_sim
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    verdicts = Verdicts()
    label = f"simulator {mode}"
    with verdicts.trying(label, f"during {kind}"):
        before = end_state(sim)
        proc = cli(sim, "update", "--all", "-y", wait=False)
        try:
            # Step ids read `N:ACTION:TARGET`.
            wait_for_event(sim, lambda e: e.get("event") == "step-start"
                           and f":{kind}:" in e.get("step", ""), proc=proc, timeout=120)
            bounce(sim, mode)
            _, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                kill(proc)
        run = converge(sim, sim.config_path, RESUME)
        if "Traceback" in err:
            run.ok, run.problem = False, f"traceback from the interrupted run:\n{err[-3000:]}"
        plan = plan_of_newest_update(var_dir(sim))
        lost = data_lost(sim, sim.config_path, before=before, target=target_state(before, plan))
        verdicts.add(label, f"during {kind}", run.ok, run.problem, lost, done_twice(sim))
    verdicts.check()
