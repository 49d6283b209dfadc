#!/usr/bin/env python3
"""History and journal size on `large` (999 compute nodes + headnode).

One real `sdcadm update --all -y` runs against the simulator (every service and all 11
agents of ~750 servers); its history entry (as SAPI stores it) and its work directory are
then replicated, with new run uuids, stamps and times, until there are RUNS runs: what
twenty such updates leave, without running twenty of them. Then, each a process of its own:
`sdcadm history` (the listing) and `sdcadm history <uuid>` (one entry), wall time (median of
REPEAT) and peak RSS (the child's getrusage).

    python tools/bench/bench_history.py [--runs 20] [--repeat 3] [--quick] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

import requests
from harness import ROOT, Figure, bench_args, print_figures, print_table

KIB, MIB = 1024, 1024 * 1024
TARGETS = {"entry_kib": 256, "list_s": 1.0, "list_mib": 150}


def timed(config: Path, *argv: str) -> tuple[float, float, str]:
    """Run `sdcadm ARGV`: (wall seconds, peak RSS MiB, stdout)."""
    import subprocess

    env = dict(os.environ, SDCADM_CONFIG=str(config), NO_COLOR="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "sdcadm", *argv], env=env, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"sdcadm {' '.join(argv)} failed ({proc.returncode}): "
                             f"{err.read()[-3000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()


def replicate(sim: Any, var_dir: Path, run_dir: Path, entry: dict[str, Any], runs: int) -> None:
    """RUNS - 1 more runs like the real one: its SAPI entry and its work directory, with a
    new uuid each, an hour apart before it."""
    plan_text = (run_dir / "plan.json").read_text()
    events_text = (run_dir / "events.jsonl").read_text()
    old = entry["uuid"]
    hour = 3600 * 1000
    for n in range(1, runs):
        new = str(uuidlib.uuid4())
        copy = {**entry, "uuid": new, "started": entry["started"] - n * hour,
                "finished": entry["finished"] - n * hour}
        r = requests.post(sim.urls["sapi"] + "/history", json=copy, timeout=60)
        r.raise_for_status()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(entry["started"] / 1000 - n * 3600))
        d = var_dir / "updates" / stamp
        d.mkdir(mode=0o700)
        (d / "plan.json").write_text(plan_text.replace(old, new))
        (d / "events.jsonl").write_text(events_text.replace(old, new))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    bench_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.repeat = 1
    sys.path.insert(0, str(ROOT))
    from sdcadm.sim.testing import start_sim

    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        t0 = time.perf_counter()
        sim = start_sim("large", state_dir=Path(tmp) / "large", time_scale=0.001)
        print(f"large: simulator ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        try:
            config = sim.config_path
            var_dir = Path(json.loads(config.read_text())["varDir"])
            update_s, _mib, _ = timed(config, "update", "--all", "-y")
            print(f"large: update --all in {update_s:.1f}s", file=sys.stderr)
            (run_dir,) = [p for p in (var_dir / "updates").iterdir() if p.is_dir()]
            run_uuid = json.loads((run_dir / "plan.json").read_text())["run_uuid"]
            resp = requests.get(f"{sim.urls['sapi']}/history/{run_uuid}", timeout=60)
            entry_bytes = len(resp.content)
            plan_bytes = (run_dir / "plan.json").stat().st_size
            events = (run_dir / "events.jsonl").read_bytes()
            steps = len(json.loads((run_dir / "plan.json").read_text())["steps"])
            replicate(sim, var_dir, run_dir, resp.json(), args.runs)
            lists, shows = [], []
            for _ in range(args.repeat):
                wall, rss, out = timed(config, "history")
                assert len(out.splitlines()) == args.runs + 1, out
                lists.append((wall, rss))
                shows.append(timed(config, "history", run_uuid)[:2])
        finally:
            sim.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    lines = events.count(b"\n")
    runs = f"{args.runs} runs of update --all on large"
    figures = [
        Figure("history entry of one update --all on large", round(entry_bytes / KIB), "KiB",
               f"< {TARGETS['entry_kib']}"),
        Figure(f"sdcadm history, {runs}: wall", round(statistics.median(w for w, _ in lists), 3),
               "s", f"< {TARGETS['list_s']}"),
        Figure(f"sdcadm history, {runs}: peak RSS", round(max(r for _, r in lists)), "MiB",
               f"< {TARGETS['list_mib']}"),
        Figure(f"sdcadm history UUID, {runs}: wall",
               round(statistics.median(w for w, _ in shows), 3), "s"),
        Figure(f"sdcadm history UUID, {runs}: peak RSS", round(max(r for _, r in shows)), "MiB"),
        Figure(f"journal of one update --all on large ({steps} steps): plan.json",
               round(plan_bytes / MIB, 1), "MiB"),
        Figure(f"journal of one update --all on large ({steps} steps): events.jsonl",
               round(len(events) / MIB, 1), "MiB"),
        Figure("journal of one update --all on large: events per step",
               round(lines / steps, 2)),
        Figure("journal of one update --all on large: bytes per event",
               round(len(events) / max(1, lines))),
    ]
    if args.json:
        print_figures(figures, args.quick)
        return
    rows = [("figure", "measured", "target", "met")]
    for f in figures:
        verdict = {True: "yes", False: "NO", None: "-"}[f.verdict()]
        rows.append((f.name, f"{f.value} {f.unit}".rstrip(), f.target or "-", verdict))
    print_table(rows)


if __name__ == "__main__":
    main()
