"""Which images must be imported before anything is reprovisioned, origins included.

The list is ordered oldest origin generation first, so an origin shared by two images
is imported once, before both (the original's TOOLS-1634 fix), and the procedure can
cut it into generations without looking at the datacenter again.
"""
from __future__ import annotations

from typing import Iterable

from sdcadm.model import DatacenterState, Image


def plan_downloads(targets: Iterable[Image], state: DatacenterState) -> list[Image]:
    """Images to import: missing locally or present but unactivated (then re-imported).

    A re-import carries the local (unactivated) record, so its `state` says so.
    """
    depth: dict[str, int] = {}
    records: dict[str, Image] = {}

    def need(uuid: str) -> Image | None:
        local = state.local_images.get(uuid)
        if local is not None:
            return local if local.state == "unactivated" else None
        return state.update_images.get(uuid)

    frontier: list[tuple[Image, int]] = []
    for img in targets:
        rec = need(img.uuid)
        if rec is None and img.uuid not in state.local_images:
            rec = img  # not in the channel listing (named by uuid): still import it
        if rec is not None:
            frontier.append((rec, 0))
    while frontier:
        img, d = frontier.pop()
        if depth.get(img.uuid, -1) >= d:
            continue
        depth[img.uuid] = d
        records[img.uuid] = img
        if img.origin and img.origin != img.uuid:
            origin = need(img.origin)
            if origin is not None and d < 64:  # a cycle in bad data must not hang planning
                frontier.append((origin, d + 1))
    # Deepest (oldest generation) first; stable by name/uuid within a generation.
    return sorted(records.values(), key=lambda i: (-depth[i.uuid], i.name, i.uuid))
