"""Platform steps (`sdcadm platform install|assign|set-default|remove`) and the headnode's
USB key, reached over SSH like any global-zone command.

The USB key is mounted at /mnt/usbkey only on demand (`sdc-usbkey mount`); its platforms
are in /mnt/usbkey/os/<stamp>, and the headnode keeps a copy of each in /usbkey/os, the
cache CNAPI lists. install-platform.sh fills both, switch-platform.sh points the headnode's
boot loader (on the key) at one of them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sdcadm.errors import InternalError, NoSpaceError, SDCClientError, StepFailedError
from sdcadm.executor.context import ExecContext
from sdcadm.executor.handlers.images import ChecksumError, file_sha1, save_verified
from sdcadm.executor.preflight import MIB, free_bytes, mib_up
from sdcadm.plan import Step
from sdcadm.private_files import make_dirs

USBKEY_TOOL = "/opt/smartdc/bin/sdc-usbkey"
MOUNT_POINT = "/mnt/usbkey"
KEY_OS = "/mnt/usbkey/os"
CACHE_OS = "/usbkey/os"
INSTALL_SCRIPT = "/usbkey/scripts/install-platform.sh"
SWITCH_SCRIPT = "/usbkey/scripts/switch-platform.sh"
INSTALL_LOG = "/tmp/install_platform.log"
# Unpacking a platform onto a slow USB key takes minutes: longer than a usual command.
SCRIPT_TIMEOUT = 3600.0


class UsbKey:
    """The headnode's USB key, one SSH command at a time."""

    def __init__(self, remote: Any, headnode: str) -> None:
        self.remote = remote
        self.headnode = headnode

    def _run(self, argv: list[str]) -> str:
        return str(self.remote.run(self.headnode, argv, check=True).stdout)

    def mounted(self) -> bool:
        return self._run([USBKEY_TOOL, "status"]).strip() == "mounted"

    def mount(self) -> None:
        if self._run([USBKEY_TOOL, "mount"]).strip() != MOUNT_POINT:
            raise InternalError("Unable to mount USB key")

    def unmount(self) -> None:
        self._run([USBKEY_TOOL, "unmount"])
        if self.mounted():
            raise InternalError("Unable to unmount USB key")

    def platforms(self) -> list[str]:
        """Platforms on the mounted key (`latest`, an old symlink, is not one)."""
        names = self._run(["ls", KEY_OS]).split()
        return sorted(n.upper() for n in names if n != "latest")

    def free_kib(self) -> int:
        """Available KiB on the key, from `df -k` (its fourth column)."""
        lines = self._run(["df", "-k", KEY_OS]).strip().splitlines()
        try:
            return int(lines[1].split()[3])
        except (IndexError, ValueError):
            raise InternalError(f"Unexpected df output: {' | '.join(lines)}") from None

    def mounted_for(self, read: Callable[["UsbKey"], Any]) -> Any:
        """`read(self)` with the key mounted, left as it was found (mounted or not)."""
        was = self.mounted()
        if not was:
            self.mount()
        try:
            return read(self)
        finally:
            if not was:
                self.unmount()


def check_space(key: UsbKey, need: int, what: str) -> None:
    """Refuse before anything is installed when the key cannot take `need` bytes."""
    free = key.mounted_for(lambda k: k.free_kib()) * 1024
    if free < need:
        raise NoSpaceError(f"Not enough disk space available on the USB key for platform "
                           f"{what}: {free // MIB} MiB available, {mib_up(need)} MiB required")


class PlatformFiles:
    """The files an install works from, (Install, Image|None) pairs (None: an operator's
    file): what is not installed yet, room on the key, the downloads, and their removal
    once installed. All of it happens before the datacenter changes, or after."""

    def __init__(self, clients: Any, key: UsbKey, items: Sequence[Any], *,
                 channel: str | None, info: Callable[[str], None]) -> None:
        self.clients, self.key, self.items = clients, key, list(items)
        self.channel, self.info = channel, info

    def drop_installed(self, platforms: Mapping[str, Any], *, dry_run: bool) -> list[Any]:
        """Keep what is not installed yet; returns what is. A dry run mounts nothing: it
        reads a mounted key, else believes the cache."""
        from sdcadm.planner.platforms import not_installed

        cached = {i.version for i, _ in self.items} & set(platforms)
        if cached and not dry_run:
            on_key = self.key.mounted_for(lambda k: k.platforms())
        elif cached:
            on_key = self.key.platforms() if self.key.mounted() else list(cached)
        todo = not_installed(self.items, cached, on_key) if cached else self.items
        done = [it for it in self.items if it not in todo]
        self.items = todo
        return done

    def stage(self, *, dry_run: bool = False) -> None:
        """Room on the key, the downloads, and room again for what gzip says they unpack
        to. A dry run checks the room of a mounted key and downloads nothing."""
        what = ", ".join(i.version for i, _ in self.items)
        need = sum(img.size if img is not None else uncompressed_size(Path(i.file))
                   for i, img in self.items)
        if not dry_run or self.key.mounted():
            check_space(self.key, need, what)
        check_download_room(self.items)
        if dry_run:
            return
        unpacked = sum(fetch_platform(self.clients, i, img, channel=self.channel,
                                      info=self.info) for i, img in self.items)
        if unpacked > need:
            check_space(self.key, unpacked, what)

    def describe(self) -> str:
        return "".join(f"Download image {img.uuid} ({img.size / MIB:.1f} MiB) to {i.file}\n"
                       for i, img in self.items if img is not None)

    def finish(self, ok: bool) -> None:
        """Downloads are deleted once installed, kept (and said so) after a failure; an
        operator's file is always kept."""
        for i, img in self.items:
            if img is None:
                self.info(f"Platform image explicitly specified; will not delete {i.file}")
            elif ok:
                Path(i.file).unlink(missing_ok=True)
            else:
                self.info(f"In order not to have to re-download image, {i.file} has been "
                          "left behind.")


