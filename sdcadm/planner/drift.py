"""What changed between the state a saved plan was computed from and the datacenter now.

One line per changed fact, e.g. `instance <uuid> (moray1): image <a> -> <b>`, so an
operator sees why a saved plan is refused before deciding to re-plan.
"""
from __future__ import annotations

from typing import Any, Mapping

SERVER_FIELDS = ("status", "current platform", "boot platform")


def _arrow(a: Any, b: Any) -> str:
    return f"{a if a is not None else '-'} -> {b if b is not None else '-'}"


def drift_lines(before: Mapping[str, Any], after: Mapping[str, Any],
                aliases: Mapping[str, str] | None = None,
                hostnames: Mapping[str, str] | None = None) -> list[str]:
    aliases = aliases or {}
    hostnames = hostnames or {}
    lines: list[str] = []
    if before.get("channel") != after.get("channel"):
        lines.append(f"channel: {_arrow(before.get('channel'), after.get('channel'))}")
    if before.get("sapi_mode") != after.get("sapi_mode"):
        lines.append(f"SAPI mode: {_arrow(before.get('sapi_mode'), after.get('sapi_mode'))}")

    def mapping(key: str, label: Any, what: str) -> None:
        a, b = before.get(key) or {}, after.get(key) or {}
        for k in sorted(set(a) | set(b)):
            name = label(k)
            if k not in b:
                lines.append(f"{name}: removed")
            elif k not in a:
                lines.append(f"{name}: added ({what} {b[k]})" if b[k] is not None
                             else f"{name}: added")
            elif a[k] != b[k]:
                lines.append(f"{name}: {what} {_arrow(a[k], b[k])}")

    mapping("services", lambda k: f"service {k}", "image")
    mapping("instances",
            lambda k: f"instance {k} ({aliases[k]})" if aliases.get(k) else f"instance {k}",
            "image")
    a, b = before.get("servers") or {}, after.get("servers") or {}
    for k in sorted(set(a) | set(b)):
        name = f"server {k} ({hostnames[k]})" if hostnames.get(k) else f"server {k}"
        if k not in b:
            lines.append(f"{name}: removed")
        elif k not in a:
            lines.append(f"{name}: added")
        else:
            for field, x, y in zip(SERVER_FIELDS, a[k], b[k], strict=False):
                if x != y:
                    lines.append(f"{name}: {field} {_arrow(x, y)}")
    mapping("local_images", lambda k: f"local image {k}", "state")
    return lines
