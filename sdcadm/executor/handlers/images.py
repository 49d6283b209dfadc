"""`import-image`: bring an update image into the DC-local IMGAPI.

Two ways: (default) the local IMGAPI's import-remote job pulls it from the updates server;
(`download_via: sdcadm`) sdcadm streams the file from the updates server into the local
IMGAPI itself (AdminImportImage -> AddImageFile -> ActivateImage), checking the sha1 on the
fly and holding back the last chunk until it matches, so a corrupt download never
completes an upload. Memory stays constant: one chunk in flight.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from sdcadm.errors import Interrupted, SdcAdmError, StepFailedError
from sdcadm.executor.context import ExecContext
from sdcadm.executor.handlers.jobs import follow_job, settle_jobs
from sdcadm.plan import Step

ATTEMPTS = 5
CHUNK = 1 << 20
IMPORT_TIMEOUT = 3600.0


class ChecksumError(StepFailedError):
    code = "ChecksumError"


class ImportImage:
    # An image can be deleted between a run and its resume; the steps after its import
    # need it: look again rather than trust the journal.
    recheck_done = True

    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        # A run died while IMGAPI was importing: let that job finish before judging.
        settle_jobs(ctx, step, ctx.clients.wfapi.get_job, "image_uuid", p["image_uuid"],
                    timeout=ctx.scaled(IMPORT_TIMEOUT), what=f"import of image {p['image_uuid']}")
        local = _local_image(ctx, p["image_uuid"])
        return bool(local and local.get("state") == "active")

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        uuid = p["image_uuid"]
        label = _label(p)
        local = _local_image(ctx, uuid)
        if local and local.get("state") == "active":
            ctx.say(f"Image {uuid} is already imported", f"    ({label})")
            return
        via_sdcadm = (ctx.options.get("download_via") or "imgapi") == "sdcadm"
        last: SdcAdmError | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                # Exponential backoff in units of the poll interval (5 s, 10 s, 20 s, ...).
                ctx.sleep(ctx.poll_interval * (2 ** (attempt - 1)))
            local = _local_image(ctx, uuid)
            if local and local.get("state") == "active":
                break
            if local:
                ctx.say(f"Removing unactivated image {uuid}", f"    ({label})")
                _delete(ctx, uuid)
            if attempt == 0:
                ctx.say(f"Downloading image {uuid}", f"    ({label})")
            try:
                if via_sdcadm:
                    self._stream(ctx, step)
                else:
                    self._import_remote(ctx, step)
                last = None
                break
            except Interrupted:
                raise
            except SdcAdmError as e:
                last = e
                ctx.say(f"Warning: import of image {uuid} failed (attempt {attempt + 1} of "
                        f"{ATTEMPTS}): {e.message.splitlines()[0]}")
        if last is not None:
            ctx.say(f"Error importing image {uuid}", f"    ({label})")
            raise last
        ctx.say(f"Imported image {uuid}", f"    ({label})")

    # -- IMGAPI pulls it -----------------------------------------------------------------
    def _import_remote(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        uuid = p["image_uuid"]
        source = _source(ctx, p.get("source"), p.get("channel"))
        res = ctx.clients.imgapi.import_remote(uuid, source, skip_owner_check=True)
        follow_job(ctx, step, res, ctx.clients.wfapi.get_job,
                   request=f"import-remote of image {uuid}",
                   timeout=ctx.scaled(IMPORT_TIMEOUT), what=f"import of image {uuid}")
        got = _local_image(ctx, uuid)
        if not got or got.get("state") != "active":
            raise StepFailedError(f"image {uuid} is not active after its import job "
                                  f"(state: {(got or {}).get('state', 'missing')})")

    # -- sdcadm streams it -------------------------------------------------------------------
    def _stream(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        uuid = p["image_uuid"]
        channel = p.get("channel")
        updates = ctx.clients.updates_for(channel) if channel else ctx.clients.updates
        manifest = dict(updates.get_image(uuid))
        files = (manifest.get("files") or [{}])[0]
        size = int(files.get("size") or p.get("size") or 0)
        sha1 = files.get("sha1") or p.get("sha1")
        compression = files.get("compression") or "none"
        imgapi = ctx.clients.imgapi
        imgapi.admin_import(importable(manifest))
        ctx.note(step, admin_import=True)
        resp = updates.get_file(uuid)
        bar = ctx.progress.download(f"Downloading {_label(p)}", size)
        try:
            body = Sized(verified_chunks(resp.iter_content(CHUNK), sha1=sha1, size=size,
                                         advance=bar.advance, cancel=ctx.cancelled), size)
            imgapi.add_file(uuid, body, size=size, sha1=sha1, compression=compression)
        except BaseException:
            _delete(ctx, uuid)  # never leave a half-uploaded, unactivated image behind
            raise
        finally:
            bar.close()
            resp.close()
        imgapi.activate(uuid)


class Sized:
    """An iterable body with a known length, so requests sends it with Content-Length
    (not chunked) and streams our chunks as they come."""

    def __init__(self, chunks: Iterable[bytes], size: int) -> None:
        self._chunks = chunks
        self._size = size

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def __len__(self) -> int:
        return self._size


def verified_chunks(
    chunks: Iterable[bytes],
    *,
    sha1: str | None,
    size: int | None,
    advance: Any = None,
    cancel: Any = None,
) -> Iterator[bytes]:
    """Pass chunks through, checking size and sha1 before the last one is released."""
    digest = hashlib.sha1()
    total = 0
    held: bytes | None = None
    for chunk in chunks:
        if not chunk:
            continue
        if cancel is not None and cancel():
            raise Interrupted("interrupted")
        digest.update(chunk)
        total += len(chunk)
        if advance is not None:
            advance(len(chunk))
        if held is not None:
            yield held
        held = chunk
    if size and total != size:
        raise ChecksumError(f"image file size mismatch: got {total} bytes, expected {size}")
    if sha1 and digest.hexdigest() != sha1:
        raise ChecksumError(f"image file sha1 mismatch: got {digest.hexdigest()}, expected {sha1}")
    if held is not None:
        yield held


def file_sha1(path: Path) -> str:
    """The sha1 of a file on disk, read a chunk at a time."""
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def save_verified(updates: Any, uuid: str, path: Path, *, sha1: str | None, size: int | None,
                  advance: Any = None, cancel: Any = None) -> None:
    """Download the updates server's file of image `uuid` to `path`: written 0600 to
    `<path>.part`, size and sha1 checked, then renamed, so `path` is whole or absent
    (the part file is removed whatever happens)."""
    from sdcadm.private_files import open_private

    part = path.with_name(path.name + ".part")
    try:
        resp = updates.get_file(uuid)
        try:
            with open_private(part, "wb") as fh:
                for chunk in verified_chunks(resp.iter_content(CHUNK), sha1=sha1, size=size,
                                             advance=advance, cancel=cancel):
                    fh.write(chunk)
        finally:
            resp.close()
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def importable(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as AdminImportImage takes it: no server-side state or file records."""
    drop = ("state", "files", "channels", "activated", "disabled")
    return {k: v for k, v in manifest.items() if k not in drop}


def _source(ctx: ExecContext, source: str | None, channel: str | None) -> str:
    """The updates server URL with `?channel=<ch>`, as the original passes it to IMGAPI."""
    url = source or ctx.config.updates_url
    if channel and "channel=" not in url:
        url += ("&" if "?" in url else "?") + f"channel={channel}"
    return url


def _label(p: Mapping[str, Any]) -> str:
    return f"{p.get('name', '?')}@{p.get('version', '?')}"


def _local_image(ctx: ExecContext, uuid: str) -> Mapping[str, Any] | None:
    try:
        return ctx.clients.imgapi.get_image(uuid)
    except SdcAdmError as e:
        if getattr(e, "not_found", False):
            return None
        raise


def _delete(ctx: ExecContext, uuid: str) -> None:
    try:
        ctx.clients.imgapi.delete_image(uuid)
    except SdcAdmError as e:
        if not getattr(e, "not_found", False):
            raise

