"""CNAPI: servers (with agents and sysinfo), tasks, boot parameters, platforms, execute."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from sdcadm.clients.http import RestClient


class CnapiClient(RestClient):
    name = "cnapi"

    def list_servers(self, **filters: Any) -> list[dict[str, Any]]:
        """All matching servers, all pages."""
        return self.get_all("/servers", **filters)

    def get_server(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/servers/{uuid}")

    def install_agent(self, server_uuid: str, image_uuid: str) -> str:
        """Start an agent_install task; returns its id."""
        body = self.call("POST", f"/servers/{server_uuid}/install-agent",
                         body={"image_uuid": image_uuid})
        return body["id"]

    def task_history(self, server_uuid: str) -> list[dict[str, Any]]:
        """The server's recent cn-agent tasks (ServerTaskHistory), newest first."""
        return self.get(f"/servers/{server_uuid}/task-history") or []

    def get_task(self, id: str) -> dict[str, Any]:
        return self.get(f"/tasks/{id}")

    def wait_task(self, id: str, timeout: float) -> dict[str, Any]:
        """Long-poll until the task is complete/failure or `timeout` seconds passed."""
        return self.call("GET", f"/tasks/{id}/wait", params={"timeout": int(max(1, timeout))},
                         read_timeout=timeout + self.read_timeout)

    def reboot(self, server_uuid: str) -> str | None:
        """Start a server-reboot job; returns its uuid."""
        body = self.call("POST", f"/servers/{server_uuid}/reboot")
        return (body or {}).get("job_uuid")

    def get_boot_params(self, id: str) -> dict[str, Any]:
        return self.get(f"/boot/{id}")

    def set_boot_params(self, id: str, body: Mapping[str, Any]) -> None:
        """Partial update of a server's (or `default`) boot parameters."""
        self.call("POST", f"/boot/{id}", body=dict(body))

    def list_platforms(self) -> dict[str, Any]:
        return self.get("/platforms", os=True) or {}

    def execute(
        self,
        server_uuid: str,
        script: str,
        args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Run a script in the server's global zone: `{stdout, stderr, exitCode}`."""
        body: dict[str, Any] = {"script": script, "args": list(args), "json": True}
        if env:
            body["env"] = dict(env)
        return self.call("POST", f"/servers/{server_uuid}/execute", body=body)
