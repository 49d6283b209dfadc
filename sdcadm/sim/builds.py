"""The sdcadm builds on the simulated updates server: real wheels of this very project.

`sdcadm self-update` downloads an `sdcadm` image file and installs it with pip, so the
simulator must serve something pip installs and that then runs. Every image named `sdcadm`
is served as a wheel of the package the simulator itself runs from (the working tree in
development), stamped with the image's version and build stamp: `__version__` in
`sdcadm/__init__.py` and `sdcadm/etc/buildstamp` are rewritten, the dist-info is named
after the version. The manifests' `size` and `files[0].sha1` are those of the wheels.

The builds are derived from the running version X.Y.Z and build stamp, so that there is
always something newer to update to, whatever the project's version:

| version        | stamp         | channels           | what it is for                        |
|----------------|---------------|--------------------|---------------------------------------|
| X.Y.Z          | 7 days older  | dev staging release| an older build: a downgrade           |
| X.Y.(Z+1)      | 1 day later   | dev staging        | the update `--latest` picks           |
| X.Y.(Z+2)      | 2 days later  | dev                | needs a newer platform than installed |
| (X+1).0.0      | 3 days later  | dev staging        | a major update                        |

(`release` has nothing newer: `-C release` is up to date.) The `min_platform` of X.Y.(Z+2)
is the newest platform image of the catalog, which no scenario's headnode runs.

Wheels are written by hand (PEP 427: a zip of the package files and a dist-info with
METADATA, WHEEL, entry_points.txt and RECORD), from the files of the installed package and
its installed metadata: the setuptools in the project's environment cannot write wheels
without the separate `wheel` package, and building must not need the network. Zip entries
carry a fixed date, so a build is byte-for-byte reproducible; the build stamp's `g<sha>`
is a fingerprint of the source, so another source gives other builds (other uuids). Wheels
are cached in `STATE_DIR/builds/` under a name that includes that fingerprint: built when a
scenario is loaded (the manifests need their size and sha1) and only when missing there.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from sdcadm.sim import files
from sdcadm.sim.generate import uid

NAME = "sdcadm"
BRANCH = "master"
# (version bump, days after the running build, channels, needs a newer platform)
DERIVED = (
    ("same", -7, ["dev", "staging", "release"], False),
    ("patch", 1, ["dev", "staging"], False),
    ("patch2", 2, ["dev"], True),
    ("major", 3, ["dev", "staging"], False),
)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
WHEEL = "Wheel-Version: 1.0\nGenerator: sdcadm-sim\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
FALLBACK_STAMP = "20260101T000000Z"


@dataclass(frozen=True)
class Source:
    """What a build is made of: the package's files and its distribution metadata."""

    files: tuple[tuple[str, bytes], ...]  # (path in the wheel, content), sorted
    metadata: str  # METADATA of the installed distribution
    entry_points: str
    version: str
    buildstamp: str

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for name, data in self.files:
            h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        h.update(self.metadata.encode() + b"\0" + self.entry_points.encode())
        return h.hexdigest()


def read_source() -> Source:
    """The running package (every file but caches and hidden files) and its metadata."""
    from importlib.metadata import distributions

    import sdcadm

    root = Path(sdcadm.__file__).resolve().parent
    found = []
    # os.walk, not rglob: `sdcadm/etc` is a link to the top-level `etc/` in a source tree.
    every = (Path(d, f) for d, _dirs, names in os.walk(root, followlinks=True) for f in names)
    for path in every:
        rel = path.relative_to(root)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        found.append((f"{NAME}/{rel.as_posix()}", path.read_bytes()))
    metadata, entry_points = _metadata(list(distributions(name=NAME)))
    stamp = dict(found).get(f"{NAME}/etc/buildstamp", b"").decode().strip()
    return Source(files=tuple(sorted(found)), metadata=metadata, entry_points=entry_points,
                  version=sdcadm.__version__, buildstamp=stamp)


def _metadata(dists: list[Any]) -> tuple[str, str]:
    """(METADATA, entry_points.txt) of the installed sdcadm. Run from a source checkout,
    its `sdcadm.egg-info` may come first on sys.path: a dist-info wins; an egg-info's
    PKG-INFO lacks the requirements, which come from its requires.txt."""
    for dist in dists:
        text = dist.read_text("METADATA")
        if text:
            return text, dist.read_text("entry_points.txt") or ""
    if not dists:
        raise LookupError("sdcadm is not installed: no metadata to build its wheels from")
    dist = dists[0]
    head, _, body = (dist.read_text("PKG-INFO") or "").partition("\n\n")
    requires = "".join(f"Requires-Dist: {r}\n" for r in dist.requires or [])
    return f"{head}\n{requires}\n{body}", dist.read_text("entry_points.txt") or ""


