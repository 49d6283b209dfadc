"""Running health checks: SMF over SSH, one connection per server, then HTTP pings.

Per server (`ssh.concurrency` servers at a time, through `Remote.fleet`): one `svcs -vx`
for its agents and global zone when any of them is checked, then `svcs -vxz ZONE` per VM.
The first failure to reach or run on a server (unreachable, host key refused, timeout)
ends its checks: a hung server costs one timeout, not one per VM. The failed command's
targets get its error, the targets after it a "not checked" line saying where the server
stopped answering (or the same error, when it was never reached). Targets whose SMF is
fine are pinged as soon as their server is done, on a pool of their own
(`health.pingConcurrency`), so pings overlap the SSH fan-out; a service whose ping runs in
its zone (`ping.ZONE_PINGS`: moray) is pinged on the server's connection right after SMF.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from sdcadm.errors import RemoteError, SdcAdmError
from sdcadm.health.ping import ZONE_PINGS, PingSpec, ping, ping_spec
from sdcadm.health.rows import HealthRow
from sdcadm.health.smf import attribute, svcs_errors
from sdcadm.health.targets import IGNORED, Target, select_targets
from sdcadm.model import DatacenterState, Instance, Server

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sdcadm.clients import Clients
    from sdcadm.clients.remote import Session


@dataclass(frozen=True)
class HealthSettings:
    """The configuration's `health` section."""

    ping_timeout: float = 5.0  # seconds for a ping to connect and answer
    ping_concurrency: int = 32  # pings in flight at once
    command_timeout: float = 10.0  # seconds a `svcs` may take (the original's Ur timeout)

    @classmethod
    def from_config(cls, config: Any) -> "HealthSettings":
        raw: Mapping[str, Any] = getattr(config, "health", None) or {}
        return cls(
            ping_timeout=float(raw.get("pingTimeout", cls.ping_timeout)),
            ping_concurrency=int(raw.get("pingConcurrency", cls.ping_concurrency)),
            command_timeout=float(raw.get("commandTimeout", cls.command_timeout)),
        )


Checkable = Target | Instance
# Per server: SMF errors by target index, and the pings queued for the targets SMF passed.
_Outcome = tuple[dict[int, tuple[str, ...]], dict[int, "Future[str | None]"]]


def check(clients: "Clients", state: DatacenterState, targets: Iterable[Checkable] | None = None,
          *, settings: HealthSettings | None = None, keep: bool = False) -> list[HealthRow]:
    """One row per target, in the order given (`targets` None: everything the original
    checks, see `select_targets`). Never raises for an unhealthy or unreachable instance:
    that is a row with its reason. `keep` keeps the SSH connections open afterwards (for a
    caller that polls)."""
    chosen = select_targets(state) if targets is None else [_target(t) for t in targets]
    return _run(clients, chosen, state.servers, settings, keep=keep)


def instance_health(clients: "Clients", instance: Checkable | Mapping[str, Any],
                    server: Server | None = None, *,
                    settings: HealthSettings | None = None) -> HealthRow:
    """The health of one instance (a model Instance, a Target, or a VMAPI VM object): its
    SMF services, then its ping. The server's connection is kept for the next poll.
    `server` gives its hostname and admin IP; without it CNAPI is asked (once)."""
    target = Target.of_vm(instance) if isinstance(instance, Mapping) else _target(instance)
    if server is not None and target.hostname is None:
        target = replace(target, hostname=server.hostname)
    if target.type == "agent" and target.ip is None and server is not None:
        target = replace(target, ip=server.admin_ip)
    servers = {server.uuid: server} if server is not None else {}
    row = _run(clients, [target], servers, settings, keep=True)[0]
    if row.hostname is None and row.server:
        row = replace(row, hostname=clients.remote.name(row.server))
    return row


