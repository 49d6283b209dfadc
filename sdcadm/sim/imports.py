"""IMGAPI import-remote: checking the request, and the job that downloads and verifies the
file from the source IMGAPI (the updates server) over HTTP."""
from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sdcadm.sim import pool
from sdcadm.sim.ops import finish_job, new_job, set_progress
from sdcadm.sim.store import now_iso
from sdcadm.sim.web import RestError

if TYPE_CHECKING:
    from sdcadm.sim.world import World


async def import_remote(world: "World", uuid: str, q: dict[str, str]) -> dict[str, Any]:
    """Validate an AdminImportRemoteImage request and queue its job (in the DC IMGAPI)."""
    store = world.store
    source = q.get("source")
    if not source:
        raise RestError(422, "ValidationFailed", "missing source",
                        errors=[{"field": "source", "code": "MissingParameter"}])
    if q.get("account"):
        raise RestError(403, "OperatorOnly", "operator-only endpoint")
    if store.get("image", uuid) is not None:
        raise RestError(409, "ImageUuidAlreadyExists", f"image uuid \"{uuid}\" already exists")
    try:
        manifest = await asyncio.to_thread(_fetch_manifest, source, uuid)
    except _RemoteMissing as e:
        raise RestError(404, "ResourceNotFound", str(e)) from e
    except Exception as e:  # noqa: BLE001 - any remote failure is a RemoteSourceError
        raise RestError(503, "RemoteSourceError",
                        f"error getting image {uuid} from {source}: {e}") from e
    origin = manifest.get("origin")
    if origin:
        local = store.get("image", origin)
        if local is None or local.get("state") != "active":
            raise RestError(422, "OriginIsNotActive",
                            f"origin image \"{origin}\" is not active (import it first)")
    skip_owner_check = str(q.get("skip_owner_check", "")).lower() == "true"
    job = new_job(world, "import", {"image_uuid": uuid, "source": source, "manifest": manifest,
                                     "skip_owner_check": skip_owner_check,
                                     "task": "import-remote-image"}, f"/import-remote-{uuid}")
    return {"image_uuid": uuid, "job_uuid": job["uuid"]}


class _RemoteMissing(Exception):
    pass


def _with_path(source: str, path: str) -> str:
    parts = urlsplit(source)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + path, parts.query, ""))


def _fetch_manifest(source: str, uuid: str) -> dict[str, Any]:
    import requests

    resp = requests.get(_with_path(source, f"/images/{uuid}"), headers={"Accept-Version": "*"},
                        timeout=30)
    if resp.status_code == 404:
        raise _RemoteMissing(f"image {uuid} not found on {source}")
    resp.raise_for_status()
    return resp.json()


def _download(source: str, uuid: str, size: int, sha1: str) -> None:
    """Fetch the image file over HTTP and check size, SHA-1 and Content-MD5."""
    import requests

    resp = requests.get(_with_path(source, f"/images/{uuid}/file"), stream=True, timeout=60)
    if resp.status_code != 200:
        raise RuntimeError(f"error downloading image {uuid} file: HTTP {resp.status_code}")
    want_md5 = resp.headers.get("content-md5")
    h_sha1, h_md5, got = hashlib.sha1(), hashlib.md5(), 0
    for chunk in resp.iter_content(1 << 20):
        h_sha1.update(chunk)
        h_md5.update(chunk)
        got += len(chunk)
    if got != size:
        raise RuntimeError(f"image {uuid} file size mismatch: expected {size}, got {got}")
    if h_sha1.hexdigest() != sha1:
        raise RuntimeError(f"image {uuid} file sha1 mismatch: expected {sha1}, "
                           f"got {h_sha1.hexdigest()}")
    if want_md5 and base64.b64encode(h_md5.digest()).decode() != want_md5:
        raise RuntimeError(f"image {uuid} file Content-MD5 mismatch")


async def import_work(world: "World", job: dict[str, Any], fault: dict | None) -> None:
    p = job["params"]
    u, manifest = p["image_uuid"], p["manifest"]
    error = None
    size = int(((manifest.get("files") or [{}])[0]).get("size") or 0)
    full = pool.room_for(world, size)  # the image store (the headnode's pool) is full
    if fault or full:
        error = (fault.get("message") or f"injected failure importing image {u}"
                 if fault else full)
        set_progress(world, "job", job["uuid"], fail_at="add_image_file")
    else:
        f = (manifest.get("files") or [{}])[0]
        try:
            await asyncio.to_thread(_download, p["source"], u, int(f.get("size") or 0),
                                    f.get("sha1", ""))
        except Exception as e:  # noqa: BLE001
            error = str(e)
            set_progress(world, "job", job["uuid"], fail_at="add_image_file")
    if world.store.get("job", job["uuid"]) is None:
        return  # a reset happened while downloading
    if error is None:
        from sdcadm.sim.files import compute_sums

        upd = world.store.get("uimage", u)
        md5 = upd["_md5"] if upd else compute_sums(u, int(manifest["files"][0]["size"]))["md5"]

        def activate(m: dict[str, Any]) -> None:
            m.update(state="active", files=manifest.get("files") or [], _md5=md5,
                     published_at=manifest.get("published_at") or now_iso())
        world.store.edit("image", u, activate)
        pool.take(world, size)
        finish_job(world, job["uuid"], None, result=f"image {u} imported")
    else:
        world.store.delete("image", u)  # the onerror chain removes the partial image
        finish_job(world, job["uuid"], error)
