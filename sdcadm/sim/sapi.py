"""SAPI 2.1.3: applications, services, instances, mode, and the /history endpoints that
SAPI once carried for sdcadm."""
from __future__ import annotations

import copy
import datetime as dt
import re
import uuid as uuidlib
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdcadm.sim.store import now_iso
from sdcadm.sim.web import (
    UUID_RE,
    RestError,
    invalid_argument,
    json_body,
    missing_parameter,
    no_content,
    not_found,
    params_of,
    public,
    send,
    truthy,
)

if TYPE_CHECKING:
    from sdcadm.sim.world import World

BAGS = ("params", "metadata", "manifests", "metadata_schema")
BUCKET = {"app": "sapi_applications", "service": "sapi_services", "instance": "sapi_instances"}


def api_version(request: Request) -> int:
    raw = request.headers.get("accept-version", "~1").strip()
    if (raw in ("*", "~2", "2", "2.0.0", "^2", ">=2", "~2.0") or raw.startswith("~2")
            or raw.startswith("2")):
        return 2
    if raw.startswith("~1") or raw.startswith("1") or raw.startswith("^1"):
        return 1
    raise RestError(400, "InvalidVersion",
                    f"{raw} is not supported by {request.method} {request.url.path}")


def _shape(doc: dict[str, Any], version: int) -> dict[str, Any]:
    out = public(doc)
    if version < 2:
        out.pop("type", None)
    return out


def apply_update(doc: dict[str, Any], body: dict[str, Any], kinds: tuple[str, ...] = BAGS) -> None:
    action = body.get("action", "update") or "update"
    if action not in ("update", "replace", "delete"):
        raise invalid_argument(f"invalid action: {action}")
    for bag in kinds:
        if bag not in body or body[bag] is None:
            continue
        given = body[bag]
        if not isinstance(given, dict):
            raise invalid_argument(f"{bag} must be an object")
        if action == "replace":
            doc[bag] = copy.deepcopy(given)
        elif action == "update":
            doc.setdefault(bag, {}).update(copy.deepcopy(given))
        else:
            for key in given:
                doc.setdefault(bag, {}).pop(key, None)


def require(params: dict[str, Any], *keys: str) -> None:
    """SAPI's check of required keys: every missing (or empty) one named in one error."""
    missing = [k for k in keys if not params.get(k)]
    if missing:
        raise missing_parameter(f"missing required keys: {', '.join(missing)}")


