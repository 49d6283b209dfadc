"""Fault injection and the admin surface (faults, mutation log, latencies)."""
from __future__ import annotations

import json
import time

import pytest
import requests

from sdcadm.sim.testing import start_sim


def test_error_fault_with_filters_and_count(api, sim):
    fid = sim.add_fault({"type": "error", "service": "vmapi", "method": "GET", "path": "^/vms\\?",
                         "status": 503, "count": 2, "message": "try later"})
    for _ in range(2):
        r = api.get("vmapi", "/vms?state=active")
        assert r.status_code == 503
        assert r.json() == {"code": "ServiceUnavailableError", "message": "try later"}
        assert r.headers["server"] == "VMAPI/9.16.0"
    assert api.get("vmapi", "/vms?state=active").status_code == 200, "count=2 fires twice only"
    assert api.get("vmapi", "/ping").status_code == 200
    assert api.get("sapi", "/services").status_code == 200
    fault = next(f for f in sim.faults() if f["id"] == fid)
    assert fault["fired"] == 2


def test_error_fault_custom_code_and_method_filter(api, sim):
    sim.add_fault({"type": "error", "service": "sapi", "method": "PUT", "status": 500,
                   "code": "InternalError"})
    svc = api.ok("GET", "sapi", "/services?name=vmapi")[0]
    r = api.put("sapi", f"/services/{svc['uuid']}", json={"params": {"x": 1}})
    assert r.status_code == 500 and r.json()["code"] == "InternalError"
    assert "x" not in api.ok("GET", "sapi", f"/services/{svc['uuid']}")["params"]


def test_error_rate(api, sim):
    sim.add_fault({"type": "error", "service": "cnapi", "path": "/platforms", "status": 502,
                   "rate": 0.5})
    codes = [api.get("cnapi", "/platforms").status_code for _ in range(120)]
    assert 20 < codes.count(502) < 100 and codes.count(200) == 120 - codes.count(502)
    sim.clear_faults()
    sim.add_fault({"type": "error", "service": "cnapi", "status": 502, "rate": 0.0})
    assert all(api.get("cnapi", "/platforms").status_code == 200 for _ in range(20))


def test_latency_fault(api, sim):
    sim.add_fault({"type": "latency", "service": "imgapi", "delay": 0.3, "count": 1})
    t0 = time.monotonic()
    assert api.get("imgapi", "/ping").status_code == 200
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    api.get("imgapi", "/ping")
    assert time.monotonic() - t0 < 0.25


def test_dropped_connection(api, sim):
    sim.add_fault({"type": "drop", "service": "updates", "path": "^/channels", "count": 1})
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.urls["updates"] + "/channels", timeout=5)
    assert api.get("updates", "/channels").status_code == 200


def test_fail_job_reprovision(api, sim):
    vm = api.vm("moray0")
    sim.add_fault({"type": "fail-job", "target": vm["uuid"], "action": "reprovision",
                   "message": "zone would not boot"})
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=reprovision",
                 json={"image_uuid": vm["image_uuid"]})["job_uuid"]
    done = api.ok("GET", "vmapi", f"/jobs/{job}/wait")
    assert done["execution"] == "failed"
    assert done["chain_results"][-1]["error"] == {"name": "Error", "message": "zone would not boot"}
    assert all(c["error"] == "" for c in done["chain_results"][:-1])
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")["state"] == "running"
    # an action filter leaves other actions alone
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=update",
                 json={"alias": "moray0"})["job_uuid"]
    assert api.ok("GET", "vmapi", f"/jobs/{job}/wait")["execution"] == "succeeded"


def test_fail_job_by_image_for_import(api, sim):
    target = api.latest("sapi")
    sim.add_fault({"type": "fail-job", "target": target["uuid"], "count": 1})
    job = api.import_image(target["uuid"])
    assert job["execution"] == "failed" and job["chain_results"][-1]["error"]["message"]
    gone = api.get("imgapi", f"/images/{target['uuid']}")
    assert gone.status_code == 404, "the partial image is removed"
    assert api.import_image(target["uuid"])["execution"] == "succeeded", "count=1: the retry works"


