"""Rollback: turn a saved update plan back into change requests for the pre-update images.

As the original (behaviour spec 8.1), a service goes back to `service.params.image_uuid` as
recorded in the saved plan, i.e. the image it had before the update. Where the service
record carries no image (agents, `assets`), the one image its changed instances had is used.
Changes that cannot be rolled back are reported with the reason, never dropped silently.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from sdcadm.errors import UsageError
from sdcadm.plan import ChangeRequest


def load_plan_file(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"cannot read update plan {path}: {e.strerror or e}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise UsageError(f"update plan {path} is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("changes"), list):
        raise UsageError(f"update plan {path} has no \"changes\" list")
    for change in doc["changes"]:
        if not _change_shape_ok(change):
            text = json.dumps(change, separators=(",", ":"))
            raise UsageError(f"update plan {path} has an invalid change: "
                             f"{text if len(text) <= 200 else text[:200] + '...'}")
    return doc


def _change_shape_ok(change: Any) -> bool:
    """The fields rollback reads have the types a saved plan gives them (a hand-edited or
    foreign file must be one error line, not a traceback)."""
    if not isinstance(change, dict):
        return False
    svc = change.get("service")
    if svc is not None and not (isinstance(svc, dict)
                                and isinstance(svc.get("params") or {}, dict)):
        return False
    if not isinstance(change.get("image") or {}, dict):
        return False
    insts = change.get("insts")
    if insts is not None and not (isinstance(insts, list)
                                  and all(isinstance(i, dict) for i in insts)):
        return False
    return change.get("inst") is None or isinstance(change["inst"], dict)


def rollback_requests(doc: Mapping[str, Any]) -> tuple[list[ChangeRequest], list[str]]:
    """(requests back to the old images, one line per change that cannot be rolled back)."""
    requests: list[ChangeRequest] = []
    refused: list[str] = []
    seen: set[tuple[str, str]] = set()
    for change in doc.get("changes") or []:
        ctype = change.get("type")
        svc = change.get("service") or {}
        name = svc.get("name") or "?"
        insts = change.get("insts") or ([change["inst"]] if change.get("inst") else [])
        if ctype == "update-platform":
            refused.append(_platform_refusal(change, insts))
            continue
        if ctype not in ("update-service", "update-instance", "update-agent"):
            refused.append(f'cannot roll back "{ctype}" change of "{name}": only service, '
                           f"instance and agent image updates can be rolled back")
            continue
        if ctype == "update-instance" and len(insts) == 1:
            old = insts[0].get("image")
            if not old:
                refused.append(f'cannot roll back instance {insts[0].get("instance")} of '
                               f'"{name}": the saved plan does not say which image it had')
                continue
            key = (insts[0]["instance"], old)
            if key not in seen:
                seen.add(key)
                requests.append(ChangeRequest(
                    type="update-instance", instance=insts[0]["instance"], image=old,
                    source={"type": "rollback-instance", "instance": insts[0]["instance"],
                            "image": old}))
            continue
        old = (svc.get("params") or {}).get("image_uuid")
        if not old:
            images = {i.get("image") for i in insts if i.get("image")}
            old = images.pop() if len(images) == 1 else None
        if not old:
            refused.append(f'cannot roll back "{name}": the saved plan does not say which '
                           f"single image it had before the update")
            continue
        target = (change.get("image") or {}).get("uuid")
        if target == old:
            continue
        key = (name, old)
        if key in seen:
            continue
        seen.add(key)
        requests.append(ChangeRequest(
            type="update-service", service=name, image=old,
            source={"type": "rollback-service", "service": name, "image": old}))
    return requests, refused


def _platform_refusal(change: Mapping[str, Any], insts: list[Any]) -> str:
    """Name the platform, the servers and what they booted before, so the operator can
    write the update-platform change that goes back (there is no platform rollback)."""
    hosts = [str(i.get("hostname") or i.get("server") or i.get("instance")) for i in insts]
    shown = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
    before = sorted({str(i["version"]) for i in insts if i.get("version")})
    where = f" on {shown}" if hosts else ""
    was = f" (they ran {', '.join(before)} before)" if before else ""
    return (f'cannot roll back the platform update to {change.get("platform") or "?"}{where}'
            f"{was}: platforms are not rolled back; to go back, update the platform again "
            f'with an "update-platform" change')


def rollback_blocks(blocks: list[list[str]]) -> list[list[str]]:
    """The update breakdown's blocks in rollback words (`rollback "papi" service ...`)."""
    from sdcadm.render.breakdown import reworded

    return reworded(blocks, "rollback")
