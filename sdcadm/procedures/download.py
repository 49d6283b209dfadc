"""Image downloads: oldest origin generation first, up to 4 imports at a time within a
generation, fail fast. Unactivated local copies are re-imported (`reimport: true`)."""
from __future__ import annotations

from sdcadm.model import Image
from sdcadm.plan import Plan, Step
from sdcadm.procedures.context import Context, plural

SUMMARY = "import the target images (and missing origins) into the local IMGAPI"
CONCURRENCY = 4


def generations(images: tuple[Image, ...]) -> list[list[Image]]:
    """Group by depth of the origin chain inside the download set, oldest first."""
    by_uuid = {i.uuid: i for i in images}
    memo: dict[str, int] = {}

    def gen(img: Image, seen: frozenset[str] = frozenset()) -> int:
        if img.uuid in memo:
            return memo[img.uuid]
        origin = by_uuid.get(img.origin or "")
        g = 0 if origin is None or origin.uuid in seen else gen(origin, seen | {img.uuid}) + 1
        memo[img.uuid] = g
        return g

    out: dict[int, list[Image]] = {}
    for img in images:
        out.setdefault(gen(img), []).append(img)
    return [out[g] for g in sorted(out)]


def summary(plan: Plan, ctx: Context) -> list[str]:
    imgs = plan.downloads
    mib = sum(i.size for i in imgs) // 1048576
    lines = [f"download {plural(len(imgs), 'image')} ({mib} MiB):"]
    for img in imgs:
        again = " (re-import: the local copy is unactivated)" if img.state == "unactivated" else ""
        lines.append(f"    image {img.uuid} ({img.label}){again}")
    return lines


def steps(plan: Plan, ctx: Context) -> list[Step]:
    out: list[Step] = []
    for n, gen in enumerate(generations(plan.downloads)):
        for img in gen:
            out.append(Step(
                id="", action="import-image", target=img.uuid,
                params={"image_uuid": img.uuid, "name": img.name, "version": img.version,
                        "size": img.size, "sha1": img.sha1, "origin": img.origin,
                        "source": ctx.updates_url, "channel": ctx.channel,
                        "reimport": img.state == "unactivated"},
                summary=f"import image {img.uuid} ({img.label})",
                change="download", parallel=f"download:gen{n}", concurrency=CONCURRENCY,
                on_failure="stop"))
    return out
