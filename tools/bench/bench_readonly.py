#!/usr/bin/env python3
"""Wall time and HTTP request counts of the read-only commands against the simulator.

    .venv/bin/python tools/bench/bench_readonly.py [--runs 5] [--scenarios small,large]

For each scenario: start the simulator, then run `sdcadm avail`, `sdcadm instances` and
`sdcadm --help` as whole processes (median of --runs) and count the HTTP requests each
made (the client appends one line per request to $SDCADM_REQUEST_LOG).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [("avail", ["avail"]), ("instances", ["instances"]), ("--help", ["--help"])]
TARGETS = {"avail": 1.5, "instances": 1.5, "--help": 0.3}


def run(argv: list[str], config: Path, log: Path | None) -> tuple[float, int]:
    env = dict(os.environ, SDCADM_CONFIG=str(config), NO_COLOR="1")
    if log is not None:
        env["SDCADM_REQUEST_LOG"] = str(log)
        log.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sdcadm", *argv], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"sdcadm {' '.join(argv)} failed ({proc.returncode}): {proc.stderr}")
    count = len(log.read_text().splitlines()) if log is not None and log.exists() else 0
    return elapsed, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", default="small,large")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from sdcadm.sim.testing import start_sim

    results: dict[str, dict[str, tuple[float, int]]] = {}
    scenarios = [s for s in args.scenarios.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="bench-readonly-") as tmp:
        for scenario in scenarios:
            t0 = time.perf_counter()
            handle = start_sim(scenario, state_dir=Path(tmp) / scenario, time_scale=0.001)
            print(f"{scenario}: simulator ready in {time.perf_counter() - t0:.1f}s",
                  file=sys.stderr)
            try:
                log = Path(tmp) / f"{scenario}-requests.log"
                for name, argv in COMMANDS:
                    run(argv, handle.config_path, None)  # warm caches (pyc, sim)
                    times, counts = [], []
                    for _ in range(args.runs):
                        elapsed, count = run(argv, handle.config_path, log)
                        times.append(elapsed)
                        counts.append(count)
                    results.setdefault(name, {})[scenario] = (statistics.median(times),
                                                              max(counts))
            finally:
                handle.stop()

    head = ["command"] + [f"{s} time" for s in scenarios] + [f"{s} requests" for s in scenarios]
    head.append("target")
    rows = []
    for name, _ in COMMANDS:
        r = results[name]
        rows.append([f"sdcadm {name}"] + [f"{r[s][0]:.3f}s" for s in scenarios]
                    + [str(r[s][1]) for s in scenarios] + [f"< {TARGETS[name]}s"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for row in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    print(f"(median of {args.runs} runs, whole process; requests counted from "
          "SDCADM_REQUEST_LOG)")


if __name__ == "__main__":
    main()
