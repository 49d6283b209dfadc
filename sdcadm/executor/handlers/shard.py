"""`check-shard`: refuse to touch manatee unless its shard is healthy.

The shard state comes from `manatee-adm zk-state` in a manatee zone, over SSH. As the
original: a deposed peer needs `manatee-adm rebuild` first; an HA shard without its
sync/async peers needs `sdcadm post-setup ha-manatee`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sdcadm.errors import UpdateError
from sdcadm.executor.context import ExecContext
from sdcadm.plan import Step
from sdcadm.planner.topology import read_shard_state, shard_problem


class CheckShard:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return False  # read-only: always worth re-reading the shard

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        members = _members(ctx, p.get("instances") or ())
        if not members:
            raise UpdateError(f'no "{p.get("service", "manatee")}" instances to check the shard on')
        ctx.say(f'Checking {p.get("service", "manatee")} shard state')
        try:
            state = read_shard_state(ctx.clients.remote, members)
        except ValueError as e:
            raise UpdateError(str(e)) from e
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
