"""Pure rules of `sdcadm self-update`: which build, the refusals, and the steps.

The candidates are `avail`'s (`planner.candidates.sdcadm_candidates`: a higher version, or
the same version built later, ordered by version then build stamp), so the build `avail`
lists is the one `--latest` takes, unless a rule below sets it aside, always with a line:

- without --allow-major-update, builds of another major version (the original's rule and
  lines);
- a build whose `requirements.min_platform` the headnode's platform does not meet (it
  would not run there; IMGAPI's convention: SDC version -> minimum platform stamp).

An IMAGE-UUID is refused when it is not an sdcadm build, a major update without
--allow-major-update, older than the build in use without --allow-downgrade, or needs a
newer platform. "The build in use" is `state.sdcadm_version`: the running build's, or the
caller's stand-in for the build the switch replaces. Paths (prefix, build directory,
download) are given by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sdcadm.errors import UpdateError, UsageError, ValidationError
from sdcadm.model import DatacenterState, Image, Server, buildstamp_of
from sdcadm.plan import Step
from sdcadm.planner.candidates import SELF, sdcadm_candidates, semver
from sdcadm.planner.platforms import resolve

MAJOR_HINT = "(use --allow-major-update to allow)"


@dataclass(frozen=True)
class Choice:
    """What --latest found: the build to install (None: up to date) and the lines saying
    which newer builds were set aside and why."""

    image: Image | None
    skipped: tuple[str, ...] = ()


def stamp_of(image: Image) -> str:
    return str(image.tags.get("buildstamp") or image.version)


def label(version: str | None, buildstamp: str | None) -> str:
    """`sdcadm 0.1.1 (master-20261122T000000Z-g1234567)`, as `sdcadm --version` prints."""
    return f"sdcadm {version}" + (f" ({buildstamp})" if buildstamp else "")


def _build_key(version: str | None, buildstamp: str | None) -> tuple[tuple[int, ...], str]:
    stamp = buildstamp_of((buildstamp or "").removesuffix("-dirty")) or ""
    return (semver(version) or (0, 0, 0), stamp)


def _major(version: str | None) -> int:
    return (semver(version) or (0,))[0]


def platform_gap(image: Image, headnode: Server | None,
                 platforms: Mapping[str, Any]) -> str | None:
    """Why the headnode cannot run this build (None when it can, or nothing is required).

    `min_platform` maps an SDC version to a platform stamp: the headnode's SDC version's
    entry applies, else the one of the highest version below it."""
    wanted = (image.manifest.get("requirements") or {}).get("min_platform") or {}
    if not wanted or headnode is None:
        return None
    sdc = str((headnode.raw.get("sysinfo") or {}).get("SDC Version") or "7.0")

    def ver(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    keys = [k for k in wanted if ver(k) <= ver(sdc)]
    if not keys:
        return None
    need = str(wanted[max(keys, key=ver)])
    running = resolve(headnode.current_platform, platforms) or ""
    if running >= need:
        return None
    return (f"it requires platform {need} or later, the headnode ({headnode.hostname}) "
            f"runs {running or 'an unknown platform'}")


def latest(state: DatacenterState, *, allow_major: bool) -> Choice:
    """The newest build --latest may take, and why newer ones were set aside."""
    candidates = sdcadm_candidates(state)
    skipped: list[str] = []
    if not allow_major:
        major = _major(state.sdcadm_version)
        dropped = [c for c in candidates if _major(c.version) != major]
        candidates = [c for c in candidates if _major(c.version) == major]
        if dropped:
            skipped.append(f"Skipping available major sdcadm update, version "
                           f"{dropped[-1].version} {MAJOR_HINT}")
    runnable = [c for c in candidates
                if platform_gap(c, state.headnode, state.platforms) is None]
    chosen = runnable[-1] if runnable else None
    for c in candidates:
        gap = platform_gap(c, state.headnode, state.platforms)
        if gap and (chosen is None or _build_key(c.version, stamp_of(c))
                    > _build_key(chosen.version, stamp_of(chosen))):
            skipped.append(f"Skipping sdcadm {c.version} ({c.uuid}): {gap}")
    return Choice(chosen, tuple(skipped))


def check_image(state: DatacenterState, image: Image, *, allow_major: bool,
                allow_downgrade: bool, warn: Any) -> bool:
    """Refuse an IMAGE-UUID the rules set aside; False when it is the build in use."""
    if image.name != SELF:
        raise ValidationError(f"image {image.uuid} ({image.name}@{image.version}) is not an "
                              f"sdcadm image")
    if not allow_major and _major(image.version) != _major(state.sdcadm_version):
        warn(f"Skipping sdcadm self-update to version {image.version} {MAJOR_HINT}")
        raise UsageError("Major sdcadm version update requires --allow-major-update option")
    target = _build_key(image.version, stamp_of(image))
    running = _build_key(state.sdcadm_version, state.sdcadm_buildstamp)
    if target == running:
        return False
    if target < running and not allow_downgrade:
        raise UpdateError(
            f"image {image.uuid} ({label(image.version, stamp_of(image))}) is older than "
            f"{label(state.sdcadm_version, state.sdcadm_buildstamp)}, the build in use: use "
            "--allow-downgrade to downgrade")
    gap = platform_gap(image, state.headnode, state.platforms)
    if gap:
        raise UpdateError(f"image {image.uuid} ({label(image.version, stamp_of(image))}): "
                          f"{gap}")
    return True


def build_name(version: str, buildstamp: str | None, uuid: str) -> str:
    """A build's directory name: its version and build time (the image uuid's head when
    the stamp says no time)."""
    return f"{version}-{buildstamp_of(buildstamp) or uuid[:8]}"


def update_steps(image: Image, *, channel: str | None, build: str, download: str,
                 install: bool, prefix: str) -> list[Step]:
    """Download (sha1 checked) and install the build unless it is installed already, run
    it (its `--version`, then a read-only command), then switch `current` to it."""
    version = image.version
    # The stamp the build must report, when the image names one.
    facts = {"image_uuid": image.uuid, "version": version,
             "buildstamp": image.tags.get("buildstamp"), "build": build, "prefix": prefix}
    steps: list[tuple[str, str, dict[str, Any], str]] = []
    if install:
        steps += [
            ("download-sdcadm", image.uuid,
             {**facts, "file": download, "sha1": image.sha1, "size": image.size,
              "channel": channel},
             f"download sdcadm {version} ({image.uuid}) to {download}"),
            ("install-sdcadm", build, {**facts, "file": download},
             f"install sdcadm {version} into {build}")]
    steps += [
        ("smoke-sdcadm", build, {**facts, "fresh": install},
         f"run sdcadm {version}: --version and a read-only command"),
        ("switch-sdcadm", build, facts, f"switch {prefix}/current to sdcadm {version}")]
    return [Step(id=f"{n}:{action}:{target}", action=action, target=target, params=params,
                 summary=summary, change=SELF)
            for n, (action, target, params, summary) in enumerate(steps, start=1)]


def rollback_steps(*, build: str, version: str | None, buildstamp: str | None,
                   prefix: str) -> list[Step]:
    """Back to the previous build: run it, then switch `current` to it."""
    facts = {"version": version, "buildstamp": buildstamp, "build": build, "prefix": prefix}
    return [
        Step(id=f"1:smoke-sdcadm:{build}", action="smoke-sdcadm", target=build,
             params={**facts, "fresh": False}, change=SELF,
             summary=f"run sdcadm {version}: --version and a read-only command"),
        Step(id=f"2:switch-sdcadm:{build}", action="switch-sdcadm", target=build,
             params=facts, change=SELF,
             summary=f"switch {prefix}/current back to sdcadm {version}"),
    ]


def change(kind: str, running: tuple[str, str | None],
           target: Mapping[str, Any]) -> dict[str, Any]:
    """The history record of a self-update: the original's shape (`service` is sdcadm at
    the running version, `image` the target), typed `self-update` or
    `self-update-rollback` so `sdcadm history` tells them apart."""
    return {"type": kind,
            "service": {"type": "service", "name": SELF, "version": running[0],
                        "buildstamp": running[1]},
            "image": dict(target)}
