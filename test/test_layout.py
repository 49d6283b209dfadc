"""The shipped files: one copy of the defaults and the example configuration (top-level
`etc/`, which the package's `etc` links to), found by an installed, non-editable package;
the man page installed beside it."""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdcadm import config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "etc" / "sdcadm.conf.example"


def test_the_package_etc_is_the_top_level_etc() -> None:
    assert (ROOT / "sdcadm" / "etc").resolve() == (ROOT / "etc").resolve()
    for name in ("defaults.json", "buildstamp", "sdcadm.conf.example"):
        assert (ROOT / "etc" / name).is_file(), name


def test_the_example_configuration_loads() -> None:
    loaded = config.load_config(EXAMPLE)
    assert loaded.source == str(EXAMPLE)
    assert loaded.ssh["hostKeyPolicy"] == "strict"


def every_key() -> list[str]:
    keys = list(config.KEYS)
    for section, checks in config.SECTIONS.items():
        keys += [f"{section}.{k}" for k in checks if k != "url"]
    return keys


@pytest.mark.parametrize("key", every_key())
def test_the_example_names_every_key(key: str) -> None:
    """A key added to the configuration is described in the example, as a key or in a
    comment (`ssh.port`: `port` inside `ssh`, or named in the `_ssh` comment)."""
    example = EXAMPLE.read_text()
    section, _, name = key.rpartition(".")
    word = rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])"
    assert re.search(word, example), f"{key} not in {EXAMPLE.name}"
    if section:
        assert re.search(rf'"_?{section}"', example), f"{section} not in {EXAMPLE.name}"


def test_the_man_page_is_installed_as_data() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["options.data_files"]["share/man/man1"].split() == ["man/sdcadm.1"]


def test_a_built_package_holds_etc_as_files(tmp_path: Path) -> None:
    """What `pip install .` copies: build_py of a copy of the tree, run offline."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    shutil.copytree(ROOT / "sdcadm", src / "sdcadm", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("etc", "man"):
        shutil.copytree(ROOT / name, src / name)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path / "lib"
    proc = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
                           "build_py", "-d", str(out)], cwd=src, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("defaults.json", "sdcadm.conf.example", "buildstamp"):
        built = out / "sdcadm" / "etc" / name
        assert built.is_file() and not built.is_symlink(), name
        assert built.read_bytes() == (ROOT / "etc" / name).read_bytes(), name
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import sdcadm.config as c; "
             "assert c.__file__.startswith(sys.argv[1]), c.__file__; "
             "print(c.load_defaults()['updatesServerUrl'])")
    proc = subprocess.run([sys.executable, "-c", probe, str(out)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == config.load_defaults()["updatesServerUrl"]
