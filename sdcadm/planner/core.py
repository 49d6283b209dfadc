"""`plan()`: the pure function from (state, requests, options) to a Plan.

Order of the rules follows the original genUpdatePlan/coordinatePlan (behaviour spec
2.4 and 3) so the first error an operator sees is the one the original would show:
resolve -> conflicts -> no-ops -> locks -> minimum platform -> minimum image ->
SAPI mode -> procedure routing and refusals -> downloads -> order.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Mapping, Sequence

from sdcadm.errors import MultiError, SdcAdmError, UpdateError, UsageError
from sdcadm.model import DatacenterState
from sdcadm.plan import ChangeRequest, Plan, PlannedChange
from sdcadm.planner import rules
from sdcadm.planner.changes import planned_change, refusal
from sdcadm.planner.downloads import plan_downloads
from sdcadm.planner.gates import check_locks, check_min_images, check_min_platform
from sdcadm.planner.options import PlanOptions
from sdcadm.planner.resolve import Resolved, StateIndex, resolve

Topology = Mapping[str, Mapping[str, str]]


def all_services(state: DatacenterState, options: PlanOptions) -> list[str]:
    """The services `--all` covers, in SAPI order (agents included: decisions 1)."""
    return _all_selection(state, options)[0]


def unknown_services(state: DatacenterState, options: PlanOptions) -> list[str]:
    """VM services `--all` leaves out because no procedure knows them (warned about)."""
    return _all_selection(state, options)[1]


# Words `-x` takes for a whole kind of service: every agent, every core VM service.
GROUP_WORDS = {"agents": "agent", "vms": "vm"}


def _all_selection(state: DatacenterState, options: PlanOptions) -> tuple[list[str], list[str]]:
    """(services `--all` covers, VM services it leaves out for lack of a procedure)."""
    idx = StateIndex.of(state)
    excluded = {p for x in options.exclude for p in x.split(",") if p}
    for word, kind in GROUP_WORDS.items():
        if word in excluded and word not in idx.services:
            # `-x agents` (`--no-agents`), `-x vms`: every agent, every VM service.
            excluded.discard(word)
            excluded.update(n for n, svc in idx.services.items() if svc.type == kind)
    for x in sorted(excluded):
        if x not in idx.services and x != "sdcadm":
            # A typo here would update the very service the operator meant to leave alone.
            raise UsageError(f'unknown service "{x}" in -x/--exclude')
    out, unknown = [], []
    for name, svc in idx.services.items():
        if name in rules.UNSUPPORTED_IN_ALL or name in excluded:
            continue
        if name == "rabbitmq" and not options.force_rabbitmq:
            continue
        if name == "portolan" and not options.force_data_path:
            continue
        if rules.procedure_for(name, svc.type) is None:
            # Agents like cabase and dockerlogger ship outside `update`, as in the
            # original; an unknown VM service deserves a word.
            if svc.type == "vm":
                unknown.append(name)
            continue
        out.append(name)
    return out, unknown


def _name(pc: PlannedChange) -> str | None:
    return pc.service.name if pc.service else pc.request.get("service")


def _raise(errors: list[SdcAdmError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultiError(errors)


def plan(
    state: DatacenterState,
    requests: Sequence[ChangeRequest],
    options: PlanOptions,
    config: Any,
    topology: Topology | None = None,
) -> Plan:
    idx = StateIndex.of(state)
    topology_unread = topology is None
    topology = topology or {}
    warnings: list[str] = []

    agent_servers = _resolve_option_servers(options, idx)
    for name in options.core_services:
        if name not in idx.services:
            # A typo would let the very service meant to run alone run beside others.
            raise UsageError(f'unknown service "{name}" in core-services')
    if any(p for x in options.exclude for p in x.split(",")) and not options.all:
        raise UsageError("-x/--exclude is only valid with --all")

    # 1. Resolve. Explicit requests win over what --all implies for the same service.
    resolved: list[Resolved] = []
    errors: list[SdcAdmError] = []
    for req in requests:
        try:
            resolved.append(resolve(req, idx, config))
        except SdcAdmError as e:
            errors.append(e)
    _raise(errors)
    if options.all:
        named = {r.service.name for r in resolved if r.service is not None}
        selected, unknown = _all_selection(state, options)
        for name in unknown:
            if _names_known(name, config):
                warnings.append(f'warning: sdcadm does not know how to update service "{name}"')
            else:
                warnings.append(f'warning: do not know valid image names for service "{name}"')
        for name in selected:
            if name in named:
                continue
            req = ChangeRequest(type="update-service", service=name,
                                source={"service": name, "type": "update-service"})
            r = resolve(req, idx, config, implicit=True)
            if r.image is None and r.kind != "unsupported":
                if not r.explicit_image and r.service is not None and \
                        not _names_known(r.service.name, config):
                    warnings.append(
                        f'warning: do not know valid image names for service "{name}"')
                continue
            resolved.append(r)

    # 2. Conflicts.
    _check_conflicts(resolved)

    # 3. Changes, dropping no-ops.
    changes: list[tuple[Resolved, PlannedChange]] = []
    downgrades: list[str] = []
    up_to_date: list[str] = []  # named by the operator, nothing to do
    for r in resolved:
        if r.kind == "unsupported":
            changes.append((r, PlannedChange(type=r.request.type, procedure="unsupported",
                                             service=r.service, request=dict(r.request.source))))
            continue
        pc = planned_change(r, idx, options, agent_servers, downgrades, warnings,
                            None if topology_unread else topology)
        if pc is not None:
            changes.append((r, pc))
        elif not r.implicit:
            req = r.request
            up_to_date.append(req.instance or (f"{req.servers[0]}/{req.service}" if req.servers
                                               else req.service) or req.describe())

    # 4-6. Locks, minimum platform, minimum image.
    live = [(r, pc) for r, pc in changes if pc.procedure != "unsupported"]
    check_locks(live, options)
    check_min_platform(live, state, config)
    if not options.force_bypass_min_image:
        check_min_images(live, state, config)

    # 7. Routing and refusals (after the SAPI mode check, as coordinatePlan does).
    if state.sapi_mode != "full":
        raise UpdateError(rules.SAPI_NOT_FULL)
    refusals: list[SdcAdmError] = []
    unsupported: list[PlannedChange] = []
    final: list[PlannedChange] = []
    for r, pc in changes:
        if pc.procedure == "unsupported":
            unsupported.append(pc)
            continue
        problem = refusal(r, pc, state, topology)
        if problem:
            refusals.append(UpdateError(problem))
            continue
        final.append(pc)
    if any(_name(pc) == "sdcadm" for pc in unsupported):
        refusals.append(UpdateError(rules.SDCADM_ITSELF))
        unsupported = [pc for pc in unsupported if _name(pc) != "sdcadm"]
    if unsupported:
        lines = [json.dumps({"type": pc.type,
                             "service": _name(pc),
                             "image": pc.request.get("image")}, separators=(",", ":"))
                 for pc in unsupported]
        refusals.append(UpdateError("do not support the following changes:\n" + "\n".join(lines)))
    _raise(refusals)

    if topology_unread:
        # A dry run does not ask the shard (that is a CommandExecute POST): say that the
        # order shown is the fallback one.
        def unread(pc: PlannedChange) -> str:
            return UNREAD_NOTES[0] if pc.procedure == "manatee" else UNREAD_NOTES[1]

        final = [dataclasses.replace(pc, notes=pc.notes + (unread(pc),))
                 if pc.procedure in ("manatee", "binder") and len(pc.instances) > 1 else pc
                 for pc in final]
    if final:
        # Never silent: a named change the plan leaves out is said to be a no-op (alone it is
        # the plain "Up-to-date." line).
        warnings.extend(f"note: already up-to-date: {what}" for what in up_to_date)
    if agent_servers is not None:
        _check_servers_option(final, options, warnings)
    order = {p: i for i, p in enumerate(rules.PROCEDURE_ORDER)}
    listed = [_name(pc) for pc in final]
    final.sort(key=lambda pc: order.get(pc.procedure, len(order)))  # stable: request order
    if not options.all and [_name(pc) for pc in final] != listed:
        # A spec or command line listing sapi before moray still runs moray first: say so.
        warnings.append("note: changes run in the update order, not as listed: "
                        + ", ".join(str(_name(pc)) for pc in final))
    downloads = plan_downloads([pc.image for pc in final if pc.image is not None], state)

    labels: dict[str, str] = {}
    for pc in final:
        for inst in (*pc.instances, *pc.already):
            if inst.image and inst.image not in labels:
                img = state.image(inst.image)
                if img is not None:
                    labels[inst.image] = img.label
    used = {pc.service.name for pc in final if pc.service is not None}
    if any(pc.procedure == "platform" for pc in final):
        used |= {"manatee", "binder"}  # the reboot order depends on their roles
    hn = state.headnode
    extra = {
        **options.to_json(),
        "concurrency": options.concurrency or getattr(config, "agent_concurrency", 5) or 5,
        "updates_url": getattr(config, "updates_url", None),
        "headnode": hn.uuid if hn else None,
        "topology": {k: dict(v) for k, v in topology.items() if k in used},
        "downgrades": downgrades,
        "image_labels": labels,
        "warnings": warnings,
    }
    return Plan(
        changes=() if options.just_images else tuple(final),
        downloads=tuple(downloads),
        channel=options.channel or state.channel,
        just_images=options.just_images,
        fingerprint=state.fingerprint(),
        fingerprint_facts=state.fingerprint_facts(),
        options=extra,
        requests=tuple(requests),
    )


def _names_known(service: str, config: Any) -> bool:
    from sdcadm.planner.resolve import allowed_names

    return bool(allowed_names(service, config))


# Notes on a plan made without reading HA roles; a saved plan run later reads the roles
# and drops them (see `with_roles`).
UNREAD_NOTES = (
    "roles and shard health were not read (dry run): the update checks the shard and orders "
    "instances by role when it runs",
    "roles were not read (dry run): the update orders instances by role when it runs",
)


def with_roles(plan: Plan, state: DatacenterState, topology: Topology) -> Plan:
    """A saved plan once the HA roles have been read: manatee and binder changes lose their
    "roles were not read" notes, platform changes are placed again by role."""
    from sdcadm.planner.changes import ROLES_UNREAD, rolling_reboot

    changes = []
    for pc in plan.changes:
        pc = dataclasses.replace(pc, notes=tuple(n for n in pc.notes
                                                 if n not in (*UNREAD_NOTES, ROLES_UNREAD)))
        if pc.reboots:
            servers = [state.servers[u] for u in pc.servers if u in state.servers]
            pc = dataclasses.replace(pc, notes=())
            pc = rolling_reboot(pc, servers, state, topology, pc.max_unavailable)
        changes.append(pc)
    return dataclasses.replace(plan, changes=tuple(changes),
                               options={**plan.options, "topology": dict(topology)})


def _check_servers_option(final: list[PlannedChange], options: PlanOptions,
                          warnings: list[str]) -> None:
    """-s restricts agent updates (and checks a named instance is on those servers): a VM
    service next to it is updated wherever its instances run, which must never look like
    "only on these servers"."""
    vms = [pc.service.name for pc in final
           if pc.type == "update-service" and pc.service is not None]
    if not vms:
        return
    names = ", ".join(dict.fromkeys(vms))
    if not options.all and not any(pc.type == "update-agent" for pc in final):
        raise UsageError(f"-s/--servers restricts agent updates, and this update has none: "
                         f"{names} would be updated wherever its instances run (leave out -s)")
    warnings.append(f"note: -s/--servers restricts agent updates only: {names} "
                    "updated wherever the instances run")


def _resolve_option_servers(options: PlanOptions, idx: StateIndex) -> set[str] | None:
    if not options.servers:
        return None
    wanted = [p for s in options.servers for p in s.split(",") if p]
    unknown = [s for s in wanted if idx.server(s) is None]
    if unknown:
        raise UpdateError("unknown servers " + ", ".join(f'"{s}"' for s in unknown))
    return {idx.server(s).uuid for s in wanted}  # type: ignore[union-attr]


def _conflict_key(r: Resolved) -> str:
    d: dict[str, Any] = {"type": r.request.type,
                         "service": r.service.name if r.service else r.request.service}
    if r.kind in ("instance", "agent-instance") and r.instances:
        d["instance"] = r.instances[0].instance if len(r.instances) == 1 else None
    if d.get("instance") is None:
        d.pop("instance", None)
    return json.dumps(d, separators=(",", ":"))


def _check_conflicts(resolved: Iterable[Resolved]) -> None:
    by_service: dict[str, Resolved] = {}
    by_instance: dict[str, Resolved] = {}
    instance_services: dict[str, Resolved] = {}
    by_server: dict[str, Resolved] = {}
    for r in resolved:
        if r.kind == "platform":
            for s in r.servers:
                if s.uuid in by_server:
                    a, b = by_server[s.uuid].request.describe(), r.request.describe()
                    raise UpdateError(
                        f"conflict: cannot make multiple changes to the same server: {a} and {b}")
                by_server[s.uuid] = r
            continue
        if r.service is None:
            continue
        name = r.service.name
        if r.kind in ("instance", "agent-instance"):
            for inst in r.instances:
                if inst.instance in by_instance:
                    raise UpdateError(
                        "conflict: cannot make multiple changes to the same instance: "
                        f"{_conflict_key(by_instance[inst.instance])} and {_conflict_key(r)}")
                by_instance[inst.instance] = r
            if name in by_service:
                raise UpdateError(
                    "conflict: cannot make changes to a service and an instance of that "
                    f"service: {_conflict_key(by_service[name])} and {_conflict_key(r)}")
            instance_services.setdefault(name, r)
        else:
            if name in by_service:
                raise UpdateError(
                    "conflict: cannot make multiple changes to the same service: "
                    f"{_conflict_key(by_service[name])} and {_conflict_key(r)}")
            if name in instance_services:
                raise UpdateError(
                    "conflict: cannot make changes to a service and an instance of that "
                    f"service: {_conflict_key(r)} and {_conflict_key(instance_services[name])}")
            by_service[name] = r
