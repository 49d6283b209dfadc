"""Fixtures for end-to-end runs; the run helpers live in e2e_runs.py."""
from __future__ import annotations

import pytest


@pytest.fixture
def slow_sim(sim_factory):
    """The small datacenter at a slower clock, so a run can be caught mid-step."""
    handle = sim_factory("small", 0.02)
    handle.reset()
    return handle
