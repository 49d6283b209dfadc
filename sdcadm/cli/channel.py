"""`sdcadm channel list|get|set|unset`: the update channel of this datacenter."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sdcadm.model import Application

COLUMNS = ("name", "default", "description")
RETRIEVE_ERROR = "Error trying to retrieve update channels"


def sdc_app(app: Any) -> Application:
    """The sdc application; also points the updates client at its `http_proxy`."""
    from sdcadm.gather import sdc_application

    sdc = sdc_application(app.clients.sapi)
    app.clients.updates_proxy = sdc.metadata.get("http_proxy") or None
    return sdc


def annotated_channels(app: Any) -> list[dict[str, Any]]:
    """The server's channels, `default` moved to SAPI's `update_channel` when it is set,
    else kept on the server's default and marked `remote`."""
    from sdcadm.errors import SdcAdmError

    chosen = sdc_app(app).metadata.get("update_channel")
    try:
        channels = [dict(c) for c in app.clients.updates.list_channels()]
    except SdcAdmError:
        app.info(RETRIEVE_ERROR)
        raise
    for c in channels:
        if chosen:
            if c.get("name") == chosen:
                c["default"] = True
            else:
                c.pop("default", None)
        elif c.get("default"):
            c["remote"] = True
    return channels


@click.group("channel", short_help="Show and modify the update channel.",
             invoke_without_command=True)
@click.pass_context
def channel(ctx: click.Context) -> None:
    """Show and modify the update channel used for image updates."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@channel.command("list", short_help="List all update channels.")
@click.option("-j", "--json", "as_json", is_flag=True, help="JSON output.")
@click.option("-H", "no_header", is_flag=True, help="Omit table header row.")
@click.pass_obj
def list_(app: Any, as_json: bool, no_header: bool) -> None:
    """List all update channels available on the updates server."""
    from sdcadm.render import tables

    channels = annotated_channels(app)
    if as_json:
        app.out(tables.format_json(channels))
        return
    rows = []
    for c in channels:
        default = None
        if c.get("default"):
            default = "true (remote)" if c.get("remote") else "true"
        rows.append({"name": c.get("name"), "default": default,
                     "description": c.get("description")})
    text = tables.format_table(rows, COLUMNS, header=not no_header)
    if text:
        app.out(text)


@channel.command("get", short_help="Get the update channel in use.")
@click.pass_obj
def get(app: Any) -> None:
    """Print the update channel in use: the datacenter's, else the server's default."""
    from sdcadm.errors import SDCClientError

    chosen = sdc_app(app).metadata.get("update_channel")
    if chosen:
        app.out(chosen)
        return
    try:
        channels = app.clients.updates.list_channels()
    except SDCClientError:
        # As the original: nothing to print, and not a failure of this command.
        app.info(RETRIEVE_ERROR)
        return
    name = next((c.get("name") for c in channels if c.get("default")), None)
    if name:
        app.out(name)


@channel.command("set", short_help="Set the update channel.")
@click.argument("name", required=False)
@click.pass_obj
def set_(app: Any, name: str | None) -> None:
    """Set the update channel used by this datacenter."""
    from sdcadm.errors import SdcAdmError, UsageError

    if not name:
        raise UsageError("must specify a channel name")
    sdc = sdc_app(app)
    try:
        names = [c.get("name") for c in app.clients.updates.list_channels()]
    except SdcAdmError:
        app.info(RETRIEVE_ERROR)
        raise
    if name not in names:
        raise UsageError(f'Invalid channel name "{name}": must be one of '
                         f'{", ".join(str(n) for n in names)}')
    from sdcadm.executor.history import recorded

    previous = sdc.metadata.get("update_channel")
    change = {"type": "set-channel", "service": {"name": "sdc"}, "channel": name,
              "previous": previous}
    with recorded(app, [change]):
        app.clients.sapi.update_application(sdc.uuid,
                                            {"metadata": {"update_channel": name}})
    app.out(f"Update channel has been successfully set to: '{name}'")


@channel.command("unset", short_help="Unset the update channel (the server's default applies).")
@click.pass_obj
def unset(app: Any) -> None:
    """Unset the update channel: the updates server's default applies again."""
    from sdcadm.executor.history import recorded

    sdc = sdc_app(app)
    previous = sdc.metadata.get("update_channel")
    change = {"type": "unset-channel", "service": {"name": "sdc"}, "previous": previous}
    with recorded(app, [change]):
        app.clients.sapi.update_application(
            sdc.uuid, {"action": "delete", "metadata": {"update_channel": None}})
    app.out("Update channel has been successfully unset")
