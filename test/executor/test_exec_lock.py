"""The headnode run lock across real processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdcadm.errors import LockError
from sdcadm.executor.lock import RunLock

HOLDER = """
import sys, time
from sdcadm.executor.lock import RunLock
lock = RunLock(sys.argv[1], command="update", run_uuid="r-1").acquire()
print("locked", flush=True)
time.sleep(60)
"""


def _hold(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_waits_then_names_the_holder(tmp_path):
    path = tmp_path / "sdcadm.lock"
    holder = _hold(path)
    try:
        said: list[str] = []
        t0 = time.monotonic()
        with pytest.raises(LockError) as info:
            RunLock(path, command="update", run_uuid="r-2", wait=0.5, info=said.append).acquire()
        assert time.monotonic() - t0 >= 0.5
        assert said == ["Waiting for sdcadm lock"]
        assert f"pid {holder.pid}" in info.value.message
        assert 'command "update"' in info.value.message and "started 20" in info.value.message
        assert info.value.exit_status == 1
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holder_never_blocks(tmp_path):
    path = tmp_path / "sdcadm.lock"
    holder = _hold(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert "r-1" in path.read_text()  # stale content is left behind ...
    said: list[str] = []
    lock = RunLock(path, command="rollback", run_uuid="r-3", wait=0.2, info=said.append).acquire()
    try:
        assert said == []  # ... and ignored
        assert '"rollback"' in path.read_text() and str(os.getpid()) in path.read_text()
    finally:
        lock.release()
    assert path.read_text() == ""


def test_lock_is_reusable_after_release(tmp_path):
    path = tmp_path / "x" / "sdcadm.lock"
    with RunLock(path, command="update", run_uuid="a"):
        pass
    with RunLock(path, command="update", run_uuid="b", wait=0.1):
        pass
