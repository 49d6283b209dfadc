"""Test doubles for the executor's unit tests: an app, a SAPI history fake, handlers."""
from __future__ import annotations

import threading
import uuid as uuidlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

from sdcadm.errors import SDCClientError, StepFailedError
from sdcadm.plan import Plan, Step


class FakeSapi:
    """SAPI's /history endpoints in memory; `down` makes every call fail like a dead SAPI."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.down = False
        self.calls: list[str] = []

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise SDCClientError("sapi", "ConnectionError", "could not connect to sapi")

    def get(self, path: str, **params: Any) -> Any:
        """`GET /ping`: what a run's pre-flight asks."""
        self._check(f"GET {path}")
        if path != "/ping":
            raise SDCClientError("sapi", "ResourceNotFound", f"{path} does not exist",
                                 status=404)
        return {"mode": "full", "storType": "MorayStorage", "storAvailable": True}

    def create_history(self, entry: dict[str, Any]) -> dict[str, Any]:
        self._check("create")
        if entry["uuid"] in self.entries:
            raise SDCClientError("sapi", "InvalidArgument", "exists", status=409)
        self.entries[entry["uuid"]] = dict(entry)
        return entry

    def update_history(self, uuid: str, entry: dict[str, Any]) -> dict[str, Any]:
        self._check("update")
        if uuid not in self.entries:
            raise SDCClientError("sapi", "ResourceNotFound", "no such history", status=404)
        self.entries[uuid].update(entry)
        return self.entries[uuid]

    def get_history(self, uuid: str) -> dict[str, Any]:
        self._check("get")
        if uuid not in self.entries:
            raise SDCClientError("sapi", "ResourceNotFound", "no such history", status=404)
        return self.entries[uuid]

    # The sdc application, for the datacenter lease (a metadata key of it).
    app = {"uuid": "a0000000-0000-4000-8000-000000000000", "name": "sdc", "metadata": {}}

    def list_applications(self, **filters: Any) -> list[dict[str, Any]]:
        self._check("list-apps")
        return [self.app]

    def get_application(self, uuid: str) -> dict[str, Any]:
        self._check("get-app")
        return {**self.app, "metadata": dict(self.app["metadata"])}

    def update_application(self, uuid: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check("update-app")
        meta = dict(self.app["metadata"])
        for k, v in (body.get("metadata") or {}).items():
            if body.get("action") == "delete":
                meta.pop(k, None)
            else:
                meta[k] = v
        self.app = {**self.app, "metadata": meta}
        return self.app

    def each_history(self, since: str | None = None,
                     until: str | None = None) -> Iterator[dict[str, Any]]:
        self._check("list")
        return iter(list(self.entries.values()))


class FakeApp:
    def __init__(self, tmp_path: Path, clients: Any = None, poll: float = 0.01) -> None:
        var = tmp_path / "var"
        self.config = SimpleNamespace(var_dir=var, lock_path=var / "sdcadm.lock",
                                      poll_interval=poll,
                                      updates_url="http://updates.invalid")
        self.request_id = str(uuidlib.uuid4())
        self.clients = clients or SimpleNamespace(sapi=FakeSapi())
        self.lines: list[str] = []
        self.outs: list[str] = []

    def info(self, text: str = "") -> None:
        self.lines.append(text)

    warn = info

    def out(self, text: str = "") -> None:
        self.outs.append(text)


class Recorder:
    """A handler that records what ran; `fail` maps step id -> remaining failures."""

    def __init__(self, *, fail: dict[str, int] | None = None, delay: float = 0.0,
                 on_run: Any = None) -> None:
        self.ran: list[str] = []
        self.applied: set[str] = set()
        self.fail = dict(fail or {})
        self.delay = delay
        self.on_run = on_run
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.summaries: list[tuple[int, int]] = []

    def check(self, ctx: Any, step: Step) -> bool:
        return step.id in self.applied

    def run(self, ctx: Any, step: Step) -> None:
        with self.lock:
            self.ran.append(step.id)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.on_run:
                self.on_run(ctx, step)
            if self.delay:
                ctx.sleep(self.delay)
            with self.lock:
                if self.fail.get(step.id, 0) > 0:
                    self.fail[step.id] -= 1
                    raise StepFailedError(f"boom on {step.id}")
                self.applied.add(step.id)
        finally:
            with self.lock:
                self.in_flight -= 1

    def summarize(self, ctx: Any, steps: Any, outcomes: Any) -> None:
        self.summaries.append((sum(1 for o in outcomes if o.ok), len(steps)))


def steps(n: int, *, action: str = "fake", parallel: str | None = None, concurrency: int = 1,
          on_failure: str = "stop", start: int = 0, change: str | None = None) -> list[Step]:
    return [Step(id=f"{i}:{action}:t{i}", action=action, target=f"t{i}", summary=f"do t{i}",
                 parallel=parallel, concurrency=concurrency, on_failure=on_failure, change=change)
            for i in range(start, start + n)]


def empty_plan() -> Plan:
    return Plan()
