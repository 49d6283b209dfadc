"""`sdcadm self-update`: install another build of sdcadm beside the running one, run it,
then make it current; `--rollback` switches back.

parse -> gather (the updates server's sdcadm builds, the headnode) -> choose (pure:
`planner.selfupdate`) -> breakdown -> confirm -> steps through the executor
(`executor.selfupdate`: lock, journal and install.log in `<varDir>/self-updates/<stamp>/`,
history). The layout under the prefix and what a build's environment holds:
`executor.builds`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sdcadm.errors import UsageError

if TYPE_CHECKING:
    from sdcadm.model import DatacenterState, Image

NO_TARGET = ("Please provide an image UUID or use `sdcadm self-update --latest` in order to "
             "update to the latest available image.")


@click.command("self-update", short_help='Update "sdcadm" itself.')
@click.argument("image", required=False, metavar="[IMAGE-UUID]")
@click.option("--latest", is_flag=True, help="Get the latest available image.")
@click.option("--rollback", is_flag=True,
              help="Switch back to the build in use before the last self-update.")
@click.option("-n", "--dry-run", "dry_run", is_flag=True,
              help="Go through the motions without actually updating.")
@click.option("-y", "--yes", is_flag=True, help="Answer yes to the confirmation.")
@click.option("--allow-major-update", is_flag=True,
              help="Allow a major version update to sdcadm. By default major updates are "
                   "skipped (to avoid accidental backward compatibility breakage).")
@click.option("--allow-downgrade", is_flag=True,
              help="Allow an image older than the running build.")
@click.option("-C", "--channel", metavar="CHANNEL",
              help="Use the given channel to fetch the image, even if it is not the default "
                   "one.")
@click.option("-S", "--source", metavar="URL", help="An image source (url) from which to import.")
@click.pass_obj
def self_update(app: Any, image: str | None, latest: bool, rollback: bool, dry_run: bool,
                yes: bool, allow_major_update: bool, allow_downgrade: bool,
                channel: str | None, source: str | None) -> None:
    """Update "sdcadm" itself.

    \b
    sdcadm self-update --latest            # the newest build on the update channel
    sdcadm self-update IMAGE-UUID          # that build (an older one: --allow-downgrade)
    sdcadm self-update --rollback          # back to the build in use before
    sdcadm self-update -S http://imgapi.dc.example.com IMAGE-UUID

    The build (a wheel, its sha1 checked) goes into a new virtual environment under
    `selfUpdate.prefix` (default /opt/smartdc/sdcadm), which shares the running build's
    libraries; it must run (`--version`, then `sdcadm instances`) before the
    `<prefix>/current` link is switched to it. The build in use before stays, for
    --rollback. Configuration and history are not touched. Log:
    `<varDir>/self-updates/<stamp>/install.log`.
    """
    if image == "help":
        raise UsageError("Please use `sdcadm help self-update` instead")
    if rollback:
        if image or latest or channel or source:
            raise UsageError("--rollback takes no IMAGE-UUID, --latest, -C or -S")
        _rollback(app, dry_run=dry_run, yes=yes)
        return
    if image and latest:
        raise UsageError("--latest and IMAGE-UUID are mutually exclusive")
    if not image and not latest:
        raise UsageError(NO_TARGET)
    if image:
        from sdcadm.model import is_uuid

        if not is_uuid(image):
            raise UsageError(f'invalid image uuid: "{image}"')
    if source:
        import dataclasses

        if not source.startswith(("http://", "https://")):
            raise UsageError(f'-S must be an http:// or https:// URL, not "{source}"')
        # Before any client is made: every updates-server call goes to the source.
        app.config = dataclasses.replace(app.config, updates_url=source.rstrip("/"))
    _update(app, image, dry_run=dry_run, yes=yes, allow_major=allow_major_update,
            allow_downgrade=allow_downgrade, channel=channel)


def _update(app: Any, uuid: str | None, *, dry_run: bool, yes: bool, allow_major: bool,
            allow_downgrade: bool, channel: str | None) -> None:
    from sdcadm.executor import builds as b
    from sdcadm.executor.selfupdate import run_steps, work_root
    from sdcadm.gather import gather
    from sdcadm.planner import selfupdate as rules

    state = gather(app, app.config, channel=channel, vms=False, server_detail="admin")
    app.info(f"Using channel {state.channel or 'default'}")
    prefix = b.prefix_of(app.config)
    builds = b.Builds(prefix)
    in_use = builds.in_use()
    state, in_use_label = _measured_against(state, in_use)
    if uuid is None:
        choice = rules.latest(state, allow_major=allow_major)
        for line in choice.skipped:
            _warn(app, line)
        if choice.image is None:
            app.out(f'Already up-to-date (using "{state.channel or "default"}" update '
                    "channel).")
            return
        target = choice.image
    else:
        target = _image(app, state, uuid)
        if not rules.check_image(state, target, allow_major=allow_major,
                                 allow_downgrade=allow_downgrade,
                                 warn=lambda text: _warn(app, text)):
            app.out(f"Already up-to-date: {in_use_label} is the build in use.")
            return
    version, stamp = target.version, rules.stamp_of(target)
    path, install = _destination(builds, target)
    if path.resolve() == in_use:
        app.out(f"Already up-to-date: {rules.label(version, stamp)} is current in {prefix}.")
        return
    download = Path(app.config.tmp_dir) / f"sdcadm-{target.uuid}" / \
        f"sdcadm-{version}-py3-none-any.whl"
    if install:
        _check_room(app, target, download, prefix)
    dry = "[dry-run] " if dry_run else ""
    lines = [f"{dry}Update to {rules.label(version, stamp)}"]
    if install:
        lines += [f"    download image {target.uuid} ({target.size / b.MIB:.1f} MiB, sha1 "
                  "checked)",
                  f"        from {app.config.updates_url}",
                  f"    install it into {path}",
                  f"        (log in {work_root(app)}/<stamp>/install.log)"]
    else:
        lines.append(f"    installed already in {path}")
    lines += [f"    run it (--version, sdcadm instances), then switch {builds.current_link} "
              "to it",
              f"    in use now: {in_use_label}",
              f"        in {in_use} (kept for --rollback)"]
    if not app.go_ahead(_fitted(lines), dry_run=dry_run, yes=yes, abort="Aborting."):
        return
    steps = rules.update_steps(target, channel=state.channel, build=str(path),
                               download=str(download), install=install, prefix=str(prefix))
    change = rules.change("self-update", (state.sdcadm_version, state.sdcadm_buildstamp),
                          target.manifest or {"uuid": target.uuid, "version": version})
    run_steps(app, [change], steps, kept=f"{in_use_label} in {in_use} is still in use",
              done=f"Updated to sdcadm {version} ({stamp}, elapsed {{elapsed}}s)")
    b.remove(download.parent)  # installed: the download has served
    _path_note(app, prefix)


def _fitted(lines: list[str]) -> str:
    """A confirmation whose every line fits 100 columns, as the update breakdown's: a longer
    one goes on with a hanging indent."""
    from sdcadm.render.breakdown import fit

    return "".join(f"{part}\n" for line in lines for part in fit(line))


def _warn(app: Any, text: str) -> None:
    """A warning of the confirmation (`Skipping sdcadm ...`), fitted like its lines."""
    app.warn(_fitted([text]).rstrip("\n"))


def _destination(builds: Any, target: "Image") -> tuple[Path, bool]:
    """Where the build goes, and whether it must be installed there (not when a complete
    install of this very image is). Another image with the same version and stamp keeps
    its directory: this one's name gets the uuid's head."""
    from sdcadm.planner.selfupdate import build_name, stamp_of

    name = build_name(target.version, stamp_of(target), target.uuid)
    for candidate in (name, f"{name}-{target.uuid[:8]}"):
        path = builds.path(candidate)
        record = builds.record(path)
        if record is None or record.get("uuid") == target.uuid:
            return path, record is None
    raise UsageError(f"{builds.dir} holds other builds named {name}: remove one")


def _image(app: Any, state: "DatacenterState", uuid: str) -> "Image":
    """The image from the channel's listing, else asked for (it may be unlisted)."""
    from sdcadm.errors import SDCClientError
    from sdcadm.model import Image

    found = state.update_images.get(uuid)
    if found is not None:
        return found
    try:
        return Image.from_manifest(app.clients.updates_for(state.channel).get_image(uuid))
    except SDCClientError as e:
        if not e.not_found:
            raise
        raise SDCClientError("updates", e.rest_code, f'image {uuid} not found on '
                             f'{app.config.updates_url} (channel "{state.channel}")',
                             status=e.status) from e


