"""A hung API: reads that are retried say so, and one read's wait is bounded by the
configuration (`readTimeout`, `retries`, `retryDelay`)."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from sdcadm.clients.http import MAX_BACKOFF, backoff, worst_read
from sdcadm.config import load_config


@pytest.mark.parametrize("read_timeout, retries, delay, worst", [
    (15, 2, 0.25, 3 * 15 + 0.25 + 0.5),
    (60, 3, 0.25, 4 * 60 + 0.25 + 0.5 + 1.0),  # what a hung API cost before: 4 minutes
    (1, 0, 0.25, 1),
    (2, 5, 1.0, 6 * 2 + 1 + 2 + 4 + MAX_BACKOFF + MAX_BACKOFF),
])
def test_worst_read_arithmetic(read_timeout: float, retries: int, delay: float,
                               worst: float) -> None:
    assert worst_read(read_timeout, retries, delay) == pytest.approx(worst)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(0.25, n) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_the_shipped_defaults_report_a_hung_api_within_a_minute(tmp_path: Path) -> None:
    conf = tmp_path / "c.conf"
    conf.write_text(json.dumps({"usbkeyConfig": str(tmp_path / "none")}))
    c = load_config(conf)
    assert worst_read(c.read_timeout, c.retries, c.retry_delay) < 60
    assert c.retries >= 1  # a hiccup is still retried


def _conf(sim: Any, tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(Path(sim.config_path).read_text())
    data.update(changes)
    p = tmp_path / "sdcadm.conf"
    p.write_text(json.dumps(data))
    return p


RETRYING = re.compile(r"^sdcadm: retrying cnapi GET /servers \((\d)/3\): timed out$")


def test_a_hung_read_says_it_retries_and_fails_within_the_bound(
        sdcadm: Any, sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"type": "latency", "service": "cnapi", "method": "GET", "path": "^/servers",
                   "delay": 1.5})
    conf = _conf(sim, tmp_path, readTimeout=0.5, retries=2, retryDelay=0.05)
    bound = worst_read(0.5, 2, 0.05)
    started = time.monotonic()
    r = sdcadm("instances", env={"SDCADM_CONFIG": str(conf)})
    elapsed = time.monotonic() - started
    assert (r.exit_code, r.out) == (1, "")
    lines = r.err.splitlines()
    assert [m.group(1) for m in map(RETRYING.match, lines) if m] == ["2", "3"]
    cnapi = json.loads(conf.read_text())["cnapi"]["url"]
    assert lines[-1] == (f"sdcadm instances: error (SDCClient): cnapi client error "
                         f"(RequestTimeout): timed out waiting for {cnapi} (GET /servers)")
    assert len(lines) == 3, lines
    assert bound <= elapsed < bound + 3, (elapsed, bound)
    assert sim.mutations() == []


def test_a_read_that_answers_on_its_retry_says_so_once(sdcadm: Any, sim: Any,
                                                        tmp_path: Path) -> None:
    quiet = sdcadm("instances", "-H", "-o", "alias")
    sim.add_fault({"type": "latency", "service": "cnapi", "method": "GET", "path": "^/servers",
                   "delay": 1.5, "count": 1})
    conf = _conf(sim, tmp_path, readTimeout=0.5, retries=2, retryDelay=0.05)
    r = sdcadm("instances", "-H", "-o", "alias", env={"SDCADM_CONFIG": str(conf)})
    assert r.exit_code == 0, r.err
    assert r.out == quiet.out
    assert r.err == "sdcadm: retrying cnapi GET /servers (2/3): timed out\n"


def test_quick_retries_stay_quiet_and_slow_ones_speak(sdcadm: Any, sim: Any,
                                                      tmp_path: Path) -> None:
    # Two 503s answered at once: retried within a second, no line.
    sim.add_fault({"type": "error", "service": "sapi", "method": "GET", "path": "^/services",
                   "status": 503, "count": 2})
    r = sdcadm("services", "-H", "-o", "name",
               env={"SDCADM_CONFIG": str(_conf(sim, tmp_path, retryDelay=0.01))})
    assert (r.exit_code, r.err) == (0, "")
    # A 503 after the read has waited a few seconds: said, with the status.
    sim.clear_faults()
    sim.add_fault({"type": "latency", "service": "sapi", "method": "GET",
                   "path": "^/services", "delay": 2.1, "count": 1})
    sim.add_fault({"type": "error", "service": "sapi", "method": "GET", "path": "^/services",
                   "status": 503, "count": 1})
    r = sdcadm("services", "-H", "-o", "name",
               env={"SDCADM_CONFIG": str(_conf(sim, tmp_path, retryDelay=0.01))})
    assert r.exit_code == 0, r.err
    assert r.err == "sdcadm: retrying sapi GET /services (2/3): 503 Service Unavailable\n"
