"""man/sdcadm.1: what tools/build-man writes from the command tree, every command and
option in it, and roff that renders."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import click
import pytest

from sdcadm.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "man" / "sdcadm.1"


def build_man(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "build-man"), *args],
                          capture_output=True, text=True, timeout=120)


def plain(roff: str) -> str:
    """The page's words: escapes undone, font changes dropped."""
    s = re.sub(r"\\f[BIRP]", "", roff)
    for esc, char in (("\\-", "-"), ("\\(aq", "'"), ("\\(ga", "`"), ("\\&", ""),
                      ("\\e", "\\")):
        s = s.replace(esc, char)
    return s


def commands() -> Iterator[tuple[str, click.Command, click.Context]]:
    """(`sdcadm platform install`, command, context) for every command and sub-command."""
    def walk(cmd: click.Command, path: list[str], parent: click.Context | None) -> Iterator:
        ctx = click.Context(cmd, info_name=path[-1], parent=parent)
        yield " ".join(path), cmd, ctx
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from walk(sub, [*path, name], ctx)
    yield from walk(cli, ["sdcadm"], None)


def test_the_committed_page_is_what_build_man_writes() -> None:
    proc = build_man("--check")
    assert proc.returncode == 0, proc.stderr


def test_check_fails_on_a_page_missing_a_command(tmp_path: Path) -> None:
    roff = PAGE.read_text()
    start = roff.index('.SS "sdcadm history"')
    stale = tmp_path / "sdcadm.1"
    stale.write_text(roff[:start] + roff[roff.index(".SS", start + 1):])
    proc = build_man("--check", "--page", str(stale))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"{stale} is out of date: run tools/build-man"


def test_every_command_and_option_is_in_the_page() -> None:
    page = plain(PAGE.read_text())
    missing = []
    for path, cmd, _ctx in commands():
        # The command's own section (the top level's options are under GLOBAL OPTIONS).
        heading = re.search(rf'^\.SS "{re.escape(path)}( \(.*\))?"$', page, re.M)
        if path != "sdcadm" and heading is None:
            missing.append(path)
            continue
        body = page[heading.end():].split("\n.SS ")[0] if heading else page
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                missing += [f"{path} {o}" for o in param.opts + param.secondary_opts
                            if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", body)]
    assert not missing


@pytest.mark.parametrize("section", ["NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS",
                                     "COMMANDS", "CONFIGURATION", "FILES", "ENVIRONMENT",
                                     "EXIT STATUS", "SHELL COMPLETION", "EXAMPLES"])
def test_the_page_has_its_sections(section: str) -> None:
    assert re.search(rf'^\.SH "?{section}"?$', PAGE.read_text(), re.M)


@pytest.mark.skipif(shutil.which("groff") is None, reason="no groff here")
def test_the_page_renders_without_warnings() -> None:
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(PAGE)],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_no_line_is_read_as_a_request_by_mistake() -> None:
    """Every line starting with `.` or `'` is a request the page means."""
    known = {"TH", "SH", "SS", "PP", "TP", "IP", "RS", "RE", "nf", "fi", "B", "BR", "br", "nh",
             "ad", "\\\""}
    for n, line in enumerate(PAGE.read_text().splitlines(), 1):
        if line.startswith(("'", ".")):
            assert line[1:].split(" ")[0] in known, f"line {n}: {line}"
