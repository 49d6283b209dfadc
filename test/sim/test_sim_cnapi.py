"""CNAPI contract: servers, extras, strict params, paging, platforms, boot params, tasks,
reboots, CommandExecute."""
from __future__ import annotations

import json
import re

import pytest

HIDDEN_WITHOUT_EXTRAS = {"sysinfo", "vms", "agents", "memory_available_bytes",
                         "disk_pool_size_bytes", "status", "last_heartbeat", "unreserved_ram"}


def test_ping_header_parses_like_sdcadm(api):
    r = api.get("cnapi", "/ping")
    assert re.match(r"^cnapi/(\d+\.\d+\.\d+)$", r.headers["server"])
    assert r.json()["ready"] is True


def test_server_list_extras(api):
    plain = api.ok("GET", "cnapi", "/servers")
    assert len(plain) == 5 and not HIDDEN_WITHOUT_EXTRAS & set(plain[0])
    assert {"uuid", "hostname", "headnode", "current_platform", "boot_platform", "setup",
            "reserved"} <= set(plain[0])
    rich = api.ok("GET", "cnapi", "/servers?extras=sysinfo,agents")
    s = rich[0]
    assert {"sysinfo", "agents", "status", "last_heartbeat"} <= set(s) and "vms" not in s
    assert s["status"] == "running"
    assert s["sysinfo"]["UUID"] == s["uuid"] and s["sysinfo"]["Live Image"] == s["current_platform"]
    assert s["sysinfo"]["Admin IP"].startswith("10.99.99.")
    assert {a["name"] for a in s["agents"]} >= {"cn-agent", "vm-agent", "net-agent", "config-agent"}
    assert all(set(a) == {"name", "version", "image_uuid", "uuid"} for a in s["agents"])
    vms = api.ok("GET", "cnapi", "/servers?extras=vms&headnode=true")[0]["vms"]
    assert vms and all(v["uuid"] == k for k, v in vms.items())
    everything = api.ok("GET", "cnapi", "/servers?extras=all")[0]
    assert {"sysinfo", "agents", "vms", "memory_available_bytes", "disk_pool_size_bytes",
            "unreserved_cpu"} <= set(everything)


def test_server_list_filters_fields_paging(api):
    hn = api.ok("GET", "cnapi", "/servers?headnode=true")
    assert [s["hostname"] for s in hn] == ["headnode"]
    assert [s["hostname"] for s in api.ok("GET", "cnapi", "/servers?hostname=cn02")] == ["cn02"]
    cns = api.ok("GET", "cnapi", "/servers?headnode=false&setup=true")
    assert sorted(s["hostname"] for s in cns) == ["cn01", "cn02", "cn03", "cn04"]
    two = api.ok("GET", "cnapi", f"/servers?uuids={cns[0]['uuid']},{cns[1]['uuid']}")
    assert {s["uuid"] for s in two} == {cns[0]["uuid"], cns[1]["uuid"]}
    some = api.ok("GET", "cnapi", "/servers?fields=uuid,hostname&extras=agents")
    assert some[0].keys() == {"uuid", "hostname"}
    everything = api.ok("GET", "cnapi", "/servers")
    paged = [s for offset in (0, 2, 4)
             for s in api.ok("GET", "cnapi", f"/servers?limit=2&offset={offset}")]
    assert paged == everything


@pytest.mark.parametrize("query,status,code,message", [
    ("bogus=1", 409, "InvalidArgument", "bogus is not an explicitly defined parameter"),
    ("limit=0", 400, "InvalidParameters", "Request parameters failed validation"),
    ("limit=1001", 400, "InvalidParameters", "Request parameters failed validation"),
    ("extras=nonsense", 400, "InvalidParameters", "Request parameters failed validation"),
    ("headnode=maybe", 400, "InvalidParameters", "Request parameters failed validation"),
])
def test_server_list_errors(api, query, status, code, message):
    r = api.get("cnapi", f"/servers?{query}")
    assert r.status_code == status and r.json()["code"] == code and r.json()["message"] == message


