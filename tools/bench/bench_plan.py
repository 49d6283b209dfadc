#!/usr/bin/env python3
"""Wall time and HTTP request count of `sdcadm update --all -n -y` against the simulator.

    .venv/bin/python tools/bench/bench_plan.py [--runs 5] [--scenarios small,large]

For each scenario: start the simulator, run the dry-run plan of everything as a whole
process (median of --runs; one warm-up run first), count the HTTP requests it made (the
client appends one line per request to $SDCADM_REQUEST_LOG), and check that the dry run
sent no mutating request. Target: under 2 s on `large`, and a request count that does not
grow with the fleet (apart from paging).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from harness import Figure, bench_args, print_figures, print_table, run_sdcadm, scenario_sims

ARGV = ["update", "--all", "-n", "-y"]
TARGET = 2.0


def run(config: Path, log: Path) -> tuple[float, int, int]:
    elapsed, count, out = run_sdcadm(ARGV, config, log)
    if "Dry run: nothing was changed." not in out and "Up-to-date." not in out:
        raise SystemExit(f"unexpected output:\n{out}")
    changes = sum(1 for ln in out.splitlines() if ln.startswith("    update "))
    return elapsed, count, changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", default="small,large")
    bench_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.runs = 1
    rows = []
    figures = []
    scenarios = [s for s in args.scenarios.split(",") if s]
    for scenario, handle, tmp in scenario_sims(scenarios, "bench-plan-"):
        log = tmp / f"{scenario}.log"
        run(handle.config_path, log)  # warm-up (pyc, simulator caches)
        handle.clear_mutations()
        times, counts = [], []
        for _ in range(args.runs):
            elapsed, count, changes = run(handle.config_path, log)
            times.append(elapsed)
            counts.append(count)
        mutations = len(handle.mutations())
        rows.append([scenario, f"{statistics.median(times):.3f}s", f"{min(times):.3f}s",
                     str(max(counts)), str(changes), str(mutations)])
        wall = round(statistics.median(times), 3)
        figures += [
            Figure(f"update --all -n on {scenario}: wall", wall, "s",
                   f"< {TARGET}" if scenario == "large" else ""),
            Figure(f"update --all -n on {scenario}: requests", max(counts)),
            Figure(f"update --all -n on {scenario}: mutating requests", mutations, "", "== 0")]
    if args.json:
        print_figures(figures, args.quick)
        return
    head = ["scenario", "median", "min", "requests", "changes", "mutations"]
    print(f"sdcadm {' '.join(ARGV)}  (target < {TARGET}s on large)")
    print_table([head, *rows])


if __name__ == "__main__":
    main()
