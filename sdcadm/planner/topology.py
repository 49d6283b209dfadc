"""Roles of HA instances (manatee primary/sync/async, binder leader/followers).

Read through the remote seam (SSH to the instance's server, `zlogin` into the zone) before
planning a real run, because the rolling order depends on them. The roles are not part of
`DatacenterState` (they change independently of what sdcadm manages); the planner takes them
as `topology`:
`{service: {instance_uuid: role}}`.

Requests: manatee is one `manatee-adm zk-state` (it describes the whole shard). ZooKeeper's
`stat` only tells the mode of the server asked, so binder instances are asked one by one
until the leader answers (or one says `standalone`, or all but one follow): at most N-1
calls for N instances (1 or 2 for the usual 3); never one per server of the fleet.

A dry run does not ask (`-n`, `-j` and `--plan-out` print the fallback order with a note):
the answer is only worth the connections when the run may execute.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from sdcadm.errors import SdcAdmError
from sdcadm.model import DatacenterState, Instance

HA_SERVICES = ("manatee", "binder")


# ZooKeeper's `stat`, asked inside a binder zone (a constant script: no data in it).
ZK_STAT = ("bash", "-c", "echo stat | nc 127.0.0.1 2181")
MANATEE_STATE = ("manatee-adm", "zk-state")


def zone_argv(zone: str, *command: str) -> list[str]:
    """The global-zone command line that runs `command` in a zone. zlogin joins its
    arguments into one line for the zone's shell, so the command goes as one argument,
    each of its words quoted: `zlogin ZONE 'bash -c '"'"'echo stat | nc ...'"'"''` runs
    exactly `command` there."""
    import shlex

    return ["zlogin", zone, shlex.join(command)]


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

    `clients` is a `Clients` (its `remote` is used) or a `Remote` itself.
    """
    remote = getattr(clients, "remote", clients)
    remote.learn(state.servers.values())
    out: dict[str, dict[str, str]] = {}
    for service in services:
        if service not in HA_SERVICES:
            continue
        insts = _order(state.instances_of(service), state)
        if len(insts) < 1:
            continue
        try:
            roles = (_manatee(remote, insts) if service == "manatee" else _binder(remote, insts))
        except (SdcAdmError, ValueError) as e:
            roles = None
            if warn:
                warn(f'warning: could not read the roles of the "{service}" instances '
                     f"({e}); the instance on the headnode will be updated last")
        if roles:
            out[service] = roles
    return out


def _execute(remote: Any, inst: Instance, command: Iterable[str]) -> str:
    res = remote.run(inst.server, zone_argv(inst.instance, *command))
    if res.exit_status != 0:
        raise ValueError(res.stderr.strip() or f"exit status {res.exit_status}")
    return res.stdout


def _manatee(remote: Any, insts: list[Instance]) -> dict[str, str]:
    last: Exception | None = None
    for inst in insts[:2]:  # a second peer answers if the first zone is unreachable
        try:
            return manatee_roles(json.loads(_execute(remote, inst, MANATEE_STATE)))
        except (SdcAdmError, ValueError) as e:
            last = e
    raise last or ValueError("no manatee instance answered")


def _binder(remote: Any, insts: list[Instance]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for inst in insts:
        mode = zk_mode(_execute(remote, inst, ZK_STAT))
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


# -- the manatee shard's health ---------------------------------------------------------------

def read_shard_state(remote: Any, members: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`manatee-adm zk-state` from the first member (zone, server) that answers; any member's
    answer describes the whole shard. Raises ValueError naming every member that failed."""
    errors = []
    for zone, server in members:
        try:
            res = remote.run(server, zone_argv(zone, *MANATEE_STATE))
        except SdcAdmError as e:
            errors.append(f"{zone}: {e.message.splitlines()[0]}")
            continue
        if res.exit_status != 0:
            errors.append(f"{zone}: exit {res.exit_status}: {res.stderr.strip()}")
            continue
        try:
            state = json.loads(res.stdout or "")
        except ValueError:
            errors.append(f"{zone}: unreadable zk-state output")
            continue
        if isinstance(state, dict):
            return state
        errors.append(f"{zone}: unreadable zk-state output")
    raise ValueError("could not read the manatee shard state: " + "; ".join(errors))


def shard_problem(state: dict[str, Any], instances: int) -> str | None:
    """Why the shard must not be touched now, or None when it is healthy enough."""
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
    if isinstance(p, dict):
        return f"{p.get('zoneId', '?')} ({p.get('ip', '?')})"
    return str(p)
