"""VMAPI: core VMs, reprovision, jobs."""
from __future__ import annotations

from typing import Any

from sdcadm.clients.http import RestClient


class VmapiClient(RestClient):
    name = "vmapi"

    def list_vms(self, **filters: Any) -> list[dict[str, Any]]:
        """All matching VMs, all pages."""
        return self.get_all("/vms", **filters)

    def get_vm(self, uuid: str, sync: bool = False) -> dict[str, Any]:
        return self.get(f"/vms/{uuid}", sync=True if sync else None)

    def reprovision(self, uuid: str, image_uuid: str) -> dict[str, Any]:
        """Start a reprovision job; returns `{vm_uuid, job_uuid}`."""
        return self.call("POST", f"/vms/{uuid}", params={"action": "reprovision"},
                         body={"image_uuid": image_uuid})

    def get_job(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/jobs/{uuid}")
