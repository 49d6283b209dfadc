"""A plan confirmed while another run changes the datacenter is re-checked under the lock."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests
from e2e_runs import end_state, run_dirs, var_dir


def test_plan_is_rechecked_under_the_lock_and_refused_when_the_datacenter_moved(sim_factory):
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    _refused_when_moved_while_waiting(sim, ["update", "cns", "-y"], runs_before=[])


def test_rollback_is_rechecked_under_the_lock_too(sim_factory):
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    env = dict(os.environ, SDCADM_CONFIG=str(sim.config_path), NO_COLOR="1")
    done = subprocess.run([sys.executable, "-m", "sdcadm", "update", "cns", "-y"], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    sim.clear_mutations()
    _refused_when_moved_while_waiting(sim, ["rollback", "--latest", "--force", "-y"],
                                      runs_before=run_dirs(sim), command="rollback")


def _refused_when_moved_while_waiting(sim, argv: list[str], *, runs_before: list,
                                      command: str = "update") -> None:
    from sdcadm.executor.lock import RunLock

    config = json.loads(Path(sim.config_path).read_text())
    lock_path = Path(config.get("lockPath") or Path(config["varDir"]) / "sdcadm.lock")
    before = end_state(sim)

    holder = RunLock(lock_path, command="update (test holder)", run_uuid="t", wait=1).acquire()
    env = dict(os.environ, SDCADM_CONFIG=str(sim.config_path), NO_COLOR="1",
               SDCADM_LOCK_WAIT="30")
    proc = subprocess.Popen([sys.executable, "-m", "sdcadm", *argv], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # The run has planned and confirmed; it now waits for the lock.
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if "Waiting for sdcadm lock" in line or not line:
                break
        assert "Waiting for sdcadm lock" in seen[-1], "".join(seen)
        # Meanwhile somebody else changes the datacenter: a service gets another image.
        h = {"Accept-Version": "~2"}
        svc = requests.get(f"{sim.urls['sapi']}/services?name=vmapi", headers=h,
                           timeout=10).json()[0]
        other = "00000000-0000-4000-8000-00000000abcd"
        r = requests.put(f"{sim.urls['sapi']}/services/{svc['uuid']}", headers=h, timeout=10,
                         json={"params": {"image_uuid": other}})
        assert r.status_code == 200
    finally:
        holder.release()
    out, err = proc.communicate(timeout=60)
    err = "".join(seen) + err
    assert proc.returncode == 2, err
    assert "The datacenter changed since it was planned:" in err
    assert f"    service vmapi: image {svc['params']['image_uuid']} -> {other}" in err, err
    assert (f"sdcadm {command}: error (PlanDrift): this plan no longer matches the datacenter"
            in err)
    # Nothing was executed: no work dir, and the only mutation is the one made above (and
    # the datacenter lease, taken for the last look and given back: the sdc application's).
    assert run_dirs(sim) == runs_before
    muts = [(m["service"], m["method"]) for m in sim.mutations()
            if not m["path"].startswith("/applications/")]
    assert muts == [("sapi", "PUT")], muts
    after = end_state(sim)
    assert after["vms"] == before["vms"] and after["agents"] == before["agents"]
