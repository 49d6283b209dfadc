"""The health gate a server passes after a reboot, before its slot is handed to the next.

A server is back when CNAPI says it runs the platform it was meant to boot, with a fresh
cn-agent heartbeat (older than `reboot.heartbeatMaxAge` seconds counts as not reporting)
and its agents listed; its global zone and its agents pass `sdcadm check-health`'s check
(SMF, and the agents' pings); each of its core zones runs and passes the instance health
check (SMF, and the service's ping where `sdcadm.health` knows one: moray's `morayping -d`
in its zone); and the replicated groups it holds a member of are whole again:
the manatee shard has its primary, sync and asyncs back with every peer's Postgres answering
and nobody deposed, the ZooKeeper ensemble serves (`ruok` answers `imok`, a leader exists).

`check()` looks once and returns a `Health`; the caller polls. Some answers will not get
better by waiting (another platform, a service in maintenance, a deposed peer): those are
`fatal`, and the reboot step fails at once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from sdcadm.errors import SdcAdmError
from sdcadm.executor.health import Health, InstanceGate, brief
from sdcadm.health.smf import PREFIX
from sdcadm.planner.topology import ZK_STAT, read_shard_state, shard_problem, zk_mode, zone_argv

HEARTBEAT_MAX_AGE = 60.0
ZK_RUOK = ("bash", "-c", "echo ruok | nc 127.0.0.1 2181")

ZoneCheck = Callable[[Any, str, Mapping[str, Any]], Health]


def heartbeat_age(server: Mapping[str, Any], now: datetime | None = None) -> float | None:
    """Seconds since the server's last cn-agent heartbeat; None when it has none."""
    raw = server.get("last_heartbeat")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return ((now or datetime.now(timezone.utc)) - when).total_seconds()


def server_problems(server: Mapping[str, Any], platform: str | None,
                    max_age: float) -> tuple[list[str], bool]:
    """What CNAPI says is still wrong with a server just back (reasons, fatal)."""
    if server.get("status") != "running":
        return [f"status is {server.get('status') or 'unknown'}"], False
    if platform and server.get("current_platform") != platform:
        return [f"came back running platform {server.get('current_platform')}, not "
                f"{platform}"], True
    age = heartbeat_age(server)
    if age is None or age > max_age:
        seen = "never" if age is None else f"{int(age)}s ago"
        return [f"cn-agent heartbeat is stale (last {seen})"], False
    if not server.get("agents"):
        return ["its agents do not report yet"], False
    return [], False


@dataclass(frozen=True)
class GlobalZone(Health):
    unreachable: bool = False  # nothing on the server could be asked


def global_zone_problems(clients: Any, server: Mapping[str, Any]) -> GlobalZone:
    """The check-health verdict on a server's global zone and its agents (SMF, then the
    agents' pings), as one Health: each unhealthy row is a reason (`firewaller: ping check
    to ... failed`); a service in maintenance is fatal; a server no command reached says
    so once."""
    from sdcadm.gather import server_record
    from sdcadm.health import global_zone_health

    srv = server_record(server)
    if srv.admin_ip is None:  # a listing without sysinfo: the agents' pings need the address
        try:
            srv = replace(srv, admin_ip=clients.remote.endpoint(srv.uuid).address)
        except SdcAdmError:
            pass  # unreachable: the rows say so
    rows = global_zone_health(clients, srv)
    bad = [r for r in rows if not r.healthy]
    if not bad:
        return GlobalZone(True)
    firsts = {r.errors[0] for r in bad if r.errors}
    if len(bad) == len(rows) and len(firsts) == 1 and not any(
            e.startswith(PREFIX) for e in firsts):
        return GlobalZone(False, brief(firsts.pop()), unreachable=True)
    reasons = [f"{'global zone' if r.type == 'global' else r.service}: "
               f"{'; '.join(brief(e) for e in r.errors)}" for r in bad]
    fatal = any("State: maintenance" in e for r in bad for e in r.errors)
    return GlobalZone(False, "; ".join(reasons), fatal)


def default_zone_check(ctx: Any, server: str, vm: Mapping[str, Any]) -> Health:
    """A core zone is up: the update's up-check (running, SMF, its service's ping)."""
    health = InstanceGate().check(ctx, (vm.get("tags") or {}).get("smartdc_role") or "", vm)
    if health.ok:
        return health
    return Health(False, f"{vm.get('alias') or vm['uuid']}: {health.detail}", health.fatal)