def _check_room(app: Any, target: "Image", download: Path, prefix: Path) -> None:
    """Room for the download and, at least, for the build, before anything is fetched
    (the install checks again with the wheel's unpacked size)."""
    from sdcadm.executor import builds as b
    from sdcadm.executor.handlers.selfupdate import check_room

    what = f"sdcadm {target.version}"
    check_room(download.parent, target.size, 0, what)
    check_room(prefix, target.size + b.ENV_OVERHEAD, b.reserve_of(app.config), what)


def _measured_against(state: "DatacenterState",
                      in_use: Path) -> tuple["DatacenterState", str]:
    """The build the rules measure a target against (newer, major, downgrade) is the one
    the switch replaces: the build `current` names, which is not the running one when an
    operator runs another build by its path. That build's version stands in for the
    running one's; and its label."""
    import dataclasses

    from sdcadm.executor.builds import running_env
    from sdcadm.planner.selfupdate import label

    if in_use != running_env():
        version, stamp = _describe(in_use)
        if version is not None:
            state = dataclasses.replace(state, sdcadm_version=version,
                                        sdcadm_buildstamp=stamp)
    return state, label(state.sdcadm_version, state.sdcadm_buildstamp)


def _path_note(app: Any, prefix: Path) -> None:
    from sdcadm.executor.builds import running_env

    if not running_env().is_relative_to(prefix.resolve()):
        app.info(_fitted([f"note: the new build runs as {prefix}/current/bin/sdcadm (put "
                          f"{prefix}/current/bin first on PATH)"]).rstrip("\n"))