def server_health(clients: "Clients", state: DatacenterState, server_uuid: str, *,
                  settings: HealthSettings | None = None) -> list[HealthRow]:
    """Every row of one server: its global zone, its agents and its VMs (a CN gets a
    `global` row here too). The connection is kept for the next poll."""
    targets = select_targets(state, servers=[server_uuid], global_servers=[server_uuid])
    return _run(clients, targets, state.servers, settings, keep=True)


def global_zone_health(clients: "Clients", server: Server, *,
                       settings: HealthSettings | None = None) -> list[HealthRow]:
    """A server's `global` row and one row per agent it reports (SMF, then the agents'
    pings): the part of `server_health` that needs no DatacenterState, for a server just
    back from a reboot. The connection is kept for the next poll."""
    targets = [Target.global_zone(server.uuid, server.hostname, server.admin_ip)]
    targets += [Target("agent", str(a.get("uuid") or a["name"]), str(a["name"]), server.uuid,
                       server.hostname, None, server.admin_ip)
                for a in server.agents if a.get("name") and a["name"] not in IGNORED]
    return _run(clients, targets, {server.uuid: server}, settings, keep=True)


def _target(t: Checkable) -> Target:
    return t if isinstance(t, Target) else Target.of(t)


def _row(t: Target, errors: Sequence[str]) -> HealthRow:
    return HealthRow(type=t.type, instance=t.instance, service=t.service, hostname=t.hostname,
                     alias=t.alias, server=t.server, healthy=not errors, errors=tuple(errors))


def _run(clients: "Clients", targets: Sequence[Target], servers: Mapping[str, Server],
         settings: HealthSettings | None, *, keep: bool) -> list[HealthRow]:
    from concurrent.futures import ThreadPoolExecutor

    s = settings or HealthSettings.from_config(clients.config)
    address_map = dict(getattr(clients.config, "address_map", None) or {})
    remote = clients.remote
    remote.learn(servers[u] for u in {t.server for t in targets if t.server} if u in servers)
    errors: list[tuple[str, ...] | None] = [None] * len(targets)
    by_server: dict[str, list[int]] = {}
    for n, t in enumerate(targets):
        if t.server:
            by_server.setdefault(t.server, []).append(n)
        else:
            errors[n] = (f"no server known for {t.type} {t.instance}",)
    # The headnode carries most VMs (one svcs each): start it first so it is not the tail.
    order = sorted(by_server, key=lambda u: not (u in servers and servers[u].headnode))

    def ping_one(t: Target, spec: PingSpec) -> str | None:
        assert t.ip
        return ping(t.ip, spec, timeout=s.ping_timeout, address_map=address_map)

    pings: dict[int, "Future[str | None]"] = {}
    with ThreadPoolExecutor(max_workers=max(1, s.ping_concurrency),
                            thread_name_prefix="ping") as pool:
        def work(session: "Session") -> _Outcome:
            """SMF of one server's targets, then their pings queued at once."""
            idx = by_server[session.server]
            mine = [targets[i] for i in idx]
            found = _server_smf(session, mine, _agent_names(servers.get(session.server), mine),
                                s.command_timeout)
            smf = dict(zip(idx, found, strict=True))
            for i, errs in smf.items():
                zone_ping = ZONE_PINGS.get(targets[i].service) \
                    if targets[i].type == "vm" else None
                if not errs and zone_ping:
                    failed = _zone_ping(session, targets[i].instance, zone_ping,
                                        s.command_timeout)
                    smf[i] = (failed,) if failed else ()
            queued = {}
            for i, errs in smf.items():
                spec = _pinged(targets[i])
                if not errs and spec is not None:
                    queued[i] = pool.submit(ping_one, targets[i], spec)
            return smf, queued

        results = remote.fleet(order, work, keep=keep) if order else {}
        for server, res in results.items():
            if isinstance(res, SdcAdmError):
                for i in by_server[server]:
                    errors[i] = (res.message,)
            else:
                for i, errs in res[0].items():
                    errors[i] = errs
                pings.update(res[1])
    for i, fut in pings.items():
        failed = fut.result()
        if failed:
            errors[i] = (failed,)
    return [_row(t, errors[n] or ()) for n, t in enumerate(targets)]


