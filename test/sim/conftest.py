"""Helpers for the simulator contract tests: plain HTTP calls against a running simulator."""
from __future__ import annotations

import time
from typing import Any, Callable

import pytest
import requests

ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


class Api:
    """`api.get("sapi", "/services")` -> requests.Response, against one simulator."""

    def __init__(self, handle: Any):
        self.handle = handle
        self.session = requests.Session()

    def url(self, service: str, path: str) -> str:
        return self.handle.urls[service] + path

    def request(self, method: str, service: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.session.request(method, self.url(service, path), **kw)

    def get(self, service: str, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", service, path, **kw)

    def post(self, service: str, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", service, path, **kw)

    def put(self, service: str, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", service, path, **kw)

    def delete(self, service: str, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", service, path, **kw)

    def ok(self, method: str, service: str, path: str, **kw: Any) -> Any:
        resp = self.request(method, service, path, **kw)
        assert resp.status_code < 300, f"{method} {service}{path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    # -- conveniences ------------------------------------------------------------------------
    def vm(self, alias: str) -> dict[str, Any]:
        listed = self.ok("GET", "vmapi", f"/vms?alias={alias}")
        vms = [v for v in listed if v["state"] != "destroyed"]
        assert len(vms) == 1, vms
        return vms[0]

    def server(self, hostname: str, extras: str = "all") -> dict[str, Any]:
        return self.ok("GET", "cnapi", f"/servers?hostname={hostname}&extras={extras}")[0]

    def latest(self, name: str, channel: str = "dev") -> dict[str, Any]:
        return self.ok("GET", "updates", f"/images?name={name}&channel={channel}")[-1]

    def wait_job(self, job_uuid: str, timeout: float = 20) -> dict[str, Any]:
        return wait_until(lambda: _final(self.ok("GET", "workflow", f"/jobs/{job_uuid}")), timeout)

    def import_image(self, uuid: str, channel: str = "dev") -> dict[str, Any]:
        body = self.ok("POST", "imgapi", f"/images/{uuid}", params={
            "action": "import-remote", "source": f"{self.handle.urls['updates']}?channel={channel}",
            "skip_owner_check": "true"})
        return self.wait_job(body["job_uuid"])


def _final(job: dict[str, Any]) -> dict[str, Any] | None:
    return job if job["execution"] in ("succeeded", "failed", "canceled") else None


def wait_until(fn: Callable[[], Any], timeout: float = 20, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@pytest.fixture
def api(sim) -> Api:
    return Api(sim)


@pytest.fixture
def lab_api(lab) -> Api:
    return Api(lab)


@pytest.fixture
def until() -> Callable[..., Any]:
    return wait_until