def test_get_server_validates_uuid_before_lookup(api):
    r = api.get("cnapi", "/servers/not-a-uuid")
    assert r.status_code == 409 and r.json() == {"code": "InvalidArgument",
                                                 "message": "Invalid server_uuid"}
    missing = "11111111-2222-4333-8444-555555555555"
    r = api.get("cnapi", f"/servers/{missing}")
    assert r.status_code == 404 and r.json() == {"code": "ResourceNotFound",
                                                 "message": f"Server {missing} not found"}
    hn = api.server("headnode")
    one = api.ok("GET", "cnapi", f"/servers/{hn['uuid']}")
    assert {"sysinfo", "agents", "vms", "status"} <= set(one)
    r = api.post("cnapi", "/servers/not-a-uuid/reboot")
    assert r.status_code == 409


def test_platforms_shape(api):
    assert api.ok("GET", "cnapi", "/platforms") == {"20240411T001730Z": {},
                                                    "20241010T000000Z": {"latest": True}}
    assert api.ok("GET", "cnapi", "/platforms?os=true") == {
        "20240411T001730Z": {"os": "smartos"},
        "20241010T000000Z": {"os": "smartos", "latest": True}}


def test_small_has_mixed_platforms(api):
    servers = {s["hostname"]: s for s in api.ok("GET", "cnapi", "/servers")}
    assert servers["cn03"]["current_platform"] == "20240411T001730Z"
    assert servers["cn01"]["current_platform"] == "20241010T000000Z"
    assert servers["cn04"]["boot_platform"] != servers["cn04"]["current_platform"]


def test_boot_params(api):
    cn = api.server("cn03")
    boot = api.ok("GET", "cnapi", f"/boot/{cn['uuid']}")
    assert boot["platform"] == cn["boot_platform"] and boot["kernel_args"]["hostname"] == "cn03"
    change = {"platform": "20241010T000000Z", "kernel_args": {"hostname": None, "x": "1"}}
    assert api.post("cnapi", f"/boot/{cn['uuid']}", json=change).status_code == 204
    boot = api.ok("GET", "cnapi", f"/boot/{cn['uuid']}")
    assert (boot["platform"] == "20241010T000000Z" and "hostname" not in boot["kernel_args"]
            and boot["kernel_args"]["x"] == "1")
    assert api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")["boot_platform"] == "20241010T000000Z"
    r = api.post("cnapi", f"/boot/{cn['uuid']}", json={"platform": "19990101T000000Z"})
    assert r.status_code == 500 and r.json() == {
        "message": "Platform '19990101T000000Z' does not exist"}
    assert api.ok("GET", "cnapi", "/boot/default")["platform"] == "20241010T000000Z"
    assert api.put("cnapi", "/boot/default",
                   json={"platform": "20240411T001730Z"}).status_code == 204
    assert api.ok("GET", "cnapi", "/boot/default")["platform"] == "20240411T001730Z"


def test_server_update(api):
    cn = api.server("cn01")
    assert api.post("cnapi", f"/servers/{cn['uuid']}",
                    json={"comments": "hello", "reserved": True}).status_code == 204
    again = api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")
    assert again["comments"] == "hello" and again["reserved"] is True
    r = api.post("cnapi", f"/servers/{cn['uuid']}", json={"hostname": "x"})
    assert (r.status_code == 409
            and r.json()["message"] == "hostname is not an explicitly defined parameter")


def test_install_agent_task(api, sim):
    cn = api.server("cn01")
    agent = next(a for a in cn["agents"] if a["name"] == "vm-agent")
    newest = api.latest("vm-agent")
    assert agent["image_uuid"] != newest["uuid"]
    sim.set_latencies({"install-agent": 300})
    r = api.post("cnapi", f"/servers/{cn['uuid']}/install-agent",
                 json={"image_uuid": newest["uuid"]})
    assert r.status_code == 200 and set(r.json()) == {"id"}
    tid = r.json()["id"]
    task = api.ok("GET", "cnapi", f"/tasks/{tid}")
    assert (task["status"] == "active" and task["task"] == "agent_install"
            and task["server_uuid"] == cn["uuid"])
    short = api.ok("GET", "cnapi", f"/tasks/{tid}/wait?timeout=0.05")
    assert short["status"] == "active", "a wait that times out returns the task as it is"
    done = api.ok("GET", "cnapi", f"/tasks/{tid}/wait?timeout=10")
    assert done["status"] == "complete" and done["history"][-1]["name"] == "finish"
    agents = api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")["agents"]
    after = next(a for a in agents if a["name"] == "vm-agent")
    assert after["image_uuid"] == newest["uuid"] and after["version"] == newest["tags"]["version"]
    assert after["uuid"] == agent["uuid"]
    sysinfo_agents = api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")["sysinfo"]["SDC Agents"]
    assert {"name": "vm-agent", "version": after["version"],
            "image_uuid": newest["uuid"]} in sysinfo_agents


