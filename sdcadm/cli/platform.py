"""`sdcadm platform list|usage|avail|install|assign|set-default|remove`: platform images.

Reads: CNAPI, the updates server, the USB key over SSH; rules: `sdcadm.planner.platforms`;
changes: steps through the executor (journal in `<varDir>/platforms/`, history, Ctrl-C).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import click

from sdcadm.cli.main import _help_command
from sdcadm.errors import UpdateError, UsageError
from sdcadm.render.listing import list_options

if TYPE_CHECKING:
    from sdcadm.executor.handlers.platforms import UsbKey
    from sdcadm.model import DatacenterState, Server
    from sdcadm.plan import Plan, Step

LIST_COLUMNS = ("version", "current_platform", "boot_platform", "latest", "default", "os")
LIST_SORT = ("-version", "current_platform", "boot_platform")
LIST_FIELDS = ("version", "boot_platform", "current_platform", "latest", "default", "usb_key",
               "os")
USAGE_COLUMNS = ("uuid", "hostname", "current_platform", "boot_platform")
USAGE_SORT = ("-uuid", "hostname", "current_platform", "boot_platform")
AVAIL_COLUMNS = ("version", "uuid", "published_at", "os")
AVAIL_SORT = ("-version", "uuid", "published_at")
ALIASES = {"available": "avail"}
DRY_RUN = click.option("-n", "--dry-run", "dry_run", is_flag=True,
                       help="Say what would be changed, change nothing.")
CHANNEL = click.option("-C", "--channel", metavar="CHANNEL",
                       help="Use this update channel instead of the default one.")
WORK_KIND = "platforms"


class _Group(click.Group):
    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, ALIASES.get(name, name))


@click.group("platform", cls=_Group, invoke_without_command=True,
             short_help="Handle SDC platform images: list, install, assign, remove.")
@click.pass_context
def platform(ctx: click.Context) -> None:
    """Platform images: list, install, assign, remove.

    The headnode keeps a cache (/usbkey/os) of the platform images on its USB key
    (/mnt/usbkey/os); CNAPI lists the cache. See each sub-command's help for which of the
    two it touches.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


platform.add_command(_help_command)


# -- reading ----------------------------------------------------------------------------------
def _read(app: Any, *, updates: bool = False,
          channel: str | None = None) -> tuple[DatacenterState, Server, UsbKey]:
    """The datacenter (no VMs; the updates server's channel if `updates`), its headnode,
    and the headnode's USB key."""
    from sdcadm.errors import InternalError
    from sdcadm.executor.handlers.platforms import UsbKey
    from sdcadm.gather import gather

    state = gather(app, app.config, channel=channel, updates=updates, vms=False)
    app.clients.remote.learn(state.servers.values())
    if state.headnode is None:
        raise InternalError("CNAPI lists no headnode")
    return state, state.headnode, UsbKey(app.clients.remote, state.headnode.uuid)


def _default(app: Any) -> str | None:
    return (app.clients.cnapi.get_boot_params("default") or {}).get("platform")


def _check_fields(columns: Sequence[str], sort: Sequence[str], valid: Sequence[str]) -> None:
    """Bad -o/-s before any read: a typo must not mount the USB key."""
    from sdcadm.render.tables import check_fields, split_fields

    check_fields(split_fields(columns), valid, "output")
    check_fields(split_fields(sort), valid, "sort")


# -- running ----------------------------------------------------------------------------------
def _dry_run(app: Any, title: str, steps: Sequence[Step]) -> None:
    """The steps, one line each (a parallel group of more than three: one line)."""
    from itertools import groupby

    from sdcadm.planner.platforms import named

    lines = [f"{title}:"]
    for _key, grouped in groupby(steps, key=lambda s: s.parallel or s.id):
        group = list(grouped)
        if len(group) <= 3:
            lines += [f"    {s.summary}" for s in group]
            continue
        lines.append(f"    set boot platform of {len(group)} servers to "
                     f"{group[0].params.get('platform')}: "
                     + named(str(s.params.get("hostname")) for s in group))
    app.out("\n".join(lines))
    app.out("Dry run: nothing was changed.")


