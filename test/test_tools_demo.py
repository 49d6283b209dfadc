"""tools/demo's own output: the commands it runs are shown in bold on a terminal only, and
never with NO_COLOR set. The demo runs here with sdcadm, sdcadm-sim and sleep stubbed out
(and nothing installed): only what it prints around them is looked at."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOLD, PLAIN = "\033[1m", "\033[0m"


def demo_copy(tmp_path: Path) -> Path:
    """tools/demo in a project whose venv holds stubs that print their name and succeed."""
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "demo", tmp_path / "tools" / "demo")
    (tmp_path / "tools" / "venv.sh").write_text("install_venv() { :; }\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("sdcadm", "sdcadm-sim", "sleep"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "({name} $*)"\n')
        (bin_dir / name).chmod(0o755)
    return tmp_path / "tools" / "demo"


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    out.update(extra)
    return out


def on_a_terminal(demo: Path, environ: dict[str, str]) -> str:
    """What the demo prints with its stdout a terminal (a pseudo-terminal)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(["bash", str(demo)], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=environ)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every end of the terminal is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_through_a_pipe_the_demo_prints_no_escape_codes(tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    r = subprocess.run(["bash", str(demo)], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60, env=env())
    assert r.returncode == 0, r.stderr
    assert "\n$ sdcadm --version\n(sdcadm --version)\n" in r.stdout
    assert "\033" not in r.stdout + r.stderr


def test_on_a_terminal_the_commands_are_bold(tmp_path: Path) -> None:
    out = on_a_terminal(demo_copy(tmp_path), env())
    assert f"\n{BOLD}$ sdcadm --version{PLAIN}\n(sdcadm --version)\n" in out
    assert f"\n{BOLD}$ sdcadm history{PLAIN}\n" in out


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_color_leaves_a_terminal_plain(tmp_path: Path, value: str) -> None:
    out = on_a_terminal(demo_copy(tmp_path), env(NO_COLOR=value))
    assert "\n$ sdcadm --version\n(sdcadm --version)\n" in out
    assert "\033" not in out
