"""`sdcadm dc-maint start|stop|status`: the DC maintenance mode (cloudapi and docker
read-only, a message and an ETA for their users, Workflow drained)."""
from __future__ import annotations

from typing import Any

import click

DESCRIPTION = """Show and modify the DC maintenance mode.

"Maintenance mode" means that CloudAPI is read-only: modifying requests answer "503
Service Unavailable" with the maintenance message. Docker, when installed, behaves the
same. Entering maintenance waits for Workflow to drain its running and queued jobs.
"""


class EtaType(click.ParamType):
    """Epoch seconds or ISO 8601 (`YYYY-MM-DD[THH:MM:SS[.sss][Z]]`); stored as ISO."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        from datetime import datetime

        from sdcadm.dcmaint.rules import EtaError, parse_eta

        if isinstance(value, datetime):
            return value
        try:
            return parse_eta(str(value))
        except EtaError as e:
            # The original's option-parser wording (code Option, exit 1), not click's.
            raise click.BadOptionUsage("eta", str(e), ctx) from None


@click.group("dc-maint", short_help="Show and modify the DC maintenance mode.",
             help=DESCRIPTION, invoke_without_command=True)
@click.option("-j", "--json", "as_json", is_flag=True,
              help="Show status as JSON. Deprecated: use `sdcadm dc-maint status -j`.")
@click.option("--start", "start_flag", is_flag=True,
              help="Start maintenance mode. Deprecated: use `sdcadm dc-maint start`.")
@click.option("--stop", "stop_flag", is_flag=True,
              help="Stop maintenance mode. Deprecated: use `sdcadm dc-maint stop`.")
@click.pass_context
def dc_maint(ctx: click.Context, as_json: bool, start_flag: bool, stop_flag: bool) -> None:
    from sdcadm.errors import UsageError

    given = [f for f, on in (("--start", start_flag), ("--stop", stop_flag), ("-j", as_json))
             if on]
    if not given:
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())
        return
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} are mutually exclusive")
    flag = given[0]
    sub, args = {"--start": ("start", {}), "--stop": ("stop", {}),
                 "-j": ("status", {"as_json": True})}[flag]
    if ctx.invoked_subcommand is not None:
        raise UsageError(f"{flag} (the deprecated form of `sdcadm dc-maint {sub}`) cannot be "
                         "combined with a sub-command")
    ctx.obj.warn(f"Warning: `sdcadm dc-maint {flag}` is deprecated: use "
                 f"`sdcadm dc-maint {sub}{' -j' if flag == '-j' else ''}`")
    # The sub-command's own defaults apply (the original's deprecated --start had no
    # default message).
    ctx.invoke(SUBCOMMANDS[sub], **args)


@dc_maint.command("status", short_help="Show maintenance status.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Show status as JSON.")
@click.pass_obj
def status(app: Any, as_json: bool) -> None:
    """Show maintenance status."""
    from sdcadm.dcmaint import effects, rules

    st = effects.status(app)
    if as_json:
        app.out(rules.render_status_json(st))
    else:
        app.out("\n".join(rules.status_lines(st)))


@dc_maint.command("start", short_help="Start maintenance mode.")
@click.option("--docker-only", is_flag=True, help="Start maintenance mode only for Docker.")
@click.option("--cloudapi-only", is_flag=True,
              help="Start maintenance mode only for CloudAPI.")
@click.option("--message", metavar="TEXT", default="SmartDataCenter is being upgraded",
              show_default=True,
              help="Maintenance message to be used until the DC is restored to full "
                   "operation.")
@click.option("--eta", type=EtaType(), default=None,
              help="Expected time to get the DC restored to full operation (to be used in "
                   "Retry-After HTTP headers). Epoch seconds, e.g. 1396031701, or ISO 8601 "
                   'YYYY-MM-DD[THH:MM:SS[.sss][Z]], e.g. "2014-03-28T18:35:01.489Z".')
@click.pass_obj
def start(app: Any, docker_only: bool, cloudapi_only: bool, message: str,
          eta: Any) -> None:
    """Start maintenance mode.

    Puts cloudapi and docker in read-only mode, saves the message and ETA, refreshes
    config-agent in their zones and waits up to 5 minutes for Workflow jobs to drain.
    """
    from datetime import datetime, timezone

    from sdcadm.dcmaint import effects, rules

    rules.check_start_options(eta=eta, now=datetime.now(timezone.utc),
                              cloudapi_only=cloudapi_only, docker_only=docker_only)
    effects.start(app, message=message or None, eta=rules.iso(eta) if eta else None,
                  cloudapi_only=cloudapi_only, docker_only=docker_only)


@dc_maint.command("stop", short_help="Stop maintenance mode.")
@click.pass_obj
def stop(app: Any) -> None:
    """Stop maintenance mode.

    Takes cloudapi and docker out of read-only mode, clears the message and ETA and
    refreshes config-agent in their zones.
    """
    from sdcadm.dcmaint import effects

    effects.stop(app)


SUBCOMMANDS: dict[str, click.Command] = {"status": status, "start": start, "stop": stop}
