"""IMGAPI 4.13.1 in two modes: `dc` (the datacenter's IMGAPI, no channels, import-remote
through Workflow) and `private` (the updates server: channels, read-mostly)."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import os
import re
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sdcadm.sim import pool
from sdcadm.sim.files import corrupted, iter_bytes
from sdcadm.sim.store import now_iso
from sdcadm.sim.web import (
    UUID_RE,
    RestError,
    json_body,
    no_content,
    not_found,
    public,
    send,
    truthy,
)

if TYPE_CHECKING:
    from sdcadm.sim.world import World

STATES = ("active", "disabled", "unactivated", "creating", "failed", "all")
MUTABLE = ("description", "homepage", "public", "tags", "requirements", "eula", "acl",
           "billing_tags", "traits", "os", "type", "name", "version", "users",
           "generate_passwords", "nic_driver", "disk_driver", "cpu_type", "image_size",
           "inherited_directories")


def invalid_parameter(field: str, message: str, code: str = "Invalid") -> RestError:
    return RestError(422, "InvalidParameter", message,
                     errors=[{"field": field, "code": code, "message": message}])


def _date(value: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _pub(m: dict[str, Any]) -> float:
    return (_date(m["published_at"]) or 0.0) if m.get("published_at") else 0.0


def wants_channels(request: Request) -> bool:
    raw = request.headers.get("accept-version", "~1").strip()
    return raw == "*" or raw.lstrip("~^>=").startswith("2")


def routes(world: "World", mode: str) -> list[Route]:
    store = world.store
    kind = "uimage" if mode == "private" else "image"
    files_dir = world.state_dir / "files"

    def channels() -> list[dict[str, Any]]:
        return store.all("channel") if mode == "private" else []

    def channel_of(request: Request) -> str | None:
        """The channel a request is scoped to ('*' = all); None on a server without channels."""
        if mode != "private":
            return None
        ch = request.query_params.get("channel")
        names = [c["name"] for c in channels()]
        if ch is None or ch == "":
            default = next((c["name"] for c in channels() if c.get("default")), None)
            if default is None:
                raise RestError(422, "ValidationFailed",
                                "channel not specified and the server has no default channel",
                                errors=[{"field": "channel", "code": "Missing"}])
            return default
        if ch != "*" and ch not in names:
            raise RestError(422, "ValidationFailed", f"unknown channel: {ch}",
                            errors=[{"field": "channel", "code": "Invalid",
                                     "message": f"unknown channel: {ch}"}])
        return ch

    def in_channel(m: dict[str, Any], ch: str | None) -> bool:
        return ch is None or ch == "*" or ch in (m.get("channels") or [])

    def shape(m: dict[str, Any], request: Request) -> dict[str, Any]:
        out = public(m)
        if mode != "private" or not wants_channels(request):
            out.pop("channels", None)
        return out

    def get_or_404(u: str, request: Request, *, scoped: bool = True) -> dict[str, Any]:
        if not re.fullmatch(UUID_RE, u):
            raise invalid_parameter("uuid", f"invalid image uuid: \"{u}\"")
        m = store.get(kind, u)
        if m is None:
            raise not_found(f"image {u} not found")
        if scoped and not in_channel(m, channel_of(request)):
            raise not_found("image not found")
        return m

    async def ping(request: Request) -> Response:
        body: dict[str, Any] = {"ping": "pong", "version": "4.13.1", "imgapi": True}
        if mode == "dc":
            body["pid"] = os.getpid()
        err = request.query_params.get("error")
        if err:
            raise RestError(500 if err == "InternalError" else 422, err, f"sample {err} error")
        return send(body)

    async def list_channels(request: Request) -> Response:
        if mode != "private":
            raise not_found(f"{request.url.path} does not exist")
        return send([dict(c) for c in channels()])

    async def list_images(request: Request) -> Response:
        q = request.query_params
        ch = channel_of(request)
        state = q.get("state", "active")
        if state not in STATES:
            raise invalid_parameter("state", f"invalid state: \"{state}\"")
        limit = 1000
        if "limit" in q:
            try:
                limit = int(q["limit"])
            except ValueError:
                raise invalid_parameter("limit", f"invalid limit: \"{q['limit']}\"") from None
            if limit < 1 or limit > 1000:
                raise invalid_parameter("limit",
                                        f"invalid limit: \"{q['limit']}\" (must be 1-1000)")
        sort = q.get("sort", "published_at")
        if sort not in ("published_at", "published_at.asc", "published_at.desc"):
            raise invalid_parameter("sort", f"invalid sort: \"{sort}\"")
        marker_time: float | None = None
        if q.get("marker"):
            marker = q["marker"]
            if re.fullmatch(UUID_RE, marker):
                mm = store.get(kind, marker)
                if mm is None:
                    raise not_found(f"image {marker} not found")
                marker_time = _pub(mm)
            else:
                marker_time = _date(marker)
                if marker_time is None:
                    raise invalid_parameter("marker", f"invalid marker: \"{marker}\"")
        tags = {k[4:]: v for k, v in q.multi_items() if k.startswith("tag.")}
        out = []
        for m in store.all(kind):
            if not in_channel(m, ch):
                continue
            if state != "all" and m.get("state") != state:
                continue
            if not (_match_str(m.get("name"), q.get("name"))
                    and _match_str(m.get("version"), q.get("version"))):
                continue
            if "owner" in q and m.get("owner") != q["owner"]:
                continue
            if "os" in q and m.get("os") != q["os"]:
                continue
            if "public" in q and bool(m.get("public")) != truthy(q["public"]):
                continue
            if "type" in q:
                t = q["type"]
                if t.startswith("!") and m.get("type") == t[1:]:
                    continue
                if not t.startswith("!") and m.get("type") != t:
                    continue
            mtags = m.get("tags") or {}
            if any(k not in mtags or _tag_str(mtags[k]) != v for k, v in tags.items()):
                continue
            if marker_time is not None and _pub(m) < marker_time:
                continue
            out.append(m)
        out.sort(key=lambda m: (_pub(m), m["uuid"]), reverse=sort.endswith(".desc"))
        return send([shape(m, request) for m in out[:limit]])

    async def get_image(request: Request) -> Response:
        m = get_or_404(request.path_params["uuid"], request)
        return send(shape(m, request), headers={"etag": hashlib.sha1(str(m).encode()).hexdigest()})

    async def get_file(request: Request) -> Response:
        m = get_or_404(request.path_params["uuid"], request)
        if not m.get("files"):
            raise not_found(f"image {m['uuid']} has no file")
        f = m["files"][0]
        headers = {"content-length": str(f["size"]), "content-md5": m["_md5"], "etag": f["sha1"],
                   "last-modified": _http_date(m.get("published_at"))}
        if m.get("_path"):
            body = _iter_path(files_dir / m["_path"])
        else:
            body = iter_bytes(m.get("_file_uuid", m["uuid"]), int(f["size"]))
        if world.target_fault("corrupt-file", [m["uuid"]]):
            body = corrupted(body)
        return StreamingResponse(body, media_type="application/octet-stream", headers=headers)

    async def add_file(request: Request) -> Response:
        u = request.path_params["uuid"]
        m = get_or_404(u, request, scoped=False)
        q = request.query_params
        if m.get("state") != "unactivated":
            raise RestError(422, "ImageFilesImmutable",
                            f"cannot modify files on activated image {u}")
        if not q.get("compression"):
            raise invalid_parameter("compression", "missing \"compression\" parameter",
                                    code="MissingParameter")
        files_dir.mkdir(parents=True, exist_ok=True)
        sha1, md5, size = hashlib.sha1(), hashlib.md5(), 0
        path = files_dir / u
        with open(path, "wb") as fh:
            async for chunk in request.stream():
                sha1.update(chunk)
                md5.update(chunk)
                size += len(chunk)
                fh.write(chunk)
        if q.get("sha1") and q["sha1"] != sha1.hexdigest():
            path.unlink(missing_ok=True)
            raise RestError(400, "BadDigest",
                            f"Content-SHA1 mismatch (expected {q['sha1']}, got {sha1.hexdigest()})")
        full = pool.room_for(world, size) if kind == "image" else None
        if full:  # the DC IMGAPI keeps its files on the headnode's pool
            path.unlink(missing_ok=True)
            raise RestError(500, "InternalError", full)
        if kind == "image":
            pool.take(world, size)
        entry = {"sha1": sha1.hexdigest(), "size": size, "compression": q["compression"]}
        if q.get("dataset_guid"):
            entry["dataset_guid"] = q["dataset_guid"]
        doc = store.edit(kind, u,
                         lambda d: d.update(files=[entry],
                                            _md5=base64.b64encode(md5.digest()).decode(),
                                                     _path=u))
        return send(shape(doc, request))

    async def action(request: Request) -> Response:
        u = request.path_params["uuid"]
        q = request.query_params
        act = q.get("action")
        if not act:
            raise RestError(422, "InvalidParameter", "missing action",
                            errors=[{"field": "action", "code": "MissingParameter"}])
        if act == "import":
            return await admin_import(request, u)
        if act == "import-remote" and mode == "dc":
            from sdcadm.sim.imports import import_remote

            body = await import_remote(world, u, dict(q))
            return send(body, headers={"workflow-api": world.urls.get("workflow", "")})
        handlers: dict[str, Callable[..., Awaitable[Response]]] = {
            "activate": activate, "update": update,
            "disable": partial(set_disabled, disabled=True),
            "enable": partial(set_disabled, disabled=False)}
        if mode == "private":
            handlers["channel-add"] = channel_add
        if act not in handlers:
            raise RestError(422, "InvalidParameter", f"\"{act}\" is not a valid action",
                            errors=[{"field": "action", "code": "Invalid"}])
        m = get_or_404(u, request, scoped=act != "channel-add")
        return await handlers[act](request, m)

    async def admin_import(request: Request, u: str) -> Response:
        body = await json_body(request)
        if store.get(kind, u) is not None:
            raise RestError(409, "ImageUuidAlreadyExists", f"image uuid \"{u}\" already exists")
        if not isinstance(body, dict) or body.get("uuid") not in (None, u):
            raise invalid_parameter("uuid", "manifest uuid does not match the URL")
        missing = [k for k in ("name", "version") if not body.get(k)]
        if missing:
            raise RestError(422, "ValidationFailed", "invalid image data",
                            errors=[{"field": k, "code": "MissingParameter"} for k in missing])
        m = {k: v for k, v in copy.deepcopy(body).items() if not k.startswith("_")}
        m.update(v=2, uuid=u, state="unactivated", disabled=False)
        m.setdefault("owner", world.admin_uuid)
        m.setdefault("public", False)
        m.setdefault("type", "zone-dataset")
        m.setdefault("os", "smartos")
        m["files"] = []
        if m.get("published_at"):
            m["_activated"] = True
        if mode == "private":
            ch = channel_of(request)
            m["channels"] = [ch if ch != "*" else "dev"]
        else:
            m.pop("channels", None)
        return send(shape(store.put(kind, u, m), request))

    async def activate(request: Request, m: dict[str, Any]) -> Response:
        if m.get("state") in ("active", "disabled"):
            raise RestError(422, "ImageAlreadyActivated",
                            f"image \"{m['uuid']}\" is already activated")
        if not m.get("files"):
            raise RestError(422, "NoActivationNoFile",
                            f"image \"{m['uuid']}\" cannot be activated because it has no file")
        doc = store.edit(kind, m["uuid"],
                         lambda d: d.update(state="active",
                                            published_at=d.get("published_at") or now_iso()))
        return send(shape(doc, request))

    async def update(request: Request, m: dict[str, Any]) -> Response:
        body = await json_body(request)
        bad = [k for k in body if k not in MUTABLE]
        if bad:
            raise RestError(422, "ValidationFailed", "invalid image update data",
                            errors=[{"field": k, "code": "NotAllowed"} for k in bad])
        return send(shape(store.edit(kind, m["uuid"], lambda d: d.update(body)), request))

    async def set_disabled(request: Request, m: dict[str, Any], disabled: bool) -> Response:
        # The flag always moves; the state only between active and disabled (not unactivated).
        before, after = ("active", "disabled") if disabled else ("disabled", "active")

        def change(d: dict[str, Any]) -> None:
            d["disabled"] = disabled
            if d["state"] == before:
                d["state"] = after
        return send(shape(store.edit(kind, m["uuid"], change), request))

    async def channel_add(request: Request, m: dict[str, Any]) -> Response:
        body = await json_body(request)
        target = (body or {}).get("channel")
        if target not in [c["name"] for c in channels()]:
            raise RestError(422, "ValidationFailed", f"unknown channel: {target}",
                            errors=[{"field": "channel", "code": "Invalid"}])

        def change(d: dict[str, Any]) -> None:
            if target not in d.setdefault("channels", []):
                d["channels"].append(target)
        return send(shape(store.edit(kind, m["uuid"], change), request))

    async def delete_image(request: Request) -> Response:
        u = request.path_params["uuid"]
        m = get_or_404(u, request)
        if any(o.get("origin") == u for o in store.all(kind)):
            raise RestError(422, "ImageHasDependentImages",
                            f"image {u} has dependent incremental images")
        ch = channel_of(request)
        if mode == "private" and ch not in (None, "*") and len(m.get("channels") or []) > 1:
            store.edit(kind, u, lambda d: d["channels"].remove(ch))
        else:
            store.delete(kind, u)
            if m.get("_path"):
                (files_dir / m["_path"]).unlink(missing_ok=True)
        return no_content()

    return [
        Route("/ping", ping),
        Route("/channels", list_channels, methods=["GET"]),
        Route("/images", list_images, methods=["GET"]),
        Route("/images/{uuid}", get_image, methods=["GET"]),
        Route("/images/{uuid}", action, methods=["POST"]),
        Route("/images/{uuid}", delete_image, methods=["DELETE"]),
        Route("/images/{uuid}/file", get_file, methods=["GET"]),
        Route("/images/{uuid}/file", add_file, methods=["PUT"]),
    ]


def _match_str(value: Any, want: str | None) -> bool:
    if want is None:
        return True
    if want.startswith("~"):
        return want[1:] in str(value or "")
    return str(value) == want


def _tag_str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _http_date(iso: str | None) -> str:
    from email.utils import formatdate

    t = _date(iso) if iso else None
    return formatdate(t, usegmt=True)


def _iter_path(path):
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                return
            yield chunk
