#!/usr/bin/env python3
"""Rolling reboot benchmark: the 999 compute nodes of `large` in a reboot plan at
--max-unavailable 50, run by `sdcadm reboot-plan run -y` as a whole process.

Reported:
- wall time of the run over its lower bound, ceil(N / slots) x the reboot latency (the
  simulator's `reboot` latency at the chosen time scale): target at most 1.10;
- peak RSS of the sdcadm process (target under 200 MiB);
- quorum losses the simulator recorded (must be 0).

Usage: python tools/bench/bench_reboot.py [--slots 50] [--time-scale 0.02] [--servers 999]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT, Figure, bench_args, print_figures, print_table

REBOOT_LATENCY = 90.0  # seconds, the scenario's `reboot` latency at time scale 1


def _sdcadm(config: Path, *argv: str) -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS in KiB, stdout, stderr) of one sdcadm process."""
    env = dict(os.environ, SDCADM_CONFIG=str(config), NO_COLOR="1")
    code = ("import resource, sys\n"
            "from sdcadm.cli.main import run\n"
            "rc = run(sys.argv[1:])\n"
            "sys.stdout.flush()\n"
            "print('\\nmaxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "file=sys.stderr)\n"
            "raise SystemExit(rc)\n")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *argv], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"sdcadm {' '.join(argv)} failed ({proc.returncode}):\n"
                         + proc.stderr[-2000:])
    rss = int(proc.stderr.rsplit("maxrss", 1)[1].split()[0])
    return wall, rss, proc.stdout, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", type=int, default=50)
    ap.add_argument("--time-scale", type=float, default=0.02)
    ap.add_argument("--servers", type=int, default=999, help="compute nodes to reboot")
    bench_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.servers = min(args.servers, 250)
    sys.path.insert(0, str(ROOT))
    from sdcadm.sim.testing import start_sim

    with tempfile.TemporaryDirectory(prefix="bench-reboot-") as tmp:
        t0 = time.perf_counter()
        sim = start_sim("large", state_dir=Path(tmp) / "large", time_scale=args.time_scale)
        print(f"large: simulator ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        try:
            config = sim.config_path
            hosts = [f"cn{n:04d}" for n in range(1, args.servers + 1)]
            select = ["--hostname", "cn*"] if args.servers == 999 else hosts
            c_wall, c_rss, _, _ = _sdcadm(config, "reboot-plan", "create", *select,
                                          "--max-unavailable", str(args.slots))
            wall, rss, out, _ = _sdcadm(config, "reboot-plan", "run", "-y")
            status = json.loads(_sdcadm(config, "reboot-plan", "status", "-j")[2])
            losses = sim.quorum_losses()
        finally:
            sim.stop()
    latency = REBOOT_LATENCY * args.time_scale
    n = len(status["servers"])
    bound = math.ceil(n / args.slots) * latency
    # The run's own time, from its first reboot to its last gate, without the read phase.
    from datetime import datetime

    def t(s: str) -> float:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

    first = min(t(r["started"]) for r in status["servers"])
    last = max(t(r["finished"]) for r in status["servers"])
    rolled = last - first
    if args.json:
        what = f"rolling reboot of {n} servers, {args.slots} at a time"
        print_figures([
            Figure(f"{what}: rebooted", status["summary"], "", f"{n}/{n} rebooted",
                   met=str(status["summary"]).startswith(f"{n}/{n} rebooted")),
            Figure(f"{what}: rollout / lower bound", round(rolled / bound, 3), "x", "<= 1.1"),
            Figure(f"{what}: whole `run -y` process", round(wall, 1), "s", "< 60"),
            # Start-up, the read phase and the closing verification of every rebooted
            # server come on top of the rollout: shown, not held to the rollout's bound.
            Figure(f"{what}: whole `run -y` process / lower bound", round(wall / bound, 3),
                   "x"),
            Figure(f"{what}: peak RSS of `run`", round(rss / 1024), "MiB", "< 200"),
            Figure(f"{what}: quorum losses", len(losses), "", "== 0")], args.quick)
        return
    print_table([
        ("figure", "value", "target"),
        ("servers rebooted", f"{status['summary']}", f"{n}/{n} rebooted"),
        ("slots (--max-unavailable)", args.slots, ""),
        ("reboot latency (s)", f"{latency:.2f}", ""),
        ("lower bound ceil(N/slots) x latency (s)", f"{bound:.1f}", ""),
        ("rollout: first reboot to last gate (s)", f"{rolled:.1f}", ""),
        ("rollout / lower bound", f"{rolled / bound:.3f}", "<= 1.10"),
        ("whole `run -y` process (s)", f"{wall:.1f}", "< 60"),
        ("whole process / lower bound", f"{wall / bound:.3f}", ""),
        ("peak RSS of `run` (MiB)", f"{rss / 1024:.0f}", "< 200"),
        ("peak RSS of `create` (MiB)", f"{c_rss / 1024:.0f}", "< 200"),
        ("`create` wall (s)", f"{c_wall:.2f}", ""),
        ("quorum losses", len(losses), "0"),
    ])
    if out.strip().splitlines()[-1:] and "done" not in out.strip().splitlines()[-1]:
        print(out, file=sys.stderr)


if __name__ == "__main__":
    main()
