"""Shared fixtures: a simulated datacenter over real HTTP, and the CLI run against it."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from cli_runner import make_runner

from sdcadm.sim.testing import SimHandle, start_sim

# Started as a background job (`bash tools/test &`), the suite has SIGINT ignored and would
# pass that on to every sdcadm it runs: the Ctrl-C tests would then send a signal nobody
# hears. A handled SIGINT here is reset to the default in each child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Fast enough for tests, still asynchronous: a 30 s reprovision takes 30 ms.
TEST_TIME_SCALE = float(os.environ.get("SDCADM_TEST_TIME_SCALE", "0.001"))


@pytest.fixture(scope="session")
def sim_factory(tmp_path_factory: pytest.TempPathFactory):
    """Start (once per session and scenario) a simulated datacenter; stopped at the end."""
    started: dict[tuple[str, float], SimHandle] = {}

    def factory(scenario: str = "small", time_scale: float = TEST_TIME_SCALE) -> SimHandle:
        key = (scenario, time_scale)
        if key not in started:
            state_dir = tmp_path_factory.mktemp(f"sim-{scenario}")
            started[key] = start_sim(scenario, state_dir=state_dir, time_scale=time_scale)
        return started[key]

    yield factory
    for handle in started.values():
        handle.stop()


def fresh(handle: SimHandle) -> SimHandle:
    """Back to the scenario, and a headnode with no sdcadm past: the datacenter is reset, so
    the runs, plans and history kept in its `varDir` belong to another test."""
    import shutil

    handle.reset()
    shutil.rmtree(handle.state_dir / "var", ignore_errors=True)
    return handle


@pytest.fixture
def sim(sim_factory) -> SimHandle:
    """The `small` datacenter, reset to its scenario (no faults, empty mutation log)."""
    return fresh(sim_factory("small"))


@pytest.fixture
def lab(sim_factory) -> SimHandle:
    return fresh(sim_factory("lab"))


@pytest.fixture
def sdcadm(sim: SimHandle, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture,
           tmp_path: Path):
    """Run `sdcadm ARGS...` in-process against the `small` simulator; returns a Result."""
    return make_runner(sim, monkeypatch, capfd)
