"""tools/venv.sh, which tools/demo and tools/test source: a Python older than 3.11 is refused
in one line before pip runs; the man page is where `man` finds it with the venv on PATH."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def require_python(py: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    probe = f'source "{ROOT}/tools/venv.sh"; require_python "{py}"; echo fine'
    return subprocess.run(["bash", "-c", probe, "tools/demo"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path,
                          env=dict(os.environ, PATH=f"{tmp_path}:/usr/bin:/bin"))


def fake_python(tmp_path: Path, version: str) -> str:
    """A `python3` that says it is VERSION and runs nothing."""
    exe = tmp_path / "python3"
    major, minor = (int(x) for x in version.split(".")[:2])
    exe.write_text("#!/bin/sh\n"
                   f'if [ "$1" = -V ]; then echo "Python {version}"; exit 0; fi\n'
                   f"exit {1 if (major, minor) < (3, 11) else 0}\n")
    exe.chmod(0o755)
    return str(exe)


@pytest.mark.parametrize("version", ["3.9.2", "3.10.14", "2.7.18"])
def test_an_older_python_is_one_line(tmp_path: Path, version: str) -> None:
    py = fake_python(tmp_path, version)
    proc = require_python(py, tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("tools/demo: sdcadm needs Python 3.11 or newer; "
                           f"{py} is Python {version}\n")


def test_a_missing_python_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "python3"
    proc = require_python(str(missing), tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"tools/demo: {missing} not found: sdcadm needs Python 3.11 or newer\n"


@pytest.mark.parametrize("version", ["3.11.7", "3.13.0"])
def test_a_new_enough_python_passes(tmp_path: Path, version: str) -> None:
    proc = require_python(fake_python(tmp_path, version), tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "fine\n", "")


def test_the_running_python_passes(tmp_path: Path) -> None:
    proc = require_python(sys.executable, tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "fine\n", "")


def test_the_man_page_is_found_with_the_venv_on_path(tmp_path: Path) -> None:
    """`man sdcadm` works in the venv tools/demo and tools/test make, though an editable
    install puts no page in it: man(1) looks beside .venv/bin, in .venv/share/man."""
    if shutil.which("man") is None:
        pytest.skip("no man(1) here")
    (tmp_path / "man").mkdir()
    page = tmp_path / "man" / "sdcadm.1"
    shutil.copy(ROOT / "man" / "sdcadm.1", page)
    # A venv made already, whose python (3.11) runs pip and says nothing.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fake = Path(fake_python(tmp_path, "3.11.7"))
    fake.rename(tmp_path / ".venv" / "bin" / "python")
    for _ in range(2):  # tools/test and tools/demo run it again and again
        proc = subprocess.run(["bash", "-c", f'source "{ROOT}/tools/venv.sh"; install_venv test',
                               "tools/test"], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (0, "")
    env = {k: v for k, v in os.environ.items() if k not in ("MANPATH", "MANOPT")}
    env["PATH"] = f"{tmp_path / '.venv' / 'bin'}:/usr/bin:/bin"
    found = subprocess.run(["man", "-w", "sdcadm"], capture_output=True, text=True,
                           timeout=60, cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).resolve() == page.resolve()
