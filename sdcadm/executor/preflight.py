"""Pre-flight: what a run needs, checked before its first change.

Every entry point that changes the datacenter (`execute`, `resume`, a reboot plan's run, a
self-update) checks, after taking the headnode lock and before it makes its work directory
or takes the datacenter lease:

- room: the file system of the work directory keeps `minFreeMiB` free once the run's
  journal is written (its plan, about EVENT_BYTES per event, its history entry kept
  locally should SAPI fail);
- a writable work directory: a probe file is written, fsynced and removed (a read-only or
  full file system, a file in the way, missing permissions);
- the image store: the images the run imports must fit in the headnode's zones pool, where
  the local IMGAPI keeps its files (CNAPI: `disk_pool_size_bytes - disk_pool_alloc_bytes`
  of the headnode; a CNAPI that does not report them is taken at its word);
- the APIs its steps talk to (and SAPI, for the lease and history) answer their ping.

A failure is one line (`Preflight`, or `NoSpace`), exit 1; nothing is left behind.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Sequence

from sdcadm.errors import NoSpaceError, PreflightError, SdcAdmError
from sdcadm.plan import Step

MIB = 1024 * 1024
DEFAULT_MIN_FREE_MIB = 64.0
EVENTS_PER_STEP = 4  # intent, start, a note, end
EVENT_BYTES = 256
HISTORY_BYTES = 256 * 1024  # a history entry's bound (executor/compact.py)
PROBE_BYTES = 64 * 1024

# The APIs each step action talks to; every run also needs SAPI (its lease, its history).
APIS: dict[str, tuple[str, ...]] = {
    "import-image": ("imgapi", "wfapi", "updates"),
    "sapi-update-service": ("sapi",),
    "reprovision": ("vmapi",),
    "wait-instance": ("vmapi",),
    "check-shard": ("vmapi",),
    "install-agent": ("cnapi",),
    "set-boot-platform": ("cnapi",),
    "reboot-server": ("cnapi", "wfapi"),
    "verify": ("imgapi", "vmapi", "sapi", "wfapi"),
    "install-platform": ("cnapi",),
    "verify-boot-platforms": ("cnapi",),
    "set-default-platform": ("cnapi",),
    "remove-platform": ("cnapi",),
    "download-sdcadm": ("updates",),
}
NAMES = {"sapi": "SAPI", "imgapi": "IMGAPI", "vmapi": "VMAPI", "cnapi": "CNAPI",
         "wfapi": "the Workflow API", "updates": "the updates server"}


@dataclass(frozen=True)
class Needs:
    """What a run needs: room and a writable directory at `work_root`, `image_bytes` in
    the image store, and each API of `apis` (with what needs it) answering."""

    work_root: Path
    journal_bytes: int
    image_bytes: int = 0
    images: int = 0
    apis: tuple[tuple[str, tuple[str, ...]], ...] = ()


def needs(work_root: Path, steps: Sequence[Step], *, plan_bytes: int = 0,
          done: Collection[str] = ()) -> Needs:
    """What running `steps` (but those in `done`) needs; `plan_bytes`: its plan.json."""
    left = [s for s in steps if s.id not in done]
    imports = [s for s in left if s.action == "import-image"]
    users: dict[str, list[str]] = {"sapi": ["the datacenter lease and history"]}
    for s in left:
        for api in APIS.get(s.action, ()):
            actions = users.setdefault(api, [])
            if s.action not in actions:
                actions.append(s.action)
    return Needs(
        work_root=Path(work_root),
        journal_bytes=plan_bytes + EVENTS_PER_STEP * EVENT_BYTES * len(left) + HISTORY_BYTES,
        image_bytes=sum(int(s.params.get("size") or 0) for s in imports),
        images=len(imports),
        apis=tuple((api, tuple(who)) for api, who in users.items()),
    )


def check(app: Any, need: Needs) -> None:
    """Raise the first thing `need` lacks (see the module); nothing is changed."""
    min_free = float(getattr(app.config, "min_free_mib", DEFAULT_MIN_FREE_MIB))
    room(need.work_root, need.journal_bytes, int(min_free * MIB))
    writable(need.work_root)
    answering(app.clients, need.apis)
    if need.image_bytes:
        image_store(app.clients, need.image_bytes, need.images)


def room(root: Path, journal_bytes: int, reserve: int) -> None:
    try:
        free = free_bytes(root)
    except OSError as e:
        raise PreflightError(f"cannot tell the free space for the work directory {root}: "
                             f"{e.strerror or e}; nothing was changed") from e
    if free < journal_bytes + reserve:
        raise NoSpaceError(
            f"not enough free space for the run's journal in {root}: {free // MIB} MiB "
            f"free, {mib_up(journal_bytes + reserve)} MiB needed ({mib_up(journal_bytes)} "
            f"MiB for the journal, minFreeMiB keeps {reserve // MIB} MiB free); nothing was "
            "changed")


def writable(root: Path) -> None:
    from sdcadm.private_files import FILE_MODE, make_dirs, write_all

    probe = Path(root) / f".preflight-{os.getpid()}"
    try:
        make_dirs(root)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            write_all(fd, bytes(PROBE_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as e:
        raise PreflightError(f"the work directory {root} cannot be written "
                             f"({e.strerror or e}); nothing was changed") from e


def answering(clients: Any, apis: Sequence[tuple[str, tuple[str, ...]]]) -> None:
    """Ping each API (at once); the first in `apis` order that does not answer is the
    error."""
    if not apis:
        return

    def client(api: str) -> Any:
        return clients.updates if api == "updates" else getattr(clients, api)

    def ping(api: str) -> SdcAdmError | None:
        try:
            client(api).get("/ping")
        except SdcAdmError as e:
            return e
        return None

    with cf.ThreadPoolExecutor(max_workers=len(apis), thread_name_prefix="preflight") as pool:
        answers = list(pool.map(ping, [api for api, _who in apis]))
    for (api, who), error in zip(apis, answers, strict=True):
        if error is not None:
            url = getattr(client(api), "url", None)
            where = f" at {url}" if url else ""
            raise PreflightError(
                f"{NAMES.get(api, api)}{where} does not answer "
                f"({error.message.splitlines()[0]}): {', '.join(who)} need it; nothing was "
                "changed") from error


def image_store(clients: Any, image_bytes: int, images: int) -> None:
    """The images to import fit in the headnode's zones pool."""
    heads = [s for s in clients.cnapi.list_servers(headnode="true", extras="disk")
             if s.get("headnode")]
    if not heads:
        return
    size, alloc = heads[0].get("disk_pool_size_bytes"), heads[0].get("disk_pool_alloc_bytes")
    if not isinstance(size, int) or not isinstance(alloc, int):
        return  # this CNAPI does not say: the import will
    free = max(0, size - alloc)
    if free < image_bytes:
        what = "1 image" if images == 1 else f"{images} images"
        raise NoSpaceError(
            f"not enough space in the headnode's image store for {what} "
            f"({mib_up(image_bytes)} MiB): its zones pool has {free // MIB} MiB free "
            f"(CNAPI disk_pool_size_bytes - disk_pool_alloc_bytes of "
            f"{heads[0].get('hostname') or heads[0].get('uuid')}); nothing was changed")


def mib_up(n: int) -> int:
    """Bytes as whole MiB, rounded up (what a `... MiB required` line says)."""
    return -(-n // MIB)


def free_bytes(path: Path) -> int:
    """Free bytes on the file system that holds `path` (or would: its nearest ancestor)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free
