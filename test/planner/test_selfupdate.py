"""Pure rules of `sdcadm self-update`: which build --latest takes, and the refusals."""
from __future__ import annotations

from typing import Any

import pytest

from sdcadm.errors import UpdateError, UsageError, ValidationError
from sdcadm.model import Application, DatacenterState, Image, Server
from sdcadm.planner.selfupdate import build_name, check_image, latest, platform_gap

RUNNING = ("1.2.0", "master-20240110T000000Z-gabc")


def sd(uuid: str, version: str, day: int, min_platform: dict[str, str] | None = None) -> Image:
    manifest: dict[str, Any] = {"requirements": {"min_platform": min_platform}} \
        if min_platform else {}
    return Image(uuid=uuid, name="sdcadm", version=version,
                 published_at=f"2024-01-{day:02d}T00:00:00.000Z",
                 tags={"buildstamp": f"master-202401{day:02d}T000000Z-g{uuid}"},
                 manifest=manifest)


def headnode(platform: str = "20241010T000000Z", sdc: str = "7.0") -> Server:
    return Server(uuid="hn", hostname="headnode", headnode=True, current_platform=platform,
                  raw={"sysinfo": {"SDC Version": sdc}})


def state(*images: Image, hn: Server | None = None,
          platforms: dict[str, Any] | None = None) -> DatacenterState:
    hn = hn or headnode()
    return DatacenterState(app=Application(uuid="app", name="sdc"), services={},
                           instances=(), servers={hn.uuid: hn}, local_images={},
                           update_images={i.uuid: i for i in images},
                           platforms=platforms or {}, sdcadm_version=RUNNING[0],
                           sdcadm_buildstamp=RUNNING[1])


def test_latest_skips_majors_and_builds_the_headnode_cannot_run_saying_so() -> None:
    st = state(sd("p1", "1.2.1", 11), sd("p2", "1.3.0", 12, {"7.0": "20250101T000000Z"}),
               sd("m1", "2.0.0", 13), sd("m2", "3.0.0", 14), sd("old", "1.2.0", 9))
    got = latest(st, allow_major=False)
    assert got.image is not None and got.image.uuid == "p1"
    assert got.skipped == (
        "Skipping available major sdcadm update, version 3.0.0 (use --allow-major-update "
        "to allow)",
        "Skipping sdcadm 1.3.0 (p2): it requires platform 20250101T000000Z or later, the "
        "headnode (headnode) runs 20241010T000000Z")
    with_major = latest(st, allow_major=True)
    assert with_major.image is not None and with_major.image.uuid == "m2"
    assert with_major.skipped == ()  # the unrunnable build is older than the one taken
    assert latest(state(sd("old", "1.2.0", 9)), allow_major=False).image is None


@pytest.mark.parametrize("min_platform, hn, platforms, gap", [
    ({"7.0": "20241010T000000Z"}, headnode(), {}, False),
    ({"7.0": "20241011T000000Z"}, headnode(), {}, True),
    # another SDC version's entry does not apply; the highest one below the headnode's does
    ({"8.0": "20991231T000000Z"}, headnode(), {}, False),
    ({"6.5": "20991231T000000Z", "7.0": "20200101T000000Z"}, headnode(), {}, False),
    ({"6.5": "20991231T000000Z"}, headnode(), {}, True),
    # a headnode booted from the old `latest` link runs the platform CNAPI marks latest
    ({"7.0": "20250101T000000Z"}, headnode("latest"),
     {"20250115T120000Z": {"latest": True}, "20241010T000000Z": {}}, False),
])
def test_platform_gap(min_platform: dict[str, str], hn: Server, platforms: dict[str, Any],
                      gap: bool) -> None:
    assert bool(platform_gap(sd("x", "1.2.1", 11, min_platform), hn, platforms)) is gap


def test_check_image_refusals() -> None:
    said: list[str] = []
    st = state()
    with pytest.raises(ValidationError, match="is not an sdcadm image"):
        check_image(st, Image(uuid="v", name="vmapi", version="x"), allow_major=False,
                    allow_downgrade=False, warn=said.append)
    with pytest.raises(UsageError, match="requires --allow-major-update"):
        check_image(st, sd("m", "2.0.0", 12), allow_major=False, allow_downgrade=False,
                    warn=said.append)
    assert said == ["Skipping sdcadm self-update to version 2.0.0 (use --allow-major-update "
                    "to allow)"]
    # a major downgrade is a major change too
    with pytest.raises(UsageError):
        check_image(st, sd("o", "0.9.0", 1), allow_major=False, allow_downgrade=True,
                    warn=said.append)
    with pytest.raises(UpdateError, match="is older than .*, the build in use"):
        check_image(st, sd("o", "1.2.0", 9), allow_major=False, allow_downgrade=False,
                    warn=said.append)
    assert check_image(st, sd("o", "1.2.0", 9), allow_major=False, allow_downgrade=True,
                       warn=said.append)
    with pytest.raises(UpdateError, match="requires platform 20991231T000000Z"):
        check_image(st, sd("p", "1.2.1", 11, {"7.0": "20991231T000000Z"}), allow_major=False,
                    allow_downgrade=False, warn=said.append)
    # the running build itself: nothing to do
    assert not check_image(st, sd("abc", "1.2.0", 10), allow_major=False,
                           allow_downgrade=False, warn=said.append)


def test_build_name() -> None:
    assert build_name("1.2.1", "master-20240111T000000Z-gabc", "0123abcd-ffff") == \
        "1.2.1-20240111T000000Z"
    assert build_name("1.2.1", "1.2.1", "0123abcd-ffff") == "1.2.1-0123abcd"
