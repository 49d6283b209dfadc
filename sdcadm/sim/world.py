"""The simulated datacenter's shared context: state, clock scale, latencies, faults, URLs,
and the bookkeeping of asynchronous operations (waiters for long-polls)."""
from __future__ import annotations

import asyncio
import math
import random
import re
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from sdcadm.sim import ENDPOINTS
from sdcadm.sim.store import Rows, Store, now_iso
from sdcadm.sim.usbkey import UsbKey

REQUEST_FAULTS = ("error", "latency", "drop")
# Faults aimed at a target (a VM, image or server uuid, or "*"). Server faults: a reboot that
# never comes back (`reboot-hang`), comes back on its old platform (`reboot-old-platform`)
# or with an instance in SMF maintenance (`reboot-maintenance`); SSH that drops the connection
# (`ssh-unreachable`), shows another host key (`ssh-hostkey`) or never answers (`ssh-hang`);
# a cn-agent whose heartbeat stops (`stale-heartbeat`).
# Instance faults: a service in maintenance (`unhealthy`), a health ping that answers 500
# (`ping-fail`) or never (`ping-hang`), a zone that never registers in DNS (`dns-missing`).
# Image faults: a file served with one byte changed (`corrupt-file`).
# A server's zones pool with `free_mib` MiB free (`pool-full`, sim/pool.py).
TARGETED_FAULTS = ("fail-job", "reboot-hang", "stuck-instance", "unhealthy",
                   "reboot-old-platform", "reboot-maintenance", "stale-heartbeat",
                   "ssh-unreachable", "ssh-hostkey", "ssh-hang", "ping-fail", "ping-hang",
                   "dns-missing", "corrupt-file", "pool-full")
FAULT_TYPES = REQUEST_FAULTS + TARGETED_FAULTS + ("manatee-deposed",)
SERVICES = tuple(n for n in ENDPOINTS if n != "admin")  # the ones faults can aim at


class FaultError(ValueError):
    pass


