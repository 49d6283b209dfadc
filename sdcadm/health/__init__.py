"""Is an instance healthy? The checks behind `sdcadm check-health` and the health gates.

The verdict is the original sdcadm's (its `checkHealth`):

1. SMF, in the server's global zone over SSH (`clients.remote`): `svcs -vxz ZONE` for a VM,
   the agent's blocks of one `svcs -vx` per server for an agent, the remaining blocks for
   the `global` row. Unhealthy when svcs exits non-zero, writes to stderr, or prints a
   block (`SMF svcs check failed: svcs returned N` / `... stderr: ...` / `... stdout: ...`).
2. If SMF is fine, the service's HTTP ping (`ping.PING_PATHS`), at the VM's admin IP or the
   agent's server's admin IP, through the configuration's `addressMap`: healthy iff HTTP
   200 (`ping check to IP failed with HTTP code N` / `ping check to IP failed: REASON`).

A server that cannot be reached, refuses its host key or does not answer within
`health.commandTimeout` makes each of its instances an unhealthy row with that reason; a
ping that hangs ends after `health.pingTimeout`. Nothing here raises for the state of
the datacenter: everything becomes a row.

Stable API (used by the update's up-check and the reboot gate):

    check(clients, state, targets=None, *, settings=None, keep=False) -> list[HealthRow]
        every target of `targets` (Target or model Instance; None: what the original
        checks: select_targets(state)), in that order.
    instance_health(clients, instance, server=None, *, settings=None) -> HealthRow
        one instance (model Instance, Target, or a VMAPI VM object), SMF then ping; the SSH
        connection is kept, so polling costs one command and one ping per call.
    server_health(clients, state, server_uuid, *, settings=None) -> list[HealthRow]
        every row of one server: `global`, its agents, its VMs.
    global_zone_health(clients, server, *, settings=None) -> list[HealthRow]
        a model Server's `global` row and its agents' rows (no DatacenterState needed).
    select_targets(state, *, services=None, instances=None, types=None, servers=None,
                   global_servers=None) -> list[Target]
    HealthRow(type, instance, service, hostname, alias, server, healthy, errors)
        frozen; .to_json() is the original's JSON row
        (`type, healthy, hostname, instance, alias, service, health_errors: [{message}]`).
    HealthSettings.from_config(config): `health.pingTimeout` (5 s), `pingConcurrency` (32),
        `commandTimeout` (10 s); SSH fan-out width is `ssh.concurrency`.
"""
from __future__ import annotations

from sdcadm.health.check import (
    HealthSettings,
    check,
    global_zone_health,
    instance_health,
    server_health,
)
from sdcadm.health.rows import HealthRow, UnhealthyError, report, severe_row
from sdcadm.health.targets import Target, resolve_servers, resolve_words, select_targets

__all__ = [
    "HealthRow", "HealthSettings", "Target", "UnhealthyError", "check", "global_zone_health",
    "instance_health",
    "report", "resolve_servers", "resolve_words", "select_targets", "server_health",
    "severe_row",
]
