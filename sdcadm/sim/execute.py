"""CNAPI CommandExecute: the few global-zone scripts the simulator understands.

A script is a shebang line followed by one command. Understood commands:

    zlogin <zone> manatee-adm zk-state
    zlogin <zone> bash -c 'echo stat | nc 127.0.0.1 2181'     (also with double quotes)
    svcs -vxz <zone>
    svcs -vx [<fmri>]

A zone must be a VM on the server the script runs on. Anything else exits 127 with
`command not found` on stderr.
"""
from __future__ import annotations

import json
import re
import shlex
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from sdcadm.sim.world import World

ZK_STATE_RE = re.compile(r"^zlogin\s+(\S+)\s+manatee-adm\s+zk-state$")
STAT_RE = re.compile(r"""^zlogin\s+(\S+)\s+bash\s+-c\s+(['"])\s*echo\s+stat\s*\|\s*"""
                     r"nc\s+(127\.0\.0\.1|localhost)\s+2181\s*\2$")
SVCS_ZONE_RE = re.compile(r"^svcs\s+-vxz\s+(\S+)$")
SVCS_RE = re.compile(r"^svcs\s+-vx(\s+\S+)?$")
# Read-only is decided on the script alone, so this one also takes a bare `svcs -vxz`.
READ_ONLY = (ZK_STATE_RE, STAT_RE, re.compile(r"^svcs\s+-vxz?(\s+\S+)?$"))


def _command(script: str, args: list[str] | None = None) -> str:
    """The script's one command: lines after the shebang, comments dropped, args appended."""
    body = [ln.strip() for ln in script.splitlines()[1:]]
    body = [ln for ln in body if ln and not ln.startswith("#")]
    return " ".join(body + [shlex.quote(a) for a in (args or [])]).strip()


def is_read_only(script: str) -> bool:
    """True for the scripts above: they only read, so they are not mutations."""
    command = _command(script)
    return any(r.match(command) for r in READ_ONLY)


def run(world: "World", server_uuid: str, script: str,
        args: list[str] | None = None) -> tuple[str, str, int]:
    command = _command(script, args)
    if not command:
        return "", "", 0
    # The commands that log into a zone: (pattern, answer given the zone's VM).
    in_zone: tuple[tuple[re.Pattern[str], Callable[[dict[str, Any]], str]], ...] = (
        (ZK_STATE_RE, lambda vm: json.dumps(zk_state(world)) + "\n"),
        (STAT_RE, lambda vm: zk_stat(world, vm)),
        (SVCS_ZONE_RE, lambda vm: _svcs_zone(world, vm)),
    )
    for pattern, answer in in_zone:
        m = pattern.match(command)
        if m:
            vm = _zone(world, server_uuid, m.group(1))
            if isinstance(vm, tuple):
                return vm
            return answer(vm), "", 0
    if SVCS_RE.match(command):
        return "", "", 0
    word = command.split()[0]
    return "", f"bash: {word}: command not found\n", 127


def _svcs_zone(world: "World", vm: dict[str, Any]) -> str:
    fault = world.has_fault("unhealthy", vm["uuid"])
    return maintenance(vm, fault) if fault else ""


def _zone(world: "World", server_uuid: str, zone: str) -> dict[str, Any] | tuple[str, str, int]:
    vm = world.store.get("vm", zone)
    if vm is None or vm.get("server_uuid") != server_uuid or vm.get("state") == "destroyed":
        return "", f"zlogin: zone '{zone}' unknown\n", 1
    if vm.get("state") != "running":
        zone_state = vm.get("zone_state", "installed")
        return "", f"zlogin: login allowed only to running zones ({zone} is '{zone_state}').\n", 1
    return vm


def _peer(world: "World", inst: str | None) -> dict[str, Any] | None:
    if not inst:
        return None
    vm = world.store.get("vm", inst) or {}
    ip = next((n.get("ip") for n in vm.get("nics") or [] if n.get("ip")), "10.99.99.99")
    return {"zoneId": inst, "ip": ip, "pgUrl": f"tcp://postgres@{ip}:5432/postgres",
            "backupUrl": f"http://{ip}:12345"}


def zk_state(world: "World") -> dict[str, Any]:
    shard = dict(world.store.get("sim", "shard") or {})
    asyncs = list(shard.get("async") or [])
    deposed = list(shard.get("deposed") or [])
    for f in world.faults():
        if f["type"] == "manatee-deposed":
            peer = f.get("target") or (asyncs[-1] if asyncs else shard.get("sync"))
            if peer in asyncs:
                asyncs.remove(peer)
            elif peer == shard.get("sync"):
                shard["sync"] = asyncs.pop(0) if asyncs else None
            if peer and peer not in deposed:
                deposed.append(peer)
    state: dict[str, Any] = {
        "generation": int(shard.get("generation", 1)),
        "primary": _peer(world, shard.get("primary")),
        "sync": _peer(world, shard.get("sync")),
        "async": [_peer(world, a) for a in asyncs],
        "deposed": [_peer(world, d) for d in deposed],
        "initWal": "0/16522D8",
    }
    if not shard.get("sync"):
        state["oneNodeWriteMode"] = True
    return state


def zk_stat(world: "World", vm: dict[str, Any]) -> str:
    binders = sorted((v for v in world.store.all("vm")
                      if (v.get("tags") or {}).get("smartdc_role") == "binder"
                      and v.get("state") != "destroyed"),
                     key=lambda v: v.get("alias") or "")
    if len(binders) <= 1:
        mode = "standalone"
    else:
        mode = "leader" if binders[0]["uuid"] == vm["uuid"] else "follower"
    return ("Zookeeper version: 3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf, "
            "built on 03/06/2019 16:18 GMT\n"
            "Clients:\n /127.0.0.1:41234[0](queued=0,recved=1,sent=0)\n\n"
            "Latency min/avg/max: 0/0/17\nReceived: 84211\nSent: 84230\nConnections: 7\n"
            f"Outstanding: 0\nZxid: 0x30000a1f2\nMode: {mode}\nNode count: 212\n")


def maintenance(vm: dict[str, Any], fault: dict[str, Any]) -> str:
    role = (vm.get("tags") or {}).get("smartdc_role") or "app"
    fmri = fault.get("fmri") or f"svc:/smartdc/application/{role}:default"
    since = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    log = fmri.replace("svc:/", "").replace("/", "-")
    return (f"{fmri} ({role})\n"
            f" Zone: {vm['uuid']}\n"
            f" State: maintenance since {since}\n"
            f"Reason: {fault.get('message') or 'Start method exited with $SMF_EXIT_ERR_FATAL.'}\n"
            "   See: http://illumos.org/msg/SMF-8000-KS\n"
            f"   See: /zones/{vm['uuid']}/root/var/svc/log/{log}.log\n"
            "Impact: This service is not running.\n")