def test_fail_task_install_agent(api, sim):
    cn = api.server("cn02")
    sim.add_fault({"type": "fail-job", "target": cn["uuid"], "action": "install-agent",
                   "message": "no space left"})
    newest = api.latest("vm-agent")
    tid = api.ok("POST", "cnapi", f"/servers/{cn['uuid']}/install-agent",
                 json={"image_uuid": newest["uuid"]})["id"]
    task = api.ok("GET", "cnapi", f"/tasks/{tid}/wait?timeout=10")
    assert task["status"] == "failure"
    assert task["history"][0] == {"name": "error", "timestamp": task["history"][0]["timestamp"],
                                  "event": {"error": {"message": "no space left"}}}
    agents = {a["name"]: a for a in api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")["agents"]}
    assert agents["vm-agent"]["image_uuid"] != newest["uuid"]


def test_reboot_hang(api, sim):
    cn = api.server("cn03")
    sim.add_fault({"type": "reboot-hang", "target": cn["uuid"]})
    job = api.ok("POST", "cnapi", f"/servers/{cn['uuid']}/reboot")["job_uuid"]
    done = api.wait_job(job)
    assert done["execution"] == "failed"
    time.sleep(0.2)
    assert api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")["status"] == "unknown"
    assert api.ok("GET", "cnapi", "/servers?extras=sysinfo&hostname=cn03")[0]["status"] == "unknown"


def test_stale_heartbeat_outlives_a_reboot(api, sim):
    cn, other = api.server("cn03"), api.server("cn04")
    sim.add_fault({"type": "stale-heartbeat", "target": cn["uuid"]})
    stale = api.server("cn03")["last_heartbeat"]
    for server in (cn, other):
        job = api.ok("POST", "cnapi", f"/servers/{server['uuid']}/reboot")["job_uuid"]
        assert api.wait_job(job)["execution"] == "succeeded"
    back = api.server("cn03")
    assert back["status"] == "running" and back["last_boot"] > cn["last_boot"]
    assert back["last_heartbeat"] == stale < back["last_boot"]
    fresh = api.server("cn04")
    assert fresh["last_heartbeat"] >= fresh["last_boot"]


def test_stuck_instance(api, sim):
    vm = api.vm("moray1")
    sim.add_fault({"type": "stuck-instance", "target": vm["uuid"]})
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=reprovision",
                 json={"image_uuid": vm["image_uuid"]})["job_uuid"]
    api.ok("GET", "vmapi", f"/jobs/{job}/wait")
    time.sleep(0.2)
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}?sync=true")["state"] == "provisioning"


def test_unhealthy_instance(api, sim):
    vm = api.vm("imgapi0")
    sim.add_fault({"type": "unhealthy", "target": vm["uuid"]})
    out = api.ok("POST", "cnapi", f"/servers/{vm['server_uuid']}/execute",
                 json={"script": f"#!/bin/bash\nsvcs -vxz {vm['uuid']}\n", "json": True})
    assert out["exitCode"] == 0
    assert "svc:/smartdc/application/imgapi:default" in out["stdout"]
    assert "State: maintenance since" in out["stdout"] and f"Zone: {vm['uuid']}" in out["stdout"]
    healthy = api.vm("vmapi0")
    out = api.ok("POST", "cnapi", f"/servers/{healthy['server_uuid']}/execute",
                 json={"script": f"#!/bin/bash\nsvcs -vxz {healthy['uuid']}\n", "json": True})
    assert out["stdout"] == ""


def test_manatee_deposed_peer(api, sim):
    sim.add_fault({"type": "manatee-deposed"})
    man = api.vm("manatee0")
    out = api.ok("POST", "cnapi", f"/servers/{man['server_uuid']}/execute",
                 json={"script": f"#!/bin/bash\nzlogin {man['uuid']} manatee-adm zk-state\n",
                       "json": True})
    state = json.loads(out["stdout"])
    assert [d["zoneId"] for d in state["deposed"]] == [api.vm("manatee2")["uuid"]]
    assert state["async"] == []


