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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARGV = ["update", "--all", "-n", "-y"]
TARGET = 2.0


def run(config: Path, log: Path) -> tuple[float, int, int]:
    env = dict(os.environ, SDCADM_CONFIG=str(config), NO_COLOR="1", SDCADM_REQUEST_LOG=str(log))
    log.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sdcadm", *ARGV], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"sdcadm {' '.join(ARGV)} failed ({proc.returncode}): {proc.stderr}")
    if "Dry run: nothing was changed." not in proc.stdout and "Up-to-date." not in proc.stdout:
        raise SystemExit(f"unexpected output:\n{proc.stdout}")
    lines = log.read_text().splitlines() if log.exists() else []
    changes = sum(1 for ln in proc.stdout.splitlines() if ln.startswith("    update "))
    return elapsed, len(lines), changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", default="small,large")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from sdcadm.sim.testing import start_sim

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        for scenario in [s for s in args.scenarios.split(",") if s]:
            t0 = time.perf_counter()
            handle = start_sim(scenario, state_dir=Path(tmp) / scenario, time_scale=0.001)
            print(f"{scenario}: simulator ready in {time.perf_counter() - t0:.1f}s",
                  file=sys.stderr)
            try:
                log = Path(tmp) / f"{scenario}.log"
                run(handle.config_path, log)  # warm-up (pyc, simulator caches)
                handle.clear_mutations()
                times, counts = [], []
                for _ in range(args.runs):
                    elapsed, count, changes = run(handle.config_path, log)
                    times.append(elapsed)
                    counts.append(count)
                mutations = len(handle.mutations())
                rows.append([scenario, f"{statistics.median(times):.3f}s",
                             f"{min(times):.3f}s", str(max(counts)), str(changes),
                             str(mutations)])
            finally:
                handle.stop()
    head = ["scenario", "median", "min", "requests", "changes", "mutations"]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    print(f"sdcadm {' '.join(ARGV)}  (target < {TARGET}s on large)")
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main()
