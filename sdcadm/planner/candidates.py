"""Which images a service could be updated to: the original's "same-or-newer" rule.

Pure functions of a gathered `DatacenterState` (whose `update_images` already holds the
whole channel), so `avail`, `changes` and the update planner agree without extra requests:

1. allowed names = `imgNamesFromSvcName[service]` (first is canonical);
2. current images = the distinct images the service's instances run (or the service's
   `params.image_uuid` when it has none), looked up locally then on the updates server;
3. candidates = the oldest current image plus every channel image with an allowed name
   (exact match) published at or after it, ascending by `published_at`; the last one is
   the latest. (The original listed the oldest image twice; here each image appears once.)

`sdcadm` itself is special: its builds are compared by semver and build stamp.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from sdcadm.model import DatacenterState, Image, buildstamp_of

if TYPE_CHECKING:
    from sdcadm.config import Config

SELF = "sdcadm"


def published_key(image: Image) -> tuple[str, str]:
    """Sort key: `published_at` (string compare of ISO times, as the original), then uuid."""
    return (image.published_at or "", image.uuid)


def allowed_image_names(service_name: str, config: "Config") -> list[str]:
    """Image names a service may run, canonical first; [] when the service is unknown."""
    if service_name == SELF:
        return [SELF]
    return list(config.image_names.get(service_name) or [])


def current_image_uuids(state: DatacenterState, service_name: str) -> list[str]:
    """Distinct images in use by the service's instances, else the service's image."""
    uuids: list[str] = []
    for inst in state.instances_of(service_name):
        if inst.image and inst.image not in uuids:
            uuids.append(inst.image)
    if not uuids:
        svc = state.services.get(service_name)
        if svc is not None and svc.image_uuid:
            uuids.append(svc.image_uuid)
    return uuids


def current_images(state: DatacenterState, service_name: str) -> list[Image]:
    """The images in use by a service that can be found (local, then updates), oldest first."""
    found = [state.image(u) for u in current_image_uuids(state, service_name)]
    return sorted((i for i in found if i is not None), key=published_key)


def candidate_images(
    state: DatacenterState,
    service_name: str,
    config: "Config",
    *,
    current: Iterable[Image] | None = None,
) -> list[Image]:
    """Same-or-newer images for a service (or, with `current`, for some of its instances).

    Ascending by `published_at`; the last is what `update` would pick.
    """
    if service_name == SELF:
        return sdcadm_candidates(state)
    names = set(allowed_image_names(service_name, config))
    if not names:
        return []
    in_use = sorted(current if current is not None else current_images(state, service_name),
                    key=published_key)
    oldest = in_use[0] if in_use else None
    marker = oldest.published_at if oldest else None
    found: dict[str, Image] = {}
    if oldest is not None:
        found[oldest.uuid] = oldest
    for img in state.update_images.values():
        if img.name in names and (marker is None or (img.published_at or "") >= marker):
            found[img.uuid] = img
    return sorted(found.values(), key=published_key)


# -- sdcadm itself ------------------------------------------------------------------------

def semver(version: str | None) -> tuple[int, ...] | None:
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", version or "")
    return tuple(int(x) for x in m.groups()) if m else None


def _stamp(buildstamp: str | None) -> str | None:
    if not buildstamp:
        return None
    return buildstamp_of(buildstamp.removesuffix("-dirty"))


def sdcadm_candidates(state: DatacenterState) -> list[Image]:
    """Builds of sdcadm newer than the running one, oldest first.

    Newer means a higher semver, or the same semver with a later build stamp. The original
    also dropped higher versions whose stamp was not later than the running build's; that
    hid every release from a build made off another line (a local or development build
    stamped after the releases), so the version number decides and the stamp only orders
    builds of one version.
    """
    running = semver(state.sdcadm_version) or (0, 0, 0)
    running_stamp = _stamp(state.sdcadm_buildstamp)
    out = []
    for img in state.update_images.values():
        if img.name != SELF:
            continue
        ver = semver(img.version)
        if ver is None or ver < running:
            continue
        stamp = _stamp(str(img.tags.get("buildstamp") or "")) or ""
        if ver == running and running_stamp and stamp <= running_stamp:
            continue
        out.append(img)
    return sorted(out, key=lambda i: (semver(i.version) or (), _stamp(
        str(i.tags.get("buildstamp") or "")) or "", i.uuid))


# -- changelogs -----------------------------------------------------------------------------

def builds_between(
    state: DatacenterState, names: Iterable[str], older: Image, newer: Image
) -> list[Image]:
    """Channel builds with one of `names` published after `older`, up to and including
    `newer`, oldest first: what changed between two images."""
    wanted = set(names)
    lo, hi = published_key(older), published_key(newer)
    if lo > hi:
        lo, hi = hi, lo
    found = {
        i.uuid: i
        for i in state.update_images.values()
        if i.name in wanted and lo < published_key(i) <= hi
    }
    top = newer if published_key(newer) >= published_key(older) else older
    found.setdefault(top.uuid, top)
    found.pop(min(older, newer, key=published_key).uuid, None)
    return sorted(found.values(), key=published_key)
