"""The `[y/N]` confirmation on a real (pseudo-)terminal, with stdin and stdout redirected.

The command runs in its own session with a pty as its controlling terminal, so `/dev/tty` is
that pty, as it is for an operator at a console.
"""
from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time

import pytest


def _controlling_tty(fd: int):
    def setup() -> None:
        os.setsid()
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)

    return setup


class Console:
    """`python -m sdcadm ARGS` whose terminal is a pty we type into; stdin is /dev/null."""

    def __init__(self, sim, *args: str, stdout_on_tty: bool = False) -> None:
        self.master, slave = pty.openpty()
        env = dict(os.environ, SDCADM_CONFIG=str(sim.config_path), NO_COLOR="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sdcadm", *args], env=env, stdin=subprocess.DEVNULL,
            stdout=slave if stdout_on_tty else subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, preexec_fn=_controlling_tty(slave), pass_fds=(slave,))
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never appeared on the terminal: {self.screen!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the command closed the terminal
                    pass

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        os.close(self.master)
        return self.proc.returncode, out, err


@pytest.fixture
def console_sim(sim_factory):
    handle = sim_factory("small")
    handle.reset()
    return handle


def test_no_aborts_and_changes_nothing(console_sim):
    con = Console(console_sim, "update", "cns")
    con.expect("Would you like to continue? [y/N] ")
    con.type("maybe")
    con.expect('Please enter "y", "yes", "n" or "no".')
    con.type("n")
    code, out, err = con.finish()
    assert code == 0, err
    assert "This update will make the following changes:" in out
    assert out.rstrip().endswith("Aborting update")
    assert console_sim.mutations() == []


def test_yes_runs_the_update(console_sim):
    con = Console(console_sim, "update", "cns")
    con.expect("Would you like to continue? [y/N] ")
    con.type("yes")
    code, out, err = con.finish()
    assert code == 0, err
    assert out.rstrip().splitlines()[-1].startswith("Updated successfully (elapsed ")
    assert any(m["method"] == "POST" and "action=reprovision" in m["path"]
               for m in console_sim.mutations())


BREAKDOWN = "This update will make the following changes:"


def test_breakdown_is_shown_on_the_terminal_when_stdout_is_redirected(console_sim):
    con = Console(console_sim, "update", "cns")
    con.expect("Would you like to continue? [y/N] ")
    before_prompt = con.screen.split("Would you like to continue?")[0]
    assert BREAKDOWN in before_prompt and 'update "cns" service' in before_prompt
    con.type("n")
    code, out, err = con.finish()
    assert code == 0, err
    assert BREAKDOWN in out  # the data still goes to stdout


def test_breakdown_is_not_repeated_when_stdout_is_the_terminal(console_sim):
    con = Console(console_sim, "update", "cns", stdout_on_tty=True)
    con.expect("Would you like to continue? [y/N] ")
    assert con.screen.count(BREAKDOWN) == 1
    con.type("n")
    con.expect("Aborting update")
    code, _, err = con.finish()
    assert code == 0, err
