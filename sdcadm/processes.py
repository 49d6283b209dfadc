"""Child processes sdcadm starts and must see gone (a rehearsal's simulator, the test
suite's)."""
from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen, *, grace: float = 10.0) -> None:
    """Terminate `proc` if it still runs; kill it when it outlives `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