def _execute(app: Any, plan: Plan, steps: Sequence[Step], sub: str, done: str) -> None:
    """Run the steps under the headnode lock, journalled and recorded in history; a failure
    says so in the original's words before its error line."""
    import shlex

    from sdcadm.executor.run import execute

    # `update --resume` resumes updates only; a platform command plans from what is in
    # place, so the same command line again finishes what this run left.
    again = shlex.join(["sdcadm", *(app.argv or ["platform", sub])])
    try:
        execute(app, plan, steps, command=f"platform {sub}", work_kind=WORK_KIND,
                done_message=done, options={}, again=again)
    except Exception:
        if sub in ("assign", "set-default"):
            app.info(f"Platform {sub} failed")
        raise


def _no_help(value: str | None, sub: str) -> None:
    if value == "help":
        raise UsageError(f"Please use `sdcadm platform help {sub}` instead")


# -- list, usage, avail -----------------------------------------------------------------------
@platform.command("list", short_help="List platform images and the servers using them.")
@list_options(LIST_COLUMNS, LIST_SORT, stream=True)
@click.option("-a", "--active", is_flag=True, help="Only platforms some server boots or runs.")
@click.option("-i", "--inactive", is_flag=True, help="Only platforms no server boots or runs.")
@click.option("-u", "--usbkey", is_flag=True,
              help="Only platforms on the USB key (not just in the cache).")
@click.pass_obj
def list_(app: Any, as_json: bool, as_stream: bool, no_header: bool,
          columns: tuple[str, ...], sort: tuple[str, ...], active: bool, inactive: bool,
          usbkey: bool) -> None:
    """List the platform images installed on the headnode: how many servers boot and run
    each, which is the latest and the default, and whether it is on the USB key.

    With -j/-J every platform is shown, with the servers themselves instead of counts
    (-a, -i, -u, -o and -s do not apply).
    """
    from sdcadm.planner.platforms import counted, filter_rows, list_rows
    from sdcadm.render import tables
    from sdcadm.render.listing import emit_rows

    _check_fields(columns, sort, LIST_FIELDS)
    state, _hn, key = _read(app)
    default = _default(app)
    on_key = key.mounted_for(lambda k: k.platforms())
    rows = list_rows(state.platforms, state.servers.values(), default, on_key)
    if as_json:
        app.out(tables.format_json(rows))
        return
    if as_stream:
        if rows:
            app.out(tables.format_json_stream(rows))
        return
    shown = filter_rows(counted(rows), active=active, inactive=inactive, usbkey=usbkey)
    emit_rows(app, shown, no_header=no_header, columns=columns, sort=sort,
              default_columns=LIST_COLUMNS, default_sort=LIST_SORT, valid_fields=LIST_FIELDS)


@platform.command("usage", short_help="List the servers using a platform.")
@list_options(USAGE_COLUMNS, USAGE_SORT)
@click.argument("version", metavar="PLATFORM", required=False)
@click.pass_obj
def usage(app: Any, as_json: bool, no_header: bool, columns: tuple[str, ...],
          sort: tuple[str, ...], version: str | None) -> None:
    """List the setup servers that boot or run PLATFORM (nothing when none does)."""
    from sdcadm.planner.platforms import usage_rows
    from sdcadm.render.listing import emit_rows

    if not version:
        raise UsageError("too few args, platform name is required")
    _no_help(version, "usage")
    _check_fields(columns, sort, USAGE_COLUMNS)
    state = _read(app)[0]
    rows = usage_rows(state.platforms, state.servers.values(), version)
    if rows:
        emit_rows(app, rows, as_json=as_json, no_header=no_header, columns=columns, sort=sort,
                  default_columns=USAGE_COLUMNS, default_sort=USAGE_SORT,
                  valid_fields=USAGE_COLUMNS)


