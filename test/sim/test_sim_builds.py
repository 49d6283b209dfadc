"""The updates server's sdcadm builds: real wheels of this project, consistent manifests."""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile

from sdcadm import __version__
from sdcadm.sim import builds


def _versions() -> list[str]:
    x, y, z = (int(v) for v in __version__.split(".")[:3])
    return [f"{x}.{y}.{z}", f"{x}.{y}.{z + 1}", f"{x}.{y}.{z + 2}", f"{x + 1}.0.0"]


def test_builds_follow_the_running_version_on_their_channels(api):
    imgs = api.ok("GET", "updates", "/images?name=sdcadm&channel=*",
                  headers={"Accept-Version": "*"})
    assert [i["version"] for i in imgs] == _versions()
    assert [i["channels"] for i in imgs] == [["dev", "staging", "release"], ["dev", "staging"],
                                             ["dev"], ["dev", "staging"]]
    newest_platform = api.ok("GET", "updates", "/images?name=platform&channel=*")[-1]
    assert [i.get("requirements") for i in imgs] == [
        None, None, {"min_platform": {"7.0": newest_platform["tags"]["buildstamp"]}}, None]
    stamps = [i["tags"]["buildstamp"].split("-")[-2] for i in imgs]
    running = (builds.read_source().buildstamp).split("-")[-2]
    assert stamps[0] < running < stamps[1] < stamps[2] < stamps[3]
    assert [i["published_at"] for i in imgs] == sorted(i["published_at"] for i in imgs)


def test_each_file_is_a_wheel_of_its_version_matching_its_manifest(api):
    for img in api.ok("GET", "updates", "/images?name=sdcadm&channel=*"):
        resp = api.get("updates", f"/images/{img['uuid']}/file")
        data = resp.content
        f = img["files"][0]
        assert (len(data), hashlib.sha1(data).hexdigest(), f["compression"]) == (
            f["size"], f["sha1"], "none")
        assert resp.headers["content-md5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = f"sdcadm-{img['version']}.dist-info"
            assert f"Version: {img['version']}\n" in zf.read(f"{info}/METADATA").decode()
            assert "sdcadm = sdcadm.cli.main:main" in zf.read(f"{info}/entry_points.txt").decode()
            init = zf.read("sdcadm/__init__.py").decode()
            assert f'__version__ = "{img["version"]}"' in init
            assert zf.read("sdcadm/etc/buildstamp").decode() == img["tags"]["buildstamp"] + "\n"
            # RECORD lists every other member with its sha256, as pip checks it.
            record = {line.split(",")[0]: line.split(",")[1]
                      for line in zf.read(f"{info}/RECORD").decode().splitlines()}
            assert set(record) == set(zf.namelist())
            digest = hashlib.sha256(zf.read("sdcadm/cli/main.py")).digest()
            assert record["sdcadm/cli/main.py"] == "sha256=" + base64.urlsafe_b64encode(
                digest).rstrip(b"=").decode()


def test_corrupt_file_fault_keeps_the_size_and_changes_the_sum(api, sim):
    img = api.ok("GET", "updates", "/images?name=sdcadm&channel=*")[1]
    sim.add_fault({"type": "corrupt-file", "target": img["uuid"], "count": 1})
    bad = api.get("updates", f"/images/{img['uuid']}/file").content
    good = api.get("updates", f"/images/{img['uuid']}/file").content
    assert len(bad) == len(good) == img["files"][0]["size"]
    assert hashlib.sha1(good).hexdigest() == img["files"][0]["sha1"]
    assert hashlib.sha1(bad).hexdigest() != img["files"][0]["sha1"]


def test_wheels_are_reproducible_and_follow_the_source():
    src = builds.read_source()
    one = builds.wheel_bytes(src, "9.9.9", "master-20300101T000000Z-gabcdef0")
    assert one == builds.wheel_bytes(src, "9.9.9", "master-20300101T000000Z-gabcdef0")
    files = dict(src.files)
    files["sdcadm/cli/main.py"] += b"\n# another build\n"
    other = builds.Source(files=tuple(sorted(files.items())), metadata=src.metadata,
                          entry_points=src.entry_points, version=src.version,
                          buildstamp=src.buildstamp)
    assert other.fingerprint != src.fingerprint
    # Another source gives other builds: other stamps, so other uuids.
    uuids = {i["uuid"] for i in builds.derived_images(src, [])}
    assert uuids.isdisjoint(i["uuid"] for i in builds.derived_images(other, []))
