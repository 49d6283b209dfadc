"""Commands sdcadm runs inside core zones: `manatee-adm` in a manatee zone, `morayping` in a
moray zone."""
from __future__ import annotations

import json
from typing import Any

from sdcadm.sim import quorum
from sdcadm.sim.gz import Call, Output, zone_command


def _peer(call: Call, inst: str | None) -> dict[str, Any] | None:
    if not inst:
        return None
    vm = call.world.store.get("vm", inst) or {}
    ip = next((n.get("ip") for n in vm.get("nics") or [] if n.get("ip")), "10.99.99.99")
    return {"zoneId": inst, "ip": ip, "pgUrl": f"tcp://postgres@{ip}:5432/postgres",
            "backupUrl": f"http://{ip}:12345"}


def zk_state(call: Call) -> dict[str, Any]:
    """The shard as `manatee-adm zk-state` prints it; the `manatee-deposed` fault deposes a
    peer (by default the last async) on top of the modelled state."""
    shard = quorum.shard(call.world)
    asyncs, deposed, sync = list(shard["async"]), list(shard["deposed"]), shard["sync"]
    for f in call.world.faults():
        if f["type"] == "manatee-deposed":
            peer = f.get("target") or (asyncs[-1] if asyncs else sync)
            if peer in asyncs:
                asyncs.remove(peer)
            elif peer == sync:
                sync = asyncs.pop(0) if asyncs else None
            if peer and peer not in deposed:
                deposed.append(peer)
    state: dict[str, Any] = {
        "generation": shard["generation"], "primary": _peer(call, shard["primary"]),
        "sync": _peer(call, sync), "async": [_peer(call, a) for a in asyncs],
        "deposed": [_peer(call, d) for d in deposed], "initWal": "0/16522D8",
    }
    if not sync:
        state["oneNodeWriteMode"] = True
    if shard.get("freeze"):
        state["freeze"] = shard["freeze"]
    return state


def pg_status(call: Call) -> str:
    """`manatee-adm pg-status`: one line per peer; PG is `ok` when its zone answers."""
    state = zk_state(call)
    rows = [("ROLE", "PEER", "PG", "REPL", "SENT", "FLUSH", "REPLAY", "LAG")]
    peers = [("primary", state.get("primary")), ("sync", state.get("sync"))]
    peers += [("async", p) for p in state.get("async") or []]
    peers += [("deposed", p) for p in state.get("deposed") or []]
    chain = [p for _, p in peers]
    for n, (role, peer) in enumerate(peers):
        if not peer:
            continue
        vm = call.world.store.get("vm", peer["zoneId"])
        up = quorum.is_up(call.world, vm)
        nxt = chain[n + 1] if n + 1 < len(chain) and role != "deposed" else None
        repl = ("sync" if role == "primary" else "async") if up and nxt else "-"
        wal = "0/16522D8" if up else "-"
        rows.append((role, peer["zoneId"][:8], "ok" if up else "-", repl, wal, wal, wal,
                     "-" if role == "primary" or not up else "0m00s"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n"
                   for r in rows)


def _mutating(argv: list[str]) -> bool:
    return len(argv) > 1 and argv[1] in ("freeze", "unfreeze", "rebuild", "promote",
                                        "set-onwm", "reap")


@zone_command("manatee-adm", mutating=_mutating)
def manatee_adm(call: Call) -> Output:
    if (call.zone.get("tags") or {}).get("smartdc_role") != "manatee":  # type: ignore[union-attr]
        return call.fail("bash: manatee-adm: command not found", 127)
    sub = call.argv[1] if len(call.argv) > 1 else ""
    if sub == "zk-state":
        return json.dumps(zk_state(call)) + "\n", "", 0
    if sub == "pg-status":
        return pg_status(call), "", 0
    if sub == "freeze":
        args = call.argv[2:]
        if args[:1] != ["-r"] or len(args) != 2 or not args[1]:
            return call.fail("manatee-adm freeze: a reason is required (-r REASON)", 2)
        quorum.freeze(call.world, args[1])
        return "Frozen.\n", "", 0
    if sub == "unfreeze":
        quorum.unfreeze(call.world)
        return "Unfrozen.\n", "", 0
    return call.fail(f"manatee-adm: unknown command: {sub or '(none)'}", 2)


@zone_command("morayping")
def morayping(call: Call) -> Output:
    """node-moray's `morayping`: the moray in this zone answers; `-d` (a deep ping) also
    needs its manatee shard to take writes. Fault `ping-fail` on the zone: no answer."""
    zone = call.zone or {}
    if (zone.get("tags") or {}).get("smartdc_role") != "moray":
        return call.fail("bash: morayping: command not found", 127)
    if call.world.target_fault("ping-fail", [zone.get("uuid")]):
        return call.fail('morayping: moray client "127.0.0.1:2020": failed to establish '
                         "connection")
    if "-d" in call.argv[1:]:
        manatee = quorum.status(call.world).get("manatee")
        if manatee is not None and not manatee["ok"]:
            return call.fail("morayping: deep ping failed: no connection to the manatee "
                             "shard")
    return "", "", 0
