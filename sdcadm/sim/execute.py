"""CNAPI CommandExecute: a script run in a server's global zone.

A script is a shebang line followed by commands, one per line (comments and blank lines
skipped); `args` are appended, quoted, to the last command. Each command goes through the
simulated global zone (`sim/gz`), the same one that answers over SSH; the script stops at
the first command that fails, like `bash -e`.
"""
from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from sdcadm.sim import gz

if TYPE_CHECKING:
    from sdcadm.sim.world import World


def _commands(script: str, args: list[str] | None = None) -> list[str]:
    body = [ln.strip() for ln in script.splitlines()[1:]]
    body = [ln for ln in body if ln and not ln.startswith("#")]
    if args and body:
        body[-1] = " ".join([body[-1], *(shlex.quote(str(a)) for a in args)])
    return body


def is_read_only(script: str) -> bool:
    """True when no command of the script changes anything (not a mutation)."""
    return not any(gz.is_mutating(c) for c in _commands(script))


async def run(world: "World", server_uuid: str, script: str,
              args: list[str] | None = None) -> tuple[str, str, int]:
    out, err = [], []
    for command in _commands(script, args):
        stdout, stderr, code = await gz.run(world, server_uuid, command)
        out.append(stdout)
        err.append(stderr)
        if code != 0:
            return "".join(out), "".join(err), code
    return "".join(out), "".join(err), 0