def test_install_agent_needs_the_image_in_the_dc(api):
    cn = api.server("cn02")
    platform = api.latest("platform")  # never imported
    tid = api.ok("POST", "cnapi", f"/servers/{cn['uuid']}/install-agent",
                 json={"image_uuid": platform["uuid"]})["id"]
    task = api.ok("GET", "cnapi", f"/tasks/{tid}/wait?timeout=10")
    assert task["status"] == "failure"
    assert platform["uuid"] in task["history"][0]["event"]["error"]["message"]
    r = api.post("cnapi", f"/servers/{cn['uuid']}/install-agent", json={})
    assert r.status_code == 409 and r.json()["code"] == "InvalidParameters"
    r = api.get("cnapi", "/tasks/nope")
    assert r.status_code == 404 and r.json() == {"code": "ResourceNotFound",
                                                 "message": "no such task found"}


def test_reboot_goes_unknown_then_running_on_boot_platform(api, sim, until):
    sim.set_latencies({"reboot": 400})
    cn = api.server("cn04")
    assert cn["current_platform"] != cn["boot_platform"]
    r = api.post("cnapi", f"/servers/{cn['uuid']}/reboot")
    assert r.status_code == 202 and set(r.json()) == {"job_uuid"}
    until(lambda: api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")["status"] == "unknown")
    assert api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")["transitional_status"] == "rebooting"
    job = api.wait_job(r.json()["job_uuid"])
    assert job["execution"] == "succeeded"
    after = api.ok("GET", "cnapi", f"/servers/{cn['uuid']}")
    assert after["status"] == "running" and after["current_platform"] == cn["boot_platform"]
    assert (after["sysinfo"]["Live Image"] == cn["boot_platform"]
            and after["last_boot"] > cn["last_boot"])
    assert api.post("cnapi", f"/servers/{cn['uuid']}/reboot?nojob=true").status_code == 204


def _execute(api, server, script, **extra):
    return api.post("cnapi", f"/servers/{server}/execute",
                    json=dict({"script": script, "json": True}, **extra))


def test_execute_manatee_zk_state(api):
    man = api.vm("manatee0")
    r = _execute(api, man["server_uuid"],
                 f"#!/bin/bash\nzlogin {man['uuid']} manatee-adm zk-state\n")
    body = r.json()
    assert r.status_code == 200 and body["exitCode"] == 0 and body["stderr"] == ""
    state = json.loads(body["stdout"])
    assert set(state) >= {"generation", "primary", "sync", "async", "deposed", "initWal"}
    assert state["primary"]["zoneId"] == man["uuid"]
    assert set(state["primary"]) == {"zoneId", "ip", "pgUrl", "backupUrl"}
    assert state["sync"]["zoneId"] == api.vm("manatee1")["uuid"]
    assert [p["zoneId"] for p in state["async"]] == [api.vm("manatee2")["uuid"]]
    assert state["deposed"] == []


def test_execute_binder_zookeeper_stat(api):
    modes = {}
    for alias in ("binder0", "binder1", "binder2"):
        vm = api.vm(alias)
        for quote in ("'", '"'):
            stat = f"{quote}echo stat | nc 127.0.0.1 2181{quote}"
            r = _execute(api, vm["server_uuid"],
                         f"#!/usr/bin/bash\nzlogin {vm['uuid']} {stat}\n")
            out = r.json()["stdout"]
            assert r.json()["exitCode"] == 0 and out.startswith("Zookeeper version:")
            modes[alias] = re.search(r"^Mode: (\w+)$", out, re.M).group(1)
    assert sorted(modes.values()) == ["follower", "follower", "leader"]


def test_execute_binder_standalone_in_lab(lab_api):
    vm = lab_api.vm("binder0")
    r = _execute(lab_api, vm["server_uuid"],
                 f"#!/bin/bash\nzlogin {vm['uuid']} \"bash -c 'echo stat | nc 127.0.0.1 2181'\"\n")
    assert "Mode: standalone" in r.json()["stdout"]
    # zlogin joins its arguments into one line for the zone's shell: a script given as
    # words of their own is cut at the pipe, as on SmartOS.
    r = _execute(lab_api, vm["server_uuid"],
                 f"#!/bin/bash\nzlogin {vm['uuid']} bash -c 'echo stat | nc 127.0.0.1 2181'\n")
    assert r.json()["exitCode"] != 0 and "Mode:" not in r.json()["stdout"]
    script = f"#!/bin/bash\nzlogin {lab_api.vm('manatee0')['uuid']} manatee-adm zk-state\n"
    state = json.loads(_execute(lab_api, vm["server_uuid"], script).json()["stdout"])
    assert state["sync"] is None and state["async"] == []


def test_execute_svcs_healthy_and_unknown_commands(api):
    vm = api.vm("vmapi0")
    r = _execute(api, vm["server_uuid"], f"#!/bin/bash\nsvcs -vxz {vm['uuid']}\n")
    assert r.json() == {"stdout": "", "stderr": "", "exitCode": 0}
    r = _execute(api, vm["server_uuid"], "#!/bin/bash\nrm -rf /\n")
    assert r.json()["exitCode"] == 127 and "command not found" in r.json()["stderr"]
    other = api.server("cn01")["uuid"]
    r = _execute(api, other, f"#!/bin/bash\nsvcs -vxz {vm['uuid']}\n")
    assert r.json()["exitCode"] == 1 and "unknown" in r.json()["stderr"], \
        "the zone is not on that server"
    r = api.post("cnapi", f"/servers/{vm['server_uuid']}/execute", json={"script": "svcs -vx"})
    assert r.status_code == 409, "a script needs a shebang"
    r = api.post("cnapi", f"/servers/{vm['server_uuid']}/execute",
                 json={"script": "#!/bin/bash\nsvcs -vx\n"})
    assert r.status_code == 200 and r.json() == ""
    r = api.post("cnapi", f"/servers/{vm['server_uuid']}/execute",
                 json={"script": "#!/bin/bash\nfrobnicate\n"})
    assert r.status_code == 500 and r.json() == {"code": "InternalError",
                                                 "message": "Error executing on remote system"}


def test_vm_load_on_its_server(api):
    vm = api.vm("vmapi0")
    loaded = api.ok("GET", "cnapi", f"/servers/{vm['server_uuid']}/vms/{vm['uuid']}")
    assert loaded["uuid"] == vm["uuid"]
    other = api.server("cn01")["uuid"]
    assert api.get("cnapi", f"/servers/{other}/vms/{vm['uuid']}").status_code == 404


def test_execute_morayping_in_a_moray_zone(api, sim):
    def ping(alias, *args):
        vm = api.vm(alias)
        line = "source ~/.bashrc; morayping " + " ".join(args)
        script = f"#!/bin/bash\nzlogin {vm['uuid']} \"bash -c '{line}'\"\n"
        r = _execute(api, vm["server_uuid"], script)
        return r.json()

    assert ping("moray0", "-d")["exitCode"] == 0
    assert ping("moray1")["exitCode"] == 0
    other = ping("vmapi0")
    assert other["exitCode"] == 127 and "morayping: command not found" in other["stderr"]
    sim.add_fault({"type": "ping-fail", "target": api.vm("moray1")["uuid"]})
    failed = ping("moray1")
    assert failed["exitCode"] == 1 and "failed to establish connection" in failed["stderr"]
    assert ping("moray0")["exitCode"] == 0
    # Two of three manatee peers stopped: the shard takes no writes; a deep ping says so,
    # a plain one still answers.
    for alias in ("manatee1", "manatee2"):
        job = api.ok("POST", "vmapi", f"/vms/{api.vm(alias)['uuid']}?action=stop")["job_uuid"]
        assert api.ok("GET", "vmapi", f"/jobs/{job}/wait")["execution"] == "succeeded"
    deep = ping("moray0", "-d")
    assert deep["exitCode"] == 1 and "manatee" in deep["stderr"]
    assert ping("moray0")["exitCode"] == 0
