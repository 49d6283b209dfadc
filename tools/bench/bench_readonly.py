#!/usr/bin/env python3
"""Wall time and HTTP request counts of the read-only commands against the simulator.

    .venv/bin/python tools/bench/bench_readonly.py [--runs 5] [--scenarios small,large]

For each scenario: start the simulator, then run `sdcadm avail`, `sdcadm instances` and
`sdcadm --help` as whole processes (median of --runs) and count the HTTP requests each
made (the client appends one line per request to $SDCADM_REQUEST_LOG).
"""
from __future__ import annotations

import argparse
import statistics

from harness import Figure, bench_args, print_figures, print_table, run_sdcadm, scenario_sims

COMMANDS = [("avail", ["avail"]), ("instances", ["instances"]), ("--help", ["--help"])]
TARGETS = {"avail": 1.5, "instances": 1.5, "--help": 0.3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", default="small,large")
    bench_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.runs = 1
    results: dict[str, dict[str, tuple[float, int]]] = {}
    scenarios = [s for s in args.scenarios.split(",") if s]
    for scenario, handle, tmp in scenario_sims(scenarios, "bench-readonly-"):
        log = tmp / f"{scenario}-requests.log"
        for name, argv in COMMANDS:
            run_sdcadm(argv, handle.config_path, None)  # warm caches (pyc, sim)
            times, counts = [], []
            for _ in range(args.runs):
                elapsed, count, _out = run_sdcadm(argv, handle.config_path, log)
                times.append(elapsed)
                counts.append(count)
            results.setdefault(name, {})[scenario] = (statistics.median(times), max(counts))

    if args.json:
        print_figures([fig for name, _ in COMMANDS for s in scenarios for fig in (
            Figure(f"sdcadm {name} on {s}: wall", round(results[name][s][0], 3), "s",
                   f"< {TARGETS[name]}"),
            Figure(f"sdcadm {name} on {s}: requests", results[name][s][1]))], args.quick)
        return
    head = ["command"] + [f"{s} time" for s in scenarios] + [f"{s} requests" for s in scenarios]
    head.append("target")
    rows = []
    for name, _ in COMMANDS:
        r = results[name]
        rows.append([f"sdcadm {name}"] + [f"{r[s][0]:.3f}s" for s in scenarios]
                    + [str(r[s][1]) for s in scenarios] + [f"< {TARGETS[name]}s"])
    print_table([head, *rows])
    print(f"(median of {args.runs} runs, whole process; requests counted from "
          "SDCADM_REQUEST_LOG)")


if __name__ == "__main__":
    main()