# -- --rollback -------------------------------------------------------------------------------
def _rollback(app: Any, *, dry_run: bool, yes: bool) -> None:
    from sdcadm import __version__
    from sdcadm.executor import builds as b
    from sdcadm.executor.selfupdate import run_steps
    from sdcadm.gather import sdcadm_buildstamp
    from sdcadm.planner import selfupdate as rules

    prefix = b.prefix_of(app.config)
    builds = b.Builds(prefix)
    previous = builds.target(builds.previous_link)
    if previous is None:
        raise UsageError(f"no previous sdcadm build to roll back to in {prefix}")
    in_use = builds.in_use()
    if previous == in_use:
        app.out(f"Nothing to roll back: {previous} is current already.")
        return
    version, stamp = _describe(previous)
    current = _describe(in_use)
    dry = "[dry-run] " if dry_run else ""
    text = _fitted([f"{dry}Roll back to {rules.label(version, stamp)} in {previous}",
                    f"    run it (--version, sdcadm instances), then switch "
                    f"{builds.current_link} to it",
                    f"    in use now: {rules.label(*current)}",
                    f"        in {in_use} (kept as previous)"])
    if not app.go_ahead(text, dry_run=dry_run, yes=yes, abort="Aborting."):
        return
    steps = rules.rollback_steps(build=str(previous), version=version, buildstamp=stamp,
                                 prefix=str(prefix))
    change = rules.change("self-update-rollback", (__version__, sdcadm_buildstamp()),
                          {"version": version, "buildstamp": stamp, "path": str(previous)})
    run_steps(app, [change], steps,
              kept=f"{rules.label(*current)} in {in_use} is still in use",
              done=f"Rolled back to sdcadm {version} ({stamp}, elapsed {{elapsed}}s)")


def _describe(build: Path) -> tuple[str | None, str | None]:
    """(version, build stamp) of a build: its record, else what its sdcadm says."""
    import re
    import subprocess

    from sdcadm.executor.builds import Builds, child_env

    record = Builds.record(build)
    if record:
        return record.get("version"), record.get("buildstamp")
    try:
        out = subprocess.run([str(build / "bin" / "sdcadm"), "--version"], env=child_env(),
                             capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    m = re.match(r"sdcadm (\S+)(?: \((\S+)\))?", out.strip())
    return (m.group(1), m.group(2)) if m else (None, None)
