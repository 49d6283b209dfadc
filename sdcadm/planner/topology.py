"""Roles of HA instances (manatee primary/sync/async, binder leader/followers).

Read through the remote seam (`cnapi.execute`) before planning a real run, because the
rolling order depends on them. The roles are not part of `DatacenterState` (they change
independently of what sdcadm manages); the planner takes them as `topology`:
`{service: {instance_uuid: role}}`.

Requests: manatee is one `manatee-adm zk-state` (it describes the whole shard). ZooKeeper's
`stat` only tells the mode of the server asked, so binder instances are asked one by one
until the leader answers (or one says `standalone`, or all but one follow): at most N-1
calls for N instances (1 or 2 for the usual 3); never one per server of the fleet.

CommandExecute is a POST: a dry run must not call this (it would be a mutating request
in the API's eyes), so the CLI skips it with `-n`, `-j` and `--plan-out`.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from sdcadm.errors import SdcAdmError
from sdcadm.model import DatacenterState, Instance

HA_SERVICES = ("manatee", "binder")


def zone_script(zone: str, command: str) -> str:
    """The CommandExecute script that runs `command` in a zone (the remote seam's form)."""
    return f"#!/bin/bash\nzlogin {zone} {command}\n"


def _order(insts: Iterable[Instance], state: DatacenterState) -> list[Instance]:
    """Running instances, the headnode's first (the one most likely to answer)."""
    hn = state.headnode
    live = [i for i in insts if i.server and (i.state in (None, "running"))]
    return sorted(live, key=lambda i: (not (hn and i.server == hn.uuid), i.alias or ""))


def manatee_roles(zk_state: dict[str, Any]) -> dict[str, str]:
    roles: dict[str, str] = {}

    def put(peer: Any, role: str) -> None:
        if isinstance(peer, dict) and peer.get("zoneId"):
            roles[peer["zoneId"]] = role

    put(zk_state.get("primary"), "primary")
    put(zk_state.get("sync"), "sync")
    for peer in zk_state.get("async") or []:
        put(peer, "async")
    for peer in zk_state.get("deposed") or []:
        put(peer, "deposed")
    return roles


def zk_mode(stat_output: str) -> str | None:
    for line in stat_output.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip() or None
    return None


def read_topology(clients: Any, state: DatacenterState, services: Iterable[str],
                  warn: Any = None) -> dict[str, dict[str, str]]:
    """Roles for the HA services among `services`; a service whose roles cannot be read
    is left out (the procedures then fall back to "headnode last") with a warning.

    `clients` is a `Clients` (its `cnapi` is used) or a CNAPI client itself.
    """
    cnapi = getattr(clients, "cnapi", clients)
    out: dict[str, dict[str, str]] = {}
    for service in services:
        if service not in HA_SERVICES:
            continue
        insts = _order(state.instances_of(service), state)
        if len(insts) < 1:
            continue
        try:
            roles = (_manatee(cnapi, insts) if service == "manatee" else _binder(cnapi, insts))
        except (SdcAdmError, ValueError) as e:
            roles = None
            if warn:
                warn(f'warning: could not read the roles of the "{service}" instances '
                     f"({e}); the instance on the headnode will be updated last")
        if roles:
            out[service] = roles
    return out


def _execute(cnapi: Any, inst: Instance, command: str) -> str:
    res = cnapi.execute(inst.server, zone_script(inst.instance, command))
    if int(res.get("exitCode") or 0) != 0:
        raise ValueError((res.get("stderr") or "").strip() or f"exit status {res.get('exitCode')}")
    return str(res.get("stdout") or "")


def _manatee(cnapi: Any, insts: list[Instance]) -> dict[str, str]:
    last: Exception | None = None
    for inst in insts[:2]:  # a second peer answers if the first zone is unreachable
        try:
            return manatee_roles(json.loads(_execute(cnapi, inst, "manatee-adm zk-state")))
        except (SdcAdmError, ValueError) as e:
            last = e
    raise last or ValueError("no manatee instance answered")


def _binder(cnapi: Any, insts: list[Instance]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for inst in insts:
        mode = zk_mode(_execute(cnapi, inst, "bash -c 'echo stat | nc 127.0.0.1 2181'"))
        if mode == "standalone":
            return {inst.instance: "standalone"}
        if mode == "leader":
            # Everyone else follows the leader.
            return {i.instance: ("leader" if i is inst else "follower") for i in insts}
        if mode:
            roles[inst.instance] = mode
        unasked = [i for i in insts if i.instance not in roles]
        if len(unasked) == 1 and all(r == "follower" for r in roles.values()):
            # Everyone else follows: the one left is the leader, no need to ask it.
            roles[unasked[0].instance] = "leader"
            return roles
    return roles
