"""`sdcadm reboot-plan create|run|status|pause|resume|cancel|list`: rolling server reboots
that keep every quorum, run in a window, pausable and resumable from any terminal.

create: pick the servers, place them (`planner/reboots.py`), show and save the plan.
run: derive the steps again from the datacenter as it is now, confirm, execute (continuing
where an earlier run stopped). status/list read the plan's directory; pause, resume and
cancel write its control file, which the running plan reads before each new server.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sdcadm.executor.reboots import RebootPlan
    from sdcadm.model import DatacenterState

STATUS_COLUMNS = ("hostname", "uuid", "state", "started", "finished", "note")
LIST_COLUMNS = ("uuid", "created", "state", "servers", "progress")


@click.group("reboot-plan", short_help="Reboot servers in a rolling, quorum-safe order.",
             invoke_without_command=True)
@click.pass_context
def reboot_plan(ctx: click.Context) -> None:
    """Reboot servers in a rolling order that keeps every quorum: at most
    --max-unavailable servers down at once, never two members of one manatee shard,
    binder ensemble or moray shard, the manatee async first and its primary last, binder
    followers before the leader, the headnode last; each server must pass a health gate
    before the next one takes its slot. Plans persist: pause, resume, cancel and status work
    from any terminal, and `run` continues a plan that stopped."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


# -- create -------------------------------------------------------------------------------------

@reboot_plan.command("create", short_help="Make a reboot plan for some servers.")
@click.argument("servers", nargs=-1, metavar="[SERVER ...]")
@click.option("-a", "--all", "all_", is_flag=True, help="Every setup server.")
@click.option("--selector", "selectors", multiple=True, metavar="FIELD=VALUE",
              help="Keep servers whose field matches (traits.NAME, hostname, "
                   "current_platform, ...; globs allowed; `!=` negates). Repeatable: all "
                   "must match.")
@click.option("--hostname", "hostnames", multiple=True, metavar="GLOB",
              help="Keep servers whose hostname matches (repeatable: any may match).")
@click.option("--platform", "platforms", multiple=True, metavar="PLATFORM",
              help="Keep servers running this platform (repeatable).")
