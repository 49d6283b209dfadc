"""`imgadm list` in a global zone: the images installed in the server's `zones` pool.

A server has the image of every zone on it installed (any zone not destroyed), and, as an
incremental image needs its origin, each of their origins. Manifests are the datacenter
IMGAPI's (else the updates server's, for an image the local IMGAPI no longer has).

- `imgadm list -j`: a JSON array, one `{"manifest", "zpool", "cloneNames", "clones"}` per
  image, in the pool's order (by uuid), as imgadm prints it;
- `imgadm list`: a table, `UUID NAME VERSION OS TYPE PUB` (`-H`: no header), sorted by
  `published_at` then name;
- filters `FIELD=VALUE` (exact), `FIELD=true|false`, `FIELD=~SUBSTRING`, on the manifest's
  fields and `zpool`.

Any other `imgadm` subcommand is not simulated: it answers as an unknown command does, and
counts as a change in the mutation log.
"""
from __future__ import annotations

import json
from typing import Any

from sdcadm.sim import quorum
from sdcadm.sim.gz import Call, Output, command
from sdcadm.sim.web import public

ZPOOL = "zones"
COLUMNS = ("uuid", "name", "version", "os", "type", "pub")


def _mutating(argv: list[str]) -> bool:
    return argv[1:2] != ["list"]


@command("imgadm", mutating=_mutating)
def imgadm(call: Call) -> Output:
    if call.argv[1:2] != ["list"]:
        return call.fail(f"bash: {call.name}: command not found", 127)
    opts = [a for a in call.argv[2:] if a.startswith("-")]
    for opt in opts:
        if opt not in ("-j", "--json", "-H"):
            return call.fail(f'imgadm list: error (Option): unknown option: "{opt}"')
    filters: dict[str, str] = {}
    for arg in (a for a in call.argv[2:] if not a.startswith("-")):
        field, eq, value = arg.partition("=")
        if not eq:
            return call.fail(f'imgadm list: error (Usage): invalid filter: "{arg}" (must be of '
                             'the form "field=value")', 2)
        filters[field] = value
    infos = [i for i in installed(call) if _matches(i, filters)]
    if "-j" in opts or "--json" in opts:
        return json.dumps(infos, indent=2) + "\n", "", 0
    return _table(infos, header="-H" not in opts), "", 0


def installed(call: Call) -> list[dict[str, Any]]:
    """imgadm's image info for every image in the server's pool, by uuid."""
    vms = [v for v in quorum.vms_on(call.world, call.server["uuid"]) if v.get("image_uuid")]
    clones: dict[str, list[str]] = {}
    for vm in vms:
        clones.setdefault(vm["image_uuid"], []).append(f"{ZPOOL}/{vm['uuid']}")
    manifests: dict[str, dict[str, Any]] = {}
    todo = list(clones)
    while todo:
        uuid = todo.pop()
        if uuid in manifests:
            continue
        manifests[uuid] = _manifest(call, uuid)
        origin = manifests[uuid].get("origin")
        if origin:
            clones.setdefault(origin, []).append(f"{ZPOOL}/{uuid}")
            todo.append(origin)
    return [{"manifest": manifests[u], "zpool": ZPOOL, "cloneNames": sorted(clones.get(u, [])),
             "clones": len(clones.get(u, []))} for u in sorted(manifests)]


def _manifest(call: Call, uuid: str) -> dict[str, Any]:
    doc = call.world.store.get("image", uuid) or call.world.store.get("uimage", uuid)
    if doc is None:
        return {"v": 2, "uuid": uuid}
    manifest = public(doc)
    manifest.pop("channels", None)
    return manifest


def _row(info: dict[str, Any]) -> dict[str, Any]:
    """The manifest's fields and imgadm's computed ones (`pub`, `zpool`, `clones`)."""
    row = dict(info["manifest"], zpool=info["zpool"], clones=info["clones"])
    if row.get("published_at"):
        row["pub"] = row["published_date"] = str(row["published_at"])[:10]
    return row


def _matches(info: dict[str, Any], filters: dict[str, str]) -> bool:
    row = _row(info)
    for field, want in filters.items():
        have: Any = row
        for part in field.split("."):
            have = have.get(part) if isinstance(have, dict) else None
        if have is None:
            return False
        if want in ("true", "false"):
            if have is not (want == "true"):
                return False
        elif want.startswith("~"):
            if want[1:] not in str(have):
                return False
        elif _text(have) != want:
            return False
    return True


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "-" if value is None else str(value)


def _table(infos: list[dict[str, Any]], *, header: bool) -> str:
    rows = sorted((_row(i) for i in infos),
                  key=lambda r: (str(r.get("published_at") or ""), str(r.get("name") or "")))
    cells = [[_text(r.get(c)) for c in COLUMNS] for r in rows]
    if header:
        cells.insert(0, [c.upper() for c in COLUMNS])
    if not cells:
        return ""
    widths = [max(len(line[n]) for line in cells) for n in range(len(COLUMNS))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                   + "\n" for line in cells)
