"""One run at a time per datacenter, whatever its work directory or host: the lease."""
from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from e2e_runs import cli, kill, var_dir, wait_for_event

SDC = "215f201b-60e2-5365-a027-925a99cc281c"


def _fresh(sim_factory, scale: float = 0.002):
    sim = sim_factory("small", scale)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    return sim


def _config(sim, tmp_path: Path, name: str, **extra) -> Path:
    """Another sdcadm on the same datacenter: its own varDir (so its own local lock)."""
    doc = json.loads(Path(sim.config_path).read_text())
    path = tmp_path / f"{name}.conf"
    path.write_text(json.dumps({**doc, "varDir": str(tmp_path / name), **extra}))
    return path


def _lease(sim) -> dict | None:
    app = requests.get(f"{sim.urls['sapi']}/applications/{SDC}", timeout=10).json()
    return (app.get("metadata") or {}).get("sdcadm_lease")


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_second_run_elsewhere_is_refused_with_the_holder_named(sim_factory, tmp_path):
    sim = _fresh(sim_factory, 0.02)
    first = _config(sim, tmp_path, "one")
    second = _config(sim, tmp_path, "two", lockWait=0)
    proc = cli(sim, "--config", str(first), "update", "workflow", "-y", wait=False)
    try:
        deadline = time.monotonic() + 30
        while _lease(sim) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        holder = _lease(sim)
        assert holder and holder["command"] == "update"
        r = cli(sim, "--config", str(second), "update", "cloudapi", "-y")
        assert r.returncode == 2, r.stderr
        line = r.stderr.splitlines()[-1]
        assert line.startswith(f"sdcadm update: error (Lease): the datacenter is being changed "
                               f"by update (run {holder['run_uuid']}, pid {holder['pid']} on ")
        st = cli(sim, "--config", str(second), "lock", "status")
        assert f"Datacenter lease held by update (run {holder['run_uuid']}" in st.stdout
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            kill(proc)
    assert _lease(sim) is None  # given back
    assert cli(sim, "--config", str(second), "update", "cloudapi", "-y").returncode == 0


def test_a_lease_of_a_dead_holder_elsewhere_is_taken_over_after_expiry(sim_factory, tmp_path):
    sim = _fresh(sim_factory)
    now = datetime.now(timezone.utc)
    stale = {"token": "t", "host": "other-headnode", "pid": 4242, "command": "update",
             "run_uuid": "0000", "started": _iso(now), "heartbeat": _iso(now),
             "expiry": _iso(now + timedelta(seconds=2))}
    requests.put(f"{sim.urls['sapi']}/applications/{SDC}", timeout=10,
                 json={"metadata": {"sdcadm_lease": stale}}).raise_for_status()
    cfg = _config(sim, tmp_path, "one", lockWait=0)
    r = cli(sim, "--config", str(cfg), "update", "workflow", "-y")
    assert r.returncode == 2 and "pid 4242 on other-headnode" in r.stderr
    time.sleep(2.2)
    r = cli(sim, "--config", str(cfg), "update", "workflow", "-y")
    assert r.returncode == 0, r.stderr
    assert "Taking over the expired datacenter lease of update (run 0000, pid 4242 on " \
           "other-headnode" in r.stderr


def test_a_holder_killed_on_this_host_is_taken_over_at_once(sim_factory, tmp_path):
    sim = _fresh(sim_factory, 0.02)
    proc = cli(sim, "update", "--all", "-y", wait=False)
    wait_for_event(sim, lambda e: e.get("event") == "step-start", proc=proc)
    kill(proc)
    assert _lease(sim)["pid"] == proc.pid
    r = cli(sim, "update", "--resume", "-y", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Taking over the dead datacenter lease of update (run " in r.stderr


def test_lock_break_frees_the_datacenter_and_is_recorded(sim_factory, tmp_path):
    sim = _fresh(sim_factory)
    now = datetime.now(timezone.utc)
    requests.put(f"{sim.urls['sapi']}/applications/{SDC}", timeout=10, json={"metadata": {
        "sdcadm_lease": {"token": "t", "host": "elsewhere", "pid": 1, "command": "rollback",
                         "run_uuid": "r1", "started": _iso(now), "heartbeat": _iso(now),
                         "expiry": _iso(now + timedelta(hours=1))}}}).raise_for_status()
    assert cli(sim, "lock", "break").returncode == 2
    r = cli(sim, "lock", "break", "--force")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Broke the datacenter lease of rollback (run r1, pid 1 on "
                               "elsewhere")
    assert _lease(sim) is None
    assert "lock-break" in cli(sim, "history").stdout
    assert cli(sim, "lock", "status").stdout.startswith("The datacenter is free")


def test_no_lease_no_run_and_nothing_changed(sim_factory):
    sim = _fresh(sim_factory)
    sim.add_fault({"type": "error", "service": "sapi", "method": "PUT",
                   "path": "^/applications/", "status": 503})
    r = cli(sim, "update", "workflow", "-y")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith(
        "sdcadm update: error (Lease): cannot take the datacenter lease (nothing was changed): ")
    assert [m for m in sim.mutations() if not m["path"].startswith("/applications/")] == []


def test_a_run_killed_in_another_work_directory_is_not_orphaned(sim_factory, tmp_path):
    sim = _fresh(sim_factory, 0.02)
    first = _config(sim, tmp_path, "one")
    second = _config(sim, tmp_path, "two", lockWait=0)
    proc = cli(sim, "--config", str(first), "update", "--all", "-y", wait=False)
    wait_for_event(sim, lambda e: e.get("event") == "step-start", proc=proc,
                   root=tmp_path / "one" / "updates")
    kill(proc)
    (work_dir,) = (tmp_path / "one" / "updates").iterdir()
    run_uuid = json.loads((work_dir / "plan.json").read_text())["run_uuid"]
    assert _lease(sim)["pid"] == proc.pid
    sim.clear_mutations()
    r = cli(sim, "--config", str(second), "update", "cmon", "-y")
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"sdcadm update: error (UnfinishedRun): run {run_uuid} (update, pid "
                           f"{proc.pid} on "), line
    assert f", work directory {work_dir}) died before it finished: continue it with " \
           f'"sdcadm update --resume {run_uuid}" on ' in line
    assert line.endswith(f'or give it up with "sdcadm update --abandon {run_uuid}"')
    assert sim.mutations() == []
    # Given up from the other work directory: history says so, the lease is given back.
    r = cli(sim, "--config", str(second), "update", "--abandon", run_uuid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Run {run_uuid} abandoned: history says so and its datacenter "
                               f"lease is given back; its journal stays in {work_dir} on ")
    assert _lease(sim) is None
    entry = json.loads(cli(sim, "--config", str(second), "history", run_uuid).stdout)
    assert entry["error"]["code"] == "Abandoned" and entry["abandoned"]
    assert "from another work directory" in entry["error"]["message"]
    r = cli(sim, "--config", str(second), "update", "cmon", "-y")
    assert r.returncode == 0, r.stderr
    assert "Taking over" not in r.stderr