def wheel_bytes(src: Source, version: str, buildstamp: str) -> bytes:
    """A wheel of `src` that says it is `version`, built at `buildstamp`."""
    dist_info = f"{NAME}-{version}.dist-info"
    metadata, n = re.subn(r"(?m)^Version: .*$", f"Version: {version}", src.metadata, count=1)
    if not n:
        raise ValueError("the installed sdcadm metadata has no Version line")
    entries: list[tuple[str, bytes]] = []
    for name, data in src.files:
        if name == f"{NAME}/__init__.py":
            data, n = re.subn(rb'(?m)^__version__ = "[^"]*"',
                              f'__version__ = "{version}"'.encode(), data, count=1)
            if not n:
                raise ValueError("sdcadm/__init__.py has no __version__ line")
        elif name == f"{NAME}/etc/buildstamp":
            data = f"{buildstamp}\n".encode()
        entries.append((name, data))
    entries += [(f"{dist_info}/METADATA", metadata.encode()),
                (f"{dist_info}/WHEEL", WHEEL.encode()),
                (f"{dist_info}/entry_points.txt", src.entry_points.encode()),
                (f"{dist_info}/top_level.txt", f"{NAME}\n".encode())]
    record = [f"{name},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}"
              for name, data in entries] + [f"{dist_info}/RECORD,,"]
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- the catalog ------------------------------------------------------------------------------
def derived_images(src: Source, catalog: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The sdcadm builds derived from the running one (see the module's table)."""
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)", src.version)
    major, minor, patch = (int(x) for x in m.groups()) if m else (0, 0, 0)
    parts = src.buildstamp.removesuffix("-dirty").split("-")
    stamp = parts[-2] if len(parts) >= 3 else FALLBACK_STAMP
    try:
        base = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        base = dt.datetime.strptime(FALLBACK_STAMP, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=dt.timezone.utc)
    sha = src.fingerprint[:7]
    versions = {"same": f"{major}.{minor}.{patch}", "patch": f"{major}.{minor}.{patch + 1}",
                "patch2": f"{major}.{minor}.{patch + 2}", "major": f"{major + 1}.0.0"}
    newest_platform = max((str((i.get("tags") or {}).get("buildstamp") or "")
                           for i in catalog if i.get("name") == "platform"), default="")
    out = []
    for bump, days, channels, needs_platform in DERIVED:
        when = base + dt.timedelta(days=days)
        buildstamp = f"{BRANCH}-{when:%Y%m%dT%H%M%SZ}-g{sha}"
        version = versions[bump]
        img: dict[str, Any] = {
            "uuid": uid("image", NAME, version, buildstamp), "name": NAME, "version": version,
            "published_at": (when + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "type": "other", "os": "other", "description": f"sdcadm {version}",
            "channels": list(channels), "tags": {"buildstamp": buildstamp}}
        if needs_platform:
            img["requirements"] = {"min_platform": {"7.0": newest_platform or "29991231T000000Z"}}
        out.append(img)
    return out


def serve(data: dict[str, Any], state_dir: Path) -> dict[str, Any]:
    """The scenario with its sdcadm builds (declared ones and derived ones) as wheels: sizes
    set, files registered with `sdcadm.sim.files` so every download and sum reads them."""
    src = read_source()
    images = [dict(i) for i in data.get("images") or []]
    images += derived_images(src, images)
    wheel_dir = Path(state_dir) / "builds"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    keep = set()
    for img in images:
        if img.get("name") != NAME or not re.match(r"^\d+\.\d+\.\d+$", str(img["version"])):
            continue
        version = str(img["version"])
        buildstamp = str((img.get("tags") or {}).get("buildstamp") or version)
        key = hashlib.sha256(f"{src.fingerprint}:{version}:{buildstamp}".encode()).hexdigest()
        path = wheel_dir / f"{NAME}-{version}-{key[:16]}.whl"
        if not path.is_file():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(wheel_bytes(src, version, buildstamp))
            tmp.replace(path)
        keep.add(path.name)
        img["size"] = path.stat().st_size
        img["compression"] = "none"  # a wheel is a zip: nothing for IMGAPI to unpack
        files.REAL_FILES[img["uuid"]] = path
    for stale in wheel_dir.glob("*.whl"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return {**data, "images": images}
