"""`sdcadm changes`: the builds between the image in use and the latest, or two images.

The original only planned this (`sdcadm avail -c`, `sdcadm changes A B` in its TODO);
the build descriptions come from the updates server's image manifests.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from sdcadm.render.listing import emit_rows, list_options

if TYPE_CHECKING:
    from sdcadm.config import Config
    from sdcadm.model import DatacenterState, Image

DEFAULT_COLUMNS = ("version", "published_at", "description")
DEFAULT_SORT = ("published_at",)
VALID_FIELDS = ("uuid", "name", "version", "published_at", "description")


def resolve_image(state: "DatacenterState", arg: str) -> "Image":
    """An image UUID (local or in the channel), or the image an instance runs."""
    from sdcadm.errors import UsageError, ValidationError
    from sdcadm.model import is_uuid

    inst = state.find_instance(arg)
    if inst is not None:
        img = state.image(inst.image)
        if img is None:
            raise ValidationError(
                f'image {inst.image} of instance "{arg}" is not known locally or in the '
                f'"{state.channel}" channel')
        return img
    if not is_uuid(arg):
        raise UsageError(f'"{arg}" is neither an image UUID nor an instance')
    img = state.image(arg)
    if img is None:
        raise ValidationError(f'unknown image "{arg}" (not local, not in the '
                              f'"{state.channel}" channel)')
    return img


def names_for_pair(config: "Config", a: "Image", b: "Image") -> list[str]:
    """Image names to follow between two builds: theirs if equal, else one service's."""
    from sdcadm.errors import ValidationError

    if a.name == b.name:
        return [a.name]
    for names in config.image_names.values():
        if a.name in names and b.name in names:
            return list(names)
    raise ValidationError(
        f"images {a.uuid} ({a.label}) and {b.uuid} ({b.label}) are not builds of the same "
        "service")


def builds_for(state: "DatacenterState", config: "Config", args: tuple[str, ...],
               warn: Any) -> list["Image"]:
    from sdcadm.cli.avail import images_for, parse_targets
    from sdcadm.errors import UpdateError, UsageError
    from sdcadm.planner.candidates import (
        allowed_image_names,
        builds_between,
        published_key,
        sdcadm_candidates,
    )

    if len(args) == 2:
        a, b = (resolve_image(state, x) for x in args)
        return builds_between(state, names_for_pair(config, a, b), a, b)
    if len(args) != 1:
        raise UsageError("give one service or instance, or two images or instances")
    (target,) = parse_targets(state, args)
    if target.image or target.version:
        raise UsageError(f'"{args[0]}": name a service or an instance, without "@"')
    candidates, in_use = images_for(state, config, target, warn)
    if target.service == "sdcadm":
        return sdcadm_candidates(state)
    used = sorted((i for i in (state.image(u) for u in in_use) if i), key=published_key)
    if not used:
        raise UpdateError(f'cannot tell which image "{args[0]}" runs: no image in use is '
                          f'known locally or in the "{state.channel}" channel')
    if not candidates:
        return []
    names = allowed_image_names(target.service, config)
    return builds_between(state, names, used[0], candidates[-1])


@click.command("changes", short_help="List the builds between the image in use and a "
                                     "candidate, or two images.")
@click.option("-C", "--channel", metavar="CHANNEL",
              help="Use the given update channel instead of the default one.")
@list_options(DEFAULT_COLUMNS, DEFAULT_SORT)
@click.argument("args", nargs=-1, required=True, metavar="SERVICE|INSTANCE | IMAGE_A IMAGE_B")
@click.pass_obj
def changes(app: Any, channel: str | None, as_json: bool, no_header: bool,
            columns: tuple[str, ...], sort: tuple[str, ...], args: tuple[str, ...]) -> None:
    """List the builds between the image in use and the latest candidate, or two images.

    \b
    sdcadm changes SERVICE|INSTANCE   builds after the (oldest) image in use, up to the
                                      latest candidate update
    sdcadm changes A B                builds after A up to B; A and B are image UUIDs or
                                      instances of the same service
    """
    from sdcadm.cli.avail import build_row
    from sdcadm.gather import gather

    state = gather(app, app.config, channel=channel, server_detail="agents")
    rows = [build_row(b) for b in builds_for(state, app.config, args, app.warn)]
    emit_rows(app, rows, as_json=as_json, no_header=no_header, columns=columns, sort=sort,
              default_columns=DEFAULT_COLUMNS, default_sort=DEFAULT_SORT,
              valid_fields=VALID_FIELDS, empty="Up-to-date." if len(args) == 1 else None)
