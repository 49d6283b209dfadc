"""`bash -c SCRIPT`, `echo` and `nc`: just enough shell for ZooKeeper's four-letter words
(`echo stat | nc 127.0.0.1 2181`), in the global zone or in a zone, and for a command run
with the zone's profile (`source ~/.bashrc; morayping -d`, as the original runs zone tools
that live on the profile's PATH)."""
from __future__ import annotations

from sdcadm.sim.gz import (
    COMMANDS,
    ZONE_COMMANDS,
    Call,
    Output,
    command,
    dispatch,
    mutating_in,
    split,
    zone_command,
    zookeeper,
)

PROFILE = "source ~/.bashrc;"


def _profiled(argv: list[str]) -> list[str] | None:
    """The command of `bash -c 'source ~/.bashrc; CMD ARGS'`, else None."""
    if len(argv) != 3 or argv[1] != "-c" or not argv[2].startswith(PROFILE):
        return None
    return split(argv[2][len(PROFILE):]) or None


def _mutating(argv: list[str]) -> bool:
    inner = _profiled(argv)
    if inner is not None:
        return mutating_in(inner, ZONE_COMMANDS, COMMANDS)
    return not _pipeline(argv)


def _pipeline(argv: list[str]) -> tuple[str, list[str]] | None:
    """(word, nc argv) for `bash -c 'echo WORD | nc HOST PORT'`, else None."""
    if len(argv) != 3 or argv[1] != "-c":
        return None
    left, bar, right = argv[2].partition("|")
    if not bar:
        return None
    echo, nc = split(left), split(right)
    if not echo or not nc or echo[0] != "echo" or len(echo) != 2 or nc[0] != "nc" \
            or len(nc) != 3:
        return None
    return echo[1], nc


@command("bash", "sh", mutating=_mutating)
@zone_command("bash", "sh", mutating=_mutating)
async def bash(call: Call) -> Output:
    inner = _profiled(call.argv)
    if inner is not None:
        return await dispatch(call.world, call.server, inner, zone=call.zone)
    pipe = _pipeline(call.argv)
    if pipe is None:
        return call.fail("bash: only `echo WORD | nc HOST PORT` is understood here", 2)
    word, nc = pipe
    host, port = nc[1], nc[2]
    if port != "2181":
        return call.fail(f"nc: connect to {host} port {port} (tcp) failed: Connection refused")
    return zookeeper.four_letter(call, host, word)


@command("echo")
@zone_command("echo")
def echo(call: Call) -> Output:
    return " ".join(call.argv[1:]) + "\n", "", 0
