"""The fault and fuzz suite: every test here is marked `reliability` (`-m reliability` runs
it alone, `-m "not reliability"` leaves it out). SDCADM_RELIABILITY=full runs every case;
the default is a reduced set that fits in the ordinary test run."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# The end-to-end helpers (processes against the simulator, journals, datacenter states).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def small(sim_factory):
    """`small` at the clock of the end-to-end runs, reset, with no sdcadm past."""
    from e2e_runs import var_dir

    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    return sim