class World:
    def __init__(self, store: Store, data: dict[str, Any], baseline: Rows, *, time_scale: float,
                 state_dir: Path):
        self.store = store
        self.data = data
        self.baseline = baseline
        self.time_scale = time_scale
        self.state_dir = state_dir
        self.urls: dict[str, str] = {}
        dc = data["datacenter"]
        self.admin_uuid: str = dc["admin_uuid"]
        self.dc_name: str = dc["name"]
        self.dns_domain: str = dc["dns_domain"]
        self.events: dict[str, asyncio.Event] = {}
        self.runners: dict[str, asyncio.Task] = {}
        self.generation = 0  # bumped on reset so stale runners stop touching state
        self.rng = random.Random()

    # -- clock -------------------------------------------------------------------------
    def latency(self, key: str, default: float = 1.0) -> float:
        lat = self.store.get("sim", "latencies") or {}
        return float(lat.get(key, default)) * self.time_scale

    def due(self, key: str, default: float = 1.0) -> float:
        return time.time() + self.latency(key, default)

    # -- completion waiters ------------------------------------------------------------------
    def event(self, id_: str) -> asyncio.Event:
        ev = self.events.get(id_)
        if ev is None:
            ev = self.events[id_] = asyncio.Event()
        return ev

    def finished(self, id_: str) -> None:
        ev = self.events.pop(id_, None)
        if ev is not None:
            ev.set()

    async def wait_for(self, id_: str, is_done, timeout: float) -> None:
        if is_done():
            return
        ev = self.event(id_)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    # -- mutation log ----------------------------------------------------------------------
    def log_mutation(self, service: str, method: str, path: str) -> None:
        self.store.log_mutation({"service": service, "method": method, "path": path,
                                 "time": now_iso()})

    # -- faults --------------------------------------------------------------------------
    def faults(self) -> list[dict[str, Any]]:
        return self.store.all("fault")

    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        fault = validate_fault(spec)
        fault.setdefault("id", str(uuidlib.uuid4())[:8])
        fault.setdefault("fired", 0)
        self.store.put("fault", fault["id"], fault)
        return fault

    def clear_faults(self) -> None:
        for f in self.store.all("fault"):
            self.store.delete("fault", f["id"])

    def _fire(self, fault: dict[str, Any]) -> bool:
        """Count a firing; False when its `count` is used up or the dice say no."""
        count = fault.get("count")
        if count is not None and fault.get("fired", 0) >= int(count):
            return False
        rate = float(fault.get("rate", 1.0))
        if rate < 1.0 and self.rng.random() >= rate:
            return False
        self.store.edit("fault", fault["id"], lambda f: f.update(fired=f.get("fired", 0) + 1))
        return True

    def request_faults(self, service: str, method: str, path: str) -> list[dict[str, Any]]:
        out = []
        for f in self.faults():
            if f["type"] not in REQUEST_FAULTS:
                continue
            svc = f.get("service", "*")
            if svc != "*" and service not in (svc if isinstance(svc, list) else [svc]):
                continue
            if f.get("method") and f["method"].upper() != method:
                continue
            if f.get("path") and not re.search(f["path"], path):
                continue
            if self._fire(f):
                out.append(f)
        # latency first, then the outcome (drop or error)
        out.sort(key=lambda f: f["type"] != "latency")
        return out

    def target_fault(self, kind: str, targets: list[str | None],
                     action: str | None = None) -> dict | None:
        """A fault of `kind` aimed at any of `targets` (and `action` if the fault names one)."""
        for f in self.faults():
            if f["type"] != kind:
                continue
            if f.get("target") != "*" and f.get("target") not in targets:
                continue
            if f.get("action") and action and f["action"] != action:
                continue
            if self._fire(f):
                return f
        return None

    def has_fault(self, kind: str, target: str) -> dict | None:
        """A standing condition (no firing count): unhealthy instance, hung server, ..."""
        for f in self.faults():
            if f["type"] == kind and f.get("target") in (target, "*"):
                return f
        return None

    # -- reset ------------------------------------------------------------------------------
    def reset(self) -> None:
        self.generation += 1
        for task in self.runners.values():
            task.cancel()
        self.runners.clear()
        for ev in self.events.values():
            ev.set()
        self.events.clear()
        self.store.replace_all(self.baseline)
        UsbKey(self).restore()  # the key's directories follow the store back


def validate_fault(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise FaultError("a fault is a JSON object")
    kind = spec.get("type")
    if kind not in FAULT_TYPES:
        raise FaultError(f"unknown fault type {kind!r}; one of: {', '.join(FAULT_TYPES)}")
    fault = dict(spec)
    svc = fault.get("service", "*")
    for s in svc if isinstance(svc, list) else [svc]:
        if s != "*" and s not in SERVICES:
            raise FaultError(f"unknown service {s!r}; one of: {', '.join(SERVICES)}, *")
    for key in ("path", "command"):
        if fault.get(key):
            try:
                re.compile(fault[key])
            except (re.error, TypeError) as e:
                raise FaultError(f"bad {key} regex: {e}") from e
    if kind in TARGETED_FAULTS and not fault.get("target"):
        raise FaultError(f"a {kind} fault needs a target (uuid or '*')")
    for key, low, high in (("rate", 0.0, 1.0), ("delay", 0.0, math.inf)):
        if key in fault:
            value = _number(fault[key], key)
            if not low <= value <= high or math.isnan(value) or math.isinf(value):
                span = "between 0 and 1" if high == 1.0 else "0 or more (seconds)"
                raise FaultError(f'"{key}" must be a number {span}')
            fault[key] = value
    if "count" in fault and fault["count"] is not None:
        count = fault["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise FaultError('"count" must be a whole number')
    if "status" in fault:
        status = fault["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultError('"status" must be an HTTP error status (400-599)')
    return fault


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise FaultError(f'"{key}" must be a number')
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FaultError(f'"{key}" must be a number') from None
