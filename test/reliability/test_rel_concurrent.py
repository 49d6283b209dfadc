"""Two `update --all` at once on one datacenter from two headnode configurations (two
varDirs, so two local locks): the datacenter lease lets exactly one of them run; the other
is refused with `error (Lease)` and changes nothing; nothing is lost."""
from __future__ import annotations

import time

import pytest
from e2e_runs import cli, end_state, kill
from rel_harness import (
    Verdicts,
    config_with,
    data_lost,
    done_twice,
    has_open_run,
    lease,
    pick,
    plan_of_newest_update,
    target_state,
    var_dir_of,
)

# Seconds between the two starts.
CASES = pick([0.0, 0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0], [0.0])


@pytest.mark.parametrize("offset", CASES)
def test_two_updates_at_once_one_is_refused_by_the_lease(small, tmp_path, offset) -> None:
    configs = [config_with(small, tmp_path / f"{n}.conf", varDir=str(tmp_path / n),
                           lockWait=0) for n in ("one", "two")]
    before = end_state(small)
    verdicts = Verdicts()
    kind = "two updates at once"
    case = f"{int(offset * 1000)} ms apart"
    with verdicts.trying(kind, case):
        procs = []
        try:
            for cfg in configs:
                procs.append(cli(small, "--config", str(cfg), "update", "--all", "-y",
                                 wait=False))
                time.sleep(offset)
            done = [(p, *p.communicate(timeout=300)) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    kill(p)
        codes = sorted(p.returncode for p, _out, _err in done)
        refused = [err for p, _out, err in done if p.returncode == 2]
        ok = codes == [0, 2] and len(refused) == 1 and \
            "error (Lease): " in refused[0].strip().splitlines()[-1] and \
            not any("Traceback" in err for _p, _out, err in done)
        problem = None if ok else "exits " + "; ".join(
            f"{p.returncode}: {err.strip().splitlines()[-1:] if err.strip() else ''}"
            for p, _out, err in done)
        winner = next((c for c, (p, *_rest) in zip(configs, done, strict=True)
                       if p.returncode == 0),
                      configs[0])
        loser = next(c for c in configs if c != winner)
        plan = plan_of_newest_update(var_dir_of(winner))
        lost = data_lost(small, winner, before=before, target=target_state(before, plan))
        lost += data_lost(small, loser)
        if has_open_run(var_dir_of(loser)):
            lost.append("the refused update left an unfinished run")
        if lease(small) is not None:
            lost.append(f"a lease was left behind: {lease(small)}")
        verdicts.add(kind, case, ok, problem, lost, done_twice(small))
    verdicts.check()
