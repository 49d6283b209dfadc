"""The real command in a subprocess: `python -m sdcadm update`, Ctrl-C, `update --resume`."""
from __future__ import annotations

import json
import shutil
import signal

import pytest
from e2e_runs import cli, events, run_dirs, var_dir, wait_for_event


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_stops_the_run_at_a_safe_point_and_resume_finishes(sim_factory, sig):
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    proc = cli(sim, "update", "--all", "-y", wait=False)
    wait_for_event(sim, lambda e: e.get("event") == "step-start"
                   and e.get("step", "").split(":")[1] == "reprovision", proc=proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "sdcadm update: error (Interrupted): interrupted at step " in err
    run_dir = run_dirs(sim)[-1]
    assert events(run_dir)[-1]["status"] == "interrupted"
    run_uuid = json.loads((run_dir / "plan.json").read_text())["run_uuid"]
    entry = cli(sim, "history", run_uuid)
    assert json.loads(entry.stdout)["finished"], entry.stderr
    r = cli(sim, "update", "--resume")
    assert r.returncode == 0, r.stderr
    assert f"Resuming run {run_uuid}" in r.stderr
    assert r.stdout.strip().startswith("Updated successfully (elapsed ")
    r = cli(sim, "update", "--all", "-y")
    assert (r.returncode, r.stdout.strip()) == (0, "Up-to-date."), r.stderr


def test_ctrl_c_while_reading_a_slow_api_exits_at_once(sim_factory):
    import time

    sim = sim_factory("small", 0.002)
    sim.reset()
    sim.add_fault({"type": "latency", "service": "vmapi", "delay": 4})
    try:
        proc = cli(sim, "instances", wait=False)
        deadline = time.monotonic() + 30
        while not any(m for m in _vm_reads_started(sim)) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        # not held until the slow VMAPI read ends (4 s)
        assert time.monotonic() - sent < 2, err
        assert proc.returncode == 130, err
        assert "Traceback" not in err
    finally:
        sim.clear_faults()


def _vm_reads_started(sim):
    """The latency fault counts a request when it starts delaying it."""
    return [f for f in sim.faults() if f.get("fired")]


def test_ctrl_c_during_agent_updates_says_how_many_servers_were_left(sim_factory):
    import re

    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    sim.set_latencies({"install-agent": 250})  # 0.5 s each at this time scale
    try:
        proc = cli(sim, "update", "cn-agent", "-y", "--concurrency", "1", wait=False)
        wait_for_event(sim, lambda e: e.get("event") == "step-end"
                       and e.get("step", "").split(":")[1] == "install-agent", proc=proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        m = re.search(r"Updated cn-agent on (\d+)/(\d+) servers \(0 failures, (\d+) not "
                      r"updated: interrupted\)", err)
        assert m, err
        done, total, left = map(int, m.groups())
        assert done >= 1 and left >= 1 and done + left == total
    finally:
        sim.reset()