@click.option("--max-unavailable", "max_unavailable", metavar="N|N%", default=None,
              help="Servers down at once (a number, or a percentage of the plan's servers); "
                   "default 1.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
def create(app: Any, servers: tuple[str, ...], all_: bool, selectors: tuple[str, ...],
           hostnames: tuple[str, ...], platforms: tuple[str, ...], max_unavailable: str | None,
           as_json: bool) -> None:
    """Make a reboot plan: which servers, in what order and why, how many at once.

    \b
    sdcadm reboot-plan create --all --max-unavailable 2
    sdcadm reboot-plan create --hostname 'cn1*' --selector traits.ssd=true
    sdcadm reboot-plan create --platform 20240411T001730Z --max-unavailable 10%
    sdcadm reboot-plan create cn01 cn02
    """
    from sdcadm.errors import UsageError
    from sdcadm.executor import reboots
    from sdcadm.executor.history import current_username
    from sdcadm.executor.journal import iso_now
    from sdcadm.planner.reboots import parse_max_unavailable, reboot_plan, select_servers
    from sdcadm.render.breakdown import render_breakdown

    busy = [p for p in reboots.all_plans(app.config.var_dir)
            if p.state() not in reboots.FINISHED]
    if busy:
        raise UsageError(f"reboot plan {busy[0].uuid} is not finished ({busy[0].state()}): run "
                         "it, or cancel it, before making another")
    state = _state(app)
    chosen = select_servers(state, servers, all_=all_, selectors=selectors,
                            hostnames=hostnames, platforms=platforms)
    window = parse_max_unavailable(max_unavailable, len(chosen))
    topology = _roles(app, state, locked=False)
    created = iso_now()
    plan = reboot_plan(state, chosen, topology, window, plan_uuid="", since=created,
                       verify=False)  # `run` decides; the order is what create shows
    change = plan.changes[0]
    doc = {"created": created, "by": current_username(), "servers": list(change.servers),
           "max_unavailable": max_unavailable or "1", "window": change.max_unavailable,
           "order": [dict(r) for r in change.reboots], "notes": list(change.notes),
           "selection": {"servers": list(servers), "all": all_, "selectors": list(selectors),
                         "hostnames": list(hostnames), "platforms": list(platforms)}}
    rp = reboots.create(app.config.var_dir, doc)
    if as_json:
        app.out(json.dumps(rp.doc, indent=4))
    else:
        click.echo(render_breakdown(plan, "reboot plan"), nl=False)
    app.info(f"Created reboot plan {rp.uuid}")
    app.info(f"Run it with: sdcadm reboot-plan run {rp.uuid}")


# -- run ----------------------------------------------------------------------------------------

@reboot_plan.command("run", short_help="Run (or continue) a reboot plan.")
@click.argument("plan", required=False, metavar="[PLAN]")
@click.option("-y", "--yes", is_flag=True, help="Answer yes to the confirmation.")
@click.option("-n", "--dry-run", "dry_run", is_flag=True,
              help="Show what the run would do, change nothing.")
@click.option("--verify/--no-verify", "verify", default=True,
              help="End by checking the rebooted servers' instances and the APIs (default).")
@click.pass_obj
def run(app: Any, plan: str | None, yes: bool, dry_run: bool, verify: bool) -> None:
    """Run the newest unfinished reboot plan (or PLAN), continuing where it stopped.

    The order is derived again from the datacenter as it is now (roles may have moved since
    the plan was made); servers an earlier run rebooted are not rebooted again. After the
    headnode reboots itself, run this again once it is back: it checks the headnode and
    finishes the plan.
    """
    from sdcadm.errors import UsageError
    from sdcadm.executor import reboots
    from sdcadm.planner.reboots import reboot_plan
    from sdcadm.procedures.reboot import plan_steps
    from sdcadm.render.breakdown import render_breakdown

    rp = reboots.find(app.config.var_dir, plan, what="run")
    status = rp.state()
    if status == "done":
        app.out(f"Nothing to do: reboot plan {rp.uuid} is done.")
        return
    if status == "cancelled":
        raise UsageError(f"reboot plan {rp.uuid} was cancelled: create a new one")
    reboots.refuse_if_running(rp)
    if not dry_run:
        # Before reading and asking: the run would be refused under the lock anyway.
        from sdcadm.executor.openruns import refuse_if_open

        refuse_if_open(app, rp.uuid)
    if status == "paused":
        why = rp.control().get("reason") or "paused"
        raise UsageError(f"reboot plan {rp.uuid} is paused ({why}): resume it first with "
                         f'"sdcadm reboot-plan resume {rp.uuid}"')
    doc = rp.doc
    state = _state(app)
    missing = [u for u in doc["servers"] if u not in state.servers]
    if missing:
        raise UsageError(f"reboot plan {rp.uuid} names servers CNAPI no longer has: "
                         + ", ".join(missing))
    servers = [state.servers[u] for u in doc["servers"]]
    app.clients.remote.learn(state.servers.values())  # addresses for the health gates
    may_execute = not dry_run and (yes or app.has_terminal())
    topology = _roles(app, state, locked=may_execute, run_uuid=rp.uuid)
    the_plan = reboot_plan(state, servers, topology, doc.get("window") or 1,
                           plan_uuid=rp.uuid, since=doc.get("created"), verify=verify)
    steps = plan_steps(the_plan)
    done = [r["hostname"] for r in reboots.server_states(rp) if r["state"] == "rebooted"]
    text = render_breakdown(the_plan, "reboot plan")
    if done:
        text += (f"{len(done)} of {len(servers)} servers already rebooted by an earlier run: "
                 + ", ".join(done) + "\n\n")
    if not app.go_ahead(text, dry_run=dry_run, yes=yes, abort="Aborting reboot plan"):
        return
    reboots.run(app, rp, the_plan, steps)


# -- status and list ----------------------------------------------------------------------

@reboot_plan.command("status", short_help="Show how far a reboot plan got.")
@click.argument("plan", required=False, metavar="[PLAN]")
@click.option("-j", "--json", "as_json", is_flag=True, help="JSON output.")
@click.option("-H", "no_header", is_flag=True, help="Omit table header row.")
@click.option("-o", "columns", multiple=True, metavar="FIELD,...",
              help=f"Columns (default {','.join(STATUS_COLUMNS)}).")
@click.pass_obj
def status(app: Any, plan: str | None, as_json: bool, no_header: bool,
           columns: tuple[str, ...]) -> None:
    """`5/10 rebooted; 2 rebooting, 1 failed, 2 pending` and one row per server."""
    from sdcadm.executor import reboots
    from sdcadm.render.tables import table_output

    rp = _any_plan(app, plan)
    rows = reboots.server_states(rp)
    line = reboots.counts_line(rows)
    control = rp.control()
    if as_json:
        app.out(json.dumps({"uuid": rp.uuid, "state": rp.state(), "summary": line,
                            "created": rp.doc.get("created"), "by": rp.doc.get("by"),
                            "max_unavailable": rp.doc.get("window"),
                            "control": control or None, "runner": rp.runner(),
                            "servers": rows}, indent=4))
        return
    app.out(f"Reboot plan {rp.uuid} ({rp.state()}): {line}")
    if control.get("state") in ("pause", "cancel"):
        verb = "Paused" if control["state"] == "pause" else "Cancelled"
        who = f" by {control['by']}" if control.get("by") else ""
        app.out(f"{verb}{who} at {control.get('at', '?')}: {control.get('reason') or '-'}")
    for r in rows:
        r["note"] = r["error"] or r["why"]
    app.out(table_output(rows, columns=columns or None, default_columns=STATUS_COLUMNS,
                         sort=None, default_sort=(), valid_fields=None, header=not no_header))


@reboot_plan.command("list", short_help="List reboot plans.")
@click.option("-j", "--json", "as_json", is_flag=True, help="JSON output.")
@click.option("-H", "no_header", is_flag=True, help="Omit table header row.")
@click.pass_obj
def list_(app: Any, as_json: bool, no_header: bool) -> None:
    """Every reboot plan, newest first, with its state and progress."""
    from sdcadm.executor import reboots
    from sdcadm.render.tables import table_output

    rows = []
    for rp in reboots.all_plans(app.config.var_dir):
        states = reboots.server_states(rp)
        rows.append({"uuid": rp.uuid, "created": rp.doc.get("created"), "state": rp.state(),
                     "servers": len(states), "progress": reboots.counts_line(states)})
    if as_json:
        app.out(json.dumps(rows, indent=4))
        return
    if rows:
        app.out(table_output(rows, columns=None, default_columns=LIST_COLUMNS, sort=None,
                             default_sort=(), valid_fields=None, header=not no_header))


# -- control -----------------------------------------------------------------------------------

@reboot_plan.command("pause", short_help="Start no new server until resumed.")
@click.argument("plan", required=False, metavar="[PLAN]")
@click.option("--reason", default=None, help="Why (shown by status).")
@click.pass_obj
def pause(app: Any, plan: str | None, reason: str | None) -> None:
    """Pause a reboot plan: no new server starts; those rebooting finish."""
    from sdcadm.errors import UsageError
    from sdcadm.executor import reboots
    from sdcadm.executor.history import current_username

    rp = reboots.find(app.config.var_dir, plan, what="pause")
    if rp.control().get("state") == "pause":
        raise UsageError(f"reboot plan {rp.uuid} is already paused")
    rp.set_control("pause", by=current_username(), reason=reason or "paused")
    busy = [r["hostname"] for r in reboots.server_states(rp) if r["state"] == "rebooting"]
    app.out(f"Reboot plan {rp.uuid} paused: no new server will start"
            + (f"; rebooting now: {', '.join(busy)}" if busy else "") + ".")


@reboot_plan.command("resume", short_help="Let a paused reboot plan go on.")
@click.argument("plan", required=False, metavar="[PLAN]")
@click.pass_obj
def resume(app: Any, plan: str | None) -> None:
    """Resume a paused reboot plan (a running one goes on; else run it again)."""
    from sdcadm.errors import UsageError
    from sdcadm.executor import reboots
    from sdcadm.executor.history import current_username

    rp = reboots.find(app.config.var_dir, plan, what="resume")
    if rp.control().get("state") != "pause":
        raise UsageError(f"reboot plan {rp.uuid} is not paused ({rp.state()})")
    rp.set_control(None, by=current_username(), reason="resumed")
    if rp.runner():
        app.out(f"Reboot plan {rp.uuid} resumed.")
    else:
        app.out(f"Reboot plan {rp.uuid} resumed: continue it with "
                f'"sdcadm reboot-plan run {rp.uuid}".')


@reboot_plan.command("cancel", short_help="Stop a reboot plan for good.")
@click.argument("plan", required=False, metavar="[PLAN]")
@click.pass_obj
def cancel(app: Any, plan: str | None) -> None:
    """Cancel a reboot plan: nothing new starts, servers rebooting now finish."""
    from sdcadm.executor import reboots
    from sdcadm.executor.history import current_username

    rp = reboots.find(app.config.var_dir, plan, what="cancel")
    rp.set_control("cancel", by=current_username(), reason="cancelled")
    rows = reboots.server_states(rp)
    left = sum(1 for r in rows if r["state"] in ("pending", "blocked"))
    app.out(f"Reboot plan {rp.uuid} cancelled: {left} of {len(rows)} servers will not be "
            "rebooted" + (" (the ones rebooting now finish first)." if rp.runner() else "."))


# -- pieces ---------------------------------------------------------------------------------------

def _state(app: Any) -> "DatacenterState":
    from sdcadm.gather import gather

    return gather(app, app.config, updates=False)


def _roles(app: Any, state: "DatacenterState", *, locked: bool,
           run_uuid: str | None = None) -> dict[str, dict[str, str]]:
    """HA roles of the replicated services (read over SSH); under the run lock when the
    answer decides a run (another run may be moving them), taken for `run_uuid`'s run."""
    from sdcadm.planner.topology import read_topology

    ha = [s for s in ("manatee", "binder") if len(state.instances_of(s)) > 1]
    if not ha:
        return {}
    if locked:
        return dict(app.read_roles(state, ha, run_uuid=run_uuid, command="reboot-plan run"))
    return read_topology(app.clients, state, ha, warn=app.warn)


def _any_plan(app: Any, ident: str | None) -> "RebootPlan":
    """The named plan, else the newest unfinished one, else the newest."""
    from sdcadm.errors import UsageError
    from sdcadm.executor import reboots

    if ident:
        return reboots.find(app.config.var_dir, ident, what="show")
    plans = reboots.all_plans(app.config.var_dir)
    if not plans:
        raise UsageError("no reboot plan: create one with sdcadm reboot-plan create")
    return next((p for p in plans if p.state() not in reboots.FINISHED), plans[0])