def test_fault_admin_surface(sim):
    admin = sim.urls["admin"]
    r = requests.post(admin + "/_sim/faults", json={"type": "nonsense"}, timeout=5)
    assert r.status_code == 422 and "unknown fault type" in r.json()["message"]
    r = requests.post(admin + "/_sim/faults", json={"type": "error", "service": "nova"}, timeout=5)
    assert r.status_code == 422
    r = requests.post(admin + "/_sim/faults", json={"type": "fail-job"}, timeout=5)
    assert r.status_code == 422 and "target" in r.json()["message"]
    added = requests.post(admin + "/_sim/faults",
                          json=[{"type": "drop", "service": "sapi"},
                                {"type": "latency", "service": "*", "delay": 0.01}],
                          timeout=5).json()
    listed = requests.get(admin + "/_sim/faults", timeout=5).json()
    assert [f["type"] for f in listed] == ["drop", "latency"]
    assert requests.delete(admin + f"/_sim/faults/{added[0]['id']}", timeout=5).status_code == 204
    assert requests.delete(admin + "/_sim/faults/nope", timeout=5).status_code == 404
    assert [f["type"] for f in sim.faults()] == ["latency"]
    assert requests.delete(admin + "/_sim/faults", timeout=5).status_code == 204
    assert sim.faults() == []


def test_mutation_log(api, sim):
    sim.clear_mutations()
    api.get("sapi", "/services")
    svc = api.ok("GET", "sapi", "/services?name=vmapi")[0]
    api.put("sapi", f"/services/{svc['uuid']}?x=1", json={"params": {"a": 1}})
    api.post("cnapi", "/servers/not-a-uuid/reboot")
    api.delete("imgapi", "/images/11111111-2222-4333-8444-555555555555")
    log = sim.mutations()
    assert [(m["service"], m["method"], m["path"]) for m in log] == [
        ("sapi", "PUT", f"/services/{svc['uuid']}?x=1"),
        ("cnapi", "POST", "/servers/not-a-uuid/reboot"),
        ("imgapi", "DELETE", "/images/11111111-2222-4333-8444-555555555555"),
    ]
    assert all(m["time"].endswith("Z") for m in log)
    sim.clear_mutations()
    assert sim.mutations() == []


def test_latencies_admin(sim):
    admin = sim.urls["admin"]
    before = requests.get(admin + "/_sim/latencies", timeout=5).json()
    assert before["reprovision"] == 30.0 and before["install-agent"] == 15.0
    after = requests.post(admin + "/_sim/latencies", json={"install-agent": 2.0}, timeout=5).json()
    assert after == dict(before, **{"install-agent": 2.0})
    assert requests.post(admin + "/_sim/latencies", json={"x": "slow"},
                         timeout=5).status_code == 422
    sim.reset()
    assert requests.get(admin + "/_sim/latencies", timeout=5).json() == before


def test_start_time_faults_latencies_and_scenario_faults(tmp_path):
    scenario = tmp_path / "faulty.yaml"
    scenario.write_text("extends: lab\nfaults:\n"
                        "  - {type: error, service: sapi, path: '^/mode', status: 503}\n")
    handle = start_sim(scenario, state_dir=tmp_path / "s", time_scale=0.001,
                       latencies={"reboot": 1.5},
                       faults=[{"type": "error", "service": "cnapi", "path": "^/platforms",
                                "status": 500, "count": 1}])
    try:
        assert requests.get(handle.urls["sapi"] + "/mode", timeout=5).status_code == 503
        assert requests.get(handle.urls["cnapi"] + "/platforms", timeout=5).status_code == 500
        assert requests.get(handle.urls["cnapi"] + "/platforms", timeout=5).status_code == 200
        assert handle._call("GET", "/_sim/latencies")["reboot"] == 1.5
        handle.reset()  # the starting faults come back with the scenario
        assert requests.get(handle.urls["cnapi"] + "/platforms", timeout=5).status_code == 500
        assert len(requests.get(handle.urls["sapi"] + "/services", timeout=5).json()) == 26
    finally:
        handle.stop()


def test_read_only_execute_scripts_are_not_mutations(api, sim):
    sim.clear_mutations()
    vm = api.vm("manatee0")
    for script in (f"#!/bin/bash\nzlogin {vm['uuid']} manatee-adm zk-state\n",
                   f"#!/bin/bash\nsvcs -vxz {vm['uuid']}\n"):
        api.ok("POST", "cnapi", f"/servers/{vm['server_uuid']}/execute",
               json={"script": script, "json": True})
    assert sim.mutations() == []
    api.ok("POST", "cnapi", f"/servers/{vm['server_uuid']}/execute",
           json={"script": "#!/bin/bash\n/usbkey/scripts/switch-platform.sh 20241010T000000Z\n",
                 "json": True})
    assert [(m["service"], m["path"]) for m in sim.mutations()] == [
        ("cnapi", f"/servers/{vm['server_uuid']}/execute")]
