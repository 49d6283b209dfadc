#!/usr/bin/env python3
"""Benchmark the simulated datacenter on the `large` scenario (1000 servers, 12 agents each).

Prints a table of: start-up time until every service answers (fresh state directory, and a
restart on an existing one), the full CNAPI server list with extras=sysinfo,agents over all
pages, a scenario reset, and 50 concurrent install-agent tasks with a fixed 2 s latency
waited through /tasks/:id/wait (the simulator must not add latency under that load: the
wall time at most 10% over the task latency).

    .venv/bin/python tools/bench/bench_sim.py [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness import Figure, bench_args, print_figures  # noqa: E402

from sdcadm.sim import ENDPOINTS  # noqa: E402
from sdcadm.sim.testing import SimHandle, start_sim  # noqa: E402


def ready(scenario: str, state_dir: Path) -> tuple[float, SimHandle]:
    t0 = time.monotonic()
    handle = start_sim(scenario, state_dir=state_dir, time_scale=1.0)
    for name in ENDPOINTS:
        requests.get(handle.urls[name] + "/ping", timeout=30).raise_for_status()
    return time.monotonic() - t0, handle


def list_all_servers(session: requests.Session, cnapi: str) -> int:
    count, offset = 0, 0
    while True:
        params: dict[str, str | int] = {"extras": "sysinfo,agents", "limit": 1000,
                                        "offset": offset}
        page = session.get(f"{cnapi}/servers", params=params, timeout=60).json()
        count += len(page)
        offset += len(page)
        if len(page) < 1000:
            return count


def concurrent_tasks(handle, n: int = 50, latency: float = 2.0) -> tuple[float, float]:
    handle.set_latencies({"install-agent": latency})
    cnapi = handle.urls["cnapi"]
    servers = requests.get(f"{cnapi}/servers?extras=agents&headnode=false&limit={n}",
                           timeout=30).json()
    image = next(a["image_uuid"] for a in servers[0]["agents"] if a["name"] == "vm-agent")

    def one(server: dict) -> float:
        s = requests.Session()
        t0 = time.monotonic()
        tid = s.post(f"{cnapi}/servers/{server['uuid']}/install-agent", json={"image_uuid": image},
                     timeout=30).json()["id"]
        task = s.get(f"{cnapi}/tasks/{tid}/wait", params={"timeout": 60}, timeout=90).json()
        assert task["status"] == "complete", task
        return time.monotonic() - t0

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        each = list(pool.map(one, servers))
    return time.monotonic() - t0, max(each)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenario", default="large")
    bench_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.runs = 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        fresh, restart = [], []
        for i in range(max(1, args.runs // 2 + 1)):
            secs, handle = ready(args.scenario, Path(tmp) / f"fresh{i}")
            fresh.append(secs)
            handle.stop()
            secs, handle = ready(args.scenario, Path(tmp) / f"fresh{i}")
            restart.append(secs)
            if i < args.runs // 2:
                handle.stop()
        session = requests.Session()
        servers = list_all_servers(session, handle.urls["cnapi"])
        lists = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            list_all_servers(session, handle.urls["cnapi"])
            lists.append(time.monotonic() - t0)
        resets = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            handle.reset()
            resets.append(time.monotonic() - t0)
        wall, slowest = concurrent_tasks(handle)
        handle.stop()
    rows.append((f"{args.scenario} start-up until every service answers (fresh state dir)",
                 fresh, "< 10 s"))
    rows.append((f"{args.scenario} restart on an existing state dir", restart, "< 10 s"))
    rows.append((f"full server list, extras=sysinfo,agents ({servers} servers, all pages)",
                 lists, "< 1 s"))
    rows.append(("reset to the scenario", resets, "-"))
    rows.append(("50 concurrent install-agent tasks, 2.0 s latency, /wait long-polls (wall)",
                 [wall], "~2.0 s"))
    rows.append(("  slowest single task (submit to wait return)", [slowest], "~2.0 s"))
    if args.json:
        limits = {"< 10 s": "< 10", "< 1 s": "< 1"}
        figures = [Figure(label, round(statistics.median(values), 3), "s", limits.get(t, ""))
                   for label, values, t in rows[:4]]
        figures += [
            Figure("50 concurrent install-agent tasks at 2.0 s: wall / latency",
                   round(wall / 2.0, 3), "x", "<= 1.1"),
            Figure("slowest of those tasks (submit to /wait return) / latency",
                   round(slowest / 2.0, 3), "x", "<= 1.1")]
        print_figures(figures, args.quick)
        return
    width = max(len(r[0]) for r in rows)
    print(f"{'MEASURE'.ljust(width)}  {'MEDIAN':>8}  {'MIN':>8}  {'MAX':>8}  RUNS  TARGET")
    for label, values, target in rows:
        print(f"{label.ljust(width)}  {statistics.median(values):8.3f}  {min(values):8.3f}  "
              f"{max(values):8.3f}  {len(values):>4}  {target}")


if __name__ == "__main__":
    main()
