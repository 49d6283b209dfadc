"""End-to-end runs against the simulated datacenter: start sdcadm in a subprocess, read the
run's journal, compare datacenter states."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

DRIVER = Path(__file__).with_name("e2e_driver.py")
ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


def var_dir(sim: Any) -> Path:
    return Path(json.loads(Path(sim.config_path).read_text())["varDir"])


def run_dirs(sim: Any, kind: str = "updates") -> list[Path]:
    root = var_dir(sim) / kind
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir())


def events(run_dir: Path) -> list[dict[str, Any]]:
    from sdcadm.executor.journal import read_events

    return read_events(run_dir / "events.jsonl")


def end_state(sim: Any) -> dict[str, Any]:
    """What an update changes: SAPI service images, VM images, agent images per server."""
    s = requests.Session()
    h = {"Accept-Version": "~2"}
    services = {x["name"]: (x.get("params") or {}).get("image_uuid")
                for x in s.get(sim.urls["sapi"] + "/services", headers=h, timeout=10).json()}
    vms = {v["uuid"]: v.get("image_uuid") for v in s.get(
        sim.urls["vmapi"] + "/vms", params={"owner_uuid": ADMIN, "state": "active"},
        timeout=10).json()}
    agents = {}
    servers = s.get(sim.urls["cnapi"] + "/servers", params={"extras": "agents"}, timeout=10)
    for srv in servers.json():
        for a in srv.get("agents") or []:
            agents[(srv["uuid"], a["name"])] = a.get("image_uuid")
    return {"services": services, "vms": vms, "agents": agents}


def _spawn(sim: Any, argv: list[str], wait: bool, timeout: float) -> Any:
    """Run a process against `sim`: its Popen, or (wait=True) its CompletedProcess."""
    env = dict(os.environ, SDCADM_CONFIG=str(sim.config_path), NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, *argv], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def driver(sim: Any, *args: str, wait: bool = True, timeout: float = 120) -> Any:
    """The e2e driver script (the executor through its Python API)."""
    return _spawn(sim, [str(DRIVER), *args], wait, timeout)


def cli(sim: Any, *args: str, wait: bool = True, timeout: float = 120) -> Any:
    """`sdcadm ARGS...` as its own process."""
    return _spawn(sim, ["-m", "sdcadm", *args], wait, timeout)


def wait_for_event(sim: Any, predicate: Any, timeout: float = 60,
                   proc: Any = None, root: Path | None = None) -> dict[str, Any]:
    """Poll the newest run's journal until an event matches (another process writes it);
    `root`: the runs' directory of another varDir than the simulator's configuration's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dirs = (sorted(p for p in root.iterdir() if p.is_dir()) if root and root.is_dir()
                else [] if root else run_dirs(sim))
        if dirs:
            for ev in events(dirs[-1]):
                if predicate(ev):
                    return ev
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended ({proc.returncode}) before the event: "
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.002)
    raise AssertionError("timed out waiting for a journal event")


def kill(proc: Any, sig: int = signal.SIGKILL) -> None:
    proc.send_signal(sig)
    proc.wait(timeout=60)
