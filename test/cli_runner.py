"""Run the sdcadm CLI in-process against a simulated datacenter, capturing its output."""
from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest

from sdcadm.sim.testing import SimHandle


@dataclass
class Result:
    exit_code: int
    out: str
    err: str


def make_runner(handle: SimHandle, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture):
    from sdcadm.cli.main import run

    def runner(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        monkeypatch.setenv("SDCADM_CONFIG", str(handle.config_path))
        monkeypatch.setenv("NO_COLOR", "1")
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        stdin = io.StringIO(input if input is not None else "")
        stdin.isatty = lambda: input is None and False  # type: ignore[method-assign]
        monkeypatch.setattr(sys, "stdin", stdin)
        capfd.readouterr()
        code = run(list(args))
        captured = capfd.readouterr()
        return Result(code, captured.out, captured.err)

    return runner
