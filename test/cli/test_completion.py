"""`sdcadm completion SHELL` and the completion protocol its scripts speak, run as the shell
runs them: `sdcadm` as a process, with the words typed so far in the environment."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def sdcadm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sdcadm", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60,
                          env=dict(os.environ, NO_COLOR="1", **(env or {})))


def complete(line: str, shell: str = "bash") -> str:
    """What `sdcadm` answers a shell asking to complete the last word of `line`."""
    proc = sdcadm(env={"_SDCADM_COMPLETE": f"{shell}_complete", "COMP_WORDS": line,
                       "COMP_CWORD": str(len(line.split(" ")) - 1)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


@pytest.mark.parametrize("line, expected, absent", [
    ("sdcadm ", {"update", "history", "services", "instances", "avail", "rollback",
                 "platform", "reboot-plan", "check-health", "completion"}, set()),
    ("sdcadm hi", {"history"}, {"update"}),
    ("sdcadm up", {"update"}, {"history"}),
    ("sdcadm --c", {"--config"}, {"--verbose"}),
    ("sdcadm update --dry", {"--dry-run"}, set()),
    ("sdcadm update -", {"--all", "--yes", "--resume"}, {"--verbose"}),  # -v is hidden there
    ("sdcadm platform ", {"list", "install", "assign", "remove"}, {"update"}),
    ("sdcadm reboot-plan cr", {"create"}, {"run"}),
    ("sdcadm up --al", {"--all"}, set()),  # through the alias
    ("sdcadm completion ", {"bash", "zsh", "fish"}, set()),
])
def test_bash_protocol_completes_commands_and_options(line: str, expected: set[str],
                                                      absent: set[str]) -> None:
    # bash's answer: one `TYPE,VALUE` line per candidate.
    got = {ln.split(",", 1)[1] for ln in complete(line).splitlines()}
    assert expected <= got, got
    assert not got & absent, got


def test_zsh_protocol_answers_with_the_short_help() -> None:
    # zsh's answer: TYPE, VALUE and HELP lines per candidate.
    assert complete("sdcadm hi", shell="zsh") == "plain\nhistory\nHistory of sdcadm commands.\n"


@pytest.mark.parametrize("shell, marker", [
    ("bash", "_SDCADM_COMPLETE=bash_complete"),
    ("zsh", "_SDCADM_COMPLETE=zsh_complete"),
    ("fish", "_SDCADM_COMPLETE=fish_complete"),
])
def test_prints_the_script_of_each_shell(shell: str, marker: str) -> None:
    proc = sdcadm("completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout
    assert proc.stderr == ""


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_the_bash_script_completes_subcommands_in_bash(tmp_path: Path) -> None:
    """Source the printed script in bash and call its function as bash's `complete` does."""
    script = sdcadm("completion", "bash").stdout
    (tmp_path / "completion.bash").write_text(script)
    wrapper = tmp_path / "bin" / "sdcadm"  # the name the script calls back
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sdcadm "$@"\n')
    wrapper.chmod(0o755)
    probe = ('source completion.bash\n'
             'COMP_WORDS=(sdcadm re); COMP_CWORD=1\n'
             '_sdcadm_completion sdcadm\n'
             'printf "%s\\n" "${COMPREPLY[@]}"\n')
    proc = subprocess.run(["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PATH=f"{wrapper.parent}:"
                                           + os.environ.get("PATH", "")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["reboot-plan", "rehearse"]


@pytest.mark.parametrize("args, message", [
    (["completion", "tcsh"], "sdcadm completion: error (Usage): Invalid value for 'SHELL': "
                             "'tcsh' is not one of 'bash', 'zsh', 'fish'."),
    (["completion"], "sdcadm completion: error (Usage): which shell? bash, zsh or fish"),
])
def test_an_unknown_or_missing_shell_is_one_line(args: list[str], message: str) -> None:
    proc = sdcadm(*args)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", message + "\n")
