"""The servers' zones pools: what CNAPI reports with `extras=disk` (`disk_pool_size_bytes`,
`disk_pool_alloc_bytes`), and the room the local IMGAPI has for image files, which it keeps
on the headnode's pool.

An import takes its file's size from the headnode's pool; one whose file does not fit fails
as IMGAPI's does on a full pool (`ENOSPC: no space left on device, write`) and takes
nothing. Scenario: a server's `pool_free_mib` (default: 60 % of POOL_SIZE free). Fault
`{"type": "pool-full", "target": <server uuid or "*">, "free_mib": N}` (N defaults to 0):
while it stands the server's pool has N MiB free.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from sdcadm.sim.world import World

POOL_SIZE = 3_999_688_294_400  # bytes, as CNAPI reports a 4 TB pool
DEFAULT_ALLOC = POOL_SIZE * 2 // 5
MIB = 1024 * 1024
FULL = "ENOSPC: no space left on device, write"


def initial_alloc(srv: Mapping[str, Any]) -> int:
    """A scenario server's allocated bytes (its `pool_free_mib`, else the default)."""
    free = srv.get("pool_free_mib")
    if free is None:
        return DEFAULT_ALLOC
    return max(0, POOL_SIZE - int(float(free) * MIB))


def alloc(world: "World", server: Mapping[str, Any]) -> int:
    size = int(server.get("disk_pool_size_bytes") or POOL_SIZE)
    fault = world.has_fault("pool-full", server["uuid"])
    if fault is not None:
        return max(0, size - int(float(fault.get("free_mib") or 0) * MIB))
    return int(server.get("disk_pool_alloc_bytes", DEFAULT_ALLOC))


def free(world: "World", server: Mapping[str, Any]) -> int:
    return max(0, int(server.get("disk_pool_size_bytes") or POOL_SIZE) - alloc(world, server))


def _headnode(world: "World") -> dict[str, Any] | None:
    return next((s for s in world.store.all("server") if s.get("headnode")), None)


def room_for(world: "World", nbytes: int) -> str | None:
    """None when an image file of `nbytes` fits in the image store, else IMGAPI's error."""
    hn = _headnode(world)
    return FULL if hn is not None and free(world, hn) < nbytes else None


def take(world: "World", nbytes: int) -> None:
    """An imported image file now takes `nbytes` of the headnode's pool."""
    hn = _headnode(world)
    if hn is not None:
        world.store.edit("server", hn["uuid"], lambda s: s.update(
            disk_pool_alloc_bytes=int(s.get("disk_pool_alloc_bytes", DEFAULT_ALLOC)) + nbytes))
