"""An HA instance leaving and rejoining its service around a reprovision, as the original's
moray and binder procedures do:

- `dns-leave`: disable the zone's registrar and wait until its IP is out of the service's
  DNS name, so clients stop using it before it goes down;
- `dns-join`: once the instance is up again, wait until its IP is back in DNS, before the
  next instance leaves;
- `zk-join` (binder): wait until the new ZooKeeper server answers `ruok` and is a follower
  or the leader of the ensemble again.

DNS is asked on the headnode (`dig NAME +short`), as the original does; the registrar is
disabled in the zone through its server's global zone (`svcadm -z ZONE disable -s`).
"""
from __future__ import annotations

from typing import Any, Mapping

from sdcadm.errors import InternalError, SdcAdmError
from sdcadm.executor.context import ExecContext, minutes
from sdcadm.executor.gate import ZK_RUOK
from sdcadm.plan import Step
from sdcadm.planner.topology import ZK_STAT, zk_mode, zone_argv

DNS_TIMEOUT = 300.0  # the original's 60 tries of 5 s
ZK_TIMEOUT = 300.0


def in_dns(ctx: ExecContext, p: Mapping[str, Any]) -> bool | None:
    """Is the instance's IP among the answers for its service's name? None: cannot tell."""
    where = p.get("headnode") or p["server_uuid"]
    try:
        res = ctx.clients.remote.run(where, ["dig", p["domain"], "+short"])
    except SdcAdmError:
        return None
    if res.exit_status != 0:
        return None
    return p["ip"] in res.stdout.split()


def shown_as(p: Mapping[str, Any], what: str) -> str:
    """How a wait of this instance shows in progress: `wait for moray instance U (moray2)
    to leave DNS`, as wait-instance's."""
    alias = f" ({p['alias']})" if p.get("alias") else ""
    return f"wait for {p.get('service') or '?'} instance {p['instance']}{alias} {what}"


def _wait_dns(ctx: ExecContext, step: Step, present: bool) -> None:
    p = step.params
    nominal = float(p.get("timeout") or DNS_TIMEOUT)
    word = "enter" if present else "leave"
    seen: list[bool | None] = [None]

    def answered() -> bool | None:
        seen[0] = in_dns(ctx, p)
        return True if seen[0] is present else None

    def waiting_on() -> str:
        if seen[0] is None:
            return f"cannot tell: dig {p['domain']} failed"
        return f"{p['ip']} is {'not yet' if present else 'still'} in {p['domain']}"

    ctx.wait_for(answered, nominal,
                 lambda: InternalError(f"New {p.get('alias') or p['instance']} "
                                       f"({p['instance']}) zone's IP {p['ip']} did not "
                                       f"{word} DNS (waited {minutes(nominal)})"),
                 label=shown_as(p, "to be back in DNS" if present else "to leave DNS"),
                 detail=waiting_on)


class LeaveDns:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return in_dns(ctx, step.params) is False

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f"Disabling registrar on VM {p['instance']}")
        ctx.clients.remote.run(p["server_uuid"], ["svcadm", "-z", p["instance"], "disable",
                                                  "-s", "registrar"], check=True)
        ctx.say(f"Wait until VM {p['instance']} is out of DNS")
        _wait_dns(ctx, step, present=False)


class JoinDns:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return in_dns(ctx, step.params) is True

    def run(self, ctx: ExecContext, step: Step) -> None:
        ctx.say(f"Waiting until {step.params['instance']} instance is in DNS")
        _wait_dns(ctx, step, present=True)


def zk_member_ok(ctx: ExecContext, p: Mapping[str, Any]) -> str | None:
    """None when this binder answers `imok` and follows or leads; else what is wrong."""
    remote = ctx.clients.remote
    try:
        ok = remote.run(p["server_uuid"], zone_argv(p["instance"], *ZK_RUOK))
        stat = remote.run(p["server_uuid"], zone_argv(p["instance"], *ZK_STAT))
    except SdcAdmError as e:
        return e.message.splitlines()[0]
    if ok.stdout.strip() != "imok":
        return "it does not answer ruok"
    mode = zk_mode(stat.stdout)
    if mode not in ("leader", "follower", "standalone"):
        return "it has not rejoined the ensemble"
    return None


class JoinZookeeper:
    def check(self, ctx: ExecContext, step: Step) -> bool:
        return zk_member_ok(ctx, step.params) is None

    def run(self, ctx: ExecContext, step: Step) -> None:
        p = step.params
        ctx.say(f"Waiting for binder instance {p['instance']} to rejoin the ZooKeeper cluster")
        nominal = float(p.get("timeout") or ZK_TIMEOUT)
        last: list[str | None] = [None]

        def rejoined() -> bool | None:
            last[0] = zk_member_ok(ctx, p)
            return True if last[0] is None else None
        ctx.wait_for(rejoined, nominal, lambda: InternalError(
            f"binder instance {p['instance']} did not rejoin the ZooKeeper cluster "
            f"(waited {minutes(nominal)}): {last[0]}"),
            label=shown_as(p, "to rejoin ZooKeeper"), detail=lambda: last[0] or "")
