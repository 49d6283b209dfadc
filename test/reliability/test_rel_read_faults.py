"""Reads failing (5xx) or cut off (dropped connections) at 5, 10 and 20% during
`update --all` on `small`: the update converges, resuming where it stopped, and loses
nothing."""
from __future__ import annotations

import pytest
from e2e_runs import end_state, var_dir
from rel_harness import (
    FULL,
    Verdicts,
    converge,
    data_lost,
    pick,
    plan_of_newest_update,
    target_state,
)

RATES = (0.05, 0.1, 0.2)
ROUNDS = 3 if FULL else 1
CASES = pick([(t, r, n) for t in ("error", "drop") for r in RATES for n in range(ROUNDS)],
             [("error", 0.1, 0), ("drop", 0.2, 0)])


def fault(kind: str, rate: float) -> dict:
    f = {"type": kind, "service": "*", "method": "GET", "rate": rate}
    return {**f, "status": 503} if kind == "error" else f


@pytest.mark.parametrize("kind, rate, n", CASES, ids=[f"{k}-{int(r * 100)}%-{n}"
                                                      for k, r, n in CASES])
def test_update_all_converges_through_failing_reads(small, kind, rate, n) -> None:
    before = end_state(small)
    small.add_fault(fault(kind, rate))
    run = converge(small, small.config_path, ("update", "--all", "-y"), tries=8)
    fired = sum(f.get("fired", 0) for f in small.faults())
    small.clear_faults()
    lost = data_lost(small, small.config_path, before=before,
                     target=target_state(before, plan_of_newest_update(var_dir(small))))
    verdicts = Verdicts()
    verdicts.add(f"reads: {kind} {int(rate * 100)}%", f"round {n}", run.ok, run.problem, lost)
    verdicts.check()
    assert fired > 0