def check_download_room(items: Sequence[Any]) -> None:
    """Room where each download goes (the configuration's tmpDir) for what is still to be
    downloaded, before the first byte: a full disk is one line, not an error half-way."""
    by_dir: dict[Path, list[Any]] = {}
    for i, img in items:
        if img is not None and not _complete(Path(i.file), img.size):
            by_dir.setdefault(Path(i.file).parent, []).append((i, img))
    for where, todo in by_dir.items():
        need = sum(img.size for _i, img in todo)
        free = free_bytes(where)
        if free < need:
            what = ", ".join(i.version for i, _img in todo)
            raise NoSpaceError(f"Not enough disk space in {where} to download platform {what}: "
                               f"{free // MIB} MiB available, {mib_up(need)} MiB required; "
                               "nothing was changed")


def _complete(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def fetch_platform(clients: Any, item: Any, image: Any, *, channel: str | None,
                   info: Callable[[str], None]) -> int:
    """Download a platform image to `item.file` (an operator's file is used as it is; a
    complete earlier download is reused). Returns the bytes it takes once unpacked."""
    from sdcadm.render.progress import Progress

    path = Path(item.file)
    if image is None:
        info(f"Using platform file {path}")
        return uncompressed_size(path)
    if path.is_file() and path.stat().st_size == image.size and file_sha1(path) == image.sha1:
        info(f"Using platform file {path}, downloaded already")
        return uncompressed_size(path)
    make_dirs(path.parent)
    for line in (f"Downloading platform {item.version}", f"    image {image.uuid}",
                 f"    to {path}"):
        info(line)
    progress = Progress(interval=getattr(getattr(clients, "config", None),
                                         "progress_interval", None))
    try:
        download_platform(clients, image.manifest or {"uuid": image.uuid}, path,
                          channel=channel, progress=progress)
    finally:
        progress.close()
    return uncompressed_size(path)


def download_platform(clients: Any, image: Mapping[str, Any], path: Path, *,
                      channel: str | None, progress: Any,
                      cancel: Callable[[], bool] | None = None) -> None:
    """Stream a platform image file from the updates server to `path`, checking its size
    and sha1 on the fly; a partial or corrupt file never takes the final name."""
    uuid, version = image["uuid"], image.get("version", "?")
    files = (image.get("files") or [{}])[0]
    size, sha1 = int(files.get("size") or 0), files.get("sha1")
    bar = progress.download(f"Downloading platform {version}", size)
    try:
        save_verified(clients.updates_for(channel), uuid, path, sha1=sha1, size=size,
                      advance=bar.advance, cancel=cancel)
    except ChecksumError as e:
        raise ChecksumError(f"download of image {uuid} ({version}) is corrupt: {e.message}; "
                            "nothing was installed") from e
    except OSError as e:  # requests' errors are OSErrors too
        raise SDCClientError("updates", "DownloadError",
                             f"download of image {uuid} ({version}) to {path} failed: {e}; "
                             "run the same command again to retry") from e
    finally:
        bar.close()


def uncompressed_size(path: Path) -> int:
    """What a platform file takes once unpacked: gzip's recorded size (its last four
    bytes, as `gzip -l` reads it), else the file's own size."""
    with open(path, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            fh.seek(-4, 2)
            return int.from_bytes(fh.read(4), "little")
    return path.stat().st_size


def _usbkey(ctx: ExecContext, step: Step) -> UsbKey:
    return UsbKey(ctx.clients.remote, step.params["server_uuid"])


def _platforms(ctx: ExecContext) -> Mapping[str, Any]:
    return ctx.clients.cnapi.list_platforms()


def _script(ctx: ExecContext, server: str, argv: list[str]) -> str | None:
    """Run a headnode script; None when it succeeded, else `ARGV exited N: last line`."""
    res = ctx.clients.remote.run(server, argv, timeout=SCRIPT_TIMEOUT)
    if res.ok:
        return None
    detail = (res.stderr or res.stdout).strip().splitlines()
    return f"{' '.join(argv)} exited {res.exit_status}" + (f": {detail[-1]}" if detail else "")


class InstallPlatform:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return step.params["platform"] in _platforms(ctx)

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f"Installing Platform Image {p['platform']} onto USB key")
        # One command that runs for minutes: shown while it lasts, as the other waits.
        with ctx.waiting(f"install platform {p['platform']} onto USB key") as shown:
            shown.detail(f"install-platform.sh running (log: {INSTALL_LOG})")
            failure = _script(ctx, p["server_uuid"], [INSTALL_SCRIPT, p["file"]])
            if failure:
                shown.close("failed")
        if failure:
            ctx.say(f"install-platform.sh script failed for platform {p['file']}.",
                    f"Please, check {INSTALL_LOG} for additional information.")
            raise StepFailedError(f"Platform setup failed: {failure}")
        if p["platform"] not in _platforms(ctx):
            raise StepFailedError(f"platform {p['platform']} was installed but CNAPI does not "
                                  "list it")
        ctx.say("Platform installer finished successfully")


class SwitchPlatform:
    """The headnode boots from its USB key: point the key's boot loader at the platform."""

    def check(self, ctx: ExecContext, step: Step) -> bool:
        return False  # the key's boot menu is not readable through an API; the switch is idempotent

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f"updating headnode {p['server_uuid']} to {p['platform']}")
        failure = _script(ctx, p["server_uuid"], [SWITCH_SCRIPT, p["platform"]])
        if failure:
            raise StepFailedError(
                f"{failure} (headnode {p.get('hostname', p['server_uuid'])})")


