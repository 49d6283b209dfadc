"""`sdcadm lock status|break`: who holds the datacenter, and freeing it from a dead holder.

Every mutating run (update, rollback, reboot-plan run, the platform commands) holds the
datacenter lease (`executor/lease.py`) while it runs, and this headnode's local lock.
"""
from __future__ import annotations

import json
from typing import Any

import click


@click.group("lock", short_help="Show or break the lock on the datacenter.",
             invoke_without_command=True)
@click.pass_context
def lock(ctx: click.Context) -> None:
    """Show who holds the datacenter (the lease every mutating run takes), or break the lock
    of a run whose process is gone."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@lock.command("status", short_help="Show who holds the datacenter lease.")
@click.option("-j", "--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_obj
def status(app: Any, as_json: bool) -> None:
    """The datacenter lease (holder, host, pid, command, run, started, heartbeat, expiry)
    and this headnode's local lock."""
    from sdcadm.executor.lease import describe, expired, read
    from sdcadm.executor.lock import read_holder

    lease = read(app.clients.sapi)
    local = read_holder(app.config.lock_path)
    if as_json:
        app.out(json.dumps({"lease": lease, "expired": bool(lease and expired(lease)),
                            "local": local or None}, indent=4))
        return
    if lease is None:
        app.out("The datacenter is free: no run holds its lease.")
    else:
        word = "held (expired)" if expired(lease) else "held"
        app.out(f"Datacenter lease {word} by {describe(lease)}; expires {lease.get('expiry')}")
    if local:
        app.out(f"Local lock {app.config.lock_path} held by pid {local.get('pid')} "
                f"({local.get('command')}, since {local.get('started')})")


@lock.command("break", short_help="Free the datacenter from a run whose process is gone.")
@click.option("--force", is_flag=True, help="Required: the holder must really be gone.")
@click.pass_obj
def break_(app: Any, force: bool) -> None:
    """Remove the datacenter lease whoever holds it. Only for a holder that is gone (its
    host rebooted, its process killed): a live run would go on without the datacenter to
    itself. Recorded in history."""
    from sdcadm.errors import UsageError
    from sdcadm.executor import history as hist
    from sdcadm.executor.lease import break_lease, describe, expired

    if not force:
        raise UsageError("breaking the lock needs --force: make sure its holder is gone")
    with hist.recorded(app, [{"type": "lock-break"}]) as entry:
        held = break_lease(app.clients.sapi)
        entry["changes"] = [{"type": "lock-break", "lease": held}]
        # Said before the log ends: its `Log:` line stays the last.
        if held is None:
            app.out("The datacenter was free: nothing to break.")
        else:
            stale = "expired" if expired(held) else "still renewed: its process may be alive"
            app.out(f"Broke the datacenter lease of {describe(held)} ({stale}).")
