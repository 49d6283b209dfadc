"""`sdcadm instances` (insts): core VM instances and global-zone agents."""
from __future__ import annotations

from typing import Any

import click

from sdcadm.render.listing import emit_rows, list_options

DEFAULT_COLUMNS = ("instance", "service", "hostname", "version", "alias")
DEFAULT_SORT = ("-type", "service", "hostname", "version", "alias")
GROUP_COLUMNS = ("service", "image", "version", "count")
VALID_FIELDS = ("type", "instance", "zonename", "service", "alias", "image", "version",
                "server", "hostname", "server_ip", "state", "ip")
GROUP_FIELDS = ("type", "service", "image", "version", "count", "instances")


def parse_filters(args: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """`NAME` / `svc=NAME` (services) and `type=vm|agent` (types); each kind of filter
    keeps instances matching any of its values."""
    from sdcadm.errors import UsageError

    services: set[str] = set()
    kinds: set[str] = set()
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq:
            services.add(arg)
        elif key == "svc":
            services.add(value)
        elif key == "type":
            if value not in ("vm", "agent"):
                raise UsageError(f"invalid instance type: {value}")
            kinds.add(value)
        else:
            raise UsageError(f'unknown filter "{key}"')
    return services, kinds


def instance_row(inst: Any) -> dict[str, Any]:
    """The original's listInsts object for one VM or agent (same keys, same order)."""
    if inst.type == "agent":
        return {"type": "agent", "service": inst.service, "instance": inst.instance,
                "version": inst.version, "image": inst.image, "server": inst.server,
                "hostname": inst.hostname, "server_ip": inst.server_ip}
    return {"type": "vm", "alias": inst.alias, "version": inst.version,
            "instance": inst.instance, "zonename": inst.instance, "service": inst.service,
            "image": inst.image, "state": inst.state, "server": inst.server,
            "hostname": inst.hostname, "server_ip": inst.server_ip, "ip": inst.ip}


def image_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["type"], r["service"], r.get("image") or r.get("version"))
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"type": r["type"], "service": r["service"], "image": r["image"],
                               "version": r["version"], "instances": [], "count": 0}
        g["instances"].append(r["instance"])
        g["count"] += 1
    return list(groups.values())


@click.command("instances", short_help="List all SDC service instances.")
@list_options(DEFAULT_COLUMNS, DEFAULT_SORT)
@click.option("-I", "--group-by-image", is_flag=True,
              help="Group by unique (service, image).")
@click.argument("filters", nargs=-1, metavar="[FILTER...]")
@click.pass_obj
def instances(app: Any, as_json: bool, no_header: bool, columns: tuple[str, ...],
              sort: tuple[str, ...], group_by_image: bool, filters: tuple[str, ...]) -> None:
    """List all (or a filtered subset of) SDC service instances.

    Note that "service" here includes SDC core VMs and agents.

    \b
    Filters:
        NAME, svc=NAME    instances of that service
        type=vm|agent     only VM instances, or only agents
    """
    from sdcadm.gather import gather

    services, kinds = parse_filters(filters)
    state = gather(app, app.config, updates=False, server_detail="admin")
    known = set(state.services) | {i.service for i in state.instances}
    unknown = sorted(services - known)
    if unknown:
        # A typo would list nothing, which reads as "no instances".
        from sdcadm.errors import UsageError

        raise UsageError(f"unknown service{'s' if len(unknown) > 1 else ''}: "
                         f"{', '.join(unknown)}")
    rows = [
        instance_row(i) for i in state.instances
        if (not services or i.service in services) and (not kinds or i.type in kinds)
    ]
    if group_by_image:
        emit_rows(app, image_groups(rows), as_json=as_json, no_header=no_header,
                  columns=None, sort=sort, default_columns=GROUP_COLUMNS,
                  default_sort=DEFAULT_SORT, valid_fields=GROUP_FIELDS + ("hostname", "alias"))
        return
    emit_rows(app, rows, as_json=as_json, no_header=no_header, columns=columns, sort=sort,
              default_columns=DEFAULT_COLUMNS, default_sort=DEFAULT_SORT,
              valid_fields=VALID_FIELDS)