class VerifyBootPlatforms:
    """CNAPI has been seen to accept a change and not keep it (TOOLS-945): read it back."""

    def _wrong(self, ctx: ExecContext, step: Step) -> list[str]:
        wanted: Mapping[str, str] = step.params["servers"]
        got = {s["uuid"]: s.get("boot_platform")
               for s in ctx.clients.cnapi.list_servers(uuids=",".join(wanted))}
        return [u for u, v in wanted.items() if got.get(u) != v]

    def check(self, ctx: ExecContext, step: Step) -> bool:
        return not self._wrong(ctx, step)

    def run(self, ctx: ExecContext, step: Step) -> None:
        ctx.say("Verifying boot_platform updates")
        wrong = self._wrong(ctx, step)
        if wrong:
            raise StepFailedError("The following servers were not updated: " + ",".join(wrong))


class SetDefaultPlatform:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        boot = ctx.clients.cnapi.get_boot_params("default") or {}
        return boot.get("platform") == step.params["platform"]

    def run(self, ctx: ExecContext, step: Step) -> None:
        ctx.say(f"Updating default boot platform to '{step.params['platform']}'")
        ctx.clients.cnapi.set_boot_params("default", {"platform": step.params["platform"]})


class MountUsbKey:
    def __init__(self, mount: bool) -> None:
        self.want = mount

    def check(self, ctx: ExecContext, step: Step) -> bool:
        return _usbkey(ctx, step).mounted() == self.want

    def run(self, ctx: ExecContext, step: Step) -> None:
        key = _usbkey(ctx, step)
        ctx.say("Mounting USB key" if self.want else "Unmounting USB key")
        if self.want:
            key.mount()
        else:
            key.unmount()


class RemovePlatform:
    """`rm -rf` one platform off the key or out of the cache, then make sure it is gone
    (rm -f says nothing when the key is not mounted and the path is not there)."""

    def _present(self, ctx: ExecContext, step: Step) -> bool:
        v = step.params["platform"]
        if step.params["where"] == "cache":
            return v in _platforms(ctx)
        return v in _usbkey(ctx, step).platforms()

    def check(self, ctx: ExecContext, step: Step) -> bool:
        return not self._present(ctx, step)

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        v, cache = p["platform"], p["where"] == "cache"
        ctx.say(f"Removing cache for platform {v}" if cache else f"Removing platform {v}")
        ctx.clients.remote.run(p["server_uuid"],
                               ["rm", "-rf", f"{CACHE_OS if cache else KEY_OS}/{v}"], check=True)
        if self._present(ctx, step):
            where = f"the cache ({CACHE_OS})" if cache else f"the USB key ({KEY_OS})"
            raise StepFailedError(f"platform {v} is still on {where} after removing it")


def platform_handlers() -> dict[str, Any]:
    return {
        "install-platform": InstallPlatform(),
        "switch-platform": SwitchPlatform(),
        "verify-boot-platforms": VerifyBootPlatforms(),
        "set-default-platform": SetDefaultPlatform(),
        "mount-usbkey": MountUsbKey(True),
        "unmount-usbkey": MountUsbKey(False),
        "remove-platform": RemovePlatform(),
    }
