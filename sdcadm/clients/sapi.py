"""SAPI: applications, services, instances, mode, and the /history records."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from sdcadm.clients.http import RestClient


class SapiClient(RestClient):
    name = "sapi"
    # Under ~1 SAPI hides agent services and the `type` field.
    accept_version = "~2"

    def list_applications(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/applications", **filters) or []

    def get_application(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/applications/{uuid}")

    def update_application(self, uuid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("PUT", f"/applications/{uuid}", body=dict(body))

    def list_services(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/services", **filters) or []

    def get_service(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/services/{uuid}")

    def update_service(self, uuid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("PUT", f"/services/{uuid}", body=dict(body))

    def list_instances(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/instances", **filters) or []

    def get_instance(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/instances/{uuid}")

    def get_mode(self) -> str:
        """`full` or `proto` (the body is a bare JSON string)."""
        return self.get("/mode")

    # -- history (the endpoints SAPI had for sdcadm before TRITON-391) ---------------------
    def create_history(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/history", body=dict(entry))

    def update_history(self, uuid: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("PUT", f"/history/{uuid}", body=dict(entry))

    def get_history(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/history/{uuid}")

    def each_history(self, since: str | None = None,
                     until: str | None = None) -> Iterator[Any]:
        """The history entries one at a time (see `get_each`)."""
        return self.get_each("/history", since=since, until=until)

    def delete_history(self, uuid: str) -> None:
        self.call("DELETE", f"/history/{uuid}")
