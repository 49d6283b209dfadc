"""`sdcadm update` (up): plan, show the breakdown, confirm, hand the steps to the executor.

parse -> gather -> plan (pure) -> expand (pure) -> render -> confirm -> execute.
`-n`, `-j` and `--plan-out` return before anything could mutate the datacenter (they do
not even read HA roles, since CommandExecute is a POST), and never take the lock.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sdcadm.model import DatacenterState
    from sdcadm.plan import ChangeRequest, Plan, Step
    from sdcadm.planner import PlanOptions

ALL_REQUIRED = "If updating all instances, --all is a required option."


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p for v in values for p in v.split(",") if p)


@click.command("update", short_help="Update SDC services and instances.")
@click.argument("targets", nargs=-1, metavar="[SVC|INST[@IMAGE|@VERSION] ...]")
@click.option("-n", "--dry-run", "dry_run", is_flag=True,
              help="Show the changes that would be made, change nothing.")
@click.option("-a", "--all", "all_", is_flag=True, help="Update all services.")
@click.option("-x", "--exclude", multiple=True, metavar="SVC",
              help="Services to leave out with --all (repeatable, or comma-separated; "
                   "`agents` is every agent service).")
@click.option("--no-agents", "no_agents", is_flag=True,
              help="Leave every agent service out of --all (same as -x agents).")
@click.option("-y", "--yes", is_flag=True, help="Answer yes to the confirmation.")
@click.option("-I", "--just-images", "just_images", is_flag=True,
              help="Just import the images the update would need.")
@click.option("-C", "--channel", metavar="CHANNEL", help="Use this update channel.")
@click.option("-f", "--file", "spec_file", metavar="FILE",
              help="A spec (JSON or YAML; - reads standard input): a list of changes, or "
                   "a document with channel, options and changes.")
@click.option("--force-same-image", is_flag=True,
              help="Reprovision instances even when already on the target image.")
@click.option("--force-rabbitmq", is_flag=True, help="Allow updating rabbitmq.")
@click.option("--force-data-path", is_flag=True, help="Allow updating portolan.")
@click.option("--force-bypass-min-image", is_flag=True,
              help="Skip the minimum current image checks.")
@click.option("--allow-downgrade", is_flag=True,
              help="Allow an explicitly named image older than the one in use.")
@click.option("-s", "--servers", multiple=True, metavar="SERVERS",
              help="Restrict agent updates to these servers (uuids or hostnames).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Agents updated at a time (default from configuration, 5).")
@click.option("--service-concurrency", "service_concurrency", type=click.IntRange(1, 64),
              default=None, help="Services updated at a time (default 4); the update "
              "machinery (sapi, imgapi, vmapi, cnapi, workflow, ...) always goes one at a "
              "time and alone. 1 runs every change one after another, in the original's "
              "order.")
@click.option("--ufds-backup-timeout", type=int, default=600, hidden=True,
              help="Accepted for compatibility; unused.")
@click.option("-j", "--json", "json_out", is_flag=True,
              help="Print the plan and its steps as JSON; execute nothing.")
@click.option("--plan-out", "plan_out", metavar="FILE",
              help="Save the plan and its steps to FILE; execute nothing.")
@click.option("--plan", "plan_in", metavar="FILE",
              help="Execute a plan saved with --plan-out, if the datacenter has not changed.")
@click.option("--resume", "resume", is_flag=False, flag_value="", default=None, metavar="[RUN]",
              help="Resume an unfinished update or rollback: RUN (its uuid, as history shows "
                   "it), else the newest unfinished one.")
@click.option("--abandon", "abandon", metavar="RUN",
              help="Give up an unfinished run for good (recorded in history).")
@click.option("--verify/--no-verify", "verify", default=None,
              help="End the update by checking the updated services (check-health) and an "
                   "API smoke test (the default). Alone, `--verify` checks the whole "
                   "datacenter and changes nothing.")
@click.option("--download-via", "download_via", type=click.Choice(["imgapi", "sdcadm"]),
              default=None, help="Who downloads images: the local IMGAPI (import job, the "
              "default) or sdcadm itself (streamed into IMGAPI, sha1 checked on the fly).")
@click.pass_obj
def update(app: Any, targets: tuple[str, ...], dry_run: bool, all_: bool,
           exclude: tuple[str, ...], no_agents: bool, yes: bool, just_images: bool,
           channel: str | None,
           spec_file: str | None, force_same_image: bool, force_rabbitmq: bool,
           force_data_path: bool, force_bypass_min_image: bool, allow_downgrade: bool,
           servers: tuple[str, ...], concurrency: int | None,
           service_concurrency: int | None, ufds_backup_timeout: int,
           json_out: bool, plan_out: str | None, plan_in: str | None, resume: str | None,
           abandon: str | None, verify: bool | None, download_via: str | None) -> None:
    """Update SDC services and instances.

    \b
    sdcadm update SVC[@IMAGE|@VERSION] ...    a service (latest candidate image)
    sdcadm update INST[@IMAGE|@VERSION] ...   one instance (uuid or alias)
    sdcadm update SERVER/AGENT                one agent on one server
    sdcadm update --all [-x SVC ...]          every service, agents included
    sdcadm update -f SPEC.yaml                a spec file (JSON or YAML)
    echo '[{"service": "papi"}]' | sdcadm update
    """
    from sdcadm.errors import UsageError
    from sdcadm.planner import PlanOptions

    if abandon:
        if targets or all_ or spec_file or plan_in or resume is not None or dry_run:
            raise UsageError("--abandon RUN takes nothing else")
        from sdcadm.executor.openruns import abandon as abandon_run

        abandon_run(app, abandon)
        return
    if verify and not (targets or all_ or spec_file or plan_in or resume is not None):
        _verify_only(app)
        return
    run_options = {"yes": yes, "concurrency": concurrency, "just_images": just_images,
                   "download_via": download_via}
    if resume is not None or plan_in:
        # A saved plan (or the run being resumed) was planned with its own options; one
        # given now would be ignored, and `--plan p.json -I` would run the whole update.
        given = [name for name, value in (
            ("-C", channel), ("-x", exclude), ("--no-agents", no_agents), ("-s", servers),
            ("-I", just_images),
            ("--allow-downgrade", allow_downgrade), ("--force-same-image", force_same_image),
            ("--force-rabbitmq", force_rabbitmq), ("--force-data-path", force_data_path),
            ("--force-bypass-min-image", force_bypass_min_image),
            ("--service-concurrency", service_concurrency)) if value]
        if given:
            what = "--resume" if resume is not None else "--plan FILE"
            raise UsageError(f"{what} runs the plan as it was made: {', '.join(given)} cannot "
                             "be given with it (plan again with them instead)")
    if resume is not None:
        if targets or all_ or spec_file or plan_in:
            raise UsageError("--resume takes no changes: it continues an unfinished run")
        if json_out or plan_out:
            raise UsageError("--resume cannot be combined with -j or --plan-out")
        from sdcadm.executor.run import resume as resume_run
        from sdcadm.executor.run import resume_preview

        if dry_run:
            resume_preview(app, resume or None)
        else:
            resume_run(app, run_options, run=resume or None)
        return
    if plan_in:
        if targets or all_ or spec_file or plan_out:
            raise UsageError("--plan FILE cannot be combined with changes, --all, -f or --plan-out")
        _run_saved(app, plan_in, dry_run=dry_run, yes=yes, json_out=json_out,
                   run_options=run_options, verify=verify)
        return
    if spec_file and targets:
        raise UsageError("-f FILE cannot be combined with SVC/INSTANCE arguments")
    if all_ and targets:
        raise UsageError("--all cannot be combined with SVC/INSTANCE arguments (-x leaves "
                         "services out of --all)")
    if no_agents:
        exclude = (*exclude, "agents")

    if servers and not _split(servers):
        # `-s "$LIST"` with an empty list must not widen to every server.
        raise UsageError("-s/--servers needs at least one server (uuid or hostname)")
    spec = None
    if spec_file:
        spec = _read_spec_file(spec_file)
    elif not targets and not all_:
        if sys.stdin.isatty():
            raise UsageError(ALL_REQUIRED)
        text = sys.stdin.read()
        if not text.strip():
            raise UsageError(ALL_REQUIRED)
        from sdcadm.planner import parse_spec

        spec = parse_spec(text)

    options = PlanOptions(
        all=all_, exclude=_split(exclude), just_images=just_images,
        force_same_image=force_same_image, force_rabbitmq=force_rabbitmq,
        force_data_path=force_data_path, force_bypass_min_image=force_bypass_min_image,
        allow_downgrade=allow_downgrade, servers=_split(servers), concurrency=concurrency,
        channel=channel, service_concurrency=service_concurrency,
    )
    if spec is not None:
        options = options.merged({**spec.options, "channel": spec.channel})
        run_options.update(concurrency=options.concurrency, just_images=options.just_images)
    if options.service_concurrency is None:
        import dataclasses

        from sdcadm.planner.rules import SERVICE_CONCURRENCY

        options = dataclasses.replace(options, service_concurrency=SERVICE_CONCURRENCY)

    if options.exclude and not options.all:
        # Before any request or progress line: a usage error needs no datacenter.
        raise UsageError("-x/--exclude is only valid with --all")
    if not (dry_run or json_out or plan_out):
        # Before planning and asking: the run would be refused under the lock anyway.
        from sdcadm.executor.openruns import refuse_if_open

        refuse_if_open(app)
    from sdcadm.gather import gather

    state = gather(app, app.config, channel=options.channel, server_detail="admin",
                   meanwhile=_load_planning)
    requests = _requests(state, targets, spec)
    _announce(app, state, requests, options)
    # Reading HA roles is a CommandExecute POST: only when this run may execute (without
    # -y and without a terminal the confirmation will refuse, so it may not).
    may_execute = not (dry_run or json_out or plan_out) and (yes or app.has_terminal())
    plan, steps = _plan(app, state, requests, options, read_roles=may_execute,
                        verify=verify is not False)
    if state.channel:
        app.info(f"Using channel {state.channel}")

    if plan_out or json_out:
        doc = _plan_doc(plan, steps)
        if plan_out:
            _save(app, plan, doc, plan_out, show=not json_out)
        if json_out:
            _print_plan_json(doc)
        return
    _confirm_and_execute(app, plan, steps, dry_run=dry_run, yes=yes, run_options=run_options)


# -- pieces -------------------------------------------------------------------------------

def _read_spec_file(path: str) -> Any:
    from sdcadm.errors import UsageError
    from sdcadm.planner import parse_spec

    if path == "-":  # `-f -`: the spec on stdin
        try:
            text = sys.stdin.read()
        except UnicodeDecodeError as e:
            raise UsageError("stdin is not valid JSON or YAML (not UTF-8 text)") from e
        if not text.strip():
            raise UsageError("-f -: nothing on stdin: give a spec (JSON or YAML)")
        return parse_spec(text)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f'cannot read spec file "{path}": {e.strerror or e}') from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not valid JSON or YAML (not UTF-8 text)") from e
    return parse_spec(text, origin=path)


def _requests(state: "DatacenterState", targets: tuple[str, ...],
              spec: Any) -> list["ChangeRequest"]:
    from sdcadm.planner import requests_from_args

    names = list(state.services) + [i.service for i in state.instances if i.type == "agent"]
    reqs = requests_from_args(targets, dict.fromkeys(names))
    if spec is not None:
        reqs.extend(spec.changes)
    return reqs


def _wrap(text: str, width: int = 80) -> list[str]:
    """Break at the first space after each `width` characters (the original's wrapping)."""
    lines = []
    while len(text) > width:
        cut = text.find(" ", width)
        if cut < 0:
            break
        lines.append(text[:cut])
        text = text[cut + 1:]
    return lines + [text]


def _announce(app: Any, state: "DatacenterState", requests: list["ChangeRequest"],
              options: "PlanOptions") -> None:
    from sdcadm.planner import all_services

    if options.all:
        named = {r.service for r in requests if r.service}
        names = [n for n in all_services(state, options) if n not in named]
        for line in _wrap(f"Finding candidate update images for {len(names)} services "
                          f"({', '.join(names)})."):
            app.info(line)
    for r in requests:
        if r.service and r.type == "update-service" and not r.image and not r.version:
            app.info(f'Finding candidate update images for the "{r.service}" service.')


def _load_planning() -> None:
    """The modules that plan, expand and print an update, loaded while the datacenter's
    answers are on their way (on a thousand servers the wait is longer than the loading)."""
    import sdcadm.planner.core  # noqa: F401
    import sdcadm.procedures  # noqa: F401
    import sdcadm.render.breakdown  # noqa: F401
    import sdcadm.render.jsontext  # noqa: F401


def _plan(app: Any, state: "DatacenterState", requests: list["ChangeRequest"],
          options: "PlanOptions", *, read_roles: bool,
          verify: bool = True) -> tuple["Plan", list["Step"]]:
    from sdcadm.planner import plan as make_plan
    from sdcadm.procedures import expand

    plan = make_plan(state, requests, options, app.config, topology=None)
    ha = _ha_services(plan, state)
    if read_roles and ha:
        # Only now that HA instances will roll: ask them who leads, and plan again with the
        # roles (never while another sdcadm holds the run lock: that one may be moving the
        # very roles we read).
        topology = app.read_roles(state, ha)
        plan = make_plan(state, requests, options, app.config, topology=topology)
    plan = _verified(plan, verify)
    return _warned(app, plan), expand(plan)


def _verified(plan: "Plan", verify: bool) -> "Plan":
    """The plan ends with the verify step, or (`--no-verify`) without it."""
    import dataclasses

    return dataclasses.replace(plan, options={**plan.options, "verify": verify})


def _verify_only(app: Any) -> None:
    """`update --verify` alone: the whole datacenter's health and the API smoke test."""
    from sdcadm.errors import UnhealthyDatacenter
    from sdcadm.health.verify import verify

    result = verify(app.clients, app.config, services=None)
    for line in result.lines():
        app.out(line)
    if not result.ok:
        raise UnhealthyDatacenter(result.problem())


def _ha_services(plan: "Plan", state: "DatacenterState") -> list[str]:
    """The HA services whose roles this plan's order depends on: manatee and binder when
    they roll, and both whenever servers reboot (the reboot order follows the roles)."""
    ha = [c.service.name for c in plan.changes if c.service is not None
          and c.procedure in ("manatee", "binder") and len(c.instances) > 1]
    if any(c.reboots for c in plan.changes):
        ha += [s for s in ("manatee", "binder") if len(state.instances_of(s)) > 1]
    return list(dict.fromkeys(ha))


def _warned(app: Any, plan: "Plan") -> "Plan":
    for w in (plan.options or {}).get("warnings") or []:
        app.warn(w)
    return plan


def _plan_doc(plan: "Plan", steps: list["Step"]) -> dict[str, Any]:
    """The plan and its steps as `-j` prints them and `--plan-out` saves them."""
    return {**plan.to_json(), "steps": [s.to_json() for s in steps]}


def _print_plan_json(doc: dict[str, Any]) -> None:
    """The plan document on stdout, written as it is encoded (a thousand-server plan is
    14 MB of JSON: never held whole)."""
    from sdcadm.render.jsontext import write_indented

    write_indented(doc, sys.stdout)
    sys.stdout.flush()


def _save(app: Any, plan: "Plan", doc: dict[str, Any], path: str, *,
          show: bool = True) -> None:
    from sdcadm.errors import UsageError
    from sdcadm.plan import digest
    from sdcadm.private_files import open_private
    from sdcadm.render.breakdown import render_breakdown
    from sdcadm.render.jsontext import write_indented

    if show and not plan.empty:
        click.echo(render_breakdown(plan), nl=False)
    saved = {**doc, "digest": digest(doc)}
    try:
        # Not redacted (it is what `--plan` executes), so only its owner may read it.
        with open_private(path, "w", encoding="utf-8") as f:
            write_indented(saved, f)
    except OSError as e:
        raise UsageError(f'cannot write plan file "{path}": {e.strerror or e}') from e
    if plan.empty:
        app.info(f"Plan saved to {path} (nothing to do: up-to-date)")
    else:
        app.info(f"Plan saved to {path}; run it with: sdcadm update --plan {path}")


def _confirm_and_execute(app: Any, plan: "Plan", steps: list["Step"], *, dry_run: bool,
                         yes: bool, run_options: dict[str, Any]) -> None:
    from sdcadm.render.breakdown import render_breakdown

    if plan.empty:
        app.out("Up-to-date (all images are imported)." if plan.just_images else "Up-to-date.")
        return
    if not app.go_ahead(render_breakdown(plan), dry_run=dry_run, yes=yes,
                        abort="Aborting update"):
        return
    from sdcadm.executor.run import execute

    execute(app, plan, steps, command="update", options=run_options,
            verify=drift_check(app, plan))


def drift_check(app: Any, plan: "Plan") -> Any:
    """The re-check `execute` runs under the lock: another run may have changed the
    datacenter while this one sat at the prompt or waited for the lock, and a plan made from
    an older state is never executed. None for a plan without a fingerprint."""
    if not plan.fingerprint:
        return None

    def verify() -> None:
        from sdcadm.gather import gather

        state = gather(app, app.config, channel=plan.channel, server_detail="admin")
        _check_drift(app, plan, state, "this plan", since="it was planned")

    return verify


def _check_drift(app: Any, plan: "Plan", state: "DatacenterState", what: str, *,
                 since: str, resumable: Any = None) -> None:
    """Raise PlanDriftError, after one line per changed fact, unless `state` is the state
    the plan was computed from."""
    from sdcadm.errors import PlanDriftError
    from sdcadm.planner.drift import drift_lines

    if state.fingerprint() == plan.fingerprint:
        return
    aliases = {i.instance: i.alias for i in state.instances if i.alias}
    hostnames = {s.uuid: s.hostname for s in state.servers.values()}
    lines = drift_lines(plan.fingerprint_facts, state.fingerprint_facts(), aliases, hostnames)
    app.info(f"The datacenter changed since {since}:")
    for line in lines[:50]:
        app.info(f"    {line}")
    if len(lines) > 50:
        app.info(f"    ... and {len(lines) - 50} more")
    # After a failed or interrupted run of this plan the drift is that run's own work:
    # continuing it is the way on, not planning again.
    way_on = (f'it was started in {resumable} and stopped: continue it with "sdcadm update '
              f'--resume", or make a new plan') if resumable else "make a new plan"
    raise PlanDriftError(f"{what} no longer matches the datacenter "
                         f"({len(lines)} changed fact{'s' if len(lines) != 1 else ''}): "
                         f"{way_on}")


def _planned_again(app: Any, plan: "Plan", state: "DatacenterState", path: str) -> "Plan":
    """The saved plan's request planned again against `state` (the state it was made from:
    its fingerprint matched), with its options; PlanTamperedError naming the first change
    that differs when the file's changes are not those."""
    from sdcadm.errors import PlanTamperedError, SdcAdmError
    from sdcadm.plan import first_change_difference
    from sdcadm.planner import PlanOptions
    from sdcadm.planner import plan as make_plan

    tampered = f"{path} does not hold the changes its request plans"
    try:
        options = PlanOptions.from_json(plan.options)
        again = make_plan(state, plan.requests or (), options, app.config, topology=None)
    except SdcAdmError as e:
        raise PlanTamperedError(f"{tampered}: planning it again fails: "
                                f"{e.message.splitlines()[0]}") from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise PlanTamperedError(f"{tampered}: its request or options cannot be planned "
                                f"({type(e).__name__})") from e
    again = _verified(again, bool(plan.options.get("verify")))
    problem = first_change_difference(plan, again)
    if problem:
        raise PlanTamperedError(f"{tampered}: {problem}")
    return again


def _run_saved(app: Any, path: str, *, dry_run: bool, yes: bool, json_out: bool,
               run_options: dict[str, Any], verify: bool | None = None) -> None:
    import json

    from sdcadm.errors import PlanTamperedError, UsageError
    from sdcadm.executor.journal import stopped_run_of
    from sdcadm.gather import gather
    from sdcadm.plan import Plan, Step, digest, doc_problem, first_difference
    from sdcadm.procedures import expand

    not_saved = f"{path} is not a plan saved with --plan-out"
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise UsageError(f'cannot read plan file "{path}": {e.strerror or e}') from e
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{not_saved} (not JSON)") from e
    problem = doc_problem(doc)
    if problem:
        raise UsageError(f"{not_saved}: {problem}")
    try:
        plan = Plan.from_json(doc)
        stored = [Step.from_json(s) for s in doc.get("steps") or []]
        derived = expand(plan)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(not_saved) from e
    if not plan.fingerprint or not doc.get("digest"):
        raise UsageError(f"{path} has no fingerprint or digest: it was not saved with "
                         "--plan-out")
    if doc["digest"] != digest(doc):
        raise PlanTamperedError(f"{path} was changed after it was saved (its digest does not "
                                "match): make the plan again with --plan-out")
    # What runs is what the plan's changes derive, never the steps the file lists.
    problem = first_difference(stored, derived)
    if problem:
        raise PlanTamperedError(f"{path} does not hold the steps of its own plan: {problem}")
    if plan.requests is None:
        raise UsageError(f"{path} was saved by an older sdcadm, without the request it was "
                         "planned from (needed to plan it again): make the plan again with "
                         "--plan-out")

    state = gather(app, app.config, channel=plan.channel, server_detail="admin")
    _check_drift(app, plan, state, f"the plan in {path}", since=f"{path} was planned",
                 resumable=stopped_run_of(app.config.var_dir, plan.to_json()))
    # ... and what runs is what its request plans now: changes edited together with their
    # steps and digest are not this datacenter's plan.
    plan = _planned_again(app, plan, state, path)
    if plan.channel:
        app.info(f"Using channel {plan.channel}")
    if verify is not None and bool(plan.options.get("verify")) != verify:
        plan = _verified(plan, verify)
    may_execute = not (dry_run or json_out) and (yes or app.has_terminal())
    ha = _ha_services(plan, state)
    if may_execute and ha:
        # Roles are not part of the fingerprint: read them now so the primary/leader
        # still goes last, and expand the saved changes again with them.
        from sdcadm.planner.core import with_roles

        plan = with_roles(plan, state, app.read_roles(state, ha))
    steps = expand(plan)
    if json_out:
        _print_plan_json(_plan_doc(plan, steps))
        return
    from sdcadm.rehearse.record import mention  # how its rehearsal went, if it had one

    mention(app, plan)
    _confirm_and_execute(app, plan, steps, dry_run=dry_run, yes=yes, run_options=run_options)
