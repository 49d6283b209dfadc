#!/usr/bin/env python3
"""Read-phase speed against a bare client, peak memory, and the scheduled rollout.

    .venv/bin/python tools/bench/bench_perf.py [--runs 5] [--scenarios small,large]
                                               [--rollout-scale 0.01] [--skip-rollout]

1. `avail -j`, `instances -j` and `update --all -n -j` on each scenario, as whole processes
   (median of --runs), each paired with a bare client run right after it: a process that
   imports `requests` and GETs the very URLs the command read (from $SDCADM_REQUEST_LOG),
   one after another on one session, and decodes each answer with `json.loads`: what
   fetching and decoding the same responses costs, measured on the same machine in the
   same minute. Targets: at most 2.0x the bare client, and under 0.3 s on `large` (on an
   idle 2-core machine: the load average is printed with the table).
2. Peak memory (max RSS) of `update --all -n -j` on `large` (target under 100 MiB).
3. `update --all -y` on `small` at a fixed time scale, with the default service
   concurrency and with `--service-concurrency 1`: wall time of each run's execution
   (journal `run-start` to `run-end`) over the schedule's lower bound (for every group of
   steps, the longer of its longest chain of `after` and its work divided by its width,
   from the step durations the journal shows; target at most 1.15), and the scheduled run
   over the serial one (target at most 0.5). With them, the same bound at any width (every
   group as wide as it is long) over the serial run: what the groups that run alone, one
   after another (the update machinery, each agent), leave whatever the concurrency.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from harness import ROOT, Figure, bench_args, print_figures, print_table, scenario_sims

COMMANDS = [("avail -j", ["avail", "-j"]), ("instances -j", ["instances", "-j"]),
            ("update --all -n -j", ["update", "--all", "-n", "-j"])]
RATIO_TARGET = 2.0
LARGE_TARGET = 0.3  # seconds, on `large`
PEAK_TARGET = 100  # MiB, `update --all -n -j` on `large`

BARE = """\
import json, sys, requests
s = requests.Session()
for url in open(sys.argv[1]).read().split():
    r = s.get(url, timeout=60)
    r.raise_for_status()
    json.loads(r.content)
