"""The rehearsal's private simulator: `sdcadm-sim up` in a process of its own, on loopback.

sdcadm never imports the simulator (it is the `sim` extra, and production code must not
depend on it): it is started as a command and spoken to over HTTP, its admin surface
included (`/_sim/faults`, `/_sim/quorum-losses`, `/_sim/latencies`, `/_sim/shutdown`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sdcadm import processes
from sdcadm.rehearse import SimulatorError

# How the simulator is started; the endpoints it writes to sim.json (its own list, which
# this module cannot import).
SIM_COMMAND: list[str] = [sys.executable, "-m", "sdcadm.sim.cli"]
ENDPOINTS = ("sapi", "imgapi", "updates", "vmapi", "cnapi", "workflow", "admin")
START_TIMEOUT = 180.0  # a thousand servers load in seconds; checksums of big images take longer


def sim_extra_missing() -> str | None:
    """The package of the `sim` extra that is not installed, if one is missing."""
    from importlib.util import find_spec

    for name in ("starlette", "uvicorn"):
        if find_spec(name) is None:
            return name
    return None


class PrivateSim:
    """One simulator serving `scenario` from `state_dir` at `time_scale`."""

    def __init__(self, scenario: Path, state_dir: Path, time_scale: float) -> None:
        self.scenario = scenario
        self.state_dir = state_dir
        self.time_scale = time_scale
        self.proc: subprocess.Popen[bytes] | None = None
        self.urls: dict[str, str] = {}

    @property
    def config_path(self) -> Path:
        return self.state_dir / "sdcadm.conf"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "sim.log"

    def start(self, timeout: float = START_TIMEOUT) -> "PrivateSim":
        missing = sim_extra_missing()
        if missing:
            raise SimulatorError(f"the private simulator needs the sim extra ({missing} is not "
                                 "installed): pip install 'sdcadm[sim]'")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*SIM_COMMAND, "up", "--scenario", str(self.scenario), "--state-dir",
               str(self.state_dir), "--time-scale", repr(self.time_scale),
               # it stops by itself when this process dies, whatever the way
               "--parent-pid", str(os.getpid())]
        with open(self.log_path, "ab") as log:
            try:
                # Its own directory as working directory: nothing of the operator's one (a
                # source checkout's metadata, say) changes what it loads.
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                             stdin=subprocess.DEVNULL, cwd=self.state_dir)
            except OSError as e:
                raise SimulatorError(f"cannot start the private simulator ({cmd[0]}): "
                                     f"{e.strerror or e}") from e
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SimulatorError(f"the private simulator exited with status "
                                     f"{self.proc.returncode}: {self._last_log_line()}")
            info = self._info()
            if info.get("pid") == self.proc.pid and all(info.get(n) for n in ENDPOINTS):
                self.urls = {n: str(info[n]) for n in ENDPOINTS}
                if self._answers():
                    return self
            time.sleep(0.05)
        self.stop()
        raise SimulatorError(f"the private simulator did not answer within {timeout:.0f} s "
                             f"(log: {self.log_path})")

    def _info(self) -> dict[str, Any]:
        try:
            info = json.loads((self.state_dir / "sim.json").read_text())
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def _answers(self) -> bool:
        import requests

        try:
            return all(requests.get(u + "/ping", timeout=5).status_code == 200
                       for u in self.urls.values())
        except requests.RequestException:
            return False

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines()
                     if ln.strip()]
        except OSError:
            lines = []
        return lines[-1].strip() if lines else f"no output (log: {self.log_path})"

    # -- the admin surface --------------------------------------------------------------------
    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        try:
            resp = requests.request(method, self.urls["admin"] + path, json=body, timeout=60)
        except requests.RequestException as e:
            raise SimulatorError(f"the private simulator does not answer {method} {path}: "
                                 f"{e}") from e
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message") or resp.text
            except ValueError:
                message = resp.text
            raise SimulatorError(f"the private simulator refused {method} {path}: {message}")
        return resp.json() if resp.content else None

    def add_faults(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(self.admin("POST", "/_sim/faults", specs)) if specs else []

    def faults(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/_sim/faults") or [])

    def quorum_losses(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/_sim/quorum-losses") or [])

    def latencies(self) -> dict[str, float]:
        return dict(self.admin("GET", "/_sim/latencies") or {})

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None and self.urls:
            try:
                self.admin("POST", "/_sim/shutdown")
                self.proc.wait(15)
            except (SimulatorError, subprocess.TimeoutExpired):
                pass
        processes.stop(self.proc)
        self.proc = None

    def __enter__(self) -> "PrivateSim":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
