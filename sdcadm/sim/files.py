"""Image file bytes: generated from the image uuid, never stored.

Checksums of a declared size are computed once and kept in a small JSON cache (per state
directory and per user) so that loading a scenario with a few hundred images stays fast.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

BLOCK = 64 * 1024
CHUNK = 16 * BLOCK  # 1 MiB per yielded piece
# Bump when the byte generator changes, so cached sums are not reused.
GENERATOR = "v1"


def _block(uuid: str) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < BLOCK:
        out += hashlib.sha256(f"{uuid}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:BLOCK])


def iter_bytes(uuid: str, size: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """The file of image `uuid`: its 64 KiB block repeated up to `size` bytes."""
    block = _block(uuid)
    big = block * (chunk // BLOCK)
    left = size
    while left > 0:
        piece = big if left >= len(big) else big[:left]
        left -= len(piece)
        yield piece


def compute_sums(uuid: str, size: int) -> dict[str, str]:
    sha1 = hashlib.sha1()
    md5 = hashlib.md5()
    for piece in iter_bytes(uuid, size):
        sha1.update(piece)
        md5.update(piece)
    return {"sha1": sha1.hexdigest(), "md5": base64.b64encode(md5.digest()).decode()}


def _user_cache_path() -> Path:
    root = os.environ.get("SDCADM_SIM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sdcadm-sim")
    return Path(root) / f"filesums-{GENERATOR}.json"


class SumCache:
    """uuid:size -> {sha1, md5}; read from and written back to JSON files."""

    _lock = threading.Lock()

    def __init__(self, paths: Iterable[Path]):
        self.paths = list(paths)
        self.sums: dict[str, dict[str, str]] = {}
        for path in self.paths:
            try:
                self.sums.update(json.loads(path.read_text()))
            except (OSError, ValueError):
                pass

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> "SumCache":
        return cls([_user_cache_path(), state_dir / f"filesums-{GENERATOR}.json"])

    def fill(self, wanted: Iterable[tuple[str, int]]) -> None:
        missing = [(u, s) for u, s in wanted if f"{u}:{s}" not in self.sums]
        if not missing:
            return
        # hashlib releases the GIL on large buffers, so two threads use both cores.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
            for (u, s), sums in zip(missing, pool.map(lambda us: compute_sums(*us), missing)):
                self.sums[f"{u}:{s}"] = sums
        self.save()

    def get(self, uuid: str, size: int) -> dict[str, str]:
        key = f"{uuid}:{size}"
        if key not in self.sums:
            self.sums[key] = compute_sums(uuid, size)
        return self.sums[key]

    def save(self) -> None:
        with self._lock:
            for path in self.paths:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    merged: dict[str, dict[str, str]] = {}
                    try:
                        merged = json.loads(path.read_text())
                    except (OSError, ValueError):
                        pass
                    merged.update(self.sums)
                    tmp = path.with_suffix(f".tmp{os.getpid()}")
                    tmp.write_text(json.dumps(merged))
                    tmp.replace(path)
                except OSError:
                    pass  # a cache that cannot be written only costs time