def _parse_time(value: Any, field: str) -> float:
    """ms since epoch from a number or a date string (JS `new Date(x)` accepts both)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            pass
    raise invalid_argument(f"{field} is not a valid date: {value}")


def routes(world: "World") -> list[Route]:
    store = world.store

    async def ping(request: Request) -> Response:
        return send({"mode": store.get("sim", "mode") or "full", "storType": "MorayStorage",
                     "storAvailable": True})

    async def get_mode(request: Request) -> Response:
        return send(store.get("sim", "mode") or "full")

    async def set_mode(request: Request) -> Response:
        p = await params_of(request)
        if "mode" not in p:
            raise missing_parameter("missing required parameter: mode")
        if p["mode"] != "full":
            raise invalid_argument(f"invalid mode: {p['mode']}")
        store.put("sim", "mode", "full")
        return no_content()

    # -- applications --------------------------------------------------------------------
    async def list_apps(request: Request) -> Response:
        p = request.query_params
        out = [public(a) for a in store.all("app")
               if ("name" not in p or a["name"] == p["name"])
               and ("owner_uuid" not in p or a.get("owner_uuid") == p["owner_uuid"])]
        return send(out)

    async def create_app(request: Request) -> Response:
        p = await params_of(request)
        require(p, "name", "owner_uuid")
        u = p.get("uuid") or str(uuidlib.uuid4())
        doc = {"uuid": u, "name": p["name"], "owner_uuid": p["owner_uuid"],
               "params": p.get("params") or {}, "metadata": p.get("metadata") or {},
               "manifests": p.get("manifests") or {}}
        if p.get("metadata_schema"):
            doc["metadata_schema"] = p["metadata_schema"]
        return send(store.put("app", u, doc))

    def _get(kind: str, label: str, u: str) -> dict[str, Any]:
        doc = store.get(kind, u)
        if doc is None:
            raise not_found(f"no such {label}: {u}")
        return doc

    async def get_app(request: Request) -> Response:
        return send(public(_get("app", "application", request.path_params["uuid"])))

    # update and delete are one handler each for applications, services and instances
    async def update_obj(request: Request, kind: str) -> Response:
        u = request.path_params["uuid"]
        body = await json_body(request)
        if not isinstance(body, dict):
            raise invalid_argument("body must be an object")
        if store.get(kind, u) is None:
            raise RestError(500, None,
                            f"updateObject failed: no record for bucket {BUCKET[kind]} object {u}")
        bags = BAGS if kind == "app" else BAGS[:3]

        def change(doc: dict[str, Any]) -> None:
            apply_update(doc, body, bags)
            if kind == "app" and body.get("owner_uuid"):
                doc["owner_uuid"] = body["owner_uuid"]

        doc = store.edit(kind, u, change)
        return send(_shape(doc, api_version(request)))

    async def delete_obj(request: Request, kind: str) -> Response:
        if not store.delete(kind, request.path_params["uuid"]):
            raise RestError(404, None, "", empty=True)
        return no_content()

    # services and instances are listed alike: under ~1 only `vm` ones, `type` defaults to vm
    async def list_objs(request: Request, kind: str, filters: tuple[str, ...]) -> Response:
        version = api_version(request)
        p = request.query_params
        out = []
        for doc in store.all(kind):
            if version < 2 and doc.get("type", "vm") != "vm":
                continue
            if any(k in p and doc.get(k, "vm" if k == "type" else None) != p[k] for k in filters):
                continue
            out.append(_shape(doc, version))
        return send(out)

    # -- services ------------------------------------------------------------------------

    async def create_service(request: Request) -> Response:
        p = await params_of(request)
        require(p, "name", "application_uuid")
        if p.get("type", "vm") not in ("vm", "agent"):
            raise RestError(500, None, f"invalid service type: {p['type']}")
        if store.get("app", p["application_uuid"]) is None:
            raise not_found(f"no such application: {p['application_uuid']}")
        u = p.get("uuid") or str(uuidlib.uuid4())
        doc = {"uuid": u, "name": p["name"], "application_uuid": p["application_uuid"],
               "type": p.get("type", "vm"), "params": p.get("params") or {},
               "metadata": p.get("metadata") or {}, "manifests": p.get("manifests") or {}}
        return send(_shape(store.put("service", u, doc), api_version(request)))

    async def get_service(request: Request) -> Response:
        return send(_shape(_get("service", "service", request.path_params["uuid"]),
                           api_version(request)))

    # -- instances -----------------------------------------------------------------------
    async def get_instance(request: Request) -> Response:
        return send(_shape(_get("instance", "instance", request.path_params["uuid"]),
                           api_version(request)))

    async def create_instance(request: Request) -> Response:
        from sdcadm.sim import ops

        p = await params_of(request)
        require(p, "service_uuid")
        svc = _get("service", "service", p["service_uuid"])
        u = p.get("uuid") or str(uuidlib.uuid4())
        doc = {"uuid": u, "service_uuid": svc["uuid"], "type": svc.get("type", "vm"),
               "params": p.get("params") or {}, "metadata": p.get("metadata") or {},
               "manifests": p.get("manifests") or {}}
        store.put("instance", u, doc)
        if doc["type"] == "vm" and not truthy(p.get("exists")):
            job = ops.provision(world, u, svc, doc)
            if truthy(p.get("async")):
                doc = dict(doc, job_uuid=job["uuid"])
            else:
                await world.wait_for(job["uuid"], lambda: ops.job_done(world, job["uuid"]), 3600)
                final = store.get("job", job["uuid"]) or {}
                if final.get("execution") != "succeeded":
                    store.delete("instance", u)
                    raise RestError(500, "ProvisionFailedError",
                                    f"failed to provision instance {u}")
        return send(_shape(doc, api_version(request)))

    async def upgrade_instance(request: Request) -> Response:
        from sdcadm.sim import ops

        p = await params_of(request)
        inst = _get("instance", "instance", request.path_params["uuid"])
        if not p.get("image_uuid"):
            raise missing_parameter("missing required parameter: image_uuid")
        if inst.get("type", "vm") == "vm" and (store.get("sim", "mode") or "full") == "full":
            vm = store.get("vm", inst["uuid"])
            if vm is not None:
                job = ops.reprovision(world, vm, p["image_uuid"])
                await world.wait_for(job["uuid"], lambda: ops.job_done(world, job["uuid"]), 3600)
                if (store.get("job", job["uuid"]) or {}).get("execution") != "succeeded":
                    raise RestError(500, "ReprovisionFailedError",
                                    f"failed to reprovision instance {inst['uuid']}")
        return send(_shape(inst, api_version(request)))

    async def delete_instance(request: Request) -> Response:
        u = request.path_params["uuid"]
        inst = store.get("instance", u)
        if inst is None:
            raise RestError(404, None, "", empty=True)
        if inst.get("type", "vm") == "vm":
            store.edit("vm", u, lambda vm: vm.update(state="destroyed", zone_state="destroyed",
                                                    destroyed=now_iso()))
        store.delete("instance", u)
        return no_content()

    async def instance_payload(request: Request) -> Response:
        inst = _get("instance", "instance", request.path_params["uuid"])
        if inst.get("type", "vm") != "vm":
            return send({})
        svc = store.get("service", inst["service_uuid"]) or {}
        app = store.get("app", svc.get("application_uuid", "")) or {}
        params = dict(app.get("params") or {})
        params.update(svc.get("params") or {})
        params.update(inst.get("params") or {})
        meta = dict(app.get("metadata") or {})
        meta.update(svc.get("metadata") or {})
        meta.update(inst.get("metadata") or {})
        keep = {"SAPI_URL", "sapi_url", "SAPI-URL", "sapi-url", "user-script", "assets-ip"}
        keep |= set(meta.get("pass_vmapi_metadata_keys") or [])
        params.update(owner_uuid=app.get("owner_uuid"), uuid=inst["uuid"], brand="joyent-minimal",
                      customer_metadata={k: v for k, v in meta.items() if k in keep})
        if isinstance(params.get("networks"), list):
            params["networks"] = [({"uuid": n} if re.fullmatch(UUID_RE, n) else {"name": n})
                                  if isinstance(n, str) else n for n in params["networks"]]
        return send(params)

    # -- history -------------------------------------------------------------------------
    async def create_history(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise invalid_argument("history entry must be an object")
        missing = [k for k in ("uuid", "started", "changes") if body.get(k) in (None, "")]
        if missing:
            raise missing_parameter(f"missing required keys: {', '.join(missing)}")
        if not re.fullmatch(UUID_RE, str(body["uuid"])):
            raise invalid_argument(f"invalid uuid: {body['uuid']}")
        if not isinstance(body["changes"], (list, dict)):
            raise invalid_argument("changes must be an object")
        _parse_time(body["started"], "started")
        if store.get("history", body["uuid"]) is not None:
            raise invalid_argument(f"history item {body['uuid']} already exists")
        return send(store.put("history", body["uuid"], body))

    async def update_history(request: Request) -> Response:
        u = request.path_params["uuid"]
        body = await json_body(request)
        if not isinstance(body, dict):
            raise invalid_argument("history entry must be an object")
        if body.get("finished") in (None, ""):
            raise missing_parameter("missing required keys: finished")
        _parse_time(body["finished"], "finished")
        if store.get("history", u) is None:
            raise not_found(f"history item {u} not found")
        return send(store.edit("history", u,
                               lambda d: d.update({k: v for k, v in body.items() if k != "uuid"})))

    async def get_history(request: Request) -> Response:
        u = request.path_params["uuid"]
        doc = store.get("history", u)
        if doc is None:
            raise not_found(f"history item {u} not found")
        return send(doc)

    async def list_history(request: Request) -> Response:
        p = request.query_params
        since = _parse_time(p["since"], "since") if p.get("since") else None
        until = _parse_time(p["until"], "until") if p.get("until") else None
        out = []
        for h in store.all("history"):
            started = _parse_time(h["started"], "started")
            if (since is None or started >= since) and (until is None or started <= until):
                out.append(h)
        out.sort(key=lambda h: _parse_time(h["started"], "started"))
        return send(out)

    async def delete_history(request: Request) -> Response:
        if not store.delete("history", request.path_params["uuid"]):
            raise not_found(f"history item {request.path_params['uuid']} not found")
        return no_content()

    return [
        Route("/ping", ping),
        Route("/mode", get_mode, methods=["GET"]),
        Route("/mode", set_mode, methods=["POST"]),
        Route("/applications", list_apps, methods=["GET"]),
        Route("/applications", create_app, methods=["POST"]),
        Route("/applications/{uuid}", get_app, methods=["GET"]),
        Route("/applications/{uuid}", partial(update_obj, kind="app"), methods=["PUT"]),
        Route("/applications/{uuid}", partial(delete_obj, kind="app"), methods=["DELETE"]),
        Route("/services", partial(list_objs, kind="service",
                                   filters=("name", "application_uuid", "type")), methods=["GET"]),
        Route("/services", create_service, methods=["POST"]),
        Route("/services/{uuid}", get_service, methods=["GET"]),
        Route("/services/{uuid}", partial(update_obj, kind="service"), methods=["PUT"]),
        Route("/services/{uuid}", partial(delete_obj, kind="service"), methods=["DELETE"]),
        Route("/instances", partial(list_objs, kind="instance", filters=("service_uuid", "type")),
              methods=["GET"]),
        Route("/instances", create_instance, methods=["POST"]),
        Route("/instances/{uuid}", get_instance, methods=["GET"]),
        Route("/instances/{uuid}", partial(update_obj, kind="instance"), methods=["PUT"]),
        Route("/instances/{uuid}", delete_instance, methods=["DELETE"]),
        Route("/instances/{uuid}/payload", instance_payload, methods=["GET"]),
        Route("/instances/{uuid}/upgrade", upgrade_instance, methods=["PUT"]),
        Route("/history", list_history, methods=["GET"]),
        Route("/history", create_history, methods=["POST"]),
        Route("/history/{uuid}", get_history, methods=["GET"]),
        Route("/history/{uuid}", update_history, methods=["PUT"]),
        Route("/history/{uuid}", delete_history, methods=["DELETE"]),
    ]

