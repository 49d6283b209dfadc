"""Bad input and failing APIs: one error line, the right exit status, nothing changed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_runner import make_runner


def conf_with(sim: Any, tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(Path(sim.config_path).read_text())
    data.update(changes)
    p = tmp_path / "sdcadm.conf"
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("args, line, status", [
    (["avail", "nosuch"],
     'sdcadm avail: error (Update): unknown SDC instance or service "nosuch" from '
     '{"instance":"nosuch","type":"update-instance"}', 2),
    (["avail", "vmapi@00000000-0000-4000-8000-000000000000"],
     'sdcadm avail: error (Update): unknown image "00000000-0000-4000-8000-000000000000" from '
     '{"service":"vmapi","image":"00000000-0000-4000-8000-000000000000",'
     '"type":"update-service"}', 2),
    (["instances", "foo=bar"], 'sdcadm instances: error (Usage): unknown filter "foo"', 2),
    (["insts", "type=zone"], "sdcadm instances: error (Usage): invalid instance type: zone", 2),
    (["instances", "-o", "instance,bogus"],
     'sdcadm instances: error (Usage): invalid output field: "bogus"', 2),
    (["instances", "-s", "-nope"],
     'sdcadm instances: error (Usage): invalid sort field: "nope"', 2),
    (["services", "extra", "args"], "sdcadm services: error (Usage): too many args: extra args", 2),
    (["svcs", "-o", "wat"], 'sdcadm services: error (Usage): invalid output field: "wat"', 2),
    (["avail", "-o", "nope"], 'sdcadm avail: error (Usage): invalid output field: "nope"', 2),
    (["avail", "-C", "bogus"],
     'sdcadm avail: error (Validation): unknown update channel "bogus" (valid channels: '
     'dev, staging, release)', 2),
    (["update", "-n", "-C", "", "cns"],
     'sdcadm update: error (Validation): unknown update channel "" (valid channels: '
     'dev, staging, release)', 2),
    (["update", "@"], 'sdcadm update: error (Update): unknown SDC instance or service "" from '
                      '{"instance":"","type":"update-instance"}', 2),
    (["update", "-n", "vmapi@"], 'sdcadm update: error (Usage): "vmapi@": nothing after "@" '
                                 "(give an image uuid or a version)", 2),
    (["update", "-n", "--all", "vmapi"], "sdcadm update: error (Usage): --all cannot be "
     "combined with SVC/INSTANCE arguments (-x leaves services out of --all)", 2),
    (["update", "-n", "--no-agents", "vmapi"],
     "sdcadm update: error (Usage): -x/--exclude is only valid with --all", 2),
    (["instances", "nosuch"], "sdcadm instances: error (Usage): unknown service: nosuch", 2),
    (["channel", "set"], "sdcadm channel set: error (Usage): must specify a channel name", 2),
    (["changes", "not-a-uuid", "nor-this"],
     'sdcadm changes: error (Usage): "not-a-uuid" is neither an image UUID nor an instance', 2),
    (["changes", "00000000-0000-4000-8000-000000000000", "moray0"],
     'sdcadm changes: error (Validation): unknown image "00000000-0000-4000-8000-000000000000" '
     '(not local, not in the "dev" channel)', 2),
    (["changes", "nosuch"],
     'sdcadm changes: error (Update): unknown SDC instance or service "nosuch" from '
     '{"instance":"nosuch","type":"update-instance"}', 2),
    # option parse errors keep the original's code and exit status (Option, 1)
    (["instances", "--bogus"], "sdcadm instances: error (Option): No such option '--bogus'.", 1),
    (["avail", "-x"], "sdcadm avail: error (Option): Option '-x' requires an argument.", 1),
    (["update", "--concurrency", "0"], "sdcadm update: error (Option): Invalid value for "
     "'--concurrency': 0 is not in the range 1<=x<=256.", 1),
])
def test_bad_input(sdcadm: Any, sim: Any, args: list[str], line: str, status: int) -> None:
    r = sdcadm(*args)
    assert (r.exit_code, r.out, r.err) == (status, "", line + "\n")
    assert sim.mutations() == []


def test_changes_of_two_services(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("changes", "moray0", "vmapi0")
    assert r.exit_code == 2
    assert r.err.startswith("sdcadm changes: error (Validation): images ")
    assert r.err.endswith(" are not builds of the same service\n")
    assert len(r.err.splitlines()) == 1


def test_channel_set_invalid(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("channel", "set", "bogus")
    assert r.exit_code == 2
    assert r.err == ('sdcadm channel set: error (Usage): Invalid channel name "bogus": must be '
                     "one of dev, staging, release\n")
    assert sim.mutations() == []


def test_bad_config_file(sdcadm: Any, sim: Any, tmp_path: Path) -> None:
    p = conf_with(sim, tmp_path, pollInterval="soon")
    r = sdcadm("services", env={"SDCADM_CONFIG": str(p)})
    assert (r.exit_code, r.out) == (2, "")
    assert r.err == f'sdcadm services: error (Config): {p}: "pollInterval" must be a number\n'
    r = sdcadm("--config", str(tmp_path / "absent.conf"), "instances")
    assert r.err == (f"sdcadm instances: error (Config): {tmp_path}/absent.conf: "
                     "configuration file not found\n")
    assert r.exit_code == 2


def test_unreachable_api(sdcadm: Any, sim: Any, tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = conf_with(sim, tmp_path, sapi={"url": f"http://127.0.0.1:{port}"}, retryDelay=0.01)
    r = sdcadm("services", env={"SDCADM_CONFIG": str(p)})
    assert (r.exit_code, r.out) == (1, "")
    assert r.err == (f"sdcadm services: error (SDCClient): sapi client error (ConnectionError): "
                     f"could not connect to http://127.0.0.1:{port} (GET /applications)\n")


def test_failing_api_after_retries(sdcadm: Any, sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"type": "error", "service": "vmapi", "method": "GET", "path": "^/vms",
                   "status": 503, "message": "vmapi is restarting"})
    p = conf_with(sim, tmp_path, retryDelay=0.01)
    r = sdcadm("instances", env={"SDCADM_CONFIG": str(p)})
    assert (r.exit_code, r.out) == (1, "")
    assert r.err == ("sdcadm instances: error (SDCClient): vmapi client error "
                     "(ServiceUnavailableError): vmapi is restarting\n")
    assert sim.mutations() == []


def test_transient_failure_is_retried(sdcadm: Any, sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"type": "error", "service": "sapi", "method": "GET", "path": "^/services",
                   "status": 500, "count": 2})
    p = conf_with(sim, tmp_path, retryDelay=0.01)
    r = sdcadm("services", "-H", "-o", "name", env={"SDCADM_CONFIG": str(p)})
    assert (r.exit_code, r.err) == (0, "")
    assert "vmapi" in r.out.split()


def test_not_found_error_body(sdcadm: Any, sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"type": "error", "service": "sapi", "path": "^/applications",
                   "status": 404, "code": "ResourceNotFound", "message": "no such thing"})
    r = sdcadm("channel", "get")
    assert r.exit_code == 1
    assert r.err == ("sdcadm channel get: error (SDCClient): sapi client error "
                     "(ResourceNotFound): no such thing\n")


def test_traceback_only_with_verbose(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("avail", "nosuch")
    assert "Traceback" not in r.err
    r = sdcadm("-v", "avail", "nosuch")
    assert r.exit_code == 2
    assert "Traceback" in r.err
    assert r.err.rstrip().endswith(
        'sdcadm avail: error (Update): unknown SDC instance or service "nosuch" from '
        '{"instance":"nosuch","type":"update-instance"}')


def test_verbose_request_lines_are_whole_lines(sdcadm: Any, sim: Any) -> None:
    import re

    # gather() reads in parallel threads; their log lines must not run into each other
    logline = re.compile(r"^sdcadm: [a-z]+ [A-Z]+ http://\S+ (\d{3}|ERR) \d+ms$")
    for _ in range(12):
        r = sdcadm("-v", "update", "--all", "-n")
        assert r.exit_code == 0, r.err
        log = [ln for ln in r.err.splitlines() if "http://" in ln or not ln.strip()]
        assert log and all(logline.match(ln) for ln in log), log


def test_lab_scenario_avail_runs(lab: Any, monkeypatch: pytest.MonkeyPatch,
                                 capfd: pytest.CaptureFixture) -> None:
    run = make_runner(lab, monkeypatch, capfd)
    r = run("avail")
    assert r.exit_code == 0, r.err
    assert lab.mutations() == []


def test_unwritable_request_log_warns_once_and_the_command_works(sdcadm: Any, sim: Any,
                                                                  tmp_path: Path) -> None:
    log = tmp_path / "no-such-dir" / "requests.log"
    r = sdcadm("services", env={"SDCADM_REQUEST_LOG": str(log)})
    assert r.exit_code == 0, r.err
    assert r.out.startswith("TYPE ")
    assert r.err == f"sdcadm: warning: cannot write request log {log}: No such file or directory\n"


def test_a_failing_api_is_reported_without_waiting_for_a_slow_one(sdcadm: Any, sim: Any) -> None:
    import time

    # The local image listing is read before the server listing; make it the slow one.
    sim.add_fault({"type": "latency", "service": "imgapi", "delay": 3})
    sim.add_fault({"type": "error", "service": "cnapi", "method": "GET", "path": "^/servers",
                   "status": 409, "code": "InvalidArgument", "message": "bad servers query"})
    started = time.monotonic()
    r = sdcadm("instances")
    elapsed = time.monotonic() - started
    assert (r.exit_code, r.out) == (1, "")
    assert r.err == ("sdcadm instances: error (SDCClient): cnapi client error "
                     "(InvalidArgument): bad servers query\n")
    assert elapsed < 1.5, elapsed  # not held for the 3 s IMGAPI read
    assert sim.mutations() == []


def test_many_errors_are_capped_unless_verbose(sdcadm: Any, sim: Any) -> None:
    # 12 bad changes on stdin: a MultiError of 12 validation errors.
    bad = json.dumps([{"service": n} for n in range(12)])
    r = sdcadm("update", "-n", input=bad)
    lines = r.err.splitlines()
    assert r.exit_code == 2
    assert lines[0] == "sdcadm update: error (MultiError): multiple (12) errors"
    assert lines[1:11] == [f'    error (Validation): "service" in {{"service":{n}}} (string) '
                           "is required" for n in range(10)]
    assert lines[11:] == ["    ... and 2 more (-v lists them all)"]
    r = sdcadm("-v", "update", "-n", input=bad)
    assert '    error (Validation): "service" in {"service":11} (string) is required' in r.err
    assert "... and 2 more" not in r.err
    # Ten or fewer are listed whole.
    r = sdcadm("update", "-n", input=json.dumps([{"service": n} for n in range(10)]))
    assert len(r.err.splitlines()) == 11 and "more" not in r.err


def test_update_of_sdcadm_itself_names_self_update_in_one_line(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("update", "-n", "sdcadm")
    assert r.exit_code == 2
    assert r.err.splitlines()[-1] == ('sdcadm update: error (Update): "sdcadm update" does not '
                                      'update sdcadm itself: use "sdcadm self-update --latest"')
    assert sim.mutations() == []


def test_channel_help_lists_unset(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("channel", "--help")
    assert r.exit_code == 0
    assert any(line.split()[:1] == ["unset"] for line in r.out.splitlines())
