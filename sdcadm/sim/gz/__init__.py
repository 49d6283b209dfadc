"""A simulated server's global zone: the small set of commands sdcadm runs there.

Commands arrive over SSH (`sim/sshd.py`) or CNAPI CommandExecute (`sim/execute.py`) as
one command line; `run()` splits it with shlex, like a shell would, and dispatches on the
command's name. A command is a module-level handler registered with `@command(...)`;
`zlogin ZONE CMD...` runs CMD (its words joined into one shell line, as illumos zlogin
does) in a zone of this server through the zone registry
(`@zone_command`). Answers are computed from the simulated state in the simulator's event
loop, so they always agree with what the APIs say.

Mutating commands (`manatee-adm freeze`, `svcadm disable`, ...) are written to the
simulator's mutation log (service `ssh`, method `EXEC`), so a test can prove that a dry run
or a refused input changed nothing on any server.
"""
from __future__ import annotations

import inspect
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Union

if TYPE_CHECKING:
    from sdcadm.sim.world import World

Output = tuple[str, str, int]  # stdout, stderr, exit status
Handler = Callable[["Call"], Union[Output, Awaitable[Output]]]


@dataclass
class Call:
    world: "World"
    server: dict[str, Any]  # the CNAPI server document the command runs on
    argv: list[str]
    zone: dict[str, Any] | None = None  # the VM, for commands run through zlogin

    @property
    def name(self) -> str:
        return self.argv[0].rsplit("/", 1)[-1]

    def fail(self, message: str, code: int = 1) -> Output:
        return "", message if message.endswith("\n") else message + "\n", code


@dataclass(frozen=True)
class Command:
    handler: Handler
    # Whether this invocation changes state (argv -> bool): the mutation log needs it.
    mutating: Callable[[list[str]], bool]


COMMANDS: dict[str, Command] = {}
ZONE_COMMANDS: dict[str, Command] = {}


def _register(table: dict[str, Command], names: tuple[str, ...],
              mutating: bool | Callable[[list[str]], bool]) -> Callable[[Handler], Handler]:
    decide = mutating if callable(mutating) else (lambda _argv, m=mutating: m)

    def wrap(fn: Handler) -> Handler:
        for n in names:
            table[n] = Command(fn, decide)
        return fn
    return wrap


def command(*names: str, mutating: bool | Callable[[list[str]], bool] = False):
    """Register a global-zone command under one or more names (basenames of argv[0])."""
    return _register(COMMANDS, names, mutating)


def zone_command(*names: str, mutating: bool | Callable[[list[str]], bool] = False):
    """Register a command that runs inside a zone (`zlogin ZONE name ...`)."""
    return _register(ZONE_COMMANDS, names, mutating)


def split(command_line: str) -> list[str] | None:
    try:
        return shlex.split(command_line, comments=False, posix=True)
    except ValueError:
        return None


def _lookup(table: dict[str, Command], argv: list[str]) -> Command | None:
    return table.get(argv[0].rsplit("/", 1)[-1]) if argv else None


def is_mutating(command_line: str) -> bool:
    """Whether running this line would change state (unknown commands count as changes:
    a test must see that something was attempted)."""
    argv = split(command_line)
    if not argv:
        return False
    if _base(argv[0]) == "zlogin":
        inner = zone_line(argv[2:])
        return not inner or mutating_in(inner, ZONE_COMMANDS)
    return mutating_in(argv, COMMANDS)


def mutating_in(argv: list[str], *tables: dict[str, Command]) -> bool:
    """Whether `argv`, found in the first of `tables` that has it, changes state (an
    unknown command counts as a change)."""
    cmd = next((c for c in (_lookup(t, argv) for t in tables) if c is not None), None)
    return cmd is None or cmd.mutating(argv)


async def dispatch(world: "World", server: dict[str, Any], argv: list[str],
                   zone: dict[str, Any] | None = None) -> Output:
    """Run `argv` in the server's global zone, or in `zone`, from its table of commands;
    an unknown one is bash's `command not found`, 127."""
    cmd = _lookup(ZONE_COMMANDS if zone is not None else COMMANDS, argv)
    if cmd is None:
        return "", f"bash: {argv[0]}: command not found\n", 127
    return await _call(cmd.handler, Call(world, server, argv, zone=zone))


def _base(word: str) -> str:
    return word.rsplit("/", 1)[-1]


async def run(world: "World", server_uuid: str, command_line: str) -> Output:
    """Run one command line on a server's global zone."""
    server = world.store.get("server", server_uuid)
    if server is None:
        return "", f"no such server: {server_uuid}\n", 255
    argv = split(command_line)
    if argv is None:
        return "", "bash: syntax error: unterminated quoted string\n", 2
    if not argv:
        return "", "", 0
    if _base(argv[0]) == "zlogin":
        return await _zlogin(Call(world, server, argv))
    return await dispatch(world, server, argv)


async def _call(handler: Handler, call: Call) -> Output:
    out = handler(call)
    if inspect.isawaitable(out):
        out = await out
    return out  # type: ignore[return-value]


def zone_line(args: list[str]) -> list[str] | None:
    """What the zone's shell runs for `zlogin ZONE ARGS...`: like illumos zlogin, the
    arguments joined by spaces into one line for `/bin/sh -c` (so `zlogin Z bash -c 'a | b'`
    runs `bash -c a` piped to `b`; the command must be one quoted argument). A pipeline is
    handed to the shell as a whole."""
    line = " ".join(args)
    inner = split(line)
    if inner and "|" in inner:
        return ["sh", "-c", line]
    return inner


async def _zlogin(call: Call) -> Output:
    if len(call.argv) < 3:
        return call.fail("usage: zlogin zonename [command]", 2)
    zone_id = call.argv[1]
    inner = zone_line(call.argv[2:])
    if inner is None:
        return call.fail("sh: syntax error: unterminated quoted string", 2)
    vm = call.world.store.get("vm", zone_id)
    if vm is None or vm.get("server_uuid") != call.server["uuid"] \
            or vm.get("state") == "destroyed":
        return call.fail(f"zlogin: zone '{zone_id}' unknown")
    if vm.get("state") != "running":
        zone_state = vm.get("zone_state", "installed")
        return call.fail(f"zlogin: login allowed only to running zones ({zone_id} is "
                         f"'{zone_state}').")
    return await dispatch(call.world, call.server, inner, zone=vm)


def load_commands() -> None:
    """Import every module that registers commands (once)."""
    from sdcadm.sim.gz import dns, imgadm, shell, smf, sysinfo, usbkey, zones  # noqa: F401


load_commands()
