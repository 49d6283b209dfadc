"""CNAPI 1.26.6: servers (extras, fields, paging), platforms, boot parameters, agent
install tasks, reboots, CommandExecute."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdcadm.sim import execute, ops, pool
from sdcadm.sim.store import now_iso
from sdcadm.sim.web import (
    UUID_RE,
    RestError,
    invalid_argument,
    no_content,
    not_found,
    params_of,
    public,
    send,
    truthy,
)

if TYPE_CHECKING:
    from sdcadm.sim.world import World

LIST_PARAMS = {"uuids", "setup", "headnode", "reserved", "reservoir", "hostname", "extras",
               "fields", "limit", "offset"}
EXTRAS = {"agents", "vms", "memory", "disk", "sysinfo", "capacity", "all"}
EXTRA_FIELDS = {
    "agents": ("agents",), "sysinfo": ("sysinfo",), "vms": ("vms",),
    "memory": ("memory_available_bytes", "memory_total_bytes"),
    "disk": ("disk_pool_size_bytes", "disk_pool_alloc_bytes"),
    "capacity": ("unreserved_cpu", "unreserved_ram", "unreserved_disk"),
}
HIDDEN = {f for fs in EXTRA_FIELDS.values() for f in fs} | {"status", "last_heartbeat"}
UPDATABLE = {"boot_platform", "agents", "reserved", "reservoir", "traits", "comments",
             "rack_identifier", "setup", "setting_up", "transitional_status", "next_reboot",
             "overprovision_ratios", "reservation_ratio", "serial", "default_console",
             "etag_retries", "nics"}


def strict(params: dict[str, Any], allowed: set[str]) -> None:
    for key in params:
        if key not in allowed:
            raise invalid_argument(f"{key} is not an explicitly defined parameter")


def invalid_params(field: str, message: str, status: int = 400) -> RestError:
    return RestError(status, "InvalidParameters", "Request parameters failed validation",
                     errors=[{"field": field, "code": "Invalid", "message": message}])


def routes(world: "World") -> list[Route]:
    store = world.store

    def vms_by_server() -> dict[str, dict[str, Any]]:
        """server uuid -> its VMs as `extras=vms` shows them: one pass over the VMs per
        request, not one per listed server."""
        out: dict[str, dict[str, Any]] = {}
        for v in store.all("vm"):
            if v.get("state") != "destroyed":
                out.setdefault(v.get("server_uuid"), {})[v["uuid"]] = {
                    "uuid": v["uuid"], "owner_uuid": v.get("owner_uuid"), "state": v.get("state"),
                    "zone_state": v.get("zone_state"), "brand": v.get("brand"),
                    "quota": v.get("quota"), "max_physical_memory": v.get("max_physical_memory")}
        return out

    def shaper(extras: set[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        if "all" in extras:
            extras = set(EXTRA_FIELDS)
        vms = vms_by_server() if "vms" in extras else {}

        def shape(s: dict[str, Any]) -> dict[str, Any]:
            out = {k: v for k, v in s.items() if k not in HIDDEN and not k.startswith("_")}
            if extras:
                out["status"] = s.get("status")
                # cn-agent of a running server heartbeats every few seconds; a server that
                # is down keeps the time of its last one.
                out["last_heartbeat"] = (now_iso() if s.get("status") == "running"
                                         and not world.has_fault("stale-heartbeat", s["uuid"])
                                         else s.get("last_heartbeat"))
            for e in extras:
                for f in EXTRA_FIELDS.get(e, ()):
                    out[f] = vms.get(s["uuid"], {}) if f == "vms" else s.get(f)
            if "disk" in extras:
                out["disk_pool_alloc_bytes"] = pool.alloc(world, s)  # imports, pool-full
            return out
        return shape

    def server_or_404(u: str) -> dict[str, Any]:
        if not re.fullmatch(UUID_RE, u):
            raise invalid_argument("Invalid server_uuid")
        s = store.get("server", u)
        if s is None:
            raise not_found(f"Server {u} not found")
        return s

    async def ping(request: Request) -> Response:
        return send({"ready": True,
                     "services": {"workflow": "online", "moray": "online", "amqp": "online"}})

    async def list_servers(request: Request) -> Response:
        q = dict(request.query_params)
        strict(q, LIST_PARAMS)
        extras = set(filter(None, q.get("extras", "").split(",")))
        bad = extras - EXTRAS
        if bad:
            raise invalid_params("extras", f"invalid extras: {','.join(sorted(bad))}")
        try:
            limit = int(q.get("limit", 1000))
            offset = int(q.get("offset", 0))
        except ValueError:
            raise invalid_params("limit", "limit and offset must be integers") from None
        if not 1 <= limit <= 1000:
            raise invalid_params("limit", "limit must be between 1 and 1000")
        if offset < 0:
            raise invalid_params("offset", "offset must be >= 0")
        for flag in ("setup", "headnode", "reserved", "reservoir"):
            if flag in q and q[flag] not in ("true", "false"):
                raise invalid_params(flag, f"{flag} must be true or false")
        uuids = set(q["uuids"].split(",")) if q.get("uuids") else None
        out = []
        for s in store.all("server"):
            if uuids is not None and s["uuid"] not in uuids:
                continue
            if q.get("hostname") and s["hostname"] != q["hostname"]:
                continue
            if any(flag in q and bool(s.get(flag)) != (q[flag] == "true")
                   for flag in ("setup", "headnode", "reserved", "reservoir")):
                continue
            out.append(s)
        shape = shaper(extras)
        page = [shape(s) for s in out[offset:offset + limit]]
        if q.get("fields"):
            keep = set(q["fields"].split(","))
            page = [{k: v for k, v in s.items() if k in keep} for s in page]
        return send(page)

    async def get_server(request: Request) -> Response:
        s = server_or_404(request.path_params["uuid"])
        return send(shaper({"all"})(s))

    async def update_server(request: Request) -> Response:
        s = server_or_404(request.path_params["uuid"])
        p = await params_of(request)
        strict(p, UPDATABLE)
        store.edit("server", s["uuid"], lambda d: d.update(p))
        if "boot_platform" in p:
            store.edit("boot", s["uuid"], lambda b: b.update(platform=p["boot_platform"]))
        return no_content()

    async def reboot(request: Request) -> Response:
        s = server_or_404(request.path_params["uuid"])
        p = await params_of(request)
        strict(p, {"nojob", "drain", "origin", "creator_uuid"})
        job = ops.server_reboot(world, s)
        if truthy(p.get("nojob")):
            return no_content()
        return send({"job_uuid": job["uuid"]}, status=202,
                    headers={"workflow-api": world.urls.get("workflow", "")})

    async def sysinfo_refresh(request: Request) -> Response:
        server_or_404(request.path_params["uuid"])
        return Response(status_code=200)

    async def install_agent(request: Request) -> Response:
        s = server_or_404(request.path_params["uuid"])
        p = await params_of(request)
        strict(p, {"image_uuid", "package_name", "package_file"})
        img = p.get("image_uuid")
        if not img or not re.fullmatch(UUID_RE, str(img)):
            raise invalid_params("image_uuid", "image_uuid must be a UUID", status=409)
        task = ops.install_agent(world, s, img)
        return send({"id": task["id"]})

    async def execute_(request: Request) -> Response:
        p = await params_of(request)
        script = p.get("script")
        if not (isinstance(script, str) and execute.is_read_only(script)):
            qs = request.url.query
            world.log_mutation("cnapi", "POST", request.url.path + (f"?{qs}" if qs else ""))
        s = server_or_404(request.path_params["uuid"])
        strict(p, {"script", "args", "env", "json", "timeout"})
        if not isinstance(script, str) or not script.startswith("#!"):
            raise invalid_params("script", "script must begin with a shebang (#!)", status=409)
        stdout, stderr, code = await execute.run(world, s["uuid"], script, p.get("args") or [])
        if truthy(p.get("json")):
            return send({"stdout": stdout, "stderr": stderr, "exitCode": code})
        if code != 0:
            raise RestError(500, "InternalError", "Error executing on remote system")
        return send(stdout.strip())

    async def load_vm(request: Request) -> Response:
        s = server_or_404(request.path_params["uuid"])
        vm = store.get("vm", request.path_params["vm"])
        if vm is None or vm.get("server_uuid") != s["uuid"]:
            raise not_found(f"VM {request.path_params['vm']} not found")
        return send(public(vm))

    def task_or_404(tid: str) -> dict[str, Any]:
        t = store.get("task", tid)
        if t is None:
            raise not_found("no such task found")
        return t

    async def task_history(request: Request) -> Response:
        """ServerTaskHistory: the server's recent cn-agent tasks, newest first."""
        s = server_or_404(request.path_params["uuid"])
        tasks = [public(t) for t in store.all("task") if t.get("server_uuid") == s["uuid"]]
        return send(sorted(tasks, key=lambda t: t.get("timestamp") or "", reverse=True))

    async def get_task(request: Request) -> Response:
        return send(public(task_or_404(request.path_params["id"])))

    async def wait_task(request: Request) -> Response:
        tid = request.path_params["id"]
        task_or_404(tid)
        try:
            timeout = float(request.query_params.get("timeout", 3600))
        except ValueError:
            raise invalid_params("timeout", "timeout must be a number") from None
        await world.wait_for(tid, lambda: ops.task_done(world, tid), timeout)
        return send(public(task_or_404(tid)))

    async def platforms(request: Request) -> Response:
        with_os = truthy(request.query_params.get("os"))
        os_of = {stamp: doc.get("os", "smartos")
                 for stamp, doc in sorted(store.docs.get("platform", {}).items())}
        latest: dict[str, str] = {}  # the newest platform of each OS
        for stamp, os_ in os_of.items():
            latest[os_] = max(latest.get(os_, ""), stamp)
        out = {}
        for stamp, os_ in os_of.items():
            entry: dict[str, Any] = {"os": os_} if with_os else {}
            if latest[os_] == stamp:
                entry["latest"] = True
            out[stamp] = entry
        return send(out)

    def boot_id(request: Request) -> str:
        bid = request.path_params["id"]
        if bid != "default":
            server_or_404(bid)
        return bid

    async def get_boot(request: Request) -> Response:
        bid = boot_id(request)
        return send(store.get("boot", bid) or {})

    def check_platform(platform: Any) -> None:
        if (platform is not None and platform != "latest"
                and store.get("platform", str(platform)) is None):
            raise RestError(500, None, f"Platform '{platform}' does not exist")

    async def update_boot(request: Request) -> Response:
        bid = boot_id(request)
        p = await params_of(request)
        check_platform(p.get("platform"))

        def change(b: dict[str, Any]) -> None:
            for k, v in p.items():
                if k == "kernel_args" and isinstance(v, dict):
                    for ka, kv in v.items():
                        if kv is None:
                            b.setdefault("kernel_args", {}).pop(ka, None)
                        else:
                            b.setdefault("kernel_args", {})[ka] = kv
                else:
                    b[k] = v
        store.edit("boot", bid, change)
        if bid != "default" and p.get("platform"):
            store.edit("server", bid, lambda s: s.update(boot_platform=p["platform"]))
        return no_content()

    async def set_boot(request: Request) -> Response:
        bid = boot_id(request)
        p = await params_of(request)
        platform = p.get("platform")
        if bid != "default":
            check_platform(platform)
            if not platform:
                platform = max(store.docs.get("platform", {}), default="")
        old = store.get("boot", bid) or {}
        doc = {"platform": platform or old.get("platform"),
               "kernel_args": p.get("kernel_args") or {},
               "kernel_flags": p.get("kernel_flags") or {},
               "boot_modules": p.get("boot_modules") or [],
               "default_console": p.get("default_console", old.get("default_console", "serial")),
               "serial": p.get("serial", old.get("serial", "ttyb"))}
        store.put("boot", bid, doc)
        if bid != "default":
            store.edit("server", bid, lambda s: s.update(boot_platform=doc["platform"]))
        return no_content()

    return [
        Route("/ping", ping),
        Route("/servers", list_servers, methods=["GET"]),
        Route("/servers/{uuid}", get_server, methods=["GET"]),
        Route("/servers/{uuid}", update_server, methods=["POST"]),
        Route("/servers/{uuid}/reboot", reboot, methods=["POST"]),
        Route("/servers/{uuid}/sysinfo-refresh", sysinfo_refresh, methods=["POST"]),
        Route("/servers/{uuid}/install-agent", install_agent, methods=["POST"]),
        Route("/servers/{uuid}/execute", execute_, methods=["POST"]),
        Route("/servers/{uuid}/task-history", task_history, methods=["GET"]),
        Route("/servers/{uuid}/vms/{vm}", load_vm, methods=["GET"]),
        Route("/tasks/{id}", get_task, methods=["GET"]),
        Route("/tasks/{id}/wait", wait_task, methods=["GET"]),
        Route("/platforms", platforms, methods=["GET"]),
        Route("/boot/{id}", get_boot, methods=["GET"]),
        Route("/boot/{id}", update_boot, methods=["POST"]),
        Route("/boot/{id}", set_boot, methods=["PUT"]),
    ]
