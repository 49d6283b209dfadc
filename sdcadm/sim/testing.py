"""Start a simulated datacenter from tests, demos and benchmarks.

    handle = start_sim("small", state_dir=tmp, time_scale=0.001)
    requests.get(handle.urls["sapi"] + "/services")
    handle.add_fault({"type": "error", "service": "vmapi", "status": 503, "count": 1})
    handle.reset(); handle.stop()

The simulator runs in a child process that exits by itself if its parent dies.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from sdcadm import processes
from sdcadm.sim import ENDPOINTS


class SimError(RuntimeError):
    pass


@dataclass
class SimHandle:
    scenario: str
    state_dir: Path
    time_scale: float
    start_latencies: dict[str, float] | None = None
    start_faults: list[dict[str, Any]] | None = None
    port_base: int | None = None
    urls: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def config_path(self) -> Path:
        return self.state_dir / "sdcadm.conf"

    @property
    def admin(self) -> str:
        return self.urls["admin"]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "SimHandle":
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "sdcadm.sim.cli", "up", "--scenario", str(self.scenario),
               "--state-dir", str(self.state_dir), "--time-scale", repr(self.time_scale),
               "--parent-pid", str(os.getpid())]
        for name, secs in (self.start_latencies or {}).items():
            cmd += ["--latency", f"{name}={secs}"]
        for f in self.start_faults or []:
            cmd += ["--fault", json.dumps(f)]
        if self.port_base:
            cmd += ["--port-base", str(self.port_base)]
        sim_json = self.state_dir / "sim.json"
        log = open(self.state_dir / "sim.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.state_dir / "sim.log").read_text(errors="replace")[-3000:]
                raise SimError(f"simulator exited with status {self.proc.returncode}:\n{tail}")
            try:
                info = json.loads(sim_json.read_text())
            except (OSError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                self.urls = {k: info[k] for k in ENDPOINTS}
                return self
            time.sleep(0.01)
        self.stop()
        raise SimError(f"simulator did not start within {timeout} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        processes.stop(self.proc)
        self.proc = None
        self.session.close()

    def restart(self, timeout: float = 60.0) -> "SimHandle":
        """Stop and start again on the same state directory (state and ports kept)."""
        self.stop()
        self.session = requests.Session()
        return self.start(timeout)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- admin surface -----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.session.request(method, self.admin + path, json=body, timeout=60)
        if resp.status_code >= 400:
            raise SimError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    def reset(self) -> None:
        self._call("POST", "/_sim/reset")

    def mutations(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_sim/mutations")

    def clear_mutations(self) -> None:
        self._call("DELETE", "/_sim/mutations")

    def add_fault(self, fault: dict[str, Any]) -> str:
        return self._call("POST", "/_sim/faults", fault)["id"]

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_sim/faults")

    def remove_fault(self, fault_id: str) -> None:
        self._call("DELETE", f"/_sim/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")

    def set_latencies(self, latencies: dict[str, float]) -> dict[str, float]:
        return self._call("POST", "/_sim/latencies", latencies)

    def quorum_losses(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_sim/quorum-losses")

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/_sim/status")

    def __enter__(self) -> "SimHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_sim(scenario: str | Path = "small", state_dir: str | Path | None = None,
              time_scale: float = 1.0,
              latencies: dict[str, float] | None = None, faults: list[dict[str, Any]] | None = None,
              port_base: int | None = None, timeout: float = 60.0) -> SimHandle:
    """Start a simulator for `scenario` (a name or a YAML path) and return its handle."""
    if state_dir is None:
        import tempfile

        state_dir = tempfile.mkdtemp(prefix="sdcadm-sim-")
    handle = SimHandle(scenario=str(scenario), state_dir=Path(state_dir).resolve(),
                       time_scale=time_scale,
                       start_latencies=latencies, start_faults=faults, port_base=port_base)
    return handle.start(timeout)
