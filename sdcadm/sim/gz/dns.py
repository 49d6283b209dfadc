"""`dig NAME +short` in a global zone: the core services' DNS names, as binder serves them.

An instance is in DNS (its admin IP answers for its service's `SERVICE_DOMAIN`, e.g.
`moray.coal.joyent.us`) while its zone runs on a running server and its `registrar` SMF
service is enabled (`svcadm -z ZONE disable registrar` takes it out; a reprovisioned zone
starts with registrar enabled again). The `dns-missing` fault keeps a zone from registering.
"""
from __future__ import annotations

from typing import Any

from sdcadm.sim import quorum
from sdcadm.sim.gz import Call, Output, command


def registered(call: Call, vm: dict[str, Any]) -> bool:
    if not quorum.is_up(call.world, vm):
        return False
    if ((vm.get("_sim") or {}).get("smf") or {}).get("registrar") is False:
        return False
    return not call.world.has_fault("dns-missing", vm["uuid"])


def _ip(vm: dict[str, Any]) -> str | None:
    return next((n.get("ip") for n in vm.get("nics") or [] if n.get("ip")), None)


@command("dig")
def dig(call: Call) -> Output:
    args = [a for a in call.argv[1:] if not a.startswith("@")]
    names = [a for a in args if not a.startswith("+") and not a.startswith("-")]
    if len(names) != 1:
        return call.fail("usage: dig NAME [+short] (one name)", 1)
    name = names[0].rstrip(".")
    suffix = f".{call.world.dc_name}.{call.world.dns_domain}"
    role = name[:-len(suffix)] if name.endswith(suffix) else None
    if not role:
        return "", "", 0  # not a name binder serves: nothing, as for NXDOMAIN
    ips = [ip for vm in quorum.members(call.world, role)
           if registered(call, vm) and (ip := _ip(vm))]
    short = "+short" in args
    if short:
        return "".join(f"{ip}\n" for ip in ips), "", 0
    answer = "".join(f"{name}.\t30\tIN\tA\t{ip}\n" for ip in ips)
    return f";; ANSWER SECTION:\n{answer}", "", 0
