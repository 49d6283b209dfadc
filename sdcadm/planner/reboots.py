"""Rolling reboots that keep every quorum: which servers, in what order, how many at once.

Pure: from the gathered datacenter and the HA roles (`topology`) to one `Slot` per server.

- **What a server holds**: the members of the replicated core services that run on it (the
  manatee shard with its roles, the binder/ZooKeeper ensemble with its leader, the moray
  shard). Two servers holding members of one group never reboot together: each group is
  an exclusive key.
- **Order**, as the operator runbook has it: servers holding a manatee async first, then the
  servers holding no manatee peer, then the sync, then the primary; binder followers before
  the leader; the headnode (where sdcadm runs) last. The manatee chain, the binder leader
  and the headnode are hard dependencies (a later server starts only once the earlier ones
  passed their health gate); when two rules conflict, "headnode last" wins over the manatee
  chain, which wins over the binder leader, and the plan says so.
- **Freeze**: a server holding the manatee primary or sync reboots with the shard frozen,
  so the shard does not fail over while it is gone.
- **Window**: `--max-unavailable N|N%` servers down at once (a percentage of the servers in
  the plan, rounded down, at least 1).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sdcadm.errors import UsageError
from sdcadm.model import DatacenterState, Server

GROUPS = ("manatee", "binder", "moray")
# Position of a server by its manatee role (async first, primary last); 1: no manatee peer.
MANATEE_TIER = {"async": 0, "deposed": 0, None: 1, "sync": 2, "primary": 3}


@dataclass(frozen=True)
class Hold:
    group: str  # manatee | binder | moray
    instance: str
    alias: str | None = None
    role: str | None = None  # primary/sync/async/deposed, leader/follower/standalone

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "instance": self.instance, "alias": self.alias,
                "role": self.role}

    @property
    def text(self) -> str:
        if self.group == "manatee":
            return f"manatee {self.role or 'peer'}"
        if self.group == "binder":
            return f"binder {self.role}" if self.role else "binder member"
        return f"{self.group} member"


@dataclass(frozen=True)
class Slot:
    """One server of a rolling reboot, in its place."""

    server: str
    hostname: str
    headnode: bool
    platform: str | None  # what it must run once back (its boot platform)
    holds: tuple[Hold, ...] = ()
    after: tuple[str, ...] = ()  # servers that must pass their gate first
    exclusive: tuple[str, ...] = ()
    freeze: bool = False
    why: str = ""  # why it is in its place, for the plan
    # For each group it holds, every member as [instance, server]: where to freeze the shard
    # and whom to ask whether the group is whole again.
    peers: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "hostname": self.hostname, "headnode": self.headnode,
                "platform": self.platform, "holds": [h.to_json() for h in self.holds],
                "after": list(self.after), "exclusive": list(self.exclusive),
                "freeze": self.freeze, "why": self.why,
                "peers": {g: [list(m) for m in ms] for g, ms in self.peers.items()}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Slot":
        return cls(server=d["server"], hostname=d["hostname"], headnode=bool(d["headnode"]),
                   platform=d.get("platform"),
                   holds=tuple(Hold(**h) for h in d.get("holds") or ()),
                   after=tuple(d.get("after") or ()), exclusive=tuple(d.get("exclusive") or ()),
                   freeze=bool(d.get("freeze")), why=d.get("why") or "",
                   peers={g: tuple((m[0], m[1]) for m in ms)
                          for g, ms in (d.get("peers") or {}).items()})


# -- selection ---------------------------------------------------------------------------------

def parse_max_unavailable(text: str | int | None, servers: int) -> int:
    """`N` or `N%` of `servers` (rounded down, at least 1); 1 when not given."""
    if text is None or text == "":
        return 1
    raw = str(text).strip()
    pct = raw.endswith("%")
    digits = raw[:-1] if pct else raw
    if not digits.isdigit():
        raise UsageError(f'--max-unavailable must be a number of servers or a percentage '
                         f'(N or N%), not "{raw}"')
    n = int(digits)
    if pct:
        if not 1 <= n <= 100:
            raise UsageError(f"--max-unavailable {raw}: a percentage must be between 1% "
                             "and 100%")
        return max(1, servers * n // 100)
    if n < 1:
        raise UsageError(f"--max-unavailable {raw}: at least one server must be allowed "
                         "down at a time")
    return n


def _trait(server: Server, path: str) -> Any:
    if path.startswith("traits."):
        return server.traits.get(path[len("traits."):])
    if path in ("hostname", "uuid", "current_platform", "boot_platform", "status",
                "headnode", "setup"):
        return getattr(server, path)
    raise UsageError(f'unknown selector field "{path}" (traits.NAME, hostname, uuid, '
                     'current_platform, boot_platform, status, headnode, setup)')


def _matches(server: Server, selector: str) -> bool:
    op = "!=" if "!=" in selector else "="
    key, sep, want = selector.partition(op)
    if not sep or not key.strip():
        raise UsageError(f'bad selector "{selector}": use FIELD=VALUE or FIELD!=VALUE, '
                         'e.g. traits.ssd=true')
    have = _trait(server, key.strip())
    text = "" if have is None else str(have).lower() if isinstance(have, bool) else str(have)
    same = fnmatch.fnmatchcase(text, want.strip())
    return same if op == "=" else not same


def select_servers(state: DatacenterState, idents: Sequence[str] = (), *, all_: bool = False,
                   selectors: Sequence[str] = (), hostnames: Sequence[str] = (),
                   platforms: Sequence[str] = ()) -> list[Server]:
    """The servers named (uuid or hostname) or all of them, narrowed by the selectors, the
    hostname patterns and the platforms they run. Unknown names and empty results are
    usage errors."""
    if idents and all_:
        raise UsageError("name servers or use --all, not both")
    unknown = [i for i in idents if state.find_server(i) is None]
    if unknown:
        raise UsageError("unknown server" + ("s " if len(unknown) > 1 else " ") +
                         ", ".join(f'"{u}"' for u in unknown))
    for p in platforms:
        if p not in state.platforms and not any(s.current_platform == p
                                                for s in state.servers.values()):
            raise UsageError(f'unknown platform "{p}"')
    if not (idents or all_ or selectors or hostnames or platforms):
        raise UsageError("which servers? name them (uuid or hostname), or use --all, "
                         "--selector, --hostname or --platform")
    if idents:
        named = {state.find_server(i).uuid: None for i in idents}  # type: ignore[union-attr]
        chosen = [state.servers[u] for u in named]
    else:
        chosen = [s for s in state.servers.values() if s.setup]
    out = []
    for s in chosen:
        if selectors and not all(_matches(s, sel) for sel in selectors):
            continue
        if hostnames and not any(fnmatch.fnmatchcase(s.hostname, h) for h in hostnames):
            continue
        if platforms and s.current_platform not in platforms:
            continue
        out.append(s)
    if not out:
        what = [*(f"--selector {x}" for x in selectors), *(f"--hostname {x}" for x in hostnames),
                *(f"--platform {x}" for x in platforms)]
        raise UsageError("no servers match " + (" ".join(what) or "the selection"))
    return sorted(out, key=lambda s: (s.headnode, s.hostname, s.uuid))


# -- what runs where -------------------------------------------------------------------------

def holdings(state: DatacenterState, topology: Mapping[str, Mapping[str, str]] | None,
             ) -> dict[str, tuple[Hold, ...]]:
    """Server uuid -> the members of replicated groups it runs."""
    roles = topology or {}
    out: dict[str, list[Hold]] = {}
    for inst in state.instances:
        if inst.type != "vm" or inst.service not in GROUPS or not inst.server:
            continue
        role = (roles.get(inst.service) or {}).get(inst.instance)
        out.setdefault(inst.server, []).append(Hold(inst.service, inst.instance, inst.alias, role))
    return {k: tuple(sorted(v, key=lambda h: GROUPS.index(h.group))) for k, v in out.items()}


def group_sizes(state: DatacenterState) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for inst in state.instances:
        if inst.type == "vm" and inst.service in GROUPS:
            sizes[inst.service] = sizes.get(inst.service, 0) + 1
    return sizes


def _role(holds: Iterable[Hold], group: str) -> str | None:
    return next((h.role for h in holds if h.group == group), None)


def _holds(holds: Iterable[Hold], group: str) -> bool:
    return any(h.group == group for h in holds)


# -- order -----------------------------------------------------------------------------------

def plan_slots(servers: Sequence[Server], held: Mapping[str, tuple[Hold, ...]],
               sizes: Mapping[str, int], *, roles_known: bool = True) -> list[Slot]:
    """Every selected server in reboot order, with its dependencies, keys and reason."""
    ids = [s.uuid for s in servers]
    by_id = {s.uuid: s for s in servers}
    succ: dict[str, set[str]] = {u: set() for u in ids}  # u -> servers that come after u
    notes: dict[str, list[str]] = {u: [] for u in ids}

    def add(before: str, after: str) -> bool:
        if before == after or after in succ[before]:
            return True
        if _reaches(succ, after, before):
            return False  # would make a cycle: a stronger rule decided already
        succ[before].add(after)
        return True

    hn = [u for u in ids if by_id[u].headnode]
    for h in hn:  # 1. the headnode last
        for u in ids:
            if u != h:
                add(u, h)
    # 2. the manatee chain: asyncs -> sync -> primary.
    by_role: dict[str | None, list[str]] = {}
    for u in ids:
        if _holds(held.get(u, ()), "manatee"):
            by_role.setdefault(_role(held.get(u, ()), "manatee"), []).append(u)
    chain = [by_role.get("async", []) + by_role.get("deposed", []), by_role.get("sync", []),
             by_role.get("primary", [])]
    chain = [tier for tier in chain if tier]
    # Every earlier tier before every later one: when the headnode holds the sync (and so
    # cannot come before the primary), the async still comes before the primary.
    for n, earlier in enumerate(chain):
        for later in chain[n + 1:]:
            for b in earlier:
                for a in later:
                    if not add(b, a):
                        notes[a].append(f"before {by_id[b].hostname} (the headnode goes last)")
    # 3. binder followers before the leader.
    leader = [u for u in ids if _role(held.get(u, ()), "binder") == "leader"]
    followers = [u for u in ids if _role(held.get(u, ()), "binder") == "follower"]
    for lu in leader:
        for fu in followers:
            if not add(fu, lu):
                why = ("the headnode goes last" if by_id[fu].headnode
                       else "the manatee order comes first")
                notes[lu].append(f"before the follower on {by_id[fu].hostname} ({why})")

    def key(u: str) -> tuple[int, int, str]:
        s = by_id[u]
        tier = MANATEE_TIER.get(_role(held.get(u, ()), "manatee"), 1) \
            if _holds(held.get(u, ()), "manatee") else 1
        return (1 if s.headnode else 0, tier, s.hostname)

    preds: dict[str, set[str]] = {u: set() for u in ids}
    for b, afters in succ.items():
        for a in afters:
            preds[a].add(b)
    order = _topological(ids, preds, key)
    members: dict[str, list[tuple[str, str]]] = {}
    for server_uuid, hs in sorted(held.items()):
        for hold in hs:
            members.setdefault(hold.group, []).append((hold.instance, server_uuid))
    slots = []
    for u in order:
        s = by_id[u]
        holds = held.get(u, ())
        keys = tuple(dict.fromkeys(h.group for h in holds if sizes.get(h.group, 0) > 1))
        freeze = sizes.get("manatee", 0) > 1 and _role(holds, "manatee") in ("primary", "sync")
        slots.append(Slot(
            server=u, hostname=s.hostname, headnode=s.headnode, platform=s.boot_platform,
            holds=holds, after=tuple(sorted(preds[u])), exclusive=keys,
            freeze=freeze, why=_why(s, holds, sizes, freeze, notes[u], roles_known),
            peers={g: tuple(members.get(g, ())) for g in dict.fromkeys(h.group for h in holds)}))
    return slots


def _reaches(succ: Mapping[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        u = todo.pop()
        if u == goal:
            return True
        if u not in seen:
            seen.add(u)
            todo.extend(succ[u])
    return False


def _topological(ids: list[str], preds: Mapping[str, set[str]], key: Any) -> list[str]:
    """Kahn's order, picking the smallest `key` among the servers whose predecessors are
    placed."""
    import heapq

    waiting = {u: len(preds[u]) for u in ids}
    succ: dict[str, list[str]] = {u: [] for u in ids}
    for a in ids:
        for b in preds[a]:
            succ[b].append(a)
    ready = [(key(u), u) for u in ids if not waiting[u]]
    heapq.heapify(ready)
    done: list[str] = []
    while ready:
        _, u = heapq.heappop(ready)
        done.append(u)
        for a in succ[u]:
            waiting[a] -= 1
            if not waiting[a]:
                heapq.heappush(ready, (key(a), a))
    return done


def _why(server: Server, holds: tuple[Hold, ...], sizes: Mapping[str, int], freeze: bool,
         notes: list[str], roles_known: bool) -> str:
    parts = []
    if server.headnode:
        parts.append("headnode (sdcadm runs here): last")
    for h in holds:
        if sizes.get(h.group, 0) <= 1:
            parts.append(f"holds the only {h.group}: it is down while the server reboots")
        elif h.group == "manatee" and h.role:
            parts.append(f"holds manatee {h.role}" + (", shard frozen" if freeze else ""))
        elif h.group == "binder" and h.role == "leader":
            parts.append("binder leader: after the followers")
        else:
            parts.append(h.text)
    if holds and not roles_known and any(h.group in ("manatee", "binder") for h in holds):
        parts.append("roles not read yet")
    parts += notes
    return "; ".join(parts)


def window_note(slots: Sequence[Slot], window: int) -> str | None:
    """Said when the quorum keys keep the window from being used in full."""
    shared: dict[str, list[str]] = {}
    for s in slots:
        for k in s.exclusive:
            shared.setdefault(k, []).append(s.hostname)
    same: dict[tuple[str, ...], list[str]] = {}
    for k, hosts in sorted(shared.items()):
        if len(hosts) > 1:
            same.setdefault(tuple(hosts), []).append(k)
    if not same or window <= 1:
        return None
    groups = "; ".join(f"{', '.join(keys)} on {', '.join(hosts)}" for hosts, keys in same.items())
    return f"servers holding members of one quorum reboot one at a time ({groups})"


# -- a reboot plan -----------------------------------------------------------------------------

def reboot_plan(state: DatacenterState, servers: Sequence[Server],
                topology: Mapping[str, Mapping[str, str]] | None, max_unavailable: Any, *,
                plan_uuid: str, since: str | None, verify: bool = True) -> Any:
    """The Plan of a reboot plan: one `reboot-servers` change, its servers placed."""
    from sdcadm.plan import Plan, PlannedChange
    from sdcadm.planner.changes import rolling_reboot

    pc = PlannedChange(type="reboot-servers", procedure="reboot",
                       request={"type": "reboot-servers", "plan": plan_uuid, "since": since})
    pc = rolling_reboot(pc, list(servers), state, topology, max_unavailable)
    hn = state.headnode
    return Plan(changes=(pc,), fingerprint=state.fingerprint(),
                fingerprint_facts=state.fingerprint_facts(),
                options={"headnode": hn.uuid if hn else None, "verify": verify,
                         "topology": {k: dict(v) for k, v in (topology or {}).items()}})
