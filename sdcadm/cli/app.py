"""The object every command receives: configuration, API clients and terminal I/O."""
from __future__ import annotations

import os
import sys
import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from sdcadm.errors import UsageError
from sdcadm.executor.runlog import WARN, RunLog

if TYPE_CHECKING:
    from sdcadm.clients import Clients
    from sdcadm.config import Config


class App:
    def __init__(self, *, verbose: bool = False, config_path: str | None = None) -> None:
        self.verbose = verbose
        self.config_path = config_path
        # One id per invocation: sent as x-request-id on every call and used as history uuid.
        self.request_id = str(uuid.uuid4())
        self.argv: list[str] = []  # the arguments sdcadm was run with
        # Hears every request from now on; a mutating run opens it as a file.
        self.run_log = RunLog(self.request_id)

    # -- configuration and clients (loaded on first use, so --help never touches them) --
    @cached_property
    def config(self) -> "Config":
        from sdcadm.config import load_config

        return load_config(self.config_path)

    @cached_property
    def clients(self) -> "Clients":
        from sdcadm.clients import Clients

        return Clients(self.config, request_id=self.request_id, verbose=self.verbose,
                       warn=self.warn)

    def close(self) -> None:
        """Drop connections (SSH transports, the HTTP pool) once the command is over."""
        if "clients" in self.__dict__:
            self.clients.close()
        self.run_log.close()

    # -- output: data to stdout, everything else to stderr --------------------------------
    @property
    def color(self) -> bool:
        return sys.stderr.isatty() and not os.environ.get("NO_COLOR")

    @cached_property
    def console(self) -> Any:
        """A rich console on stderr for progress and warnings (colour only on a terminal)."""
        from rich.console import Console

        return Console(stderr=True, no_color=not self.color, highlight=False,
                       force_terminal=None if self.color else False, soft_wrap=True)

    def out(self, text: str = "") -> None:
        click.echo(text)

    def info(self, text: str = "") -> None:
        """A progress line on stderr."""
        self.run_log.output(text)
        click.echo(text, err=True)

    def warn(self, text: str) -> None:
        self.run_log.output(text, WARN)
        if self.color:
            self.console.print(text, style="yellow", markup=False)
        else:
            click.echo(text, err=True)

    def has_terminal(self) -> bool:
        """Could `confirm` ask? It reads the controlling terminal, like the original, so a
        prompt works even with stdin and stdout redirected."""
        try:
            fd = os.open("/dev/tty", os.O_RDWR)
        except OSError:
            return False
        try:
            return os.isatty(fd)
        finally:
            os.close(fd)

    def read_roles(self, state: Any, services: Any, *, run_uuid: str | None = None,
                   command: str = "update") -> Any:
        """HA roles (manatee/binder) through the remote seam, read under the headnode lock
        and only while no run elsewhere holds the datacenter lease: never while another run
        may be moving the very roles read. Only for a run that may execute. The lock is
        released again before execution.
        `run_uuid`: the run they are read for, when it has one already (a reboot plan's next
        run may take over the lease its last one left)."""
        from sdcadm.executor.lock import RunLock
        from sdcadm.planner.topology import read_topology

        # The local lock, and a look at the datacenter lease: reading writes no lease, so a
        # run refused afterwards (by its preflight, say) has changed nothing.
        lock = RunLock.for_app(self, command, run_uuid=run_uuid).acquire()
        try:
            lock.check_lease()
            return read_topology(self.clients, state, services, warn=self.warn)
        finally:
            lock.release()

    def go_ahead(self, breakdown: str, *, dry_run: bool, yes: bool, abort: str) -> bool:
        """Show what a change will do; True when it should run (not a dry run, and the
        operator said yes). Prints the dry-run or abort line otherwise."""
        click.echo(breakdown, nl=False)
        if dry_run:
            self.out("Dry run: nothing was changed.")
            return False
        if not self.confirm(yes=yes, summary=breakdown):
            self.out(abort)
            return False
        return True

    def confirm(self, question: str = "Would you like to continue?", *, yes: bool = False,
                summary: str | None = None) -> bool:
        """Ask `[y/N]` on the terminal. Without a terminal and without -y, refuse (exit 2).

        `summary` is what the question is about, already printed on stdout; when stdout is
        not the terminal (redirected to a file or a pipe), it is shown on the terminal too,
        so nobody answers without seeing what they agree to."""
        if yes:
            return True
        try:
            # Two handles: a text-mode "r+" open of a terminal fails (it is not seekable).
            tty_in = open("/dev/tty", encoding="utf-8", errors="replace")
            tty_out = open("/dev/tty", "w", encoding="utf-8")
        except OSError:
            raise UsageError(
                "no terminal to confirm on: use -y/--yes to proceed without a prompt") from None
        from sdcadm.render.progress import isatty

        with tty_in, tty_out:
            if summary and not isatty(sys.stdout):
                tty_out.write(summary)
            while True:
                tty_out.write(f"{question} [y/N] ")
                tty_out.flush()
                answer = tty_in.readline()
                if answer == "":  # EOF
                    tty_out.write("\n")
                    return False
                answer = answer.strip().lower()
                if answer in ("", "n", "no"):
                    return False
                if answer in ("y", "yes"):
                    return True
                tty_out.write('Please enter "y", "yes", "n" or "no".\n')
