"""`sdcadm rollback -f PLAN.json --force` (or `--latest`): back to the pre-update images."""
from __future__ import annotations

from typing import Any

import click

FORCE_MESSAGE = ('Migrations and version dependencies not implemented. Use "--force" to '
                 'rollback (warning: you know what you are doing w.r.t. migrations).')


@click.command("rollback", short_help="Rollback SDC services and instances.")
@click.argument("run", required=False, metavar="[RUN]")
@click.option("-f", "--file", "plan_file", metavar="FILE",
              help="A plan.json of an earlier update (in its work dir under updates/).")
@click.option("--latest", is_flag=True,
              help="Roll back the most recent update, which must have finished "
                   "successfully.")
@click.option("--force", is_flag=True,
              help="Required: rollback does not undo data migrations.")
@click.option("-n", "--dry-run", "dry_run", is_flag=True,
              help="Show what would be done, change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Answer yes to the confirmation.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Agents updated at a time (agents rolled back across servers).")
@click.option("--download-via", "download_via", type=click.Choice(["imgapi", "sdcadm"]),
              default=None, help="Who downloads missing images (default: imgapi).")
@click.pass_obj
def rollback(app: Any, run: str | None, plan_file: str | None, latest: bool, force: bool,
             dry_run: bool, yes: bool, concurrency: int | None,
             download_via: str | None) -> None:
    """Rollback SDC services and instances.

    Puts every service changed by an earlier update back on the image it had before
    (as recorded in that update's plan.json). RUN names that update by its uuid, as
    `sdcadm history` lists it.
    """
    from pathlib import Path

    from sdcadm.errors import UsageError
    from sdcadm.executor.journal import finished_update_dirs, update_dirs
    from sdcadm.executor.rollback import load_plan_file, rollback_requests

    if run:
        from sdcadm.executor.journal import find_run

        if plan_file or latest:
            raise UsageError("RUN, -f and --latest are mutually exclusive")
        found = find_run(Path(app.config.var_dir), run)
        if found is None or found.parent.name != "updates":
            raise UsageError(f'no update run "{run}" here (sdcadm history lists them)')
        plan_file = str(found / "plan.json")
    if plan_file and latest:
        raise UsageError("-f and --latest are mutually exclusive")
    if not plan_file and not latest:
        raise UsageError("File including update plan to rollback must be specified")
    if not force:
        raise UsageError(FORCE_MESSAGE)
    if latest:
        runs = finished_update_dirs(Path(app.config.var_dir))
        newest = next(iter(update_dirs(Path(app.config.var_dir))), None)
        if newest is not None and (not runs or newest != runs[0]):
            # Rolling back an older update past a newer one that stopped half-way is never
            # what "the latest" means; let the operator say which one.
            raise UsageError(
                f"the latest update, in {newest}, has not finished (it is running, or it "
                f'stopped): finish it with "sdcadm update --resume", or roll it back with '
                f'"sdcadm rollback -f {newest / "plan.json"} --force"')
        if not runs:
            raise UsageError(f"no finished update to roll back under "
                             f"{Path(app.config.var_dir) / 'updates'}")
        plan_file = str(runs[0] / "plan.json")
        app.info(f"Rolling back the update in {runs[0]}")
    assert plan_file is not None
    doc = load_plan_file(plan_file)
    requests, refused = rollback_requests(doc)
    for line in refused:
        app.warn(f"Warning: {line}")
    if not requests:
        app.out("Nothing to rollback")
        return

    # Reading HA roles is a POST: only when this rollback may execute.
    may_execute = not dry_run and (yes or app.has_terminal())
    plan, steps = _plan(app, doc, requests, concurrency, read_roles=may_execute)
    if not plan.changes and not plan.downloads:
        app.out("Nothing to rollback")
        return
    from sdcadm.render.breakdown import render_breakdown

    if not app.go_ahead(render_breakdown(plan, "rollback"), dry_run=dry_run, yes=yes,
                        abort="Aborting rollback"):
        return
    from sdcadm.cli.update import drift_check
    from sdcadm.executor.run import execute

    execute(app, plan, steps, command="rollback",
            options={"yes": yes, "download_via": download_via or "imgapi",
                     "concurrency": concurrency, "rollback_of": str(plan_file)},
            verify=drift_check(app, plan))


def _plan(app: Any, doc: dict[str, Any], requests: list[Any], concurrency: int | None, *,
          read_roles: bool) -> Any:
    """Plan the rollback with the update planner: same procedures, older target images."""
    import dataclasses

    from sdcadm.gather import gather
    from sdcadm.planner import PlanOptions
    from sdcadm.planner import plan as make_plan
    from sdcadm.procedures import expand

    channel = doc.get("channel")
    state = gather(app, app.config, channel=channel, server_detail="admin")
    if state.channel:
        app.info(f"Using channel {state.channel}")
    options = PlanOptions(allow_downgrade=True, force_bypass_min_image=True,
                          force_rabbitmq=True, force_data_path=True, force_same_image=False,
                          concurrency=concurrency, channel=channel)
    ha = sorted({r.service for r in requests if r.service in ("manatee", "binder")})
    topology = app.read_roles(state, ha) if read_roles and ha else None
    plan = make_plan(state, requests, options, app.config, topology=topology)
    changed = _changed_instances(doc)
    changes = []
    for c in plan.changes:
        moved = changed.get(c.service.name) if c.service else None
        if moved is not None and c.type in ("update-service", "update-agent"):
            # Only what the update moved goes back: an instance that was already on the
            # update's target image before it ran is left where it was.
            c = dataclasses.replace(
                c, instances=tuple(i for i in c.instances if i.instance in moved),
                already=(*c.already, *(i for i in c.instances if i.instance not in moved)))
            if not c.instances:
                # Everything the update moved is back already (a second rollback of the
                # same update): nothing to put back, so no block, prompt or steps for it.
                continue
        if c.type in ("update-service", "update-agent"):
            # History then says what happened: rollback-agent(cn-agent), not update-agent.
            c = dataclasses.replace(c, type=c.type.replace("update-", "rollback-"))
        changes.append(c)
    plan = dataclasses.replace(plan, changes=tuple(changes))
    return plan, expand(plan)


def _changed_instances(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Service name -> the instances the saved update changed (services listing them)."""
    out: dict[str, set[str]] = {}
    for change in doc.get("changes") or []:
        name = (change.get("service") or {}).get("name")
        insts = change.get("insts")
        if name and isinstance(insts, list) and insts:
            out.setdefault(name, set()).update(
                i["instance"] for i in insts if isinstance(i, dict) and i.get("instance"))
    return out
