#!/usr/bin/env python3
"""Rehearsal benchmark: `sdcadm rehearse --all -j` against a simulated "live" `large`
(a headnode and 999 compute nodes, 12 agents each), run as a whole process.

Reported:
- the rehearsal's wall time, end to end (plan against the live side, snapshot, private
  simulator start, the update there, report): target under 60 s;
- how long the update itself took in the private copy, and what it predicts at real
  latencies;
- requests the live side received (all must be reads) and its mutation log (must be empty).

Usage: python tools/bench/bench_rehearse.py [--speed 1000] [--scenario large]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from harness import ROOT, Figure, bench_args, print_figures, print_table, scenario_sims

PHASES = {"plan": "plan against the live side, read its history",
          "snapshot": "snapshot of the live side", "start": "private simulator up, fault specs",
          "run": "update (and resumes) in the private copy", "report": "journal to report"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", type=float, default=1000.0,
                    help="the rehearsal's --speed (default: rehearse's own, 1000)")
    ap.add_argument("--scenario", default="large")
    bench_args(ap)
    args = ap.parse_args()
    for scenario, live, _tmp in scenario_sims([args.scenario], "bench-rehearse-"):
        env = dict(os.environ, SDCADM_CONFIG=str(live.config_path), NO_COLOR="1")
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "sdcadm", "rehearse", "--all", "--speed",
                               f"{args.speed:g}", "-j"], env=env, text=True, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"rehearse failed ({proc.returncode}): {proc.stderr}")
        report = json.loads(proc.stdout)
        r, live_side = report["rehearsal"], report["live"]
        if args.json:
            what = f"rehearse --all on {scenario}"
            print_figures([
                Figure(f"{what}: wall", round(wall, 1), "s", "< 60"),
                Figure(f"{what}: predicted at real latencies",
                       round(report["predicted"]["total_s"] / 3600, 1), "h"),
                Figure(f"{what}: private copy matches the live side",
                       "yes" if report["fidelity"]["same"] else "no", "", "yes",
                       met=bool(report["fidelity"]["same"])),
                Figure(f"{what}: requests to the live side", live_side["requests"], "",
                       "reads only", met=set(live_side["by_method"]) <= {"GET", "HEAD"}),
                Figure(f"{what}: mutations the live side logged", len(live.mutations()), "",
                       "== 0"),
                Figure(f"{what}: quorum losses in the private copy",
                       len(report["quorum_losses"]), "", "== 0")], args.quick)
            continue
        print_table([
            ("measure", "measured", "target"),
            (f"rehearse --all on {scenario}, wall time", f"{wall:.1f} s", "< 60 s"),
            *((f"  {PHASES[k]}", f"{v:.1f} s", "-") for k, v in r["phases"].items()),
            ("the update in the private copy", f"{r['elapsed_s']:.1f} s "
             f"({r['steps_run']} steps at x{args.speed:g})", "-"),
            ("predicted at real latencies", f"{report['predicted']['total_s'] / 3600:.1f} h",
             "-"),
            ("private copy matches the live side", "yes" if report["fidelity"]["same"] else
             f"no ({len(report['fidelity']['differences'])} differences)", "yes"),
            ("requests to the live side", f"{live_side['requests']} "
             f"({', '.join(f'{n} {m}' for m, n in live_side['by_method'].items())})",
             "reads only"),
            ("mutations the live side logged", str(len(live.mutations())), "0"),
            ("quorum losses in the private copy", str(len(report["quorum_losses"])), "0"),
        ])


if __name__ == "__main__":
    main()
