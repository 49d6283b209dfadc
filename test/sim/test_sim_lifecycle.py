"""Starting, resetting, restarting and stopping the simulator; the files it writes; the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from sdcadm.sim.testing import start_sim

SERVICES = ("sapi", "imgapi", "updates", "vmapi", "cnapi", "workflow", "admin")


def test_sim_json_and_config_point_at_the_running_services(sim):
    info = json.loads((sim.state_dir / "sim.json").read_text())
    assert {k: info[k] for k in SERVICES} == sim.urls
    for name in SERVICES:
        assert sim.urls[name].startswith("http://127.0.0.1:")
        assert requests.get(sim.urls[name] + "/ping", timeout=5).status_code == 200
    assert len({sim.urls[n] for n in SERVICES}) == len(SERVICES), "each service has its own port"
    conf = json.loads(sim.config_path.read_text())
    assert conf["updatesServerUrl"] == sim.urls["updates"]
    for key, svc in (("sapi", "sapi"), ("imgapi", "imgapi"), ("vmapi", "vmapi"), ("cnapi", "cnapi"),
                     ("wfapi", "workflow")):
        assert conf[key] == {"url": sim.urls[svc]}
    assert conf["ufds_admin_uuid"] == "930896af-bf8c-48d4-885c-6573a94b1853"
    assert conf["datacenter_name"] == "coal" and conf["dns_domain"] == "joyent.us"
    assert conf["varDir"] == str(sim.state_dir / "var")
    assert conf["pollInterval"] == max(0.01, 5 * sim.time_scale)


def test_reset_is_fast_and_restores_state_faults_and_log(sim, api):
    svc = api.ok("GET", "sapi", "/services?name=vmapi")[0]
    api.ok("PUT", "sapi", f"/services/{svc['uuid']}", json={"params": {"image_uuid": "x"}})
    sim.add_fault({"type": "error", "service": "vmapi", "status": 503})
    assert sim.mutations()
    started = time.monotonic()
    sim.reset()
    assert time.monotonic() - started < 0.3
    again = api.ok("GET", "sapi", f"/services/{svc['uuid']}")
    assert again["params"]["image_uuid"] == svc["params"]["image_uuid"]
    assert sim.faults() == [] and sim.mutations() == []
    assert api.get("vmapi", "/vms").status_code == 200


def test_start_is_quick_and_restart_keeps_state_and_ports(tmp_path):
    t0 = time.monotonic()
    handle = start_sim("small", state_dir=tmp_path / "s", time_scale=0.001)
    try:
        assert time.monotonic() - t0 < 2.0
        urls = dict(handle.urls)
        app = requests.get(urls["sapi"] + "/applications?name=sdc", timeout=5).json()[0]
        requests.put(urls["sapi"] + f"/applications/{app['uuid']}",
                     json={"metadata": {"update_channel": "release"}}, timeout=5).raise_for_status()
        entry = {"uuid": "2be86246-4abc-4e92-b338-9fcb3f01708c", "started": 1417625874339,
                 "changes": []}
        requests.post(urls["sapi"] + "/history", json=entry, timeout=5).raise_for_status()
        handle.restart()
        assert handle.urls == urls, "a restart reuses the recorded ports"
        app = requests.get(urls["sapi"] + "/applications?name=sdc", timeout=5).json()[0]
        assert app["metadata"]["update_channel"] == "release"
        assert requests.get(urls["sapi"] + f"/history/{entry['uuid']}", timeout=5).json() == entry
        assert handle.mutations(), "the mutation log survives a restart too"
    finally:
        handle.stop()


def test_restart_mid_operation_still_completes_it(tmp_path):
    handle = start_sim("small", state_dir=tmp_path / "s", time_scale=0.05)  # reprovision: 1.5 s
    try:
        vmapi = handle.urls["vmapi"]
        vm = requests.get(vmapi + "/vms?alias=vmapi0", timeout=5).json()[0]
        target = requests.get(handle.urls["imgapi"] + "/images?name=vmapi",
                              timeout=5).json()[0]["uuid"]
        job = requests.post(vmapi + f"/vms/{vm['uuid']}?action=reprovision",
                            json={"image_uuid": target}, timeout=5).json()["job_uuid"]
        handle.restart()
        done = requests.get(handle.urls["vmapi"] + f"/jobs/{job}/wait", timeout=30).json()
        assert done["execution"] == "succeeded"
        vm = requests.get(handle.urls["vmapi"] + f"/vms/{vm['uuid']}", timeout=5).json()
        assert vm["image_uuid"] == target and vm["state"] == "running"
    finally:
        handle.stop()


def test_stop_leaves_no_process(tmp_path):
    handle = start_sim("lab", state_dir=tmp_path / "s", time_scale=0.001)
    pid = handle.proc.pid
    handle.stop()
    time.sleep(0.05)
    try:
        os.kill(pid, 0)
        alive = Path(f"/proc/{pid}/status").read_text().find("zombie") < 0
    except ProcessLookupError:
        alive = False
    assert not alive


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdcadm.sim.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_cli_up_detach_status_reset_down(tmp_path):
    state = tmp_path / "cli"
    r = _cli("up", "--scenario", "lab", "--state-dir", str(state), "--detach", "--time-scale",
             "0.01", "--latency", "install-agent=2.5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"export SDCADM_CONFIG={state.resolve() / 'sdcadm.conf'}"
    pid = int((state / "sim.pid").read_text())
    try:
        info = json.loads((state / "sim.json").read_text())
        assert set(SERVICES) <= set(info)
        latencies = requests.get(info["admin"] + "/_sim/latencies", timeout=5).json()
        assert latencies["install-agent"] == 2.5
        assert json.loads((state / "sdcadm.conf").read_text())["pollInterval"] == 0.05
        r = _cli("up", "--scenario", "lab", "--state-dir", str(state), "--detach")
        assert r.returncode != 0 and "already running" in r.stderr
        r = _cli("status", "--state-dir", str(state))
        assert r.returncode == 0 and r.stdout.count(" up") == len(SERVICES)
        requests.post(info["admin"] + "/_sim/faults", json={"type": "drop", "service": "sapi"},
                      timeout=5)
        r = _cli("reset", "--state-dir", str(state))
        assert r.returncode == 0, r.stderr
        assert requests.get(info["admin"] + "/_sim/faults", timeout=5).json() == []
    finally:
        r = _cli("down", "--state-dir", str(state))
    assert r.returncode == 0
    try:
        os.kill(pid, 0)
        gone = False
    except ProcessLookupError:
        gone = True
    assert gone
    r = _cli("status", "--state-dir", str(state))
    assert r.returncode == 1 and "down" in r.stdout


def test_cli_port_base_and_bad_arguments(tmp_path):
    r = _cli("up", "--state-dir", str(tmp_path / "x"), "--latency", "nope", "--detach")
    assert r.returncode == 2 and "NAME=SECONDS" in r.stderr
    r = _cli("up", "--state-dir", str(tmp_path / "x"), "--scenario", "no-such-scenario")
    assert r.returncode != 0 and "no such scenario" in r.stderr


def _free_base() -> int:
    import socket

    for base in range(41000, 60000, 97):
        socks = []
        try:
            for port in range(base, base + 7):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def test_port_base_status_and_shutdown(tmp_path):
    base = _free_base()
    handle = start_sim("lab", state_dir=tmp_path / "pb", time_scale=0.001, port_base=base)
    try:
        assert [handle.urls[n] for n in SERVICES] == [f"http://127.0.0.1:{base + i}"
                                                      for i in range(7)]
        status = handle.status()
        assert (status["scenario"] == "lab" and status["urls"] == handle.urls
                and status["pid"] == handle.proc.pid)
        assert status["counts"]["server"] == 1
        requests.post(handle.urls["admin"] + "/_sim/shutdown", timeout=5)
        handle.proc.wait(10)
        assert not (tmp_path / "pb" / "sim.pid").exists()
    finally:
        handle.stop()
