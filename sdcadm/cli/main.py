"""Top-level `sdcadm` command: lazy sub-commands and the one place errors become exit codes."""
from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from sdcadm import __version__

# name -> (module, attribute). Modules are imported only when the command runs (or its help
# is shown), so `sdcadm --help` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "services": ("sdcadm.cli.services", "services"),
    "instances": ("sdcadm.cli.instances", "instances"),
    "avail": ("sdcadm.cli.avail", "avail"),
    "changes": ("sdcadm.cli.changes", "changes"),
    "channel": ("sdcadm.cli.channel", "channel"),
    "info": ("sdcadm.cli.info", "info"),
    "update": ("sdcadm.cli.update", "update"),
    "rollback": ("sdcadm.cli.rollback", "rollback"),
    "history": ("sdcadm.cli.history", "history"),
    "check-health": ("sdcadm.cli.health", "check_health"),
    "platform": ("sdcadm.cli.platform", "platform"),
    "dc-maint": ("sdcadm.cli.dcmaint", "dc_maint"),
    "reboot-plan": ("sdcadm.cli.rebootplan", "reboot_plan"),
    "rehearse": ("sdcadm.cli.rehearse", "rehearse"),
    "self-update": ("sdcadm.cli.selfupdate", "self_update"),
    "lock": ("sdcadm.cli.lock", "lock"),
    "completion": ("sdcadm.cli.completion", "completion"),
}
# Commands with sub-commands: their error lines name both words (`sdcadm platform list`).
GROUPS = ("channel", "platform", "dc-maint", "reboot-plan", "lock")
ALIASES: dict[str, str] = {
    "svcs": "services",
    "insts": "instances",
    "available": "avail",
    "up": "update",
    "health": "check-health",
}
SHORT_HELP: dict[str, str] = {
    "services": "List all SDC services.",
    "instances": "List all SDC service instances.",
    "avail": "Display images available for update of SDC services and instances.",
    "changes": "List the builds between the image in use and a candidate, or two images.",
    "channel": "Show and modify the update channel.",
    "info": "Show datacenter configuration used by sdcadm.",
    "update": "Update SDC services and instances.",
    "rollback": "Rollback SDC services and instances.",
    "history": "History of sdcadm commands.",
    "check-health": "Check that the instances used by SDC are healthy.",
    "platform": "Handle SDC platform images: list, install, assign, remove.",
    "dc-maint": "Show and modify the DC maintenance mode.",
    "reboot-plan": "Reboot servers in a quorum-safe rolling order, pausable and resumable.",
    "rehearse": "Rehearse an update on a private simulated copy of the datacenter.",
    "self-update": 'Update "sdcadm" itself.',
    "lock": "Show who holds the datacenter lease, or break it for a dead holder.",
    "completion": "Print the shell completion script (bash, zsh, fish).",
}


