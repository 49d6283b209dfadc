"""History entries of a bounded size: counts and compact per-server lists instead of one
record per agent instance, server and per-server step.

An update of every agent of a thousand servers plans some 8 000 agent instances and runs as
many install-agent steps; recorded in full, its history entry took 5 MB, and `sdcadm
history` read twenty of them with 650 MB. What an entry keeps instead:

- a change: every field of the plan's change except its per-server lists. Agent instances
  (`insts`, `already`: one per server) become `counts` and `per_server`, the hostnames of
  the servers changed grouped by the version they ran before; a change of agents leaves
  out its `servers` (the same servers), a rolling reboot its `reboots` slots for
  `reboot_order` (hostnames, in order). VM instances stay listed: a service has a few.
- the steps: one record per step (id, action, target, status, started, finished, error),
  except a parallel group of per-server steps (agents, platform assignments, reboots): one
  record for the group, with the same keys (`id` is the group's key, `status` the group's,
  `error` its first failure's) and `steps`, `counts` (steps per status) and `failed` (the
  steps that failed or were interrupted, with their hostnames and errors: at most
  FAILED_LISTED; `more_failed` counts the rest).

Every step of the run stays in its journal. Compacting a compact change changes nothing.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from sdcadm.plan import Step
from sdcadm.render.progress import counted

FAILED_LISTED = 50
ERROR_CHARS = 500
OK = ("done", "verified", "skipped")
# How a group's status is named from its steps': the first of these any step has.
GROUP_PRECEDENCE = ("failed", "interrupted", "running")


def compact_changes(changes: Any) -> Any:
    """The entry's `changes` (a list, or one change as the original allowed), compacted."""
    if isinstance(changes, Mapping):
        return compact_change(changes)
    if isinstance(changes, list):
        return [compact_change(c) for c in changes]
    return changes


def compact_change(change: Any) -> Any:
    """One change with its per-server lists as counts and hostnames (see the module)."""
    if not isinstance(change, Mapping):
        return change
    insts, already = _records(change.get("insts")), _records(change.get("already"))
    agents = [i for i in insts if _agent(i)]
    agents_already = [i for i in already if _agent(i)]
    reboots = _records(change.get("reboots"))
    if not (agents or agents_already or reboots):
        return change
    out = {k: v for k, v in change.items()
           if k not in ("insts", "already", "reboots", "servers")}
    counts: dict[str, int] = {}
    if insts:
        counts["insts"] = len(insts)
    if already:
        counts["already"] = len(already)
    vms = [i for i in insts if not _agent(i)]
    vms_already = [i for i in already if not _agent(i)]
    if vms:
        out["insts"] = vms
    if vms_already:
        out["already"] = vms_already
    servers = change.get("servers")
    if isinstance(servers, list) and servers:
        counts["servers"] = len(servers)
        if not agents and not agents_already:
            out["servers"] = servers  # a platform change's own list (no instances say it)
    if agents:
        out["per_server"] = per_server(agents)
    if reboots:
        counts["reboots"] = len(reboots)
        out["reboot_order"] = [_name(r.get("hostname"), r.get("server")) for r in reboots]
    out["counts"] = counts
    return out


def per_server(insts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The servers of `insts` by the image (and version) each ran: `[{version, image,
    servers: [hostname, ...]}]`, in the order first seen."""
    groups: dict[tuple[Any, Any], list[str]] = {}
    for i in insts:
        key = (i.get("version"), i.get("image"))
        groups.setdefault(key, []).append(_name(i.get("hostname"), i.get("server")))
    return [{"version": v, "image": img, "servers": names}
            for (v, img), names in groups.items()]


def compact_steps(items: Iterable[tuple[Step, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """History's step list: `items` pairs each step, in plan order, with its record (id,
    action, target, status, started, finished, error); a parallel group of per-server steps
    is one record (see the module)."""
    out: list[dict[str, Any]] = []
    run: list[tuple[Step, Mapping[str, Any]]] = []

    def flush() -> None:
        if run:
            out.append(group_record(run))
        run.clear()

    for step, rec in items:
        if run and not (step.parallel and step.parallel == run[0][0].parallel
                        and _per_server(step)):
            flush()
        if step.parallel and _per_server(step):
            run.append((step, rec))
        else:
            out.append(dict(rec))
    flush()
    return out


def group_record(run: Sequence[tuple[Step, Mapping[str, Any]]]) -> dict[str, Any]:
    """One record for a group of per-server steps."""
    first = run[0][0]
    counts: dict[str, int] = {}
    failed: list[dict[str, Any]] = []
    for step, rec in run:
        status = str(rec.get("status") or "pending")
        counts[status] = counts.get(status, 0) + 1
        if status in ("failed", "interrupted"):
            failed.append({"id": step.id, "hostname": step.params.get("hostname"),
                           "status": status, "error": _short_error(rec.get("error"))})
    started = [str(r["started"]) for _s, r in run if r.get("started")]
    finished = [str(r["finished"]) for _s, r in run if r.get("finished")]
    record: dict[str, Any] = {
        "id": first.parallel, "action": first.action,
        "target": f"{len(run)} {counted(len(run), 'servers')}",
        "change": first.change, "status": group_status(counts),
        "started": min(started) if started else None,
        "finished": (max(finished) if finished and not counts.get("running")
                     and not counts.get("pending") else None),
        "error": failed[0]["error"] if failed else None,
        "steps": len(run), "counts": counts,
    }
    if failed:
        record["failed"] = failed[:FAILED_LISTED]
        if len(failed) > FAILED_LISTED:
            record["more_failed"] = len(failed) - FAILED_LISTED
    return record


def group_status(counts: Mapping[str, int]) -> str:
    """failed, interrupted or running when any step is; the one status every step has;
    done when they all succeeded; else not-run (the run stopped before the group ended)
    or pending (it has not got there)."""
    for status in GROUP_PRECEDENCE:
        if counts.get(status):
            return status
    if len(counts) == 1:
        return next(iter(counts))
    if all(s in OK for s in counts):
        return "done"
    if counts.get("pending") and not counts.get("not-run"):
        return "running" if any(counts.get(s) for s in OK) else "pending"
    return "not-run"


def _short_error(error: Any) -> Any:
    if not isinstance(error, Mapping):
        return error
    message = str(error.get("message") or "")
    if len(message) > ERROR_CHARS:
        return {**error, "message": message[:ERROR_CHARS] + "..."}
    return dict(error)


def _per_server(step: Step) -> bool:
    """A step whose target is a server (an agent, a boot platform, a reboot), not
    something on one (a VM's reprovision names its server too)."""
    return bool(step.target) and step.target == step.params.get("server_uuid")


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _agent(inst: Mapping[str, Any]) -> bool:
    return inst.get("type") == "agent"


def _name(hostname: Any, uuid: Any) -> str:
    return str(hostname or uuid)


def planned_steps(steps: Iterable[Step]) -> list[dict[str, Any]]:
    """History's step list of a run about to start: every step pending."""
    return compact_steps((s, {"id": s.id, "action": s.action, "target": s.target,
                              "status": "pending"}) for s in steps)


def outcome_steps(outcomes: Iterable[Any]) -> list[dict[str, Any]]:
    """History's step list of a run that ended (engine.StepOutcome each)."""
    return compact_steps((o.step, o.to_json()) for o in outcomes)