@platform.command("avail", short_help="List platform images newer than the installed ones.")
@list_options(AVAIL_COLUMNS, AVAIL_SORT, stream=True)
@CHANNEL
@click.option("--os", "os_", type=click.Choice(["smartos", "linux"]),
              help="Only platforms of this operating system (default: both).")
@click.pass_obj
def avail(app: Any, as_json: bool, as_stream: bool, no_header: bool, columns: tuple[str, ...],
          sort: tuple[str, ...], channel: str | None, os_: str | None) -> None:
    """List the platform images on the updates server published after the latest one
    installed (alias: available)."""
    from sdcadm.planner.platforms import avail_rows
    from sdcadm.render.listing import emit_rows

    _check_fields(columns, sort, AVAIL_COLUMNS)
    state = _read(app, updates=True, channel=channel)[0]
    rows = avail_rows(state.update_images.values(), state.platforms, os_)
    emit_rows(app, rows, as_json=as_json, as_stream=as_stream, no_header=no_header,
              columns=columns, sort=sort, default_columns=AVAIL_COLUMNS,
              default_sort=AVAIL_SORT, valid_fields=AVAIL_COLUMNS,
              empty=f'The latest platform image for "{state.channel}" channel is already '
                    "installed.")


# -- install ----------------------------------------------------------------------------------
@platform.command("install", short_help="Download and install a platform image.")
@click.argument("image", metavar="IMAGE-UUID|PATH|VERSION", required=False)
@click.option("--latest", is_flag=True,
              help="The latest platform image of the update channel (SmartOS; Linux too "
                   "when a Linux platform is installed already).")
@CHANNEL
@click.option("--os", "os_", type=click.Choice(["smartos", "linux"]),
              help="With --latest: only this operating system's platform.")
@click.option("-y", "--yes", is_flag=True,
              help="Answer yes to all confirmations (install even while the headnode boots "
                   "the old 'latest' link).")
@DRY_RUN
@click.pass_obj
def install(app: Any, image: str | None, latest: bool, channel: str | None, os_: str | None,
            yes: bool, dry_run: bool) -> None:
    """Download a platform image from the updates server (or take a file on this headnode)
    and install it on the USB key and in its cache, for later assignment.

    \b
    sdcadm platform install IMAGE-UUID
    sdcadm platform install VERSION            e.g. 20250115T120000Z
    sdcadm platform install PATH-TO-IMAGE
    sdcadm platform install --latest [--os smartos|linux]

    The file is downloaded to `tmpDir` (default /var/tmp), its sha1 checked, and deleted
    once installed (a file given by path is kept). Installing assigns it to no server.
    """
    import os

    from sdcadm.executor.handlers.platforms import PlatformFiles
    from sdcadm.planner import platforms as rules

    if not latest and not image:
        raise UsageError("must specify Platform Image UUID or --latest")
    _no_help(image, "install")
    if latest and image:
        raise UsageError("--latest and IMAGE-UUID|PATH|VERSION are mutually exclusive")
    if os_ and not latest:
        raise UsageError("Option --os can be used only with --latest")
    given = os.path.abspath(image) if image and os.path.isfile(image) else None
    if latest and not os_:
        app.info("Installing latest SmartOS Platform Image")
    state, hn, key = _read(app, updates=given is None, channel=channel)
    if given is None:
        app.info(f"Using channel {state.channel}")
    oses = [os_ or "smartos"]
    if latest and not os_ and rules.latest_installed(state.platforms, "linux"):
        oses.append("linux")  # Linux only where Linux platforms are in use already
    newest = rules.latest_installed(state.platforms)
    if not yes and hn.boot_platform == "latest":
        raise UpdateError(f"the headnode boots the 'latest' platform link: run \"sdcadm "
                          f"platform assign {newest} {hn.uuid}\" first, or use -y")
    items = [rules.given_install(given)] if given else [
        rules.resolve_install(state.update_images.values(), image or "latest", o,
                              channel=state.channel, tmp_dir=str(app.config.tmp_dir))
        for o in oses]
    if latest:
        app.info("Checking latest Platform Image is already installed")
    files = PlatformFiles(app.clients, key, items, channel=state.channel, info=app.info)
    for i, _ in files.drop_installed(state.platforms, dry_run=dry_run):
        app.out("Latest Platform Image already installed" if latest
                else f"Platform Image {i.version} is already installed")
    if not files.items:
        return
    files.stage(dry_run=dry_run)
    todo = [i for i, _ in files.items]
    new = max([newest or "", *(i.version for i in todo if i.os == "smartos")])
    steps = rules.install_steps(todo, hn, set_default=new if _default(app) == "latest" else None)
    if dry_run:
        click.echo(files.describe(), nl=False)
        _dry_run(app, "Install", steps)
        return
    plan = rules.platform_plan("install", platform=todo[0].version, request={"platforms": [
        {"version": i.version, "os": i.os, "image": i.image, "file": i.file} for i in todo]})
    try:
        _execute(app, plan, steps, "install", "Installation complete")
    except Exception:
        files.finish(ok=False)
        raise
    files.finish(ok=True)


