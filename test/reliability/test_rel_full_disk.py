"""A full disk under the work directory: refused before anything changes when there is no
room to start (the pre-flight free-space check), and a clean stop when the disk fills up
mid-run (the journal cannot be written), finished by `update --resume` once there is room.
The work directory lives on a small tmpfs of its own, which only root can mount."""
from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
from e2e_runs import cli, end_state, kill, run_dirs, wait_for_event
from rel_harness import (
    RESUME,
    Verdicts,
    config_with,
    converge,
    data_lost,
    lease,
    plan_of_newest_update,
    target_state,
)

FS_MIB = 8


def _missing_seam() -> str | None:
    if importlib.util.find_spec("sdcadm.executor.preflight") is None:
        return ("the pre-flight free-space check (sdcadm/executor/preflight.py) is not there "
                "yet")
    import sdcadm.errors as errors

    if not hasattr(errors, "WriteFailedError"):
        return "the clean stop on journal write errors (WriteFailedError) is not there yet"
    return None


@pytest.fixture
def small_fs(tmp_path):
    """A tmpfs of FS_MIB MiB: a disk that fills up."""
    missing = _missing_seam()
    if missing:
        pytest.skip(missing)
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_MIB}m,mode=0700", "tmpfs",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"a small file system is needed and mounting a tmpfs failed (it needs "
                    f"root): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(root: Path) -> Path:
    """Take every free byte of the file system of `root`."""
    filler = root / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (64 * 1024, 1):
            try:
                while True:
                    fh.write(bytes(size))
            except OSError:
                pass
    return filler


def test_no_room_to_start_is_refused_and_nothing_changes(small, small_fs, tmp_path):
    cfg = config_with(small, tmp_path / "full.conf", varDir=str(small_fs / "var"),
                      logDir=str(small_fs / "logs"), minFreeMiB=2 * FS_MIB)
    before = end_state(small)
    r = cli(small, "--config", str(cfg), "update", "--all", "-y")
    verdicts = Verdicts()
    survived = r.returncode == 1 and "Traceback" not in r.stderr \
        and "error (NoSpace)" in r.stderr.splitlines()[-1]
    lost = data_lost(small, cfg, before=before, target=before)
    # Reading the HA roles only looks at the datacenter lease: nothing is sent.
    changed = [f"{m['method']} {m['path']}" for m in small.mutations()]
    if lease(small) is not None:
        changed.append("the datacenter lease was left behind")
    verdicts.add("full disk: before the run", "minFreeMiB above the free space", survived,
                 f"exit {r.returncode}: {r.stderr[-2000:]}", lost + [f"sent {c}" for c in changed])
    verdicts.check()
    assert not (small_fs / "var" / "updates").exists() or not any(
        (small_fs / "var" / "updates").iterdir())


def test_a_disk_that_fills_mid_run_stops_cleanly_and_resumes(small, small_fs, tmp_path):
    cfg = config_with(small, tmp_path / "full.conf", varDir=str(small_fs / "var"),
                      logDir=str(small_fs / "logs"), minFreeMiB=1)
    before = end_state(small)
    verdicts = Verdicts()
    kind = "full disk: mid-run"
    with verdicts.trying(kind, "journal write fails"):
        proc = cli(small, "--config", str(cfg), "update", "--all", "-y", wait=False)
        try:
            wait_for_event(_SimAt(small, cfg), lambda e: e.get("event") == "step-start"
                           and ":reprovision:" in e.get("step", ""), proc=proc)
            filler = fill(small_fs)
            _, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                kill(proc)
        last = err.strip().splitlines()[-1] if err.strip() else ""
        clean = proc.returncode == 1 and "Traceback" not in err and "error (" in last
        os.unlink(filler)
        run = converge(small, cfg, RESUME)
        if not clean:
            run.ok, run.problem = False, f"no clean stop (exit {proc.returncode}): {err[-2000:]}"
        plan = plan_of_newest_update(small_fs / "var")
        lost = data_lost(small, cfg, before=before, target=target_state(before, plan))
        verdicts.add(kind, "journal write fails", run.ok, run.problem, lost)
    verdicts.check()
    assert run_dirs(_SimAt(small, cfg))


class _SimAt:
    """The simulator seen through another configuration (another varDir)."""

    def __init__(self, sim, config: Path) -> None:
        self.urls = sim.urls
        self.config_path = config
