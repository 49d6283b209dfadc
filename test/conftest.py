"""Shared fixtures: a simulated datacenter over real HTTP, and the CLI run against it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_runner import make_runner
from sdcadm.sim.testing import SimHandle, start_sim

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


@pytest.fixture
def sim(sim_factory) -> SimHandle:
    """The `small` datacenter, reset to its scenario (no faults, empty mutation log)."""
    handle = sim_factory("small")
    handle.reset()
    return handle


@pytest.fixture
def lab(sim_factory) -> SimHandle:
    handle = sim_factory("lab")
    handle.reset()
    return handle


@pytest.fixture
def sdcadm(sim: SimHandle, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture, tmp_path: Path):
    """Run `sdcadm ARGS...` in-process against the `small` simulator; returns a Result."""
    return make_runner(sim, monkeypatch, capfd)
