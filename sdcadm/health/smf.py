"""Reading `svcs -vx` output (pure).

`svcs -vx` prints one block per service that is not running as it should (first line: the
FMRI and its description), blocks separated by blank lines, and nothing when all is well.
One `svcs -vx` per server covers every agent and the rest of the global zone: its blocks
are attributed by FMRI, an agent `NAME` owning the FMRIs whose service path ends in
`/NAME`, the way `svcs -vx NAME` would select them.
"""
from __future__ import annotations

import re
from typing import Iterable

FMRI_LINE = re.compile(r"^((?:svc|lrc):/\S+)")
PREFIX = "SMF svcs check failed: "


def svcs_errors(exit_status: int, stdout: str, stderr: str) -> tuple[str, ...]:
    """The original's verdict on one `svcs -vx[z]` run: no errors means healthy.

    Unhealthy when svcs exits non-zero, writes to stderr, or prints anything but a block of
    a service that is online (`svcs -vx FMRI` describes the named service even when it is
    fine)."""
    errs = []
    if exit_status != 0:
        errs.append(f"svcs returned {exit_status}")
    if stderr:
        errs.append("stderr: " + stderr.rstrip("\n"))
    if stdout and "State: online" not in stdout:
        errs.append("stdout: " + stdout.rstrip("\n"))
    return tuple(PREFIX + e for e in errs)


def blocks(stdout: str) -> list[tuple[str | None, str]]:
    """(FMRI, block text) per service block; text before the first FMRI line (not
    something svcs prints) comes back with FMRI None rather than being dropped."""
    out: list[tuple[str | None, str]] = []
    fmri: str | None = None
    lines: list[str] = []

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if text.strip():
            out.append((fmri, text))

    for line in stdout.splitlines():
        m = FMRI_LINE.match(line)
        if m:
            flush()
            fmri, lines = m.group(1), [line]
        else:
            lines.append(line)
    flush()
    return out


def service_path(fmri: str) -> str:
    """`svc:/smartdc/agent/cn-agent:default` -> `smartdc/agent/cn-agent`."""
    path = fmri.split(":/", 1)[-1]
    return path.split(":", 1)[0]


def owner(fmri: str | None, agents: Iterable[str]) -> str | None:
    """The agent an FMRI belongs to, or None for the rest of the global zone."""
    if fmri is None:
        return None
    parts = service_path(fmri).split("/")
    for name in agents:
        want = name.split("/")
        if parts[-len(want):] == want:
            return name
    if parts[:2] == ["smartdc", "agent"]:
        return parts[-1]  # an agent the server does not list: still not "global"
    return None


def attribute(stdout: str, agents: Iterable[str]) -> dict[str | None, str]:
    """`svcs -vx` output split per agent name (None: the global zone's other services),
    each part as `svcs -vx NAME` would have printed it."""
    names = sorted(set(agents), key=len, reverse=True)  # `cmon-agent` before `agent`
    parts: dict[str | None, list[str]] = {}
    for fmri, text in blocks(stdout):
        parts.setdefault(owner(fmri, names), []).append(text)
    return {k: "\n\n".join(v) + "\n" for k, v in parts.items()}
