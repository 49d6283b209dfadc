"""Self-update steps: download a build, install it beside the running one, run it, switch.

Nothing here touches the build in use until `switch-sdcadm`, the last step, replaces the
`current` link by a rename: a failure before it leaves `current` (and `previous`) as they
were, and removes what this run half-installed. Each step's output goes to the run's
`install.log` (`<varDir>/self-updates/<stamp>/install.log`).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sdcadm.errors import (
    InternalError,
    NoSpaceError,
    SdcAdmError,
    SDCClientError,
    StepFailedError,
)
from sdcadm.executor import builds as b
from sdcadm.executor.context import ExecContext
from sdcadm.executor.handlers.images import ChecksumError, file_sha1, save_verified
from sdcadm.executor.preflight import free_bytes, mib_up
from sdcadm.plan import Step
from sdcadm.private_files import make_dirs
from sdcadm.procedures.context import plural


def install_log(ctx: ExecContext) -> Path:
    return Path(ctx.journal.dir) / "install.log"


def check_room(where: Path, need: int, reserve: int, what: str) -> None:
    """Refuse when `need` bytes would leave less than `reserve` free where they go."""
    free = free_bytes(where)
    if free - need < reserve:
        raise NoSpaceError(
            f"Not enough disk space available in {where} for {what}: {free // b.MIB} MiB "
            f"available, {mib_up(need + reserve)} MiB required (selfUpdate.reserveMiB "
            f"keeps {reserve // b.MIB} MiB free)")


class DownloadBuild:
    """The image file, streamed to `file` with its size and sha1 checked on the fly; a
    partial or corrupt file never takes the final name."""

    def check(self, ctx: ExecContext, step: Step) -> bool:
        p = step.params
        path = Path(p["file"])
        return path.is_file() and (not p.get("sha1") or file_sha1(path) == p["sha1"])

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        path = Path(p["file"])
        if self.check(ctx, step):
            ctx.say(f"Using {path}, downloaded already")
            return
        ctx.say(f"Download update from {ctx.config.updates_url}")
        make_dirs(path.parent)
        bar = ctx.progress.download(f"Downloading sdcadm {p['version']}", int(p["size"] or 0))
        try:
            save_verified(ctx.clients.updates_for(p.get("channel")), p["image_uuid"], path,
                          sha1=p.get("sha1"), size=int(p["size"] or 0), advance=bar.advance,
                          cancel=ctx.cancelled)
        except ChecksumError as e:
            raise ChecksumError(f"download of sdcadm {p['version']} ({p['image_uuid']}) is "
                                f"corrupt: {e.message}") from e
        except OSError as e:  # a full disk, or requests' connection errors
            raise SDCClientError("updates", "DownloadError",
                                 f"download of sdcadm {p['version']} ({p['image_uuid']}) to "
                                 f"{path} failed: {e}") from e
        finally:
            bar.close()


class InstallBuild:
    """A new virtual environment under the prefix with the wheel in it (`builds.py` says
    what it holds); `build.json`, written last, marks it complete."""

    def check(self, ctx: ExecContext, step: Step) -> bool:
        rec = b.Builds.record(Path(step.params["build"]))
        return bool(rec and rec.get("uuid") == step.params["image_uuid"])

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        build, wheel, log = Path(p["build"]), Path(p["file"]), install_log(ctx)
        ctx.say(f"Run sdcadm installer (log at {log})")
        if self.check(ctx, step):
            ctx.say(f"sdcadm {p['version']} is installed already in {build}")
            return
        if b.Builds.record(build) is not None:  # never remove another complete build
            raise StepFailedError(f"{build} holds another build of sdcadm")
        b.remove(build)  # what a killed run left: never complete (no build.json)
        need = b.unpacked_size(wheel) + b.ENV_OVERHEAD
        check_room(Path(p["prefix"]), need, b.reserve_of(ctx.config), f"sdcadm {p['version']}")
        try:
            build.parent.mkdir(parents=True, exist_ok=True)
            b.create_env(build, wheel, log)
            b.Builds.write_record(build, {
                "uuid": p["image_uuid"], "version": p["version"],
                "buildstamp": p["buildstamp"], "run": ctx.journal.dir.name})
        except BaseException as e:
            b.remove(build)
            if isinstance(e, SdcAdmError):
                raise StepFailedError(f"install of sdcadm {p['version']} failed: {e.message} "
                                      f"(see {log})") from e
            if isinstance(e, OSError):
                raise StepFailedError(f"install of sdcadm {p['version']} into {build} "
                                      f"failed: {e} (see {log})") from e
            raise


class SmokeBuild:
    """The build must run and say it is the version the image said, then read the
    datacenter (`sdcadm instances`: SAPI, VMAPI, CNAPI) with the same configuration."""

    def check(self, ctx: ExecContext, step: Step) -> bool:
        return False  # read-only: running it again is the only way to know

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        build, log = Path(p["build"]), install_log(ctx)
        ctx.say(f"Smoke test sdcadm {p['version']} (sdcadm --version, sdcadm instances)")
        timeout = b.smoke_timeout_of(ctx.config)
        config_path = getattr(ctx.config, "source", None)
        try:
            code, out = b.run_build(build, ["--version"], log, timeout=timeout,
                                    config_path=config_path)
            said = re.fullmatch(r"sdcadm (\S+) \((\S+)\)", out.strip())
            want = (p["version"], p.get("buildstamp"))
            if code != 0 or not said or said.group(1, 2) != (want[0], want[1] or said[2]):
                raise InternalError(f'`sdcadm --version` said "{b.last_line(out)}" (exit {code}), '
                                    f"expected sdcadm {want[0]}"
                                    + (f" ({want[1]})" if want[1] else ""))
            code, out = b.run_build(build, ["instances", "-H", "-o", "instance"], log,
                                    timeout=timeout, config_path=config_path)
            if code != 0 or not out.strip():
                raise InternalError(f"`sdcadm instances` exited {code}: {b.last_line(out)}")
        except InternalError as e:
            if p.get("fresh"):
                b.remove(build)  # installed by this run and broken: nothing to keep
            raise StepFailedError(f"sdcadm {p['version']} failed its smoke test: {e.message} "
                                  f"(see {log})") from e


class SwitchBuild:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        builds = b.Builds(Path(step.params["prefix"]))
        return builds.target(builds.current_link) == Path(step.params["build"]).resolve()

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        builds = b.Builds(Path(p["prefix"]))
        ctx.say(f"Switch {builds.current_link} to {p['build']}")
        try:
            old = builds.switch(Path(p["build"]))
        except OSError as e:
            raise StepFailedError(f"cannot switch {builds.current_link} to {p['build']}: "
                                  f"{e}") from e
        ctx.say(f"Previous build kept: {builds.previous_link} -> {old}")
        keep = b.keep_of(ctx.config)
        try:
            pruned = builds.prune(keep)
        except OSError as e:  # the switch is done: an old build left behind is no failure
            ctx.say(f"Older builds not removed ({e}); they stay in {builds.dir}")
            return
        if pruned:
            ctx.say(f"Removed {plural(len(pruned), 'older build')} (selfUpdate.keepBuilds "
                    f"{keep}): {', '.join(d.name for d in pruned)}")


def self_update_handlers() -> dict[str, Any]:
    return {
        "download-sdcadm": DownloadBuild(),
        "install-sdcadm": InstallBuild(),
        "smoke-sdcadm": SmokeBuild(),
        "switch-sdcadm": SwitchBuild(),
    }
