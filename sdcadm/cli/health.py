"""`sdcadm check-health` (health): are the core instances up?"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import click

if TYPE_CHECKING:
    from sdcadm.health import HealthRow

COLUMNS = ("instance", "service", "hostname", "alias", "healthy")
SORT = ("-type", "service", "hostname", "instance")
TYPES = ("vm", "agent")


def parse_args(args: Sequence[str]) -> tuple[set[str] | None, list[str]]:
    """`type=vm|agent` filters and the other words (services, aliases, uuids).

    One type filters; both types are no filter at all. Any other `KEY=VALUE` is refused."""
    from sdcadm.errors import UsageError

    types: set[str] = set()
    words: list[str] = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq:
            words.append(arg)
            continue
        if key != "type":
            raise UsageError(f"invalid argument: {arg}")
        if value not in TYPES:
            raise UsageError(f"invalid instance type: {value}")
        types.add(value)
    return (types if types and types != set(TYPES) else None), words


def split_servers(values: Sequence[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def sorted_rows(rows: Sequence["HealthRow"]) -> list["HealthRow"]:
    from sdcadm.render.tables import sort_rows

    keyed = [dict(r.cells(), _row=r) for r in rows]
    return [k["_row"] for k in sort_rows(keyed, SORT)]


def render(rows: Sequence["HealthRow"], *, as_json: bool, quiet: bool,
           no_header: bool) -> str:
    """What the command prints on stdout for these (already sorted) rows."""
    from sdcadm.health import report
    from sdcadm.render.tables import format_json, format_table

    bad = [r for r in rows if not r.healthy]
    if as_json:
        return format_json([r.to_json() for r in (bad if quiet else rows)]) + "\n"
    parts: list[str] = []
    if not quiet:
        table = format_table([r.cells() for r in rows], COLUMNS, header=not no_header)
        if table:
            parts.append(table + "\n")
    for n, r in enumerate(bad):
        if not (n == 0 and quiet):
            parts.append("\n")
        parts.append(report(r) + "\n")
    return "".join(parts)


@click.command("check-health", short_help="Check that the instances used by SDC are healthy.")
@click.option("-j", "--json", "as_json", is_flag=True, help="JSON output")
@click.option("-q", "--quiet", is_flag=True, help="Only print health errors, if any")
@click.option("-s", "--servers", multiple=True, metavar="SERVER",
              help="The UUID or hostname of the CNs to limit the check to. One argument per "
                   "server is required: -s UUID1 -s UUID2 ...")
@click.option("-H", "no_header", is_flag=True, help="Omit table header row.")
@click.argument("args", nargs=-1, metavar="[<svc or inst>...]")
@click.pass_obj
def check_health(app: Any, as_json: bool, quiet: bool, servers: tuple[str, ...],
                 no_header: bool, args: tuple[str, ...]) -> None:
    """Check that services or instances are up.

    \b
    Instances to be checked can be filtered via <filter> by type:
        type=vm
        type=agent
    and service or instance name:
        imgapi
        cnapi cn-agent
    """
    from sdcadm import health
    from sdcadm.errors import ConfigError, SdcAdmError, UsageError
    from sdcadm.gather import gather

    types, words = parse_args(args)
    if servers and not split_servers(servers):
        raise UsageError("-s/--servers needs at least one server (uuid or hostname)")
    try:
        state = gather(app, app.config, updates=False)
    except ConfigError:
        raise
    except SdcAdmError as e:
        # As the original: the datacenter is not healthy enough to be checked; say so as
        # a row, in the same output shape.
        rows = [health.severe_row(e.message)]
    else:
        services = instances = None
        if words:
            services, instances, unknown = health.resolve_words(state, words)
            if unknown:
                raise UsageError("unrecognized service or instance: " + ", ".join(unknown))
        server_uuids = None
        if servers:
            server_uuids, missing = health.resolve_servers(state, split_servers(servers))
            if missing:
                raise UsageError("unknown servers " + ", ".join(f'"{s}"' for s in missing))
        targets = health.select_targets(state, services=services, instances=instances,
                                        types=types, servers=server_uuids)
        rows = health.check(app.clients, state, targets)
    rows = sorted_rows(rows)
    text = render(rows, as_json=as_json, quiet=quiet, no_header=no_header)
    if text:
        click.echo(text, nl=False)
    if any(not r.healthy for r in rows):
        if as_json or quiet:
            # The rows say it all: exit 1 without an error line (the original's showErr).
            raise click.exceptions.Exit(1)
        raise health.UnhealthyError("Some instances appear unhealthy")
