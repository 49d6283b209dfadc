"""Runs the simulated datacenter: one uvicorn server per API, all in one asyncio loop."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import uvicorn

from sdcadm.sim import ENDPOINTS, admin, builds, cnapi, imgapi, ops, sapi, usbkey, vmapi, workflow
from sdcadm.sim.files import SumCache
from sdcadm.sim.scenario import build_docs, load_scenario, scenario_path
from sdcadm.sim.store import Store, rows_from
from sdcadm.sim.web import ServiceLayer, loopback_socket, make_app
from sdcadm.sim.world import World, validate_fault

SERVER_HEADER = {"sapi": "sapi/2.1.3", "imgapi": "imgapi/4.13.1", "updates": "imgapi/4.13.1",
                 "vmapi": "VMAPI/9.16.0", "cnapi": "cnapi/1.26.6", "workflow": "workflow/1.4.2",
                 "admin": "sdcadm-sim/1.0.0"}


class _Server(uvicorn.Server):
    """Several servers share one loop, so signals are handled once, by the simulator."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def config_for(urls: dict[str, str], world_info: dict[str, Any], state_dir: Path,
               time_scale: float, ssh: dict[str, Any] | None = None,
               address_map: dict[str, str] | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "updatesServerUrl": urls["updates"],
        "sapi": {"url": urls["sapi"]}, "imgapi": {"url": urls["imgapi"]},
        "vmapi": {"url": urls["vmapi"]}, "cnapi": {"url": urls["cnapi"]},
        "wfapi": {"url": urls["workflow"]},
        "ufds_admin_uuid": world_info["admin_uuid"],
        "datacenter_name": world_info["datacenter_name"], "dns_domain": world_info["dns_domain"],
        "varDir": str(state_dir / "var"),
        "tmpDir": str(state_dir / "tmp"),
        # Run logs stay in the simulator's state directory, never in /var/log.
        "logDir": str(state_dir / "var" / "logs"),
        # `sdcadm self-update` against the simulator installs here, never in /opt.
        "selfUpdate": {"prefix": str(state_dir / "opt" / "sdcadm")},
        "pollInterval": max(0.01, 5 * time_scale),
    }
    if ssh:
        conf["ssh"] = ssh
    if address_map:
        conf["addressMap"] = address_map
    return conf


