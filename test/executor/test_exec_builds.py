"""Which self-update builds `Builds.prune` removes, on a prefix of directories."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdcadm.executor import builds as b


def make(prefix: Path, name: str, installed: float | None) -> Path:
    """A build directory; `installed` None: no build.json (an install under way)."""
    build = prefix / "builds" / name
    (build / "bin").mkdir(parents=True)
    if installed is not None:
        b.Builds.write_record(build, {"version": name})
        os.utime(build / b.RECORD, (installed, installed))
    return build


@pytest.fixture
def prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(b, "running_env", lambda: (tmp_path / "first-env").resolve())
    return tmp_path / "opt"


@pytest.mark.parametrize("keep, left", [
    (5, ["a", "b", "c", "d", "e", "partial"]),
    (3, ["a", "c", "d", "e", "partial"]),  # current (c) and previous (a) kept besides
    (2, ["a", "c", "d", "e", "partial"]),
    (1, ["a", "c", "e", "partial"]),
    (0, ["a", "c", "partial"]),
])
def test_prune_keeps_the_newest_and_what_the_links_name(prefix: Path, keep: int,
                                                        left: list[str]) -> None:
    for n, name in enumerate("abcde"):
        make(prefix, name, installed=1_000_000 + n)
    make(prefix, "partial", installed=None)
    builds = b.Builds(prefix)
    builds.switch(prefix / "builds" / "a")
    builds.switch(prefix / "builds" / "c")  # current c, previous a
    before = sorted(d.name for d in builds.dir.iterdir())
    removed = builds.prune(keep)
    assert sorted(d.name for d in builds.dir.iterdir()) == left
    assert [d.name for d in removed] == [n for n in before if n not in left]  # oldest first
    assert builds.target(builds.current_link) == (prefix / "builds" / "c").resolve()


def test_prune_leaves_the_running_build_and_links_alone(prefix: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    running = make(prefix, "running", installed=1.0)
    monkeypatch.setattr(b, "running_env", lambda: running.resolve())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    b.Builds.write_record(outside, {"version": "x"})
    (prefix / "builds" / "link").symlink_to(outside)
    make(prefix, "new", installed=2.0)
    builds = b.Builds(prefix)
    assert [d.name for d in builds.prune(0)] == ["new"]
    assert outside.exists() and (prefix / "builds" / "link").is_symlink()
    assert sorted(d.name for d in builds.dir.iterdir()) == ["link", "running"]


def test_prune_of_a_prefix_without_builds_removes_nothing(prefix: Path) -> None:
    assert b.Builds(prefix).prune(0) == []
