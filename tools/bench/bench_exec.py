#!/usr/bin/env python3
"""Executor benchmarks against the simulator.

1. Agent update on `large` (999 compute nodes + headnode): one agent on every server at
   --concurrency 50 with a fixed install-agent task latency. Reported as wall time over
   the lower bound ceil(servers / concurrency) x latency (target <= 1.15).
2. Streaming download of a 1 GiB image with `download_via: sdcadm` (updates server ->
   sdcadm -> local IMGAPI, sha1 checked on the fly), as a throughput ratio to a plain
   loopback copy of the same bytes between the same two endpoints (GET -> PUT with no
   checks; target >= 0.8): the median of --pairs runs of each, interleaved.
3. Peak RSS of the sdcadm process in both runs (target < 200 MiB).

Each measured run is a separate process driving the executor through its Python API;
it reports its own peak RSS (getrusage). Usage:

    python tools/bench/bench_exec.py [--latency 0.5] [--concurrency 50] [--skip-agents]
                                      [--skip-download] [--size-mib 1024] [--pairs 3]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT, Figure, bench_args, print_figures, print_table

BIG_UUID = "b16b16b1-0000-4000-8000-00000000b16b"


# -- children: one measured run each ------------------------------------------------------
def child_agents(agent: str, concurrency: int) -> dict:
    from sdcadm.cli.app import App
    from sdcadm.executor.journal import read_events
    from sdcadm.executor.run import execute
    from sdcadm.gather import gather
    from sdcadm.plan import ChangeRequest
    from sdcadm.planner import PlanOptions, plan
    from sdcadm.procedures import expand

    app = App()
    state = gather(app, app.config)
    req = ChangeRequest(type="update-service", service=agent, source={"service": agent})
    # --force-same-image: every server gets the task, not only the ones behind.
    p = plan(state, [req], PlanOptions(concurrency=concurrency, force_same_image=True), app.config)
    steps = expand(p)
    installs = [s for s in steps if s.action == "install-agent"]
    result = execute(app, p, steps, options={"yes": True, "concurrency": concurrency})
    evs = read_events(result.work_dir / "events.jsonl")
    ids = {s.id for s in installs}

    def t(ev: dict) -> float:
        from datetime import datetime

        return datetime.fromisoformat(ev["time"].replace("Z", "+00:00")).timestamp()

    starts = [t(e) for e in evs if e.get("event") == "step-start" and e.get("step") in ids]
    ends = [t(e) for e in evs if e.get("event") == "step-end" and e.get("step") in ids]
    return {"servers": len(installs), "wall": max(ends) - min(starts),
            "status": result.status}


def child_download(image: str, mode: str) -> dict:
    from sdcadm.cli.app import App

    app = App()
    clients = app.clients
    manifest = clients.updates.get_image(image)
    size = int(manifest["files"][0]["size"])
    if mode == "sdcadm":
        from sdcadm.executor.run import execute
        from sdcadm.plan import Plan, Step

        f = manifest["files"][0]
        step = Step(id=f"1:import-image:{image}", action="import-image", target=image,
                    params={"image_uuid": image, "name": manifest["name"],
                            "version": manifest["version"], "size": size, "sha1": f["sha1"]})
        t0 = time.monotonic()
        execute(app, Plan(just_images=True), [step],
                options={"yes": True, "download_via": "sdcadm"})
        wall = time.monotonic() - t0
        assert clients.imgapi.get_image(image)["state"] == "active"
    else:
        # The same two endpoints, the same bytes, no verification and no bookkeeping.
        from sdcadm.executor.handlers.images import importable

        clients.imgapi.admin_import(importable(manifest))
        t0 = time.monotonic()
        resp = clients.updates.get_file(image)

        class Body:
            def __iter__(self):
                return resp.iter_content(1 << 20)

            def __len__(self):
                return size

        clients.imgapi.add_file(image, Body(), size=size, sha1=None,
                                compression=manifest["files"][0].get("compression") or "none")
        wall = time.monotonic() - t0
    return {"bytes": size, "wall": wall}


def child_main(argv: list[str]) -> None:
    import resource

    kind = argv[0]
    if kind == "agents":
        out = child_agents(argv[1], int(argv[2]))
    else:
        out = child_download(argv[1], argv[2])
    out["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


# -- parent -----------------------------------------------------------------------------------
def run_child(config: Path, *args: str) -> dict:
    env = dict(os.environ, SDCADM_CONFIG=str(config), NO_COLOR="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, __file__, "--child", *args], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"child {args} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_agents(latency: float, concurrency: int, agent: str) -> dict:
    from sdcadm.sim.testing import start_sim

    with tempfile.TemporaryDirectory() as d:
        sim = start_sim("large", state_dir=d, time_scale=1.0,
                        latencies={"install-agent": latency, "import-image": 0.05,
                                   "job-queue": 0.0})
        try:
            res = run_child(sim.config_path, "agents", agent, str(concurrency))
        finally:
            sim.stop()
    bound = math.ceil(res["servers"] / concurrency) * latency
    res.update(bound=bound, ratio=res["wall"] / bound)
    return res


def bench_download(size_mib: int, pairs: int = 3) -> dict:
    import yaml

    from sdcadm.sim.testing import start_sim

    base = yaml.safe_load((ROOT / "sdcadm/sim/scenarios/small.yaml").read_text())
    base["name"] = "small-big-image"
    base["images"].append({
        "uuid": BIG_UUID, "name": "bigimage", "version": "master-20241101T000000Z-gb16b16b",
        "published_at": "2024-11-01T00:00:00.000Z", "type": "zone-dataset", "os": "smartos",
        "size": size_mib * 1024 * 1024, "compression": "none",
        "description": "download benchmark", "channels": [c["name"] for c in base["channels"]],
    })
    with tempfile.TemporaryDirectory() as d:
        scenario = Path(d) / "big.yaml"
        scenario.write_text(yaml.safe_dump(base))
        sim = start_sim(scenario, state_dir=Path(d) / "state", time_scale=0.001)
        plains, ours = [], []
        try:
            for _ in range(pairs):  # A B A B: a busy moment hits both sides alike
                sim.reset()
                plains.append(run_child(sim.config_path, "download", BIG_UUID, "plain"))
                sim.reset()
                ours.append(run_child(sim.config_path, "download", BIG_UUID, "sdcadm"))
        finally:
            sim.stop()
    mib = ours[0]["bytes"] / 1048576
    plain_s = statistics.median(p["wall"] for p in plains)
    ours_s = statistics.median(o["wall"] for o in ours)
    return {"mib": mib, "plain_s": plain_s, "ours_s": ours_s,
            "plain_mibs": mib / plain_s, "ours_mibs": mib / ours_s,
            "ratio": statistics.median(p["wall"] / o["wall"]
                                       for p, o in zip(plains, ours, strict=True)),
            "maxrss_mib": max(o["maxrss_mib"] for o in ours),
            "plain_maxrss_mib": max(p["maxrss_mib"] for p in plains)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.5, help="install-agent task seconds")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--agent", default="vm-agent")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--pairs", type=int, default=3, help="download runs of each side")
    ap.add_argument("--skip-agents", action="store_true")
    ap.add_argument("--skip-download", action="store_true")
    bench_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.size_mib = min(args.size_mib, 256)
        args.pairs = 1
    rows = []
    figures = []
    if not args.skip_agents:
        a = bench_agents(args.latency, args.concurrency, args.agent)
        rows.append(("agent update, large", f"{a['servers']} servers, c={args.concurrency}, "
                     f"task {args.latency}s", f"{a['wall']:.2f}s / bound {a['bound']:.2f}s",
                     f"ratio {a['ratio']:.3f} (target <= 1.15)",
                     f"peak RSS {a['maxrss_mib']:.0f} MiB"))
        what = f"agent update, {a['servers']} servers at c={args.concurrency}"
        figures += [
            Figure(f"{what}: wall", round(a["wall"], 2), "s"),
            Figure(f"{what}: wall / lower bound", round(a["ratio"], 3), "x", "<= 1.15"),
            Figure(f"{what}: peak RSS", round(a["maxrss_mib"]), "MiB", "< 200")]
    if not args.skip_download:
        d = bench_download(args.size_mib, args.pairs)
        rows.append(("download via sdcadm", f"{d['mib']:.0f} MiB",
                     f"{d['ours_mibs']:.0f} MiB/s vs plain {d['plain_mibs']:.0f} MiB/s",
                     f"ratio {d['ratio']:.3f} (target >= 0.8)",
                     f"peak RSS {d['maxrss_mib']:.0f} MiB "
                     f"(plain copy {d['plain_maxrss_mib']:.0f})"))
        what = f"download via sdcadm, {d['mib']:.0f} MiB"
        figures += [
            Figure(f"{what}: throughput", round(d["ours_mibs"]), "MiB/s"),
            Figure(f"{what}: throughput / plain copy", round(d["ratio"], 3), "x", ">= 0.8"),
            Figure(f"{what}: peak RSS", round(d["maxrss_mib"]), "MiB", "< 200")]
    if args.json:
        print_figures(figures, args.quick)
        return
    print_table(rows)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
