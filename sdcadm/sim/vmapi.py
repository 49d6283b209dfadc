"""VMAPI 9.16.0: VMs (list with offset paging and filters, get with sync), actions that
return Workflow jobs, and the job views VMAPI proxies."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdcadm.sim import ops
from sdcadm.sim.web import UUID_RE, RestError, not_found, params_of, public, send, truthy
from sdcadm.sim.workflow import job_or_404

if TYPE_CHECKING:
    from sdcadm.sim.world import World

LIST_PARAMS = {"uuid", "uuids", "alias", "owner_uuid", "server_uuid", "image_uuid", "billing_id",
               "brand", "state", "ram", "create_timestamp", "docker", "fields", "limit", "offset",
               "marker", "sort", "predicate", "query"}
ACTIONS = ("start", "stop", "kill", "reboot", "reprovision", "update", "add_nics", "update_nics",
           "remove_nics", "create_snapshot", "rollback_snapshot", "delete_snapshot", "create_disk",
           "resize_disk", "delete_disk", "migrate")
JOB_FIELDS = ("name", "uuid", "execution", "params", "exec_after", "created_at", "timeout",
              "chain_results")


def validation(field: str, code: str, message: str | None = None) -> RestError:
    err = {"field": field, "code": code}
    if message:
        err["message"] = message
    return RestError(409, "ValidationFailed", "Invalid Parameters", errors=[err])


def _get_path(vm: dict[str, Any], key: str) -> Any:
    if key.startswith("tag."):
        return (vm.get("tags") or {}).get(key[4:])
    if key.startswith("internal_metadata."):
        return (vm.get("internal_metadata") or {}).get(key[18:])
    return vm.get(key)


def _eq(actual: Any, want: str) -> bool:
    if want == "*":
        return actual is not None
    if isinstance(actual, bool):
        return str(actual).lower() == want
    if "*" in want and isinstance(actual, str):
        return re.fullmatch(re.escape(want).replace(r"\*", ".*"), actual) is not None
    return str(actual) == want


def _state_ok(vm: dict[str, Any], want: str) -> bool:
    if want == "active":
        return vm.get("state") not in ("destroyed", "failed")
    return vm.get("state") == want


def _predicate(vm: dict[str, Any], pred: Any) -> bool:
    if not isinstance(pred, dict) or len(pred) != 1:
        raise validation("predicate", "Invalid", "predicate must be an object with one operator")
    (op, arg), = pred.items()
    if op in ("and", "or"):
        results = [_predicate(vm, p) for p in arg]
        return all(results) if op == "and" else any(results)
    key, value = arg
    actual = _get_path(vm, key)
    if key == "state":
        ok = _state_ok(vm, str(value))
    else:
        ok = _eq(actual, str(value).lower() if isinstance(value, bool) else str(value))
    if op == "eq":
        return ok
    if op == "ne":
        return not ok
    try:
        return (actual <= value) if op == "le" else (actual >= value)
    except TypeError:
        return False


def trim_job(job: dict[str, Any]) -> dict[str, Any]:
    return {k: job.get(k) for k in JOB_FIELDS}


def routes(world: "World") -> list[Route]:
    store = world.store

    async def ping(request: Request) -> Response:
        return send({"pingErrors": {}, "pid": 1, "status": "OK", "healthy": True,
                     "services": {"wfapi": "online", "moray": "online"},
                     "initialization": {"moray": {"status": "BUCKETS_REINDEX_DONE"}},
                     "dataMigrations": {"latestCompletedMigrations": {"vms": 1}}})

    def select(q: Any) -> list[dict[str, Any]]:
        unknown = [k for k in q.keys() if k not in LIST_PARAMS and not k.startswith("tag.")
                   and not k.startswith("internal_metadata.")]
        if unknown:
            raise validation(unknown[0], "Invalid", f"unknown parameter: {unknown[0]}")
        pred = None
        if q.get("predicate"):
            try:
                pred = json.loads(q["predicate"])
            except ValueError:
                raise validation("predicate", "Invalid", "predicate is not valid JSON") from None
        uuids = set(q["uuids"].split(",")) if q.get("uuids") else None
        out = []
        for vm in store.all("vm"):
            if uuids is not None and vm["uuid"] not in uuids:
                continue
            if "state" in q and not _state_ok(vm, q["state"]):
                continue
            if any(k in q and not _eq(_get_path(vm, k), q[k])
                   for k in ("uuid", "alias", "owner_uuid", "server_uuid", "image_uuid",
                             "billing_id", "brand", "ram", "create_timestamp", "docker")):
                continue
            if any(not _eq(_get_path(vm, k), v) for k, v in q.multi_items()
                   if k.startswith("tag.") or k.startswith("internal_metadata.")):
                continue
            if pred is not None and not _predicate(vm, pred):
                continue
            out.append(vm)
        sort = q.get("sort") or "uuid.desc"
        field, _, direction = sort.partition(".")
        out.sort(key=lambda v: str(v.get(field) or ""), reverse=(direction or "asc") == "desc")
        return out

    def fields(vm: dict[str, Any], spec: str | None) -> dict[str, Any]:
        out = public(vm)
        if spec and spec != "*":
            keep = set(spec.split(","))
            out = {k: v for k, v in out.items() if k in keep}
        return out

    async def list_vms(request: Request) -> Response:
        q = request.query_params
        vms = select(q)
        offset, limit = 0, 1000
        try:
            if "offset" in q:
                offset = int(q["offset"])
            if "limit" in q:
                limit = int(q["limit"])
        except ValueError:
            raise validation("limit" if "limit" in q else "offset", "Invalid",
                             "not a number") from None
        if offset < 0:
            raise validation("offset", "Invalid", "offset must be >= 0")
        if limit < 1 or limit > 1000:
            raise validation("limit", "Invalid", "limit must be between 1 and 1000")
        if q.get("marker"):
            if "offset" in q:
                raise validation("marker", "ConflictingParameters",
                                 "offset and marker cannot be combined")
            try:
                last = json.loads(q["marker"])["uuid"]
            except (ValueError, KeyError, TypeError):
                raise validation("marker", "Invalid", "invalid marker") from None
            idx = next((i for i, v in enumerate(vms) if v["uuid"] == last), None)
            vms = vms[idx + 1:] if idx is not None else vms
        page = vms[offset:offset + limit]
        return send([fields(v, q.get("fields")) for v in page],
                    headers={"x-joyent-resource-count": str(len(vms))})

    async def head_vms(request: Request) -> Response:
        return Response(status_code=200,
                        headers={"x-joyent-resource-count": str(len(select(request.query_params)))})

    def vm_or_404(u: str, owner: str | None = None) -> dict[str, Any]:
        vm = store.get("vm", u)
        if vm is None or (owner and vm.get("owner_uuid") != owner):
            raise not_found("VM not found")
        return vm

    async def get_vm(request: Request) -> Response:
        q = request.query_params
        if "sync" in q and q["sync"] not in ("true", "false"):
            raise validation("sync", "Invalid", "sync must be true or false")
        vm = vm_or_404(request.path_params["uuid"], q.get("owner_uuid"))
        return send(fields(vm, q.get("fields")))

    async def vm_action(request: Request) -> Response:
        u = request.path_params["uuid"]
        p = await params_of(request)
        action = p.pop("action", None)
        if not action:
            raise validation("action", "MissingParameter", "action is required")
        if action not in ACTIONS:
            raise validation("action", "Invalid", f"invalid action: {action}")
        sync = p.pop("sync", None)
        if sync is not None and str(sync) not in ("true", "false"):
            raise validation("sync", "Invalid", "sync must be true or false")
        vm = vm_or_404(u)
        if not vm.get("server_uuid"):
            raise RestError(409, "UnallocatedVM",
                            "Cannot perform this action on a VM that has not been allocated")
        if action == "reprovision":
            if vm.get("brand") not in ("joyent", "joyent-minimal", "lx"):
                raise RestError(409, "BrandNotSupported",
                                f"reprovision is not supported for brand {vm.get('brand')}")
            img = p.get("image_uuid")
            if not img:
                raise validation("image_uuid", "MissingParameter", "image_uuid is required")
            if not re.fullmatch(UUID_RE, str(img)):
                raise validation("image_uuid", "Invalid", "image_uuid must be a UUID")
            local = store.get("image", img)
            if local is None or local.get("state") != "active":
                raise validation("image_uuid", "Invalid", f"image {img} does not exist")
            job = ops.reprovision(world, vm, img)
        elif action == "stop" and vm.get("state") != "running":
            raise RestError(409, "VmNotRunning", "Cannot stop a VM that is not running")
        elif action == "start" and vm.get("state") != "stopped":
            raise RestError(409, "VmNotStopped", "Cannot start a VM that is not stopped")
        else:
            job = ops.vm_action(world, vm, action,
                                {k: v for k, v in p.items() if k not in ("uuid",)})
        if truthy(sync):
            await world.wait_for(job["uuid"], lambda: ops.job_done(world, job["uuid"]), 600)
            final = store.get("job", job["uuid"]) or {}
            if final.get("execution") != "succeeded":
                last = (final.get("chain_results") or [{}])[-1].get("error") or {}
                detail = last.get("message", "job failed") if isinstance(last, dict) else str(last)
                raise RestError(500, "InternalError", detail)
        return send({"vm_uuid": vm["uuid"], "job_uuid": job["uuid"]}, status=202,
                    headers={"workflow-api": world.urls.get("workflow", "")})

    async def delete_vm(request: Request) -> Response:
        vm = vm_or_404(request.path_params["uuid"])
        if not vm.get("server_uuid"):
            raise RestError(409, "UnallocatedVM",
                            "Cannot perform this action on a VM that has not been allocated")
        job = ops.vm_action(world, vm, "destroy", {})
        return send({"vm_uuid": vm["uuid"], "job_uuid": job["uuid"]}, status=202,
                    headers={"workflow-api": world.urls.get("workflow", "")})

    def job_matches(job: dict[str, Any], q: Any, vm_uuid: str | None = None) -> bool:
        p = job.get("params") or {}
        vm = vm_uuid or q.get("vm_uuid")
        if vm and p.get("vm_uuid") != vm:
            return False
        if q.get("execution") and job.get("execution") != q["execution"]:
            return False
        if q.get("task") and p.get("task") != q["task"]:
            return False
        return True

    async def list_jobs(request: Request) -> Response:
        q = request.query_params
        jobs = [trim_job(j) for j in store.all("job") if job_matches(j, q)]
        return send(list(reversed(jobs)))

    async def list_vm_jobs(request: Request) -> Response:
        q = request.query_params
        u = request.path_params["uuid"]
        vm_or_404(u)
        jobs = [trim_job(j) for j in store.all("job") if job_matches(j, q, u)]
        return send(list(reversed(jobs)))

    async def get_job(request: Request) -> Response:
        return send(trim_job(job_or_404(store, request.path_params["uuid"])))

    async def wait_job(request: Request) -> Response:
        u = request.path_params["uuid"]
        job_or_404(store, u)
        timeout = float(request.query_params.get("timeout", 3600))
        await world.wait_for(u, lambda: ops.job_done(world, u), timeout)
        return send(trim_job(job_or_404(store, u)))

    return [
        Route("/ping", ping),
        Route("/vms", list_vms, methods=["GET"]),
        Route("/vms", head_vms, methods=["HEAD"]),
        Route("/vms/{uuid}", get_vm, methods=["GET"]),
        Route("/vms/{uuid}", vm_action, methods=["POST"]),
        Route("/vms/{uuid}", delete_vm, methods=["DELETE"]),
        Route("/vms/{uuid}/jobs", list_vm_jobs, methods=["GET"]),
        Route("/jobs", list_jobs, methods=["GET"]),
        Route("/jobs/{uuid}", get_job, methods=["GET"]),
        Route("/jobs/{uuid}/wait", wait_job, methods=["GET"]),
    ]
