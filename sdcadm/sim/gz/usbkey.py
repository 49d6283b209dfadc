"""The headnode's USB key commands: `sdc-usbkey`, `ls`, `df -k`, `rm -rf`, and the
headnode scripts install-platform.sh and switch-platform.sh (model: `sim/usbkey.py`).

Only the paths sdcadm uses are understood: /mnt/usbkey/os (the key, when mounted),
/usbkey/os (the cache) and their platform directories; other command lines get what any
command the simulated shell does not know gets (exit 127). The key exists on the headnode
only; on a compute node these commands fail as they would there (no key, no scripts).
"""
from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

from sdcadm.sim.gz import Call, Output, command
from sdcadm.sim.usbkey import UsbKey

KEY_OS = "/mnt/usbkey/os"
CACHE_OS = "/usbkey/os"
PLATFORM_NAMES = ("platform", "platform-linux")


def _key(call: Call) -> UsbKey | None:
    return UsbKey(call.world) if call.server.get("headnode") else None


def _missing(call: Call, path: str, tool: str) -> Output:
    return call.fail(f"{tool}: {path}: No such file or directory", 2)


def _unknown(call: Call) -> Output:
    """A command line outside the key's paths: not simulated, like an unknown command."""
    return call.fail(f"bash: {call.name}: command not found", 127)


def _usbkey_mutating(argv: list[str]) -> bool:
    return argv[1:2] != ["status"]


@command("sdc-usbkey", mutating=_usbkey_mutating)
def sdc_usbkey(call: Call) -> Output:
    key = _key(call)
    if key is None:
        return call.fail("sdc-usbkey: could not find the USB key")
    verb = call.argv[1] if len(call.argv) > 1 else ""
    if verb == "status":
        return ("mounted\n" if key.mounted else "unmounted\n"), "", 0
    if verb == "mount":
        key.set_mounted(True)
        return "/mnt/usbkey\n", "", 0
    if verb == "unmount":
        key.set_mounted(False)
        return "", "", 0
    return call.fail("Usage: sdc-usbkey [-v] COMMAND [OPTIONS]\n"
                     "Commands: status, mount, unmount", 2)


def _listed(key: UsbKey, path: str) -> list[str] | None:
    """The directory's entries, or None when it is not there (the key not mounted)."""
    path = path.rstrip("/")
    if path == KEY_OS:
        return key.on_key() if key.mounted else None
    if path == CACHE_OS:
        return key.in_cache()
    return None


@command("ls")
def ls(call: Call) -> Output:
    paths = [a for a in call.argv[1:] if not a.startswith("-")]
    key = _key(call)
    if len(paths) != 1 or paths[0].rstrip("/") not in (KEY_OS, CACHE_OS):
        return _unknown(call)
    entries = _listed(key, paths[0]) if key else None
    if entries is None:
        return _missing(call, paths[0], "ls")
    return "".join(f"{e}\n" for e in entries), "", 0


@command("df")
def df(call: Call) -> Output:
    args = call.argv[1:]
    key = _key(call)
    path = args[-1].rstrip("/") if args else ""
    if args[:1] != ["-k"] or len(args) != 2 or path not in (KEY_OS, "/mnt/usbkey"):
        return _unknown(call)
    if key is None or not key.mounted:
        return call.fail(f"df: ({path} ) not a block device, directory or mounted resource", 2)
    size, used = int(key.doc["size"]) // 1024, key.used() // 1024
    avail = max(0, size - used)
    capacity = f"{(100 * used) // size if size else 0}%"
    head = f"{'Filesystem':<22}{'kbytes':>10}{'used':>10}{'avail':>10} capacity  Mounted on"
    row = f"{'/dev/dsk/c1t0d0p1':<22}{size:>10}{used:>10}{avail:>10} {capacity:>8}    /mnt/usbkey"
    return f"{head}\n{row}\n", "", 0


@command("rm", mutating=True)
def rm(call: Call) -> Output:
    flags = "".join(a[1:] for a in call.argv[1:] if a.startswith("-"))
    paths = [a for a in call.argv[1:] if not a.startswith("-")]
    where = [p.rstrip("/").rpartition("/") for p in paths]
    if not paths or any(parent not in (KEY_OS, CACHE_OS) or not UsbKey.valid_name(name)
                        for parent, _, name in where):
        return _unknown(call)
    if not {"r", "f"} <= set(flags.lower()):
        return call.fail(f"rm: {paths[0]} is a directory", 2)
    key = _key(call)
    for parent, _, name in where:
        if key is None:  # no key, no cache: `rm -f` of what is not there says nothing
            continue
        if parent == CACHE_OS:
            key.remove_from_cache(name)
        elif key.mounted:  # unmounted, the path does not exist: rm -f says nothing
            key.remove_from_key(name)
    return "", "", 0


def _sha1(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _platform_image(call: Call, sha1: str) -> dict[str, Any] | None:
    """The updates server's platform image whose file this is."""
    for m in call.world.store.all("uimage"):
        if m.get("name") in PLATFORM_NAMES and (m.get("files") or [{}])[0].get("sha1") == sha1:
            return m
    return None


def _script_missing(call: Call) -> Output:
    return call.fail(f"bash: {call.argv[0]}: No such file or directory", 127)


@command("install-platform.sh", mutating=True)
async def install_platform(call: Call) -> Output:
    """Unpack a platform file (on the headnode) onto the key and into the cache. The sim
    knows a platform by the sha1 of its image file; anything else does not unpack."""
    key = _key(call)
    if key is None:
        return _script_missing(call)
    if len(call.argv) != 2:
        return call.fail(f"Usage: {call.argv[0]} <platform URI>", 1)
    path = call.argv[1].removeprefix("file://")
    if not os.path.isfile(path):
        return call.fail(f"curl: (37) Couldn't open file {path}", 37)
    # Checksumming a 1 GiB file takes seconds: not in the loop every API shares.
    sha1 = await asyncio.to_thread(_sha1, path)
    image = _platform_image(call, sha1)
    if image is None:
        return call.fail("gzip: stdin: not in gzip format\ntar: Unexpected EOF in archive\n"
                         "See /tmp/install_platform.log", 1)
    version = str((image.get("tags") or {}).get("buildstamp")
                  or image["version"].split("-")[-1])
    os_ = "linux" if image["name"] == "platform-linux" else "smartos"
    size = os.path.getsize(path)
    if version not in key.on_key() and key.free() < size:
        return call.fail(f"==> Unpacking {version} to {KEY_OS}\n"
                         "tar: write error: No space left on device", 1)
    done = key.install(version, os_, size)
    out = [f"==> Unpacking {version} to {KEY_OS}"] if "key" in done else []
    out += [f"==> Copying {version} to {CACHE_OS}"] if "cache" in done else []
    out += ["==> Adding to list of available platforms", "==> Done!"]
    return "\n".join(out) + "\n", "", 0


@command("switch-platform.sh", mutating=True)
def switch_platform(call: Call) -> Output:
    """Point the key's boot loader at a platform on the key (it mounts the key itself)."""
    key = _key(call)
    if key is None:
        return _script_missing(call)
    if len(call.argv) != 2:
        return call.fail(f"Usage: {call.argv[0]} <platform buildstamp>", 1)
    version = call.argv[1]
    if not key.valid_name(version) or version not in key.on_key():
        return f"==> FATAL {KEY_OS}/{version} does not exist.\n", "", 1
    key.switch(version)
    return (f"==> Updating the boot loader of the USB key to {version}\n==> Done!\n",
            "", 0)
