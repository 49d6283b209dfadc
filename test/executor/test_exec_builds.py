"""Which self-update builds `Builds.prune` removes, on a prefix of directories."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


STAMP = "master-20990101T000000Z-g0"


def wheel_of(tmp_path: Path, src: Any = None) -> Path:
    """A wheel of this project that says it is sdcadm 9.9.9 (of `src`, else as it is)."""
    from sdcadm.sim import builds as sim_builds

    wheel = tmp_path / "sdcadm-9.9.9-py3-none-any.whl"
    wheel.write_bytes(sim_builds.wheel_bytes(src or sim_builds.read_source(), "9.9.9", STAMP))
    return wheel


def test_a_build_whose_requirements_the_shared_libraries_miss_is_refused(
        tmp_path: Path) -> None:
    """`pip check` in the new environment: a wheel that needs a library the running build
    does not have is refused before anything could switch to it."""
    import dataclasses

    from sdcadm.errors import InternalError
    from sdcadm.sim import builds as sim_builds

    src = sim_builds.read_source()
    needy = dataclasses.replace(src, metadata=src.metadata.replace(
        "\nRequires-Dist:", "\nRequires-Dist: sdcadm-no-such-library>=1\nRequires-Dist:", 1))
    assert "sdcadm-no-such-library" in needy.metadata
    wheel = wheel_of(tmp_path, needy)
    build = tmp_path / "builds" / "9.9.9"
    build.parent.mkdir()
    log = tmp_path / "install.log"
    with pytest.raises(InternalError) as e:
        b.create_env(build, wheel, log)
    assert e.value.message == ("requirements not met: sdcadm 9.9.9 requires "
                               "sdcadm-no-such-library, which is not installed.")
    assert "pip check" in log.read_text()

    # the same wheel without the extra requirement installs and runs
    (tmp_path / "fine").mkdir()
    fine = wheel_of(tmp_path / "fine", src)
    b.create_env(tmp_path / "builds" / "fine", fine, log)
    code, out = b.run_build(tmp_path / "builds" / "fine", ["--version"], log, timeout=60,
                            config_path=None)
    assert (code, out.split()[:2]) == (0, ["sdcadm", "9.9.9"])


class Lines:
    def __init__(self) -> None:
        self.said: list[str] = []

    def lines(self, *lines: str) -> None:
        self.said.extend(lines)


@pytest.mark.parametrize("fresh", [True, False])
def test_a_build_that_is_not_the_version_its_image_names_fails_its_smoke_test(
        tmp_path: Path, fresh: bool) -> None:
    """The image says 9.9.8, the build it holds says 9.9.9. A build installed by this run
    that fails its smoke test is removed; one installed before (reused) is kept; `current`
    is never touched."""
    from types import SimpleNamespace

    from sdcadm.errors import StepFailedError
    from sdcadm.executor.context import ExecContext
    from sdcadm.executor.handlers.selfupdate import SmokeBuild
    from sdcadm.plan import Step

    wheel = wheel_of(tmp_path)
    build = tmp_path / "opt" / "builds" / "9.9.9"
    build.parent.mkdir(parents=True)
    b.create_env(build, wheel, tmp_path / "install.log")
    said = Lines()
    ctx = ExecContext(clients=None, config=SimpleNamespace(self_update={}, source=None),
                      progress=said, journal=SimpleNamespace(dir=tmp_path))
    step = Step(id="3:smoke-sdcadm:x", action="smoke-sdcadm", target="x", params={
        "build": str(build), "version": "9.9.8", "buildstamp": None, "fresh": fresh})
    with pytest.raises(StepFailedError) as e:
        SmokeBuild().run(ctx, step)
    assert e.value.message == (
        'sdcadm 9.9.8 failed its smoke test: `sdcadm --version` said "sdcadm 9.9.9 '
        '(master-20990101T000000Z-g0)" (exit 0), expected sdcadm 9.9.8 '
        f"(see {tmp_path / 'install.log'})")
    assert said.said == ["Smoke test sdcadm 9.9.8 (sdcadm --version, sdcadm instances)"]
    assert build.exists() is not fresh
    assert not (tmp_path / "opt" / "current").exists()


def test_a_disk_that_fills_up_during_the_install_leaves_no_half_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while the build is written (here its record, the last thing written): one
    StepFailedError naming the build and the error, and nothing of the build left; the
    same step run again, with room, installs it."""
    import errno
    from types import SimpleNamespace

    from sdcadm.errors import StepFailedError
    from sdcadm.executor.context import ExecContext
    from sdcadm.executor.handlers.selfupdate import InstallBuild
    from sdcadm.plan import Step

    wheel = wheel_of(tmp_path)
    prefix = tmp_path / "opt"
    prefix.mkdir()
    build = prefix / "builds" / "9.9.9"
    ctx = ExecContext(clients=None, config=SimpleNamespace(self_update={}, source=None),
                      progress=Lines(), journal=SimpleNamespace(dir=tmp_path))
    step = Step(id="2:install-sdcadm:x", action="install-sdcadm", target="x", params={
        "build": str(build), "file": str(wheel), "prefix": str(prefix), "version": "9.9.9",
        "image_uuid": "0d6c1c7e-3b1e-4c58-9f0e-0e0e0e0e0e0e", "buildstamp": "b"})
    write_record = b.Builds.write_record

    def full(build_dir: Path, facts: Any) -> None:
        (Path(build_dir) / f"{b.RECORD}.tmp").write_text("{")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(b.Builds, "write_record", staticmethod(full))
    with pytest.raises(StepFailedError) as e:
        InstallBuild().run(ctx, step)
    assert e.value.message == (f"install of sdcadm 9.9.9 into {build} failed: [Errno 28] "
                               f"No space left on device (see {tmp_path / 'install.log'})")
    assert not build.exists()
    assert not InstallBuild().check(ctx, step)

    monkeypatch.setattr(b.Builds, "write_record", staticmethod(write_record))
    InstallBuild().run(ctx, step)
    assert InstallBuild().check(ctx, step)