"""


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak MiB, exit status) of one whole process, output thrown away."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, proc.returncode


def urls_read(argv: Sequence[str], env: dict[str, str], log: Path) -> list[str]:
    """The URLs `sdcadm ARGV` GETs, from its request log."""
    log.unlink(missing_ok=True)
    _wall, _peak, rc = timed([sys.executable, "-m", "sdcadm", *argv],
                             dict(env, SDCADM_REQUEST_LOG=str(log)))
    if rc != 0:
        raise SystemExit(f"sdcadm {' '.join(argv)} failed ({rc})")
    return [parts[2] for parts in (ln.split() for ln in log.read_text().splitlines())
            if len(parts) > 2 and parts[1] == "GET"]


def read_phase(scenarios: list[str], runs: int) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    for scenario, handle, tmp in scenario_sims(scenarios, "bench-perf-"):
        env = dict(os.environ, SDCADM_CONFIG=str(handle.config_path), NO_COLOR="1")
        bare = tmp / "bare.py"
        bare.write_text(BARE)
        for name, argv in COMMANDS:
            urls = tmp / f"{scenario}-urls.txt"
            urls.write_text("\n".join(urls_read(argv, env, tmp / "requests.log")) + "\n")
            ours = [sys.executable, "-m", "sdcadm", *argv]
            theirs = [sys.executable, str(bare), str(urls)]
            timed(ours, env), timed(theirs, env)  # warm: pyc, page cache, simulator
            walls, bares, peaks, ratios = [], [], [], []
            for _ in range(runs):
                wall, peak, rc = timed(ours, env)
                base, _p, brc = timed(theirs, env)
                if rc or brc:
                    raise SystemExit(f"{name} on {scenario}: exit {rc}, bare client {brc}")
                walls.append(wall)
                bares.append(base)
                peaks.append(peak)
                ratios.append(wall / base)
            out[(name, scenario)] = {
                "wall": statistics.median(walls), "bare": statistics.median(bares),
                "ratio": statistics.median(ratios), "peak": max(peaks),
                "requests": len(urls.read_text().split())}
    return out


# -- the scheduled rollout ---------------------------------------------------------------------
def _t(ev: dict[str, Any]) -> float:
    return datetime.fromisoformat(ev["time"].replace("Z", "+00:00")).timestamp()


def lower_bound(steps: list[Any], took: dict[str, float], *, unbounded: bool = False) -> float:
    """The shortest the steps could take with their groups' widths: per group, the longer
    of its longest `after` chain and its total work over its width. `unbounded`: every
    group as wide as it is long (any concurrency), so what is left is what the groups that
    run alone one after another (the update machinery, each agent) take."""
    from sdcadm.executor.engine import groups

    total = 0.0
    for group in groups(steps):
        if len(group) == 1 and not group[0].parallel:
            total += took[group[0].id]
            continue
        ref = {**{s.target: s for s in group}, **{s.id: s for s in group}}
        finish: dict[str, float] = {}
        for s in group:  # a step's `after` comes before it
            finish[s.id] = took[s.id] + max((finish[ref[a].id] for a in s.after
                                             if a in ref and ref[a].id in finish), default=0.0)
        width = len(group) if unbounded else max(1, min(group[0].concurrency, len(group)))
        total += max(max(finish.values()), sum(took[s.id] for s in group) / width)
    return total


def journal_figures(run_dir: Path) -> tuple[float, float, float]:
    """(execution wall, lower bound, lower bound at any width) of one run, from its
    journal."""
    from sdcadm.executor.journal import read_events
    from sdcadm.plan import Step

    events = read_events(run_dir / "events.jsonl")
    steps = [Step.from_json(s) for s in
             json.loads((run_dir / "plan.json").read_text())["steps"]]
    began: dict[str, float] = {}
    took: dict[str, float] = {}
    for ev in events:
        if ev["event"] == "step-intent":
            began[ev["step"]] = _t(ev)
        elif ev["event"] == "step-end" and ev["step"] in began:
            took[ev["step"]] = _t(ev) - began[ev["step"]]
    start = next(_t(e) for e in events if e["event"] == "run-start")
    end = next(_t(e) for e in reversed(events) if e["event"] == "run-end")
    return end - start, lower_bound(steps, took), lower_bound(steps, took, unbounded=True)


def rollout(scale: float) -> dict[str, tuple[float, float, float]]:
    """service concurrency -> (execution wall, lower bound) of `update --all -y` on small."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from sdcadm.sim.testing import start_sim

    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        handle = start_sim("small", state_dir=Path(tmp) / "small", time_scale=scale)
        try:
            env = dict(os.environ, SDCADM_CONFIG=str(handle.config_path), NO_COLOR="1")
            var = Path(json.loads(handle.config_path.read_text())["varDir"])
            for label, extra in (("default", []), ("1", ["--service-concurrency", "1"])):
                handle.reset()
                shutil.rmtree(var, ignore_errors=True)
                _w, _p, rc = timed([sys.executable, "-m", "sdcadm", "update", "--all", "-y",
                                    *extra], env)
                if rc != 0:
                    raise SystemExit(f"update --all {' '.join(extra)} failed ({rc})")
                run_dir = sorted((var / "updates").iterdir())[-1]
                out[label] = journal_figures(run_dir)
        finally:
            handle.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", default="small,large")
    ap.add_argument("--rollout-scale", type=float, default=0.01,
                    help="simulator time scale of the rollout runs (0.01: a 30 s "
                         "reprovision takes 0.3 s)")
    ap.add_argument("--skip-rollout", action="store_true")
    bench_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.runs = 1
    scenarios = [s for s in args.scenarios.split(",") if s]
    load_before = os.getloadavg()
    reads = read_phase(scenarios, args.runs)
    rolled = {} if args.skip_rollout else rollout(args.rollout_scale)
    load_after = os.getloadavg()

    figures: list[Figure] = []
    for (name, scenario), r in reads.items():
        figures.append(Figure(f"{name} on {scenario}: over the bare client",
                              round(r["ratio"], 2), "x", f"<= {RATIO_TARGET}"))
        if scenario == "large":
            figures.append(Figure(f"{name} on large: wall", round(r["wall"], 3), "s",
                                  f"< {LARGE_TARGET}"))
    if ("update --all -n -j", "large") in reads:
        figures.append(Figure("update --all -n -j on large: peak memory",
                              round(reads[("update --all -n -j", "large")]["peak"], 1),
                              "MiB", f"< {PEAK_TARGET}"))
    if rolled:
        (wall, bound, floor), (serial, _b, _f) = rolled["default"], rolled["1"]
        figures.append(Figure("update --all on small: wall over the schedule's lower bound",
                              round(wall / bound, 2), "x", "<= 1.15"))
        figures.append(Figure("update --all on small: wall over the serial run's",
                              round(wall / serial, 2), "x", "<= 0.5"))
        figures.append(Figure("update --all on small: lower bound at any service concurrency "
                              "over the serial run's", round(floor / serial, 2), "x", "-"))
    if args.json:
        print_figures(figures, args.quick)
        return

    rows = [["command", "scenario", "sdcadm", "bare client", "ratio", "peak", "requests",
             "target"]]
    for (name, scenario), r in reads.items():
        target = f"<= {RATIO_TARGET}x" + (f", < {LARGE_TARGET}s" if scenario == "large" else "")
        if name.startswith("update") and scenario == "large":
            target += f", < {PEAK_TARGET} MiB"
        rows.append([name, scenario, f"{r['wall']:.3f}s", f"{r['bare']:.3f}s",
                     f"{r['ratio']:.2f}x", f"{r['peak']:.0f} MiB", str(r["requests"]),
                     target])
    print_table(rows)
    print(f"(median of {args.runs} paired runs, whole processes; bare client: requests + "
          "json.loads of the same URLs, one after another)")
    if rolled:
        print()
        (wall, bound, floor), (serial, sbound, _f) = rolled["default"], rolled["1"]
        print_table([
            ["update --all on small", "execution wall", "lower bound", "wall/bound",
             "wall/serial", "target"],
            ["default service concurrency", f"{wall:.2f}s", f"{bound:.2f}s",
             f"{wall / bound:.2f}", f"{wall / serial:.2f}", "<= 1.15, <= 0.5"],
            ["--service-concurrency 1", f"{serial:.2f}s", f"{sbound:.2f}s",
             f"{serial / sbound:.2f}", "1.00", ""],
            ["any service concurrency", "-", f"{floor:.2f}s", "-",
             f"{floor / serial:.2f} (bound)", ""],
        ])
        print(f"(time scale {args.rollout_scale}; execution wall from the journal, "
              "run-start to run-end)")
    print(f"load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
