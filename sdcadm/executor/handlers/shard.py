"""`check-shard`: refuse to touch manatee unless its shard is healthy.

The shard state comes from `manatee-adm zk-state` in a manatee zone, run through the
remote seam (`cnapi.execute`). As the original: a deposed peer needs `manatee-adm rebuild`
first; an HA shard without its sync/async peers needs `sdcadm post-setup ha-manatee`.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from sdcadm.errors import SdcAdmError, UpdateError
from sdcadm.executor.context import ExecContext
from sdcadm.plan import Step
from sdcadm.planner.topology import zone_script


class CheckShard:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return False  # read-only: always worth re-reading the shard

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        members = _members(ctx, p.get("instances") or ())
        if not members:
            raise UpdateError(f'no "{p.get("service", "manatee")}" instances to check the shard on')
        ctx.say(f'Checking {p.get("service", "manatee")} shard state')
        state = read_shard_state(ctx, members)
        problem = shard_problem(state, len(members))
        if problem:
            raise UpdateError(problem)


def _members(ctx: ExecContext, instances: Sequence[Any]) -> list[tuple[str, str]]:
    """(zone uuid, server uuid) for each instance; a bare uuid is looked up in VMAPI."""
    out = []
    for inst in instances:
        if isinstance(inst, Mapping):
            zone = inst.get("instance") or inst.get("uuid")
            server = inst.get("server") or inst.get("server_uuid")
        else:
            zone, server = str(inst), None
        if zone and not server:
            server = ctx.clients.vmapi.get_vm(zone).get("server_uuid")
        if zone and server:
            out.append((zone, server))
    return out


def read_shard_state(ctx: ExecContext, members: Sequence[tuple[str, str]]) -> Mapping[str, Any]:
    """The first member that answers decides; any member's zk-state is the shard's."""
    errors = []
    for zone, server in members:
        try:
            res = ctx.clients.cnapi.execute(server, zone_script(zone, "manatee-adm zk-state"))
        except SdcAdmError as e:
            errors.append(f"{zone}: {e.message.splitlines()[0]}")
            continue
        if int(res.get("exitCode", 1)) != 0:
            stderr = str(res.get("stderr", "")).strip()
            errors.append(f"{zone}: exit {res.get('exitCode')}: {stderr}")
            continue
        try:
            return json.loads(res.get("stdout") or "")
        except ValueError:
            errors.append(f"{zone}: unreadable zk-state output")
    raise UpdateError("could not read the manatee shard state: " + "; ".join(errors))


def shard_problem(state: Mapping[str, Any], instances: int) -> str | None:
    """Why the shard must not be updated now, or None when it is healthy enough."""
    deposed = state.get("deposed") or []
    if deposed:
        peers = ", ".join(_peer(d) for d in deposed)
        return (f"manatee shard has deposed peer(s): {peers}. Rebuild them with "
                f"\"manatee-adm rebuild\" (in the deposed zone) before updating manatee")
    if not state.get("primary"):
        return "manatee shard has no primary; fix the shard before updating manatee"
    if instances > 1:
        missing = []
        if not state.get("sync"):
            missing.append("sync")
        if instances > 2 and not state.get("async"):
            missing.append("async")
        if missing:
            return (f"manatee shard is not HA: no {' or '.join(missing)} peer. Run "
                    f"\"sdcadm post-setup ha-manatee\" or wait for the shard to settle")
    return None


def _peer(p: Any) -> str:
    if isinstance(p, Mapping):
        return f"{p.get('zoneId', '?')} ({p.get('ip', '?')})"
    return str(p)
