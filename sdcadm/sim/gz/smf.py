"""SMF in the global zone and in zones: `svcs -vx [FMRI]`, `svcs -vxz ZONE`, `svcadm`.

`svcs -vx` prints nothing when every service is online, else one block per service in
trouble, as illumos does. Services go into maintenance through the `unhealthy` fault: aimed
at a VM uuid it breaks that zone's service; aimed at a server uuid with `"agent": NAME` it
breaks that agent's service in the global zone.
"""
from __future__ import annotations

import time
from typing import Any

from sdcadm.sim.gz import Call, Output, command


def maintenance(fmri: str, zone: str | None, role: str, message: str | None) -> str:
    """The `svcs -vx` block of a service in maintenance."""
    since = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    log = fmri.replace("svc:/", "").replace("/", "-")
    root = f"/zones/{zone}/root" if zone else ""
    lines = [f"{fmri} ({role})"]
    if zone:
        lines.append(f" Zone: {zone}")
    lines += [f" State: maintenance since {since}",
              f"Reason: {message or 'Start method exited with $SMF_EXIT_ERR_FATAL.'}",
              "   See: http://illumos.org/msg/SMF-8000-KS",
              f"   See: {root}/var/svc/log/{log}.log",
              "Impact: This service is not running."]
    return "\n".join(lines) + "\n"


def zone_problems(call: Call, vm: dict[str, Any]) -> str:
    fault = call.world.has_fault("unhealthy", vm["uuid"])
    if not fault:
        return ""
    role = (vm.get("tags") or {}).get("smartdc_role") or "app"
    fmri = fault.get("fmri") or f"svc:/smartdc/application/{role}:default"
    return maintenance(fmri, vm["uuid"], role, fault.get("message"))


def agent_fmri(name: str) -> str:
    return f"svc:/smartdc/agent/{name}:default"


def global_problems(call: Call, only: str | None = None) -> str:
    """Blocks for the global zone's services in trouble (agents and the rest)."""
    blocks = []
    for f in call.world.faults():
        if f["type"] != "unhealthy" or f.get("target") not in (call.server["uuid"], "*"):
            continue
        if f.get("target") == "*" and not f.get("agent") and not f.get("fmri"):
            continue  # a "*" fault without agent/fmri aims at zones, not global services
        name = f.get("agent") or "global"
        fmri = f.get("fmri") or (agent_fmri(name) if f.get("agent") else
                                 "svc:/system/filesystem/local:default")
        if only and only not in (fmri, name, fmri.rsplit(":", 1)[0]):
            continue
        blocks.append(maintenance(fmri, None, name, f.get("message")))
    return "\n".join(blocks)


@command("svcs")
def svcs(call: Call) -> Output:
    args = call.argv[1:]
    if call.zone is not None:  # `zlogin Z svcs -vx`
        return (zone_problems(call, call.zone) if args[:1] == ["-vx"] else ""), "", 0
    if args[:1] == ["-vxz"] and len(args) == 2 or args[:2] == ["-vx", "-z"] and len(args) == 3:
        zone = args[-1]
        vm = call.world.store.get("vm", zone)
        if vm is None or vm.get("server_uuid") != call.server["uuid"] \
                or vm.get("state") == "destroyed":
            return call.fail(f"svcs: zone '{zone}' unknown")
        if vm.get("state") != "running":
            return call.fail(f"svcs: could not access zone '{zone}': zone is not running")
        return zone_problems(call, vm), "", 0
    if args[:1] == ["-vx"] and len(args) <= 2:
        return global_problems(call, args[1] if len(args) == 2 else None), "", 0
    return call.fail("Usage: svcs [-aHpv?] [-o col[,col]*] [-R FMRI-instance]... [-sS col]... "
                     "[-z zone|-Z] [FMRI|pattern]...", 2)


def _svcadm_mutating(argv: list[str]) -> bool:
    return True


@command("svcadm", mutating=_svcadm_mutating)
def svcadm(call: Call) -> Output:
    """`svcadm [-z ZONE] enable|disable [-s] FMRI` and `refresh FMRI`: registrar and
    config-agent are what sdcadm touches; their state lives on the VM (`_sim.smf`)."""
    args = call.argv[1:]
    zone = None
    if args[:1] == ["-z"] and len(args) >= 2:
        zone, args = args[1], args[2:]
    if not args or args[0] not in ("enable", "disable", "refresh", "restart"):
        return call.fail("Usage: svcadm [-v] [-z zone] [cmd [args ... ]]", 2)
    verb, rest = args[0], [a for a in args[1:] if not a.startswith("-")]
    if len(rest) != 1:
        return call.fail(f"Usage: svcadm {verb} [-rst] [FMRI|pattern ...]", 2)
    fmri = rest[0]
    if zone is None:
        return "", "", 0
    vm = call.world.store.get("vm", zone)
    if vm is None or vm.get("server_uuid") != call.server["uuid"]:
        return call.fail(f"svcadm: invalid zone '{zone}'")
    if vm.get("state") != "running":
        return call.fail(f"svcadm: zone '{zone}' is not running")
    if verb in ("enable", "disable"):
        name = fmri.replace("svc:/", "").split(":")[0].rsplit("/", 1)[-1]
        call.world.store.edit("vm", zone, lambda v: v.setdefault("_sim", {}).setdefault(
            "smf", {}).update({name: verb == "enable"}))
    return "", "", 0
