"""The headnode's USB key and its platform cache, as directories of the state dir.

    <state>/usbkey/os/<stamp>/          the key, as mounted at /mnt/usbkey
    <state>/usbkey/boot/platform        the platform the key's boot loader starts
    <state>/usbkey-cache/os/<stamp>/    the headnode's copy, /usbkey/os (what CNAPI lists)

A platform directory holds `platform/i86pc/amd64/boot_archive`, a sparse file as large as
the unpacked platform, so the key's free space (`df`) follows what is on it. The store
keeps the rest: whether the key is mounted, its size, the space taken by everything that
is not a platform (`usbkey` document), and CNAPI's `platform` documents, one per cached
platform, changed together with the cache directory. `restore()` rebuilds the directories
from the store after a reset.

Scenario key `usbkey` (all optional): `size_mib` (2048), `platform_mib` (400, what each
scenario platform takes on the key), `free_mib` (the key's free space at the start; by
default what is left beside 256 MiB of other content), `mounted` (true).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdcadm.sim.world import World

MIB = 1024 * 1024
DEFAULTS = {"size_mib": 2048, "platform_mib": 400, "other_mib": 256, "mounted": True}
ARCHIVE = Path("platform/i86pc/amd64/boot_archive")
STAMP = re.compile(r"^[A-Za-z0-9._-]+$")  # a plain directory name: no slash, not ".."
DOC = ("usbkey", "headnode")


def baseline(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario's key: size, mount state, and what each scenario platform takes."""
    cfg = {**DEFAULTS, **(data.get("usbkey") or {})}
    size = int(cfg["size_mib"] * MIB)
    platforms = {str(p["version"]): int(cfg["platform_mib"] * MIB)
                 for p in data.get("platforms") or []}
    if cfg.get("free_mib") is not None:
        other = max(0, size - int(cfg["free_mib"] * MIB) - sum(platforms.values()))
    else:
        other = int(cfg["other_mib"] * MIB)
    latest = max(platforms, default="")
    return {"mounted": bool(cfg["mounted"]), "size": size, "other": other,
            "platforms": platforms, "boot": str(data.get("default_platform") or latest)}


class UsbKey:
    def __init__(self, world: "World") -> None:
        self.world = world
        self.root = Path(world.state_dir) / "usbkey"
        self.key_os = self.root / "os"
        self.cache_os = Path(world.state_dir) / "usbkey-cache" / "os"
        self.boot_file = self.root / "boot" / "platform"

    # -- state -------------------------------------------------------------------------------
    @property
    def doc(self) -> dict[str, Any]:
        return self.world.store.get(*DOC) or baseline(self.world.data)

    @property
    def mounted(self) -> bool:
        return bool(self.doc.get("mounted"))

    def set_mounted(self, mounted: bool) -> None:
        doc = dict(self.doc, mounted=mounted)
        self.world.store.put(*DOC, doc)

    @staticmethod
    def valid_name(name: str) -> bool:
        return bool(STAMP.match(name)) and name not in (".", "..")

    def on_key(self) -> list[str]:
        return sorted(p.name for p in self.key_os.iterdir()) if self.key_os.is_dir() else []

    def in_cache(self) -> list[str]:
        return sorted(p.name for p in self.cache_os.iterdir()) if self.cache_os.is_dir() else []

    def used(self) -> int:
        on_key = sum(f.stat().st_size for f in self.key_os.rglob("*") if f.is_file()) \
            if self.key_os.is_dir() else 0
        return int(self.doc.get("other") or 0) + on_key

    def free(self) -> int:
        return max(0, int(self.doc["size"]) - self.used())

    def boot(self) -> str | None:
        try:
            return self.boot_file.read_text().strip() or None
        except OSError:
            return None

    # -- changes -----------------------------------------------------------------------------
    def install(self, version: str, os_: str, size: int) -> list[str]:
        """Put a platform on the key and in the cache (and so in CNAPI); the parts already
        there are left alone, as install-platform.sh does. Returns what it did."""
        done = []
        if not (self.key_os / version).is_dir():
            _platform_dir(self.key_os / version, size)
            done.append("key")
        if not (self.cache_os / version).is_dir():
            _platform_dir(self.cache_os / version, size)
            done.append("cache")
        if self.world.store.get("platform", version) is None:
            self.world.store.put("platform", version, {"os": os_})
        return done

    def remove_from_key(self, version: str) -> bool:
        return _rmtree(self.key_os / version)

    def remove_from_cache(self, version: str) -> bool:
        gone = _rmtree(self.cache_os / version)
        self.world.store.delete("platform", version)
        return gone

    def switch(self, version: str) -> None:
        self.boot_file.parent.mkdir(parents=True, exist_ok=True)
        self.boot_file.write_text(version + "\n")

    def restore(self) -> None:
        """Rebuild both directories from the store: the scenario's platforms on the key,
        CNAPI's platforms in the cache."""
        doc = self.doc
        for d in (self.root, self.cache_os.parent):
            shutil.rmtree(d, ignore_errors=True)
        self.key_os.mkdir(parents=True)
        self.cache_os.mkdir(parents=True)
        sizes: dict[str, int] = dict(doc.get("platforms") or {})
        for version, size in sizes.items():
            _platform_dir(self.key_os / version, size)
        fallback = max(sizes.values(), default=DEFAULTS["platform_mib"] * MIB)
        for version in self.world.store.docs.get("platform", {}):
            _platform_dir(self.cache_os / version, sizes.get(version, fallback))
        if doc.get("boot"):
            self.switch(str(doc["boot"]))

    def ensure(self) -> None:
        """After a restart on an existing state dir: rebuild only what is missing."""
        if not self.key_os.is_dir() or not self.cache_os.is_dir():
            self.restore()


def _platform_dir(path: Path, size: int) -> None:
    archive = path / ARCHIVE
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as fh:
        fh.truncate(size)  # sparse: the size counts, the disk is not used


def _rmtree(path: Path) -> bool:
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True