# -- assign, set-default, remove --------------------------------------------------------------
@platform.command("assign", short_help="Assign a platform image to servers.")
@click.argument("args", nargs=-1, metavar="PLATFORM|--latest --all|SERVER...")
@click.option("--all", "all_", is_flag=True,
              help="All setup servers (and make it the default for new ones).")
@click.option("--latest", is_flag=True,
              help="The latest installed platform (Linux servers: the latest Linux one).")
@click.option("--allow-downgrade", is_flag=True,
              help="Allow a platform older than the one a server runs.")
@DRY_RUN
@click.pass_obj
def assign(app: Any, args: tuple[str, ...], all_: bool, latest: bool, allow_downgrade: bool,
           dry_run: bool) -> None:
    """Make servers boot PLATFORM (a YYYYMMDDTHHMMSSZ stamp of an installed platform, see
    "sdcadm platform list") from their next reboot.

    \b
    sdcadm platform assign PLATFORM --all
    sdcadm platform assign PLATFORM SERVER...    (uuids or hostnames)
    sdcadm platform assign --latest --all

    The headnode boots from its USB key, which is switched to the platform first; compute
    nodes get new boot parameters in CNAPI, five at a time. A platform older than the one a
    server runs needs --allow-downgrade.
    """
    from sdcadm.planner import platforms as rules

    version = None if latest else (args[0] if args else None)
    servers = args if latest else args[1:]
    _no_help(version, "assign")
    if all_ and servers:
        raise UsageError("using --all and explicitly specifying a server are mutually exclusive")
    if not (version or latest) or not (all_ or servers):
        raise UsageError("must specify platform and server (or --all)")
    state = _read(app)[0]
    plan = rules.plan_assign(state.platforms, list(state.servers.values()), platform=version,
                             names=servers, all_=all_,
                             default=_default(app) if all_ else None,
                             allow_downgrade=allow_downgrade)
    chosen = plan.platform
    if plan.already:
        app.info(f"Already booting platform {chosen}: "
                 + rules.named(s.hostname for s in plan.already))
    if plan.empty:
        app.out(f"Nothing to do: the servers already boot platform {chosen}")
        return
    if plan.downgrades:
        app.warn(f"Warning: forced downgrade to platform {chosen} of "
                 + rules.named(f"{s.hostname} ({cur})" for s, cur in plan.downgrades))
    steps = rules.assign_steps(plan)
    if dry_run:
        _dry_run(app, f"Assign platform {chosen}", steps)
        return
    n = len(plan.targets)
    record = rules.platform_plan("assign", platform=chosen,
                                 servers=[s.uuid for s, _ in plan.targets],
                                 downgrade=bool(plan.downgrades),
                                 request={"all": all_, "latest": latest,
                                          "servers": list(servers),
                                          "default": plan.set_default})
    _execute(app, record, steps, "assign",
             f"Platform {chosen} assigned to {n} server{'s' if n != 1 else ''}")