class ServerGate:
    def __init__(self, zone_check: ZoneCheck | None = None,
                 max_age: float = HEARTBEAT_MAX_AGE) -> None:
        self.zone_check = zone_check or default_zone_check
        self.max_age = max_age

    def check(self, ctx: Any, params: Mapping[str, Any],
              server: Mapping[str, Any] | None = None) -> Health:
        sid = params["server_uuid"]
        if server is None:
            try:
                server = ctx.clients.cnapi.get_server(sid)
            except SdcAdmError as e:
                return Health(False, e.message.splitlines()[0])
        reasons, fatal = server_problems(server, params.get("platform"), self.max_age)
        if reasons:
            return Health(False, "; ".join(reasons), fatal)
        remote = ctx.clients.remote
        gz = global_zone_problems(ctx.clients, server)
        if gz.unreachable:
            # Its global zone cannot be asked: neither can its zones.
            return Health(False, gz.detail)
        if not gz.ok:
            reasons.append(gz.detail)
            fatal = gz.fatal
        for vm in _core_vms(ctx, sid, server):
            health = self.zone_check(ctx, sid, vm)
            if not health.ok:
                reasons.append(health.detail)
                fatal = fatal or health.fatal
        for group, members in (params.get("peers") or {}).items():
            problem, group_fatal = group_problem(remote, group, members)
            if problem:
                reasons.append(problem)
                fatal = fatal or group_fatal
        return Health(not reasons, "; ".join(dict.fromkeys(reasons)), fatal)


def _core_vms(ctx: Any, sid: str, server: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The core zones on the server, as VMAPI has them (role and admin IP for the ping);
    CNAPI's `vms` says whether there are any, so a compute node costs no VMAPI request."""
    admin = getattr(ctx.config, "admin_uuid", None)
    zones = [v for v in (server.get("vms") or {}).values()
             if not admin or v.get("owner_uuid") in (admin, None)]
    if not zones:
        return []
    try:
        vms = ctx.clients.vmapi.list_vms(server_uuid=sid, state="active",
                                         **({"owner_uuid": admin} if admin else {}))
    except SdcAdmError:
        return [dict(v, server_uuid=sid) for v in zones]  # SMF at least; pings need VMAPI
    return [v for v in vms if (v.get("tags") or {}).get("smartdc_role")]


def group_problem(remote: Any, group: str, members: Sequence[Sequence[str]]
                  ) -> tuple[str | None, bool]:
    """Is the replicated group whole again? (reason, fatal)"""
    pairs = [(m[0], m[1]) for m in members]
    if group == "manatee" and len(pairs) > 1:
        return shard_health(remote, pairs)
    if group == "binder" and len(pairs) > 1:
        return ensemble_health(remote, pairs), False
    return None, False


def shard_health(remote: Any, members: Sequence[tuple[str, str]]) -> tuple[str | None, bool]:
    try:
        state = read_shard_state(remote, members)
    except ValueError as e:
        return str(e), False
    if state.get("deposed"):
        return shard_problem(state, len(members)), True
    problem = shard_problem(state, len(members))
    if problem:
        return problem, False
    zone, server = next(((z, s) for z, s in members
                         if z == (state.get("primary") or {}).get("zoneId")), members[0])
    try:
        res = remote.run(server, zone_argv(zone, "manatee-adm", "pg-status"))
    except SdcAdmError as e:
        return f"manatee pg-status: {e.message.splitlines()[0]}", False
    down = pg_down(res.stdout)
    if res.exit_status != 0 or down:
        who = ", ".join(down) or res.stderr.strip() or f"exit {res.exit_status}"
        return f"manatee peers not replicating yet: {who}", False
    return None, False


def pg_down(pg_status: str) -> list[str]:
    """Peers whose PG column is not `ok` in `manatee-adm pg-status` output."""
    lines = [ln.split() for ln in pg_status.strip().splitlines()]
    if not lines or lines[0][:3] != ["ROLE", "PEER", "PG"]:
        return ["(unreadable pg-status)"]
    return [f"{r[1]} ({r[0]})" for r in lines[1:] if len(r) >= 3 and r[2] != "ok"]


def ensemble_health(remote: Any, members: Sequence[tuple[str, str]]) -> str | None:
    """Every binder answers `imok`, and one of them leads."""
    modes = []
    for zone, server in members:
        try:
            ok = remote.run(server, zone_argv(zone, *ZK_RUOK))
            stat = remote.run(server, zone_argv(zone, *ZK_STAT))
        except SdcAdmError as e:
            return f"binder {zone}: {e.message.splitlines()[0]}"
        if ok.stdout.strip() != "imok":
            return f"binder {zone} does not answer ruok"
        modes.append(zk_mode(stat.stdout))
    if "leader" not in modes and "standalone" not in modes:
        return "the ZooKeeper ensemble has no leader yet"
    return None
