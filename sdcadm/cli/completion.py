"""`sdcadm completion bash|zsh|fish`: print the shell's completion script.

The script calls `sdcadm` back with `_SDCADM_COMPLETE=<shell>_complete` and the words typed
so far; click answers from the command tree (`main.LazyGroup` lists the commands from its
table, without importing them).
"""
from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS), metavar="SHELL", required=False)
def completion(shell: str | None) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(sdcadm completion bash)"   in ~/.bashrc (bash 4.4 or newer)
    zsh:   eval "$(sdcadm completion zsh)"    in ~/.zshrc
    fish:  sdcadm completion fish > ~/.config/fish/completions/sdcadm.fish
    """
    if shell is None:  # click's own message lists the choices over several lines
        raise click.UsageError("which shell? bash, zsh or fish")
    from click.shell_completion import get_completion_class

    from sdcadm.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None  # click knows every shell of SHELLS
    click.echo(cls(cli, {}, "sdcadm", "_SDCADM_COMPLETE").source())