def buildstamp() -> str:
    from sdcadm import buildstamp as shipped

    stamp = shipped()
    return "unknown" if stamp is None else stamp


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        name = ALIASES.get(name, name)
        if name in ("help", "?"):
            return _help_command
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        try:
            return _takes_verbose(getattr(importlib.import_module(module), attr))
        except ModuleNotFoundError as e:  # a command not built yet
            if e.name == module:
                return None
            raise

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        # Report the canonical name so error lines read `sdcadm update: ...` for `up` too.
        _name, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else _name), cmd, rest

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Command names from the table, without importing every command (a tab press
        must answer as fast as `--help`); options as click completes them."""
        from click.shell_completion import CompletionItem

        names = [CompletionItem(n, help=SHORT_HELP.get(n))
                 for n in self.list_commands(ctx) if n.startswith(incomplete)]
        return names + click.Command.shell_complete(self, ctx, incomplete)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            aliases = [a for a, n in ALIASES.items() if n == name]
            label = f"{name} ({', '.join(aliases)})" if aliases else name
            rows.append((label, SHORT_HELP.get(name, "")))
        rows.append(("help (?)", "Help on a specific sub-command."))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", message=f"sdcadm %(version)s ({buildstamp()})"
)
@click.option("-v", "--verbose", is_flag=True, help="Verbose output: debug logs and error traces.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SDCADM_CONFIG",
    help="Configuration file (default: $SDCADM_CONFIG, else /var/sdcadm/sdcadm.conf).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, config_path: str | None) -> None:
    """Administer a SDC standup."""
    from sdcadm.cli.app import App

    ctx.obj = App(verbose=verbose, config_path=config_path)
    ctx.obj.argv = list(_argv)
    ctx.call_on_close(ctx.obj.close)


# `-v` after the command (`sdcadm services -v`) means what it means before it. Set by any
# command's hidden `-v`, read by `run` (tracebacks) once the command has failed.
_verbose_after_command = False


def _late_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    global _verbose_after_command
    if not value:
        return
    _verbose_after_command = True
    if ctx.obj is not None:  # the App, made by `cli` before any command parses its options
        ctx.obj.verbose = True


def _takes_verbose(cmd: click.Command) -> click.Command:
    """Give a command (and a group's commands) a hidden `-v/--verbose`, unless it has a
    `-v` of its own. Hidden: `--help` and the man page show it once, at the top."""
    taken = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
    if not taken & {"-v", "--verbose"}:
        cmd.params.append(click.Option(
            ["-v", "--verbose"], is_flag=True, expose_value=False, hidden=True,
            callback=_late_verbose, help="Verbose output, as `sdcadm -v`."))
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _takes_verbose(sub)
    return cmd


@click.command("help", context_settings={"ignore_unknown_options": True})
@click.argument("command", required=False)
@click.pass_context
def _help_command(ctx: click.Context, command: str | None) -> None:
    """Help on a specific sub-command."""
    group = ctx.parent.command if ctx.parent else cli
    parent = ctx.parent or ctx
    if not command:
        click.echo(group.get_help(parent))
        return
    sub = group.get_command(parent, command) if isinstance(group, click.Group) else None
    if sub is None:
        raise click.UsageError(f'unknown command: "{command}"')
    with click.Context(sub, info_name=ALIASES.get(command, command), parent=parent) as sctx:
        click.echo(sub.get_help(sctx))


def _subcommand_path(argv: list[str]) -> str:
    """`sdcadm update` / `sdcadm channel set` for error lines, from the raw arguments."""
    words: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--config":
            skip = True
            continue
        if a in ("-v", "--verbose"):  # accepted anywhere, names no command
            continue
        if a == "--":
            break
        if a.startswith("-"):
            if words:
                break
            continue
        words.append(ALIASES.get(a, a) if not words else a)
        if len(words) == 1 and words[0] not in GROUPS:
            break
        if len(words) == 2:
            break
    return " ".join(["sdcadm", *words])


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    code = run(argv)
    _exit(code)


def _exit(code: int) -> None:
    """Exit now, even if worker threads are still blocked in a request (a parallel read
    abandoned after Ctrl-C or another read's error): the command is over, and Python would
    otherwise wait for them, up to a whole read timeout, before exiting."""
    import os
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive()
           for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


# The command line of this invocation, for "run this again" advice.
_argv: list[str] = []


def run(argv: list[str]) -> int:
    """Run the CLI and turn every outcome into an exit status (used by tests too)."""
    global _verbose_after_command, _argv
    from sdcadm.errors import SdcAdmError

    _verbose_after_command = False
    _argv = list(argv)
    try:
        code = cli.main(args=argv, prog_name="sdcadm", standalone_mode=False)
        # ctx.exit(N) comes back as N here: a command whose output is its own report
        # (check-health -j with unhealthy rows) exits non-zero without an error line.
        return code if isinstance(code, int) else 0
    except SdcAdmError as e:
        verbose = _verbose(argv)
        _print_error(_subcommand_path(argv), e.code, _shown_message(e, verbose), verbose)
        return e.exit_status
    except click.exceptions.Exit as e:
        return int(e.exit_code or 0)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.UsageError as e:
        _unsuggest_hidden_verbose(e)
        if _is_option_error(e):
            # The original's option parser errors: code `Option`, exit status 1.
            _print_error(_subcommand_path(argv), "Option", e.format_message(), _verbose(argv))
            return 1
        _print_error(_subcommand_path(argv), "Usage", e.format_message(), _verbose(argv))
        return 2
    except click.ClickException as e:
        _print_error(_subcommand_path(argv), "Option", e.format_message(), _verbose(argv))
        return 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BrokenPipeError:
        return 0


def _unsuggest_hidden_verbose(e: click.UsageError) -> None:
    """click suggests hidden options too (`--bogus`: "Did you mean '--verbose'?"): a
    command's own options are what its error should suggest."""
    if isinstance(e, click.NoSuchOption) and e.possibilities and e.ctx is not None \
            and e.ctx.command is not cli:
        left = [p for p in e.possibilities if p != "--verbose"]
        object.__setattr__(e, "possibilities", left or None)


def _verbose(argv: list[str]) -> bool:
    """Whether the failed command was run with `-v`: parsed by a command (also in a
    bundle such as `-Hv`), or seen in the arguments before `--` (a usage error may stop
    click before it parses it)."""
    if _verbose_after_command:
        return True
    words = argv[:argv.index("--")] if "--" in argv else argv
    return "-v" in words or "--verbose" in words


MULTI_SHOWN = 10


def _shown_message(e: Exception, verbose: bool) -> str:
    """A MultiError lists at most MULTI_SHOWN errors (-v: all): agent failures on hundreds
    of servers were already listed per server above and would scroll the summary away."""
    from sdcadm.errors import MultiError

    message: str = e.message  # type: ignore[attr-defined]
    if verbose or not isinstance(e, MultiError) or len(e.errors) <= MULTI_SHOWN:
        return message
    lines = message.split("\n")
    head = lines[:1 + MULTI_SHOWN] if len(lines) == 1 + len(e.errors) else lines
    if head is lines:
        return message  # some error spans several lines: keep it whole
    more = len(e.errors) - MULTI_SHOWN
    return "\n".join([*head, f"    ... and {more} more (-v lists them all)"])


def _is_option_error(e: click.UsageError) -> bool:
    """An unknown option, a missing option value or a bad option value."""
    if isinstance(e, (click.NoSuchOption, click.BadOptionUsage)):
        return True
    return isinstance(e, click.BadParameter) and isinstance(e.param, click.Option)


def _print_error(path: str, code: str, message: str, verbose: bool) -> None:
    import os
    import traceback

    if verbose:
        traceback.print_exc()
    line = f"{path}: error ({code}): {message}"
    if sys.stderr.isatty() and not os.environ.get("NO_COLOR") and not os.environ.get(
        "SDCADM_NO_COLOR"
    ):
        line = f"\x1b[31m{line}\x1b[0m"
    print(line, file=sys.stderr)
