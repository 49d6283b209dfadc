"""What a server reboot does, from the moment the reboot job runs until it is back.

Down: CNAPI shows the server `unknown` with `transitional_status: rebooting`, its zones
stop, SSH and health pings stop answering, and the quorum model (`sim/quorum.py`) takes the
loss (role changes, quorum losses). Back, after the `reboot` latency: the server runs the
platform its boot parameters name, its zones start again, heartbeats resume (not under
`stale-heartbeat`: CNAPI keeps the heartbeat it had before the reboot).

Faults aimed at the server: `reboot-hang` (it never comes back: the job fails after the
latency and the server stays down), `reboot-old-platform` (it comes back on the platform it
ran before), `reboot-maintenance` (it comes back with a service in SMF maintenance: in the
zone named by the fault's `instance`, else in its first core zone, else in cn-agent).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sdcadm.sim import quorum
from sdcadm.sim.store import now_iso

if TYPE_CHECKING:
    from sdcadm.sim.world import World


def going_down(world: "World", server_uuid: str) -> None:
    beat = _heartbeat(world, server_uuid)
    world.store.edit("server", server_uuid,
                     lambda s: s.update(status="unknown", transitional_status="rebooting",
                                        **beat))
    quorum.server_down(world, server_uuid)


def _heartbeat(world: "World", server_uuid: str) -> dict[str, str]:
    """A current heartbeat, unless the server's cn-agent has stopped sending them."""
    if world.has_fault("stale-heartbeat", server_uuid):
        return {}
    return {"last_heartbeat": now_iso()}


def never_back(world: "World", server_uuid: str) -> str:
    return f"timeout waiting for server {server_uuid} to come back after reboot"


def back(world: "World", server_uuid: str) -> None:
    """The server booted: platform, sysinfo, zones, quorums; the faults it comes back with."""
    old_platform = world.has_fault("reboot-old-platform", server_uuid)
    boot = world.store.get("boot", server_uuid) or {}
    if boot.get("platform") and boot["platform"] != "latest":
        world.store.edit("server", server_uuid,
                         lambda s: s.update(boot_platform=boot["platform"]))

    beat = _heartbeat(world, server_uuid)

    def up(s: dict[str, Any]) -> None:
        running = s["current_platform"] if old_platform else s["boot_platform"]
        s.update(status="running", transitional_status="", current_platform=running,
                 last_boot=now_iso(), **beat)
        s["sysinfo"]["Live Image"] = running
        s["sysinfo"]["Boot Time"] = str(int(time.time()))
    world.store.edit("server", server_uuid, up)
    broken = world.has_fault("reboot-maintenance", server_uuid)
    if broken:
        _break_something(world, server_uuid, broken)
    quorum.server_up(world, server_uuid)


def _break_something(world: "World", server_uuid: str, fault: dict[str, Any]) -> None:
    zones = quorum.vms_on(world, server_uuid)
    zone = fault.get("instance") or (zones[0]["uuid"] if zones else None)
    message = fault.get("message") or "Start method exited with $SMF_EXIT_ERR_FATAL."
    if zone:
        world.add_fault({"type": "unhealthy", "target": zone, "message": message})
    else:
        world.add_fault({"type": "unhealthy", "target": server_uuid, "agent": "cn-agent",
                         "message": message})