class Simulator:
    def __init__(self, scenario: str, state_dir: Path, *, time_scale: float = 1.0,
                 latencies: dict[str, float] | None = None,
                 faults: list[dict[str, Any]] | None = None,
                 port_base: int | None = None, parent_pid: int | None = None):
        self.scenario = scenario
        self.state_dir = Path(state_dir).resolve()
        self.time_scale = time_scale
        self.latency_overrides = latencies or {}
        self.fault_specs = [validate_fault(f) for f in faults or []]
        self.port_base = port_base
        self.parent_pid = parent_pid
        self.servers: list[_Server] = []
        self.log = logging.getLogger("sdcadm.sim")

    # -- set-up ------------------------------------------------------------------------------
    def prepare(self) -> World:
        t0 = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "var").mkdir(exist_ok=True)
        data = builds.serve(load_scenario(self.scenario), self.state_dir)
        docs = list(build_docs(data, SumCache.for_state_dir(self.state_dir)))
        identity = hashlib.sha1(json.dumps([str(scenario_path(self.scenario).resolve()), docs],
                                           sort_keys=True, default=str).encode()).hexdigest()
        latencies = dict(data.get("latencies") or {})
        latencies.update(self.latency_overrides)
        docs.append(("sim", "latencies", latencies))
        docs.append((*usbkey.DOC, usbkey.baseline(data)))
        for n, f in enumerate(self.fault_specs, start=1):
            docs.append(("fault", f"start-{n}", dict(f, id=f"start-{n}", fired=0)))
        baseline = rows_from(docs)
        store = Store(self.state_dir / "state.db")
        restarted = not store.is_empty() and store.meta("scenario_identity") == identity
        if not restarted:
            store.replace_all(baseline)
            store.set_meta("scenario_identity", identity)
        elif self.latency_overrides:
            lat = dict(store.get("sim", "latencies") or {})
            lat.update(self.latency_overrides)
            store.put("sim", "latencies", lat)
        self.world = World(store, data, baseline, time_scale=self.time_scale,
                           state_dir=self.state_dir)
        if restarted:
            usbkey.UsbKey(self.world).ensure()
        else:
            usbkey.UsbKey(self.world).restore()
        self.info = {"scenario": self.scenario, "restarted": restarted,
                     "admin_uuid": self.world.admin_uuid, "datacenter_name": self.world.dc_name,
                     "dns_domain": self.world.dns_domain,
                     "load_seconds": round(time.monotonic() - t0, 3)}
        return self.world

    def _ports(self) -> dict[str, int]:
        if self.port_base:
            return {name: self.port_base + i for i, name in enumerate(ENDPOINTS)}
        try:
            recorded = json.loads((self.state_dir / "sim.json").read_text())
            return {name: int(recorded[name].rsplit(":", 1)[1]) for name in ENDPOINTS}
        except (OSError, ValueError, KeyError, IndexError):
            return {name: 0 for name in ENDPOINTS}

    def _recorded(self, key: str) -> Any:
        try:
            return json.loads((self.state_dir / "sim.json").read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            return None

    def bind(self) -> dict[str, socket.socket]:
        socks = {}
        for name, port in self._ports().items():
            socks[name] = loopback_socket(port, or_any=not self.port_base)
        self.world.urls.update({n: f"http://127.0.0.1:{s.getsockname()[1]}"
                                for n, s in socks.items()})
        return socks

    def apps(self) -> dict[str, Any]:
        w = self.world
        route_sets = {
            "sapi": sapi.routes(w), "imgapi": imgapi.routes(w, "dc"),
            "updates": imgapi.routes(w, "private"),
            "vmapi": vmapi.routes(w), "cnapi": cnapi.routes(w), "workflow": workflow.routes(w),
            "admin": admin.routes(w, self.info, self.request_stop),
        }
        out = {}
        for name, routes in route_sets.items():
            app = make_app(routes)
            out[name] = app if name == "admin" else ServiceLayer(w, name, SERVER_HEADER[name], app)
        return out

    def write_files(self) -> None:
        urls = self.world.urls
        sim = dict(urls, pid=os.getpid(), scenario=self.scenario, time_scale=self.time_scale,
                   ssh=self.sshd.ports, pings=self.pings.ports)
        conf = config_for(urls, self.info, self.state_dir, self.time_scale,
                          ssh=self.sshd.config(),
                          address_map={**self.sshd.address_map(), **self.pings.address_map()})
        _write(self.state_dir / "sdcadm.conf", json.dumps(conf, indent=2) + "\n")
        _write(self.state_dir / "sim.json", json.dumps(sim, indent=2) + "\n")
        _write(self.state_dir / "sim.pid", f"{os.getpid()}\n")

    # -- running -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        for s in self.servers:
            s.should_exit = True

    async def serve(self) -> None:
        from sdcadm.sim.pings import PingServer
        from sdcadm.sim.sshd import SshDaemon

        socks = self.bind()
        apps = self.apps()
        self.sshd = SshDaemon(self.world, self.state_dir)
        self.sshd.bind(self._recorded("ssh") or {})
        self.pings = PingServer(self.world, self.state_dir)
        await self.pings.start(self._recorded("pings") or {})
        for name in ENDPOINTS:
            cfg = uvicorn.Config(apps[name], log_level="warning", access_log=False, lifespan="off",
                                 server_header=False, timeout_keep_alive=30, http="h11")
            self.servers.append(_Server(cfg))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        tasks = [asyncio.create_task(s.serve(sockets=[socks[n]]))
                 for n, s in zip(ENDPOINTS, self.servers, strict=True)]
        while not all(s.started for s in self.servers):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.005)
        ops.resume_all(self.world)
        self.sshd.start(loop)
        self.write_files()
        watchdog = asyncio.create_task(self._watch_parent()) if self.parent_pid else None
        await asyncio.gather(*tasks, return_exceptions=True)
        self.sshd.stop()
        await self.pings.stop()
        if watchdog:
            watchdog.cancel()
        for t in list(self.world.runners.values()):
            t.cancel()
        self.world.store.close()
        with contextlib.suppress(OSError):
            pid_file = self.state_dir / "sim.pid"
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()

    async def _watch_parent(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if os.getppid() != self.parent_pid:
                self.request_stop()
                return

    def run(self) -> None:
        self.prepare()
        asyncio.run(self.serve())


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
