"""Bad `update` input is refused before anything is read or written."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def test_exclude_without_all_is_refused_before_any_request(sdcadm: Any, sim: Any,
                                                           tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    r = sdcadm("update", "-n", "-x", "moray", "cns", env={"SDCADM_REQUEST_LOG": str(log)})
    assert (r.exit_code, r.out) == (2, "")
    # one line, no "Finding candidate ..." progress first
    assert r.err == "sdcadm update: error (Usage): -x/--exclude is only valid with --all\n"
    assert not log.exists() or log.read_text() == ""
    assert sim.mutations() == []
