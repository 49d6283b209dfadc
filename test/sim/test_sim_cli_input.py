"""`sdcadm-sim` as a process on bad and natural input: one error line, exit 2, nothing
started; a state directory named like a scenario is not read as one."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sdcadm.sim.scenario import ScenarioError, load_scenario


def _sim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdcadm.sim.cli", *args], capture_output=True,
                          text=True, timeout=90, cwd=cwd)


@pytest.mark.parametrize("args, message", [
    (["--fault", '{"type": "nope"}'], "Invalid value for --fault: unknown fault type 'nope'; "
                                      "one of: error, latency, drop,"),
    (["--fault", "{bad"], "Invalid value for --fault: not JSON (Expecting property name"),
    (["--fault", "[1]"], "Invalid value for --fault: a fault is a JSON object: 1"),
    (["--fault", '{"type": "drop", "count": "x"}'],
     'Invalid value for --fault: "count" must be a whole number: {"type": "drop", "count": "x"}'),
    (["--fault", '{"type": "drop", "count": -1}'],
     'Invalid value for --fault: "count" must be a whole number: {"type": "drop", "count": -1}'),
    (["--fault", '{"type": "drop", "rate": 5}'],
     'Invalid value for --fault: "rate" must be a number between 0 and 1: '),
    (["--fault", '{"type": "drop", "rate": "nan"}'],
     'Invalid value for --fault: "rate" must be a number between 0 and 1: '),
    (["--fault", '{"type": "latency", "delay": -3}'],
     'Invalid value for --fault: "delay" must be a number 0 or more (seconds): '),
    (["--fault", '{"type": "error", "status": "abc"}'],
     'Invalid value for --fault: "status" must be an HTTP error status (400-599): '),
    (["--fault", '{"type": "error", "status": 200}'],
     'Invalid value for --fault: "status" must be an HTTP error status (400-599): '),
    (["--fault", '{"type": "ssh-hang", "target": "*", "command": "svcs ("}'],
     "Invalid value for --fault: bad command regex: "),
    (["--fault", '{"type": "fail-job"}'],
     "Invalid value for --fault: a fail-job fault needs a target (uuid or '*')"),
    (["--port-base", "65530"],
     "Invalid value for '--port-base': needs 7 ports from it: 1..65529, not 65530"),
    (["--port-base", "-1"], "Invalid value for '--port-base': needs 7 ports from it: 1..65529,"),
    (["--time-scale", "-1"], "Invalid value for '--time-scale': must be a number above 0"),
    (["--time-scale", "0"], "Invalid value for '--time-scale': must be a number above 0"),
    (["--time-scale", "inf"], "Invalid value for '--time-scale': must be a number above 0"),
    (["--time-scale", "fast"], "Invalid value for '--time-scale': 'fast' is not a valid float."),
    (["--latency", "reboot"], "Invalid value for --latency: expected NAME=SECONDS, got 'reboot'"),
    (["--latency", "rebot=1"], 'Invalid value for --latency: unknown latency "rebot": one of '
                               "job-queue, import-image,"),
    (["--latency", "reboot=-5"], 'Invalid value for --latency: latency "reboot" must be a '
                                 "number of seconds >= 0, not -5.0"),
    (["--scenario", "nosuch"], "Invalid value for '--scenario': no such scenario \"nosuch\": "
                               "one of lab, large, small, or the path of a YAML file"),
    (["--scenario", "bad.yaml"], "Invalid value for '--scenario': bad.yaml: not valid YAML "
                                 "(line 2, column 1): did not find expected ',' or ']'"),
    (["--scenario", "partial.yaml"], "Invalid value for '--scenario': scenario partial.yaml: "
                                     '"datacenter" (name, dns_domain, admin_uuid, sdc_app_uuid) '
                                     "is required"),
    (["--scenario", "./missing.yaml"],
     "Invalid value for '--scenario': no such scenario: missing.yaml does not exist"),
    (["--scenario", "dir.yaml"], "Invalid value for '--scenario': dir.yaml is a directory, "
                                 "not a scenario file"),
    (["--bogus"], "No such option '--bogus'."),
])
@pytest.mark.parametrize("detach", [False, True])
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], message: str,
                                  detach: bool) -> None:
    (tmp_path / "bad.yaml").write_text("name: [x\n")
    (tmp_path / "partial.yaml").write_text("name: mine\n")
    (tmp_path / "dir.yaml").mkdir()
    r = _sim("up", "--state-dir", "state", *args, *(["--detach"] if detach else []),
             cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("sdcadm-sim up: error: " + message), r.stderr
    assert not (tmp_path / "state").exists()


def test_a_state_directory_named_like_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()  # as after a first `up --state-dir lab`
    r = _sim("up", "--scenario", "lab", "--state-dir", "lab", "--time-scale", "0.01",
             "--detach", cwd=tmp_path)
    try:
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"export SDCADM_CONFIG={tmp_path / 'lab' / 'sdcadm.conf'}"
        info = json.loads((tmp_path / "lab" / "sim.json").read_text())
        assert info["scenario"] == "lab"
    finally:
        down = _sim("down", "--state-dir", "lab", cwd=tmp_path)
    assert down.returncode == 0, down.stderr


def test_a_fault_on_every_request_does_not_hold_up_the_start(tmp_path: Path) -> None:
    """The launcher's readiness probe is not subject to injected faults: a datacenter whose
    CNAPI fails every request starts at once, and CNAPI then fails as asked."""
    import time

    import requests

    started = time.monotonic()
    r = _sim("up", "--scenario", "lab", "--state-dir", "dc", "--time-scale", "0.01",
             "--fault", '{"type": "error", "service": "cnapi", "status": 503}', "--detach",
             cwd=tmp_path)
    try:
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - started < 60
        info = json.loads((tmp_path / "dc" / "sim.json").read_text())
        assert requests.get(info["cnapi"] + "/servers", timeout=10).status_code == 503
        assert requests.get(info["vmapi"] + "/ping", timeout=10).status_code == 200
    finally:
        down = _sim("down", "--state-dir", "dc", cwd=tmp_path)
    assert down.returncode == 0, down.stderr


def test_ports_in_use_are_one_line(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        base = taken.getsockname()[1] - 3
        if base < 1:
            pytest.skip("no room below the port the kernel gave")
        r = _sim("up", "--scenario", "lab", "--state-dir", "s", "--port-base", str(base),
                 "--time-scale", "0.01", "--detach", cwd=tmp_path)
    finally:
        taken.close()
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(
        f"sdcadm-sim up: error: the simulator exited with status 1: cannot serve on ports "
        f"{base}..{base + 6}: Address already in use (see ")


@pytest.mark.parametrize("text, message", [
    ("- a\n", "s.yaml: a scenario is a YAML mapping"),
    ("extends: s.yaml\n", "s.yaml: extends itself"),
    ("extends: [lab]\n", 's.yaml: "extends" must be a scenario name or path'),
    ("extends: lab\nservers: []\n",
     'scenario {p}: "servers" (a list with at least the headnode) is required'),
    ("extends: lab\nservers: [{uuid: x, hostname: h}]\n",
     'scenario {p}: servers[0] has no "admin_ip", "current_platform"'),
    ("extends: lab\nlatencies: {reboot: fast}\n",
     'scenario {p}: latency "reboot" must be a number of seconds >= 0, not \'fast\''),
    ("extends: lab\nlocal_images: [nope]\n",
     'scenario {p}: local_images lists "nope", which is not in "images"'),
    ("extends: lab\nfaults: [{type: boom}]\n", "scenario {p}: faults[0]: unknown fault type"),
    ("extends: lab\nusbkey: 5\n", 'scenario {p}: "usbkey" must be a mapping'),
    ("extends: lab\ninstances: [{uuid: u, service: nosuch, alias: a, server: s, "
     "image_uuid: i}]\n",
     'scenario {p}: instances[0] names the service "nosuch", which is not in "services"'),
    ("extends: large\ngenerate: [1]\n", 's.yaml: "generate" must be a mapping'),
])
def test_malformed_scenarios(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert str(e.value).replace(str(tmp_path) + os.sep, "").startswith(message.format(p="s.yaml"))


def test_extends_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text("extends: lab\nname: base\n")
    (tmp_path / "sub" / "mine.yaml").write_text("extends: base.yaml\nname: mine\n")
    data = load_scenario(tmp_path / "sub" / "mine.yaml")
    assert data["name"] == "mine" and data["servers"] == load_scenario("lab")["servers"]