@platform.command("set-default", short_help="Set the default platform for new servers.")
@click.argument("version", metavar="PLATFORM", required=False)
@click.option("--latest", is_flag=True, help="The latest installed platform.")
@DRY_RUN
@click.pass_obj
def set_default(app: Any, version: str | None, latest: bool, dry_run: bool) -> None:
    """Set the platform new servers boot (CNAPI's default boot parameters)."""
    from sdcadm.planner import platforms as rules

    if not latest and not version:
        raise UsageError("too few args, platform name is required when '--latest' option "
                         "is not given")
    _no_help(version, "set-default")
    installed = app.clients.cnapi.list_platforms()
    chosen = rules.latest_installed(installed) if latest else version
    if not chosen or chosen not in installed:
        raise UsageError(f"Invalid platform version: {version or 'latest'}")
    label = f"{chosen} (latest)" if latest else chosen
    if _default(app) == chosen:
        app.out(f"Default platform is already {label}")
        return
    steps = rules.set_default_steps(chosen)
    if dry_run:
        _dry_run(app, "Set default platform", steps)
        return
    _execute(app, rules.platform_plan("set-default", platform=chosen), steps, "set-default",
             f"Successfully set default platform to {label}")


@platform.command("remove", short_help="Remove platform images from the USB key.")
@click.argument("names", nargs=-1, metavar="PLATFORM...")
@click.option("-a", "--all", "all_", is_flag=True,
              help="Every platform no server boots or runs (never the default one).")
@click.option("-k", "--keep-latest", "keep", type=click.IntRange(min=0), default=0,
              help="With --all: keep this many of the newest of them.")
@click.option("--force", is_flag=True, help="Remove platforms even if servers use them.")
@click.option("--cleanup-cache", "cleanup_cache", is_flag=True,
              help="Also remove them from the cache (/usbkey/os), and so from CNAPI.")
@click.option("-y", "--yes", is_flag=True, help="Answer yes to the confirmation.")
@DRY_RUN
@click.pass_obj
def remove(app: Any, names: tuple[str, ...], all_: bool, keep: int, force: bool,
           cleanup_cache: bool, yes: bool, dry_run: bool) -> None:
    """Remove platform images from the USB key (with --cleanup-cache, from its cache too:
    until then CNAPI and "sdcadm platform list" still show them).

    A platform some server boots or runs is removed only with --force; the default boot
    platform never is.
    """
    from sdcadm.planner import platforms as rules

    if not names and not all_:
        raise UsageError("too few args, either platform name or '--all' option are required")
    if all_ and names:
        raise UsageError("--all and explicitly named platforms are mutually exclusive")
    if keep and not all_:
        raise UsageError("-k/--keep-latest requires --all")
    state, hn, key = _read(app)
    chosen = rules.select_removals(state.platforms, state.servers.values(), _default(app),
                                   names=names, all_=all_, keep=keep, force=force)
    if chosen.kept_default:
        app.info(f"Keeping platform {chosen.kept_default}: it is the default boot platform")
    if chosen.in_use:
        app.warn(f"Warning: not removing platforms in use: {', '.join(chosen.in_use)} (use "
                 "--force to remove them anyway)")
    steps = rules.remove_steps(chosen.remove, hn, mounted=key.mounted(),
                               cleanup_cache=cleanup_cache)
    listing = "".join(f"    {v}\n" for v in chosen.remove)
    if not app.go_ahead(f"\nThe following Platform Images will be removed:\n{listing}\n",
                        dry_run=dry_run, yes=yes, abort="Aborting"):
        return
    record = rules.platform_plan("remove", request={"platforms": list(chosen.remove),
                                                    "cleanup_cache": cleanup_cache,
                                                    "force": force})
    _execute(app, record, steps, "remove", "Done.")
