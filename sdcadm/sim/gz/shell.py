"""`bash -c SCRIPT`, `echo` and `nc`: just enough shell for ZooKeeper's four-letter words
(`echo stat | nc 127.0.0.1 2181`), in the global zone or in a zone."""
from __future__ import annotations

from sdcadm.sim.gz import Call, Output, command, split, zone_command, zookeeper


def _mutating(argv: list[str]) -> bool:
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
def bash(call: Call) -> Output:
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
