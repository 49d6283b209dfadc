"""Mutations failing transiently during `update --all` on `small`: POST and PUT answered
503, or handled with their answer lost (`drop` with `after`). Each step re-checks and tries
again; a run that still stops is resumed; nothing is lost and no reprovision or agent
install is started twice."""
from __future__ import annotations

import pytest
from e2e_runs import end_state, var_dir
from rel_harness import (
    FULL,
    Verdicts,
    converge,
    data_lost,
    done_twice,
    pick,
    plan_of_newest_update,
    target_state,
)

ROUNDS = 2 if FULL else 1
CASES = pick(
    [(t, r, n) for t, rates in (("error", (0.05, 0.1, 0.2)), ("drop-after", (0.05, 0.1)))
     for r in rates for n in range(ROUNDS)],
    [("error", 0.2, 0), ("drop-after", 0.1, 0)])


def faults(kind: str, rate: float) -> list[dict]:
    """POST and PUT failing at `rate`, and the first POST failing whatever the dice say: at
    5% a round may draw no failure at all, and would then test nothing."""
    base = {"service": ["sapi", "imgapi", "vmapi", "cnapi"], "rate": rate}
    if kind == "error":
        how: dict = {"type": "error", "status": 503}
    else:
        how = {"type": "drop", "after": True}
    return [{**base, **how, "method": m} for m in ("POST", "PUT")] + [
        {**base, **how, "method": "POST", "rate": 1.0, "count": 1}]


@pytest.mark.parametrize("kind, rate, n", CASES, ids=[f"{k}-{int(r * 100)}%-{n}"
                                                      for k, r, n in CASES])
def test_update_all_converges_through_failing_mutations(small, kind, rate, n) -> None:
    before = end_state(small)
    for f in faults(kind, rate):
        small.add_fault(f)
    run = converge(small, small.config_path, ("update", "--all", "-y"), tries=8)
    fired = sum(f.get("fired", 0) for f in small.faults())
    small.clear_faults()
    plan = plan_of_newest_update(var_dir(small))
    lost = data_lost(small, small.config_path, before=before, target=target_state(before, plan))
    verdicts = Verdicts()
    verdicts.add(f"mutations: {kind} {int(rate * 100)}%", f"round {n}", run.ok, run.problem,
                 lost, done_twice(small))
    verdicts.check()
    assert fired > 0
