"""Workflow API: jobs (image imports, reprovisions, reboots)."""
from __future__ import annotations

import time
from typing import Any

from sdcadm.clients.http import RestClient
from sdcadm.errors import SDCClientError

DONE = frozenset({"succeeded", "failed", "canceled"})
MAX_POLL_ERRORS = 5  # as the original's waitForJob


class WfapiClient(RestClient):
    name = "wfapi"
    accept_version = "*"

    def get_job(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/jobs/{uuid}")

    def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/jobs", **filters) or []

    def wait_job(self, uuid: str, *, timeout: float, poll_interval: float) -> dict[str, Any]:
        """Poll until the job is finished; returns it whatever its outcome."""
        deadline = time.monotonic() + timeout
        errors = 0
        while True:
            try:
                job = self.get_job(uuid)
                errors = 0
                if job.get("execution") in DONE:
                    return job
            except SDCClientError:
                errors += 1
                if errors >= MAX_POLL_ERRORS:
                    raise
            if time.monotonic() >= deadline:
                raise SDCClientError(self.name, "Timeout",
                                     f"job {uuid} did not finish within {timeout:g}s")
            time.sleep(poll_interval)
