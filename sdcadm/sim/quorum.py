"""What the loss of a server does to the datacenter's replicated services.

Three groups keep the control plane alive, and each has a quorum:
- the **manatee shard** (primary, sync, asyncs): with fewer than a majority of its members
  up it stops accepting writes. A member going down while the shard is not frozen moves the
  roles (the sync takes over from a lost primary, an async from a lost sync); the old
  primary comes back deposed. `manatee-adm freeze` stops all of that;
- the **binder ensemble** (ZooKeeper): without a majority there is no leader, and once a
  majority is back one is elected afresh; a lost leader is replaced by a follower;
- the **moray shard**: it fails when its manatee has no quorum, or when no moray is up.

Every loss of quorum is recorded (group, members down, start and end) and served on the
admin surface, `GET /_sim/quorum-losses`, so a test can prove that a rolling reboot kept
every quorum. The documents live in the store (`sim/shard`, `sim/binder`,
`quorum-loss/*`), so they survive a restart and are emptied by reset.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from sdcadm.sim.store import now_iso

if TYPE_CHECKING:
    from sdcadm.sim.world import World

GROUPS = ("manatee", "binder", "moray")


# -- members --------------------------------------------------------------------------------

def members(world: "World", role: str) -> list[dict[str, Any]]:
    """Live (not destroyed) VMs of a core service, by alias."""
    return sorted((v for v in world.store.all("vm")
                   if (v.get("tags") or {}).get("smartdc_role") == role
                   and v.get("state") != "destroyed"),
                  key=lambda v: v.get("alias") or v["uuid"])


def is_up(world: "World", vm: dict[str, Any] | None) -> bool:
    """A member answers when its zone runs on a running server."""
    if not vm or vm.get("state") != "running":
        return False
    server = world.store.get("server", vm.get("server_uuid") or "") or {}
    return server.get("status") == "running"


def majority(n: int) -> int:
    return n // 2 + 1


# -- manatee --------------------------------------------------------------------------------

def shard(world: "World") -> dict[str, Any]:
    doc = world.store.get("sim", "shard") or {}
    return {"generation": int(doc.get("generation", 1)), "primary": doc.get("primary"),
            "sync": doc.get("sync"), "async": list(doc.get("async") or []),
            "deposed": list(doc.get("deposed") or []), "freeze": doc.get("freeze"),
            "down": list(doc.get("down") or []), "takeover": doc.get("takeover")}


def _save_shard(world: "World", doc: dict[str, Any]) -> None:
    world.store.put("sim", "shard", doc)


def freeze(world: "World", reason: str) -> None:
    doc = shard(world)
    doc["freeze"] = {"date": now_iso(), "reason": reason}
    _save_shard(world, doc)


def unfreeze(world: "World") -> None:
    doc = shard(world)
    doc["freeze"] = None
    _save_shard(world, doc)


def _member_lost(world: "World", doc: dict[str, Any], zone: str) -> None:
    """A peer went down: move the roles unless the shard is frozen."""
    if zone not in doc["down"]:
        doc["down"].append(zone)
    if doc.get("freeze"):
        return
    asyncs = [a for a in doc["async"] if a not in doc["down"]]
    if zone == doc["primary"] and doc["sync"] and doc["sync"] not in doc["down"]:
        doc["primary"] = doc["sync"]
        doc["sync"] = asyncs[0] if asyncs else None
        if asyncs:
            doc["async"].remove(asyncs[0])
        doc["generation"] += 1
        doc["takeover"] = zone  # comes back deposed: it may hold writes the others lack
    elif zone == doc["sync"] and asyncs:
        doc["sync"] = asyncs[0]
        doc["async"].remove(asyncs[0])
        doc["async"].append(zone)
        doc["generation"] += 1


def _member_back(world: "World", doc: dict[str, Any], zone: str) -> None:
    if zone in doc["down"]:
        doc["down"].remove(zone)
    if doc.get("takeover") == zone:
        doc.pop("takeover", None)
        if zone not in doc["deposed"]:
            doc["deposed"].append(zone)


# -- binder -------------------------------------------------------------------------------

def binder_leader(world: "World") -> str | None:
    """The ZooKeeper leader: kept while it is up, else elected among the live followers
    (lowest alias first). None without a majority: the leader steps down, so a member that
    comes back from a reboot never resumes leading without an election."""
    binders = members(world, "binder")
    if len(binders) <= 1:
        return None
    up = [b for b in binders if is_up(world, b)]
    doc = world.store.get("sim", "binder") or {}
    leader = doc.get("leader")
    if len(up) < majority(len(binders)):
        if leader is not None:
            world.store.put("sim", "binder", {"leader": None, "stepped_down": now_iso()})
        return None
    if leader not in {b["uuid"] for b in up}:
        leader = up[0]["uuid"]
        world.store.put("sim", "binder", {"leader": leader, "elected": now_iso()})
    return leader


def zk_mode(world: "World", vm: dict[str, Any]) -> str | None:
    """`Mode:` of `stat` on this binder: standalone, leader, follower; None when it cannot
    serve (no quorum: ZooKeeper answers `This ZooKeeper instance is not currently serving
    requests`)."""
    if len(members(world, "binder")) <= 1:
        return "standalone"
    leader = binder_leader(world)
    if leader is None:
        return None
    return "leader" if vm["uuid"] == leader else "follower"


# The APIs the simulator serves and the core service whose zones host each of them.
API_HOSTS = {"sapi": "sapi", "imgapi": "imgapi", "vmapi": "vmapi", "cnapi": "cnapi",
             "workflow": "workflow"}


def api_down(world: "World", api: str) -> bool:
    """Every zone of the service behind this API sits on a server that is not running (the
    headnode rebooting, typically): nobody answers. A zone being reprovisioned on a live
    server is not modelled as downtime."""
    role = API_HOSTS.get(api)
    if role is None:
        return False
    hosts = members(world, role)
    if not hosts:
        return False
    for v in hosts:
        server = world.store.get("server", v.get("server_uuid") or "") or {}
        if server.get("status") == "running":
            return False
    return True


# -- server reboots -------------------------------------------------------------------------

def server_down(world: "World", server_uuid: str) -> None:
    """The server stops: its zones stop, the shard reacts, quorums are re-evaluated."""
    doc = shard(world)
    for vm in vms_on(world, server_uuid):
        world.store.edit("vm", vm["uuid"], lambda v: v.update(state="stopped",
                                                               zone_state="installed"))
        if vm["uuid"] in _shard_members(doc):
            _member_lost(world, doc, vm["uuid"])
    _save_shard(world, doc)
    binder_leader(world)
    evaluate(world)


def server_up(world: "World", server_uuid: str, *, broken: Iterable[str] = ()) -> None:
    """The server is back: its zones start (those in `broken` start but stay unhealthy,
    which is a fault the caller installs), the shard takes its peers back."""
    doc = shard(world)
    for vm in vms_on(world, server_uuid):
        world.store.edit("vm", vm["uuid"], lambda v: v.update(state="running",
                                                               zone_state="running"))
        if vm["uuid"] in _shard_members(doc) or vm["uuid"] in doc["down"]:
            _member_back(world, doc, vm["uuid"])
    _save_shard(world, doc)
    binder_leader(world)
    evaluate(world)


def vms_on(world: "World", server_uuid: str) -> list[dict[str, Any]]:
    return [v for v in world.store.all("vm")
            if v.get("server_uuid") == server_uuid and v.get("state") != "destroyed"]


def _shard_members(doc: dict[str, Any]) -> list[str]:
    return [z for z in [doc.get("primary"), doc.get("sync"), *doc.get("async", [])] if z]


# -- quorum losses ----------------------------------------------------------------------------

def status(world: "World") -> dict[str, dict[str, Any]]:
    """Per group: members, those down, whether the group has quorum now, and whether it is
    replicated at all. A group of one (lab's manatee, say), or a moray shard on such a
    manatee, has no quorum to lose: its update or reboot is the outage of a service that is
    not HA, which the tool warns about, not a quorum loss."""
    out: dict[str, dict[str, Any]] = {}
    manatees = members(world, "manatee")
    mdown = [v for v in manatees if not is_up(world, v)]
    manatee_ok = bool(manatees) and len(manatees) - len(mdown) >= majority(len(manatees))
    if manatees:
        out["manatee"] = {"members": manatees, "down": mdown, "ok": manatee_ok,
                          "replicated": len(manatees) > 1}
    binders = members(world, "binder")
    if binders:
        bdown = [v for v in binders if not is_up(world, v)]
        out["binder"] = {"members": binders, "down": bdown,
                         "ok": len(binders) - len(bdown) >= majority(len(binders)),
                         "replicated": len(binders) > 1}
    morays = members(world, "moray")
    if morays:
        rdown = [v for v in morays if not is_up(world, v)]
        ok = len(rdown) < len(morays) and (manatee_ok or not manatees)
        out["moray"] = {"members": morays, "down": rdown, "ok": ok,
                        "replicated": len(morays) > 1 and len(manatees) != 1}
    return out


def evaluate(world: "World") -> None:
    """Open a loss record for every group that just lost quorum; close the records of
    groups that got it back."""
    open_losses = {d["group"]: d for d in world.store.all("quorum-loss") if not d.get("ended")}
    for group, st in status(world).items():
        if not st["replicated"]:
            continue
        current = open_losses.get(group)
        if not st["ok"] and current is None:
            n = len(world.store.all("quorum-loss")) + 1
            world.store.put("quorum-loss", f"{n:06d}", {
                "id": f"{n:06d}", "group": group, "started": now_iso(), "ended": None,
                "members": [v.get("alias") or v["uuid"] for v in st["members"]],
                "down": [_where(world, v) for v in st["down"]],
                "reason": _reason(group, st)})
        elif not st["ok"] and current is not None:
            down = {_where(world, v) for v in st["down"]}

            def more_down(doc: dict[str, Any], more: set[str] = down) -> None:
                doc["down"] = sorted(set(doc["down"]) | more)
            world.store.edit("quorum-loss", current["id"], more_down)
        elif st["ok"] and current is not None:
            world.store.edit("quorum-loss", current["id"], lambda d: d.update(ended=now_iso()))


def _where(world: "World", vm: dict[str, Any]) -> str:
    server = world.store.get("server", vm.get("server_uuid") or "") or {}
    return f"{vm.get('alias') or vm['uuid']} on {server.get('hostname', '?')}"


def _reason(group: str, st: dict[str, Any]) -> str:
    up = len(st["members"]) - len(st["down"])
    if group == "moray" and up:
        return "its manatee shard has no quorum"
    if group == "binder":
        return f"{up} of {len(st['members'])} ZooKeeper servers up: no leader"
    if group == "manatee":
        return f"{up} of {len(st['members'])} peers up: writes stop"
    return f"{up} of {len(st['members'])} instances up"


def losses(world: "World") -> list[dict[str, Any]]:
    return sorted(world.store.all("quorum-loss"), key=lambda d: d["id"])
