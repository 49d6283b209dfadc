"""`sdcadm services` (svcs): the SAPI services of the `sdc` application."""
from __future__ import annotations

from typing import Any

import click

from sdcadm.render.listing import emit_rows, list_options

DEFAULT_COLUMNS = ("type", "uuid", "name", "image", "insts")
DEFAULT_SORT = ("-type", "name")
VALID_FIELDS = ("type", "uuid", "name", "image", "insts", "application_uuid", "params",
                "metadata", "manifests", "master")


@click.command("services", short_help="List all SDC services.")
@list_options(DEFAULT_COLUMNS, DEFAULT_SORT)
@click.argument("extra", nargs=-1, metavar="")
@click.pass_obj
def services(app: Any, as_json: bool, no_header: bool, columns: tuple[str, ...],
             sort: tuple[str, ...], extra: tuple[str, ...]) -> None:
    """List all SDC services."""
    from sdcadm.errors import UsageError
    from sdcadm.gather import gather
    from sdcadm.render.tables import split_fields

    if extra:
        raise UsageError(f"too many args: {' '.join(extra)}")
    # Counting instances needs the server and VM inventory; skip it when not shown.
    want_insts = as_json or "insts" in (split_fields(columns) or DEFAULT_COLUMNS)
    state = gather(app, app.config, updates=False, servers=want_insts, vms=want_insts,
                   server_detail="agents")
    counts: dict[str, int] = {}
    for inst in state.instances:
        counts[inst.service] = counts.get(inst.service, 0) + 1

    rows, raw = [], []
    for svc in state.services.values():
        if svc.type not in ("vm", "agent"):
            continue  # e.g. dockerlogger (`other`), as the original
        row: dict[str, Any] = {"type": svc.type, "uuid": svc.uuid or None, "name": svc.name,
               "image": svc.image_uuid if svc.type == "vm" else None}
        data = {**dict(svc.raw), "type": svc.type}
        if want_insts:
            row["insts"] = counts.get(svc.name, 0)
            data["insts"] = row["insts"]
        for key in ("application_uuid", "params", "metadata", "manifests", "master"):
            row[key] = svc.raw.get(key)
        rows.append(row)
        raw.append(data)
    emit_rows(app, rows, as_json=as_json, no_header=no_header, columns=columns, sort=sort,
              default_columns=DEFAULT_COLUMNS, default_sort=DEFAULT_SORT,
              valid_fields=VALID_FIELDS, json_rows=raw)
