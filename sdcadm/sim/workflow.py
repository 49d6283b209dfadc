"""Workflow API 1.4.2: the jobs behind import-remote, reprovision, provision and reboots."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdcadm.sim import ops
from sdcadm.sim.web import RestError, not_found, public, send

# What WFAPI's ListJobs accepts as `execution` (the transitional `waiting` and `retried`
# are not among them); anything else is a 409.
EXECUTIONS = ("queued", "failed", "succeeded", "running", "canceled")

if TYPE_CHECKING:
    from sdcadm.sim.store import Store
    from sdcadm.sim.world import World


def job_or_404(store: "Store", u: str) -> dict[str, Any]:
    """A Workflow job, or WFAPI's 404 (VMAPI's job views answer the same)."""
    job = store.get("job", u)
    if job is None:
        raise not_found(f"Job {u} not found")
    return job


def routes(world: "World") -> list[Route]:
    store = world.store

    async def ping(request: Request) -> Response:
        return send({"pong": True, "backend": "moray", "status": "online"})

    async def list_jobs(request: Request) -> Response:
        q = request.query_params
        if q.get("execution") and q["execution"] not in EXECUTIONS:
            raise RestError(409, "ConflictError", "Execution must be one of queued, failed, "
                            "succeeded, canceled or running")
        jobs = [j for j in reversed(store.all("job"))
                if (not q.get("execution") or j.get("execution") == q["execution"])
                and (not q.get("name") or j.get("name") == q["name"])
                and (not q.get("vm_uuid")
                     or (j.get("params") or {}).get("vm_uuid") == q["vm_uuid"])]
        try:
            offset = int(q.get("offset", 0))
            limit = int(q.get("limit", 1000))
        except ValueError:
            raise RestError(409, "InvalidArgument", "limit and offset must be numbers") from None
        return send([public(j) for j in jobs[offset:offset + limit]])

    async def get_job(request: Request) -> Response:
        return send(public(job_or_404(store, request.path_params["uuid"])))

    async def job_info(request: Request) -> Response:
        job_or_404(store, request.path_params["uuid"])
        return send([])

    async def cancel_job(request: Request) -> Response:
        u = request.path_params["uuid"]
        job_or_404(store, u)
        if ops.job_done(world, u):
            raise RestError(409, "InvalidArgument", f"Job {u} is finished and cannot be canceled")
        task = world.runners.pop(u, None)
        if task:
            task.cancel()
        def cancel(j: dict[str, Any]) -> None:
            j.update(execution="canceled")
            j["_sim"].update(phase="done")

        job = store.edit("job", u, cancel)
        world.finished(u)
        return send(public(job))

    return [
        Route("/ping", ping),
        Route("/jobs", list_jobs, methods=["GET"]),
        Route("/jobs/{uuid}", get_job, methods=["GET"]),
        Route("/jobs/{uuid}/info", job_info, methods=["GET"]),
        Route("/jobs/{uuid}/cancel", cancel_job, methods=["POST"]),
    ]
