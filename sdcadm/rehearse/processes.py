"""The commands a rehearsal runs, each in a process of its own, and what their request logs say.

Every request to the live datacenter comes from one of these children (planning with
`update --plan-out`, `history -j`, `sdcadm-sim snapshot`), each writing sdcadm's request log
(`SDCADM_REQUEST_LOG`, one line per request: `<api> <METHOD> <url> <status> <ms>ms`) to a
file of the rehearsal; the rehearsal itself sends none there. The commands they run on the
servers over SSH are in the same log (`ssh EXEC ssh://USER@HOST:PORT <status> <ms>ms
<command>`): the snapshot reads the HA roles (`manatee-adm zk-state`, ZooKeeper's `stat`).
Counting the requests and commands that are not reads is how the report can say that the
live datacenter only received reads.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from sdcadm.planner.topology import MANATEE_STATE, ZK_STAT, zone_argv
from sdcadm.rehearse import ForwardedError

SDCADM_COMMAND: list[str] = [sys.executable, "-m", "sdcadm"]
SNAPSHOT_COMMAND: list[str] = [sys.executable, "-m", "sdcadm.sim.cli", "snapshot"]
READS = frozenset({"GET", "HEAD"})
# Commands that only read, each run in a zone (`zone_argv`): the HA roles.
READ_COMMANDS = (MANATEE_STATE, ZK_STAT)
ERROR_LINE = re.compile(r"^(sdcadm[\w -]*): error \(([^)]+)\): ", re.M)


@dataclass
class Finished:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error(self, what: str) -> ForwardedError:
        """The child's own error line (code, message, exit status), or one saying it
        failed without one."""
        found = list(ERROR_LINE.finditer(self.stderr))
        if found:
            m = found[-1]
            message = self.stderr[m.end():].strip()
            return ForwardedError(m.group(2), message, self.returncode or 1)
        tail = [ln for ln in self.stderr.splitlines() if ln.strip()][-1:] or ["no output"]
        return ForwardedError("InternalError", f"{what} exited with status "
                              f"{self.returncode}: {tail[0].strip()}", self.returncode or 1)


def run(argv: Sequence[str], *, request_log: Path, config: str | None = None,
        cwd: Path | None = None, output: Path | None = None) -> Finished:
    """Run a child command with its requests logged to `request_log` (and its output kept
    in `output`.out/.err when given)."""
    env = dict(os.environ, SDCADM_REQUEST_LOG=str(request_log), NO_COLOR="1")
    if config is not None:
        env["SDCADM_CONFIG"] = config
    started = time.monotonic()
    try:
        proc = subprocess.run(list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
    except OSError as e:
        return Finished(list(argv), 127, "", f"cannot run {argv[0]}: {e.strerror or e}", 0.0)
    done = Finished(list(argv), proc.returncode, proc.stdout, proc.stderr,
                    time.monotonic() - started)
    if output is not None:
        output.with_suffix(".out").write_text(proc.stdout)
        output.with_suffix(".err").write_text(proc.stderr)
    return done


def sdcadm(args: Iterable[str], *, config: str | None, **kw: Any) -> Finished:
    argv = [*SDCADM_COMMAND, *(["--config", config] if config else []), *args]
    return run(argv, config=config, **kw)


def snapshot(scenario: Path, *, config: str | None, **kw: Any) -> Finished:
    argv = [*SNAPSHOT_COMMAND, *(["--config", config] if config else []), "-o", str(scenario)]
    return run(argv, config=config, **kw)


@dataclass
class Audit:
    """What a request log says about the requests sent to some base URLs and the commands
    run on some servers."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    ssh_commands: int = 0
    writes: list[str] = field(default_factory=list)  # every line that is not a read

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "by_method": dict(self.by_method),
                "ssh_commands": self.ssh_commands, "writes": list(self.writes)}

    def __add__(self, other: "Audit") -> "Audit":
        methods = dict(self.by_method)
        for method, n in other.by_method.items():
            methods[method] = methods.get(method, 0) + n
        return Audit(self.requests + other.requests, methods,
                     self.ssh_commands + other.ssh_commands, self.writes + other.writes)


def audit(logs: Iterable[Path], bases: Iterable[str],
          ssh_targets: Iterable[str] | None = None) -> Audit:
    """The requests of `logs` that went to one of `bases` (scheme://host:port/path), and
    the SSH commands that went to one of `ssh_targets` (HOST:PORT; None: every one). A
    command is a read when it is one of READ_COMMANDS in a zone."""
    prefixes = tuple(b.rstrip("/") + "/" for b in bases if b) + tuple(b.rstrip("/") + "?"
                                                                          for b in bases if b)
    exact = {b.rstrip("/") for b in bases if b}
    servers = None if ssh_targets is None else set(ssh_targets)
    out = Audit()
    for log in logs:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split(maxsplit=5)
            if len(parts) < 3:
                continue
            method, url = parts[1], parts[2]
            if parts[0] == "ssh" and url.startswith("ssh://"):
                if servers is None or url.rpartition("@")[2] in servers:
                    out.ssh_commands += 1
                    if not _reads(parts[5] if len(parts) > 5 else ""):
                        out.writes.append(line)
                continue
            if not (url.startswith(prefixes) or url in exact):
                continue
            out.requests += 1
            out.by_method[method] = out.by_method.get(method, 0) + 1
            if method not in READS:
                out.writes.append(line)
    return out


def _reads(command: str) -> bool:
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    return len(argv) > 1 and any(argv == zone_argv(argv[1], *c) for c in READ_COMMANDS)