def _zone_ping(session: "Session", zone: str, command: Sequence[str],
               timeout: float) -> str | None:
    """Run a service's ping in its zone; None when it answers, else why not."""
    from sdcadm.planner.topology import zone_argv

    what = command[-1].split("; ")[-1]  # `morayping -d`, not the profile around it
    try:
        res = session.run(zone_argv(zone, *command), timeout=timeout)
    except RemoteError as e:
        return f"{what}: {e.message}"
    if res.exit_status == 0:
        return None
    said = (res.stderr or res.stdout).strip().splitlines()
    return f"{what} failed: {said[0] if said else f'exit status {res.exit_status}'}"


def _pinged(t: Target) -> PingSpec | None:
    """The ping a target gets once its SMF is fine: VMs and agents with an address."""
    if t.type == "global" or not t.ip:
        return None
    return ping_spec(t.service)


def _agent_names(server: Server | None, targets: Sequence[Target]) -> list[str]:
    names = {str(a.get("name")) for a in (server.agents if server else ()) if a.get("name")}
    names |= {t.service for t in targets if t.type == "agent"}
    return sorted(names)


def _server_smf(session: "Session", targets: Sequence[Target], agents: Sequence[str],
                timeout: float) -> list[tuple[str, ...]]:
    """SMF errors per target of one server (empty: healthy so far).

    The first command that fails ends the server's checks (one timeout per server): its own
    targets get its error, the targets after it say why they were not checked, and those
    already checked keep their answer.
    """
    out: list[tuple[str, ...] | None] = [None] * len(targets)
    skipped: str | None = None  # why the targets after a failure are not checked
    answered = False
    for argv, mine in _smf_commands(targets):
        if skipped is not None:
            for k in mine:
                out[k] = (skipped,)
            continue
        try:
            res = session.run(argv, timeout=timeout)
        except RemoteError as e:
            for k in mine:
                out[k] = (e.message,)
            skipped = _not_checked(session, argv, timeout, e, answered=answered)
            continue
        answered = True
        if argv[1] == "-vx":
            parts = attribute(res.stdout, agents)
            for k in mine:
                own = parts.get(None if targets[k].type == "global" else targets[k].service, "")
                out[k] = svcs_errors(res.exit_status, own, res.stderr)
        else:
            (k,) = mine
            out[k] = svcs_errors(res.exit_status, res.stdout, res.stderr)
    return [o if o is not None else ("not checked",) for o in out]


def _smf_commands(targets: Sequence[Target]) -> list[tuple[list[str], list[int]]]:
    """The commands one server runs, each with the targets it answers for: one `svcs -vx`
    for the global zone and its agents, then `svcs -vxz ZONE` per VM."""
    gz = [k for k, t in enumerate(targets) if t.type in ("agent", "global")]
    commands = [(["svcs", "-vx"], gz)] if gz else []
    commands += [(["svcs", "-vxz", t.instance], [k]) for k, t in enumerate(targets)
                 if t.type == "vm"]
    return commands


def _not_checked(session: "Session", argv: Sequence[str], timeout: float, error: RemoteError,
                 *, answered: bool) -> str:
    """Why a target after a failed command is not checked. A server never reached (no
    connection, host key refused) is the same reason for every target; one that stopped
    answering says which command it stopped at."""
    from sdcadm.clients.remote import quote

    if error.kind == "timeout":
        why = f"{quote(argv)} timed out after {timeout:g}s"
    elif answered:
        why = error.message.split(": ", 1)[-1] if error.message.startswith("server ") \
            else error.message
    else:
        return error.message
    return f"not checked: {session.remote.name(session.server)} stopped answering ({why})"
