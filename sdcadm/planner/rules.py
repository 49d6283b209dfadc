"""Which service is updated how: the original sdcadm's service sets, as data.

Kept apart from the planning code so a reader can see every routing decision in one
screen, and so the tests can iterate over the same tables the planner uses.
"""
from __future__ import annotations

# Never part of `--all`: unsupported by sdcadm update (original `--all` filter).
UNSUPPORTED_IN_ALL = frozenset({
    "nat", "hostvolume", "provisioner", "heartbeater", "zonetracker", "zookeeper",
    "sdcsso", "piranha", "vcapi",
})

# Simple services: reprovision each instance onto the new image.
STATELESS = frozenset({
    "amon", "amonredis", "assets", "cnapi", "cns", "dhcpd", "docker", "fwapi", "grafana",
    "kbmapi", "logarchiver", "manta", "napi", "prometheus", "rabbitmq", "redis", "sdc",
    "ufds", "vmapi", "volapi",
})

# Simple services that run correctly with several instances behind one name.
HA_READY = frozenset({
    "adminui", "cloudapi", "cmon", "mahi", "nat", "papi", "portolan", "workflow",
})

# Agents updated through CNAPI install-agent (the original UpdateAgentV1 set).
AGENTS = frozenset({
    "cn-agent", "vm-agent", "net-agent", "agents_core", "firewaller", "smartlogin",
    "config-agent", "amon-agent", "amon-relay", "hagfish-watcher", "cmon-agent",
    "firewall-logger-agent",
})

# Services with their own procedure.
SPECIAL = {
    "moray": "moray",
    "sapi": "sapi",
    "manatee": "manatee",
    "binder": "binder",
    "imgapi": "imgapi",
}

# Execution order of procedures: images first, the data path (manatee, binder) late,
# agents and platforms (which reboot servers) last.
PROCEDURE_ORDER = (
    "stateless", "ha", "moray", "sapi", "manatee", "binder", "imgapi", "agent", "platform",
)

# The update machinery: what updating runs on (SAPI, IMGAPI, VMAPI, CNAPI, Workflow, NAPI,
# their data path moray/manatee, binder's DNS, UFDS) and rabbitmq, which CNAPI's ping lists
# among its own dependencies. Each of these is updated alone, in plan order, never while
# anything else is being changed (`planner/schedule.py`).
CORE_SERVICES = frozenset({
    "sapi", "imgapi", "vmapi", "cnapi", "workflow", "napi", "moray", "manatee", "binder",
    "ufds", "rabbitmq",
})

# Services updated at a time outside the machinery (`update --service-concurrency`). Most
# core zones share the headnode, and each reprovision stops a zone, rewrites its dataset and
# boots it: four at a time keeps a production headnode responsive.
SERVICE_CONCURRENCY = 4

# Seconds to wait for an instance to come back after a reprovision, per procedure.
WAIT_TIMEOUTS = {
    "stateless": 300, "ha": 300, "moray": 300, "sapi": 300, "manatee": 900,
    "binder": 600, "imgapi": 600,
}

SAPI_NOT_FULL = (
    "SAPI is not in full mode. This could mean initial setup failed. Please fix SAPI VMs "
    "before continue: `sdc-sapi /mode?mode=full -X POST`"
)

SDCADM_ITSELF = '"sdcadm update" does not update sdcadm itself: use "sdcadm self-update --latest"'


def procedure_for(service_name: str, service_type: str = "vm") -> str | None:
    """The procedure that updates `service_name`, or None when sdcadm cannot update it."""
    if service_type == "agent" or service_name in AGENTS:
        return "agent" if service_name in AGENTS else None
    if service_name in SPECIAL:
        return SPECIAL[service_name]
    if service_name in HA_READY:
        return "ha"
    if service_name in STATELESS:
        return "stateless"
    return None
