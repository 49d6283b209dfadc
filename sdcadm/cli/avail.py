"""`sdcadm avail` (available): the images `update` would move each service to."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from sdcadm.render.listing import list_options

if TYPE_CHECKING:
    from sdcadm.config import Config
    from sdcadm.model import DatacenterState, Image, Instance

DEFAULT_COLUMNS = ("service", "image", "version")
DEFAULT_SORT = ("service", "version", "image")
VALID_FIELDS = ("service", "image", "version")


@dataclass
class Target:
    """One thing to find an update for: a service, or one instance of it."""

    service: str
    instance: "Instance | None" = None
    image: str | None = None  # `svc@IMAGE_UUID`
    version: str | None = None  # `svc@VERSION`
    request: dict[str, Any] = field(default_factory=dict)


def parse_targets(state: "DatacenterState", args: tuple[str, ...]) -> list[Target]:
    """Service names, instance uuids/aliases, optionally `@IMAGE_UUID` or `@VERSION`."""
    from sdcadm.errors import UpdateError
    from sdcadm.model import is_uuid

    known = set(state.services) | {i.service for i in state.instances} | {"sdcadm"}
    targets = []
    for arg in args:
        name, _, ref = arg.partition("@")
        image = ref if ref and is_uuid(ref) else None
        version = ref if ref and not image else None
        if name in known:
            request: dict[str, Any] = {"service": name}
            inst = None
        else:
            request = {"instance": name}
            inst = state.find_instance(name)
        if image:
            request["image"] = image
        if version:
            request["version"] = version
        request["type"] = "update-service" if "service" in request else "update-instance"
        if "instance" in request and inst is None:
            raise UpdateError(
                f'unknown SDC instance or service "{name}" from '
                f"{json.dumps(request, separators=(',', ':'))}"
            )
        targets.append(Target(service=inst.service if inst else name, instance=inst,
                              image=image, version=version, request=request))
    return targets


def all_targets(state: "DatacenterState", exclude: list[str]) -> list[Target]:
    """What `update --all` covers (agents included), plus the locked services and sdcadm.

    The service set is the planner's, so `avail` never lists something `update --all`
    would not touch without saying why. rabbitmq and portolan are listed as the original
    always did (with a note: they need their force flag); agents sdcadm cannot update
    (cabase, cainstsvc: they ship with the agents installer) are left out.
    """
    from sdcadm.planner import PlanOptions, all_services
    from sdcadm.planner.core import unknown_services

    opts = PlanOptions(all=True, exclude=tuple(exclude), force_rabbitmq=True,
                       force_data_path=True)
    # Unknown VM services stay in so the operator hears about them (a warning when their
    # image names are unknown, a note when sdcadm has no procedure for them).
    names = all_services(state, opts) + unknown_services(state, opts)
    targets = [Target(service=n) for n in names]
    if "sdcadm" not in exclude:
        targets.append(Target(service="sdcadm"))
    return targets


def update_notes(state: "DatacenterState", config: "Config",
                 services: list[str]) -> dict[str, str]:
    """Why `sdcadm update` would not act on the avail rows of these services."""
    from sdcadm.planner import rules
    from sdcadm.planner.rules import procedure_for

    notes: dict[str, str] = {}
    gated = []
    for service in services:
        if service == "sdcadm":
            notes[service] = f"note: {rules.SDCADM_ITSELF}"
        elif service in ("rabbitmq", "portolan"):
            flag = "--force-rabbitmq" if service == "rabbitmq" else "--force-data-path"
            notes[service] = (f'note: {service} updates are locked: "sdcadm update --all" '
                              f"leaves {service} out (use {flag})")
        elif procedure_for(service, _kind(state, service)) is None:
            notes[service] = f'note: "sdcadm update" cannot update the "{service}" service'
        else:
            gated.append(service)
    notes.update(_refusals(state, config, gated))
    return notes


def _kind(state: "DatacenterState", service: str) -> str:
    svc = state.services.get(service)
    if svc is not None:
        return svc.type or "vm"
    return next((i.type for i in state.instances if i.service == service), "vm")


def _refusals(state: "DatacenterState", config: "Config",
              services: list[str]) -> dict[str, str]:
    """The planner's own gates (minimum image and platform, SAPI mode, ...): avail skips
    them, as the original did, but the operator should not learn of them mid-update.
    One plan for all the services; only when it is refused, one per service to say which.
    """
    from sdcadm.errors import SdcAdmError
    from sdcadm.plan import ChangeRequest
    from sdcadm.planner import PlanOptions, plan

    def attempt(names: list[str]) -> str | None:
        reqs = [ChangeRequest(type="update-service", service=n,
                              source={"service": n, "type": "update-service"})
                for n in names]
        try:
            plan(state, reqs, PlanOptions(), config)
        except SdcAdmError as e:
            return e.message.replace("\n", "\n    ")
        return None

    if not services or attempt(services) is None:
        return {}
    out = {}
    for name in services:
        why = attempt([name])
        if why is not None:
            out[name] = f'note: "sdcadm update {name}" would refuse: {why}'
    return out


def images_for(state: "DatacenterState", config: "Config", t: Target,
               warn: Any) -> tuple[list["Image"], list[str]]:
    """(candidates ascending, uuids of the images in use) for one target."""
    from sdcadm.errors import UpdateError
    from sdcadm.planner.candidates import (
        allowed_image_names,
        candidate_images,
        current_image_uuids,
        published_key,
    )

    names = allowed_image_names(t.service, config)
    if not names:
        warn(f'warning: do not know valid image names for service "{t.service}"')
        return [], []
    in_use = ([t.instance.image] if t.instance and t.instance.image
              else [] if t.service == "sdcadm" else current_image_uuids(state, t.service))
    what = json.dumps(t.request, separators=(",", ":"))
    if t.image:
        img = state.image(t.image)
        if img is None:
            raise UpdateError(f'unknown image "{t.image}" from {what}')
        if img.name not in names:
            valid = " or ".join(f'"{n}"' for n in names)
            raise UpdateError(
                f"image {img.uuid} ({img.name}@{img.version}) is invalid for service "
                f"{t.service}, valid images must have name {valid} (update change: {what})")
        return [img], in_use
    if t.version:
        found = sorted((i for i in state.update_images.values()
                        if i.version == t.version and i.name in names), key=published_key)
        if not found:
            valid = " or ".join(f'"{n}"' for n in names)
            raise UpdateError(f'no image with version "{t.version}" and name {valid} was '
                              f"found (update change: {what})")
        return found, in_use
    current = None
    if t.instance is not None:
        img = state.image(t.instance.image)
        current = [img] if img else []
    return candidate_images(state, t.service, config, current=current), in_use


def change_rows(state: "DatacenterState", config: "Config", img: "Image",
                in_use: list[str], service: str) -> list[dict[str, Any]]:
    """The builds between the oldest image in use and `img` (for `-c`)."""
    from sdcadm.planner.candidates import (
        allowed_image_names,
        builds_between,
        published_key,
        sdcadm_candidates,
    )

    if service == "sdcadm":
        builds = [i for i in sdcadm_candidates(state) if published_key(i) <= published_key(img)]
    else:
        used = sorted((i for i in (state.image(u) for u in in_use) if i), key=published_key)
        if not used:
            builds = [img]
        else:
            builds = builds_between(state, allowed_image_names(service, config), used[0], img)
    return [build_row(b) for b in builds]


def build_row(img: "Image") -> dict[str, Any]:
    return {"uuid": img.uuid, "name": img.name, "version": img.version,
            "published_at": img.published_at, "description": img.description}


@click.command("avail", short_help="Display images available for update of SDC services "
                                   "and instances.")
@click.option("-C", "--channel", metavar="CHANNEL",
              help="Use the given channel to fetch the image(s), even if it is not the "
                   "default one.")
@click.option("-a", "--all-images", is_flag=True,
              help="Display all the images available for updates, not only the latest "
                   "image for each service.")
@list_options(DEFAULT_COLUMNS, DEFAULT_SORT, stream=True)
@click.option("-x", "--exclude", multiple=True, metavar="SERVICE",
              help="Exclude the given services (repeatable, or a comma-separated list). "
                   "Only applies when no services are named.")
@click.option("-c", "--changes", "show_changes", is_flag=True,
              help="Also list the builds between the image in use and each image shown.")
@click.argument("names", nargs=-1, metavar="[SERVICE|INSTANCE...]")
@click.pass_obj
def avail(app: Any, channel: str | None, all_images: bool, as_json: bool, as_stream: bool,
          no_header: bool, columns: tuple[str, ...], sort: tuple[str, ...],
          exclude: tuple[str, ...], show_changes: bool, names: tuple[str, ...]) -> None:
    """Display images available for update of SDC services and instances.

    With no arguments, every service `update --all` covers (agents included), the
    locked rabbitmq and portolan, and sdcadm itself are checked; a note on stderr says
    which listed services `update` would not act on, and why.
    """
    from sdcadm.gather import gather
    from sdcadm.render import tables

    state = gather(app, app.config, channel=channel, server_detail="agents")
    if names:
        targets = parse_targets(state, names)
    else:
        targets = all_targets(state, tables.split_fields(exclude))

    rows: list[dict[str, Any]] = []
    changes: list[list[dict[str, Any]]] = []
    for t in targets:
        candidates, in_use = images_for(state, app.config, t, app.warn)
        if not candidates:
            continue
        shared = in_use[0] if len(set(in_use)) == 1 else None
        if all_images:
            shown = [c for c in candidates if c.uuid != shared]
        else:
            latest = candidates[-1]
            shown = [] if latest.uuid == shared or _moves_nothing(state, t, latest, in_use) \
                else [latest]
        for img in shown:
            rows.append({"service": t.service, "image": img.uuid,
                         "version": f"{img.name}@{img.version}"})
            if show_changes:
                changes.append(change_rows(state, app.config, img, in_use, t.service))
    print_avail(app, rows, changes if show_changes else None, as_json=as_json,
                as_stream=as_stream, no_header=no_header, columns=columns, sort=sort)
    # Never silent (decisions 2): say which listed rows `update` would not act on.
    notes = update_notes(state, app.config, sorted({r["service"] for r in rows}))
    for service in sorted(notes):
        app.warn(notes[service])


def _moves_nothing(state: "DatacenterState", t: Target, latest: "Image",
                   in_use: list[str]) -> bool:
    """True when the implicit latest candidate is no newer than every image in use (instances
    on mixed images whose newest channel build is the oldest one running): `update` moves
    nothing to it, as it never moves an instance backwards unless told to."""
    from sdcadm.planner.candidates import published_key

    if t.image or t.version or t.service == "sdcadm":
        return False
    used = [img for img in (state.image(u) for u in in_use) if img is not None]
    return bool(used) and published_key(latest) <= min(map(published_key, used))


def print_avail(app: Any, rows: list[dict[str, Any]], changes: list[list[dict[str, Any]]] | None,
                *, as_json: bool, as_stream: bool, no_header: bool,
                columns: tuple[str, ...], sort: tuple[str, ...]) -> None:
    from sdcadm.render import tables

    if changes is not None:
        for row, builds in zip(rows, changes, strict=True):
            row["changes"] = builds
    cols, ordered = tables.prepare(rows, columns=columns, default_columns=DEFAULT_COLUMNS,
                                   sort=sort, default_sort=DEFAULT_SORT,
                                   valid_fields=VALID_FIELDS)
    if as_json:
        app.out(tables.format_json(ordered))
        return
    if as_stream:
        if ordered:
            app.out(tables.format_json_stream(ordered))
        return
    if not ordered:
        app.out("Up-to-date.")
        return
    lines = tables.format_table(ordered, cols, header=not no_header).split("\n")
    if changes is None:
        app.out("\n".join(lines))
        return
    out = lines[:1] if not no_header else []
    body = lines[1:] if not no_header else lines
    for line, shown in zip(body, ordered, strict=True):
        out.append(line)
        out.extend(change_lines(shown["changes"]))
    app.out("\n".join(out))


def change_lines(builds: list[dict[str, Any]], indent: str = "    ") -> list[str]:
    """One line per build: date, name@version, description."""
    return [
        f"{indent}{(b['published_at'] or '-')[:10]}  {b['name']}@{b['version']}"
        + (f"  {b['description']}" if b.get("description") else "")
        for b in builds
    ]
