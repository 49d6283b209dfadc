"""The simulated instances' health pings: one loopback listener (plus HTTPS) dispatching on
the Host header, reached through the generated configuration's addressMap."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
from typing import Any

import pytest


def address_map(sim: Any) -> dict[str, str]:
    return json.loads(sim.config_path.read_text())["addressMap"]


def get(sim: Any, host: str, port: int, path: str, *, https: bool = False,
        timeout: float = 5.0) -> int:
    """GET path from the instance at host:port, the way sdcadm reaches it: through the
    addressMap, with the instance's own address in the Host header."""
    target = address_map(sim).get(f"{host}:{port}")
    assert target, f"{host}:{port} is not in the addressMap"
    mhost, _, mport = target.rpartition(":")
    if https:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            mhost, int(mport), timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(mhost, int(mport), timeout=timeout)
    default = 443 if https else 80
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host if port == default else f"{host}:{port}")
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def raw_get(sim: Any, host_header: str, path: str = "/ping") -> int:
    """A request straight to the HTTP listener with any Host header."""
    port = json.loads((sim.state_dir / "sim.json").read_text())["pings"]["http"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host_header)
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def vm_by_alias(api: Any, alias: str) -> dict[str, Any]:
    vm = api.vm(alias)
    return {"uuid": vm["uuid"], "ip": vm["nics"][0]["ip"], "server": vm["server_uuid"]}


def server_ip(api: Any, hostname: str) -> tuple[str, str]:
    s = api.server(hostname)
    return s["uuid"], s["sysinfo"]["Admin IP"]


@pytest.mark.parametrize("alias,port,path,https", [
    ("vmapi0", 80, "/ping", False),
    ("imgapi0", 80, "/ping", False),
    ("workflow0", 80, "/ping", False),
    ("cloudapi0", 443, "/--ping", True),
])
def test_each_instance_answers_its_own_ping_path(api, sim, alias, port, path, https):
    vm = vm_by_alias(api, alias)
    assert get(sim, vm["ip"], port, path, https=https) == 200
    assert get(sim, vm["ip"], port, "/nope", https=https) == 404


def test_firewaller_answers_status_on_its_servers_admin_ip(api, sim):
    for hostname in ("headnode", "cn01", "cn04"):
        _uuid, ip = server_ip(api, hostname)
        assert get(sim, ip, 2021, "/status") == 200
        assert get(sim, ip, 2021, "/ping") == 404


def test_the_address_map_covers_every_ping_and_only_loopback(api, sim):
    amap = address_map(sim)
    vms = api.ok("GET", "vmapi", "/vms?state=active")
    pinged = {"amon", "cloudapi", "cnapi", "fwapi", "imgapi", "napi", "papi", "sapi", "vmapi",
              "workflow"}
    for vm in vms:
        role = vm["tags"]["smartdc_role"]
        if role in pinged:
            port = 443 if role == "cloudapi" else 80
            assert f"{vm['nics'][0]['ip']}:{port}" in amap, vm["alias"]
    for s in api.ok("GET", "cnapi", "/servers?extras=sysinfo"):
        assert f"{s['sysinfo']['Admin IP']}:2021" in amap
        assert f"{s['sysinfo']['Admin IP']}:22" in amap  # SSH is still there
    assert all(v.startswith("127.0.0.1:") for v in amap.values())


def test_an_address_no_instance_has_is_404(sim):
    assert raw_get(sim, "10.1.2.3") == 404
    assert raw_get(sim, "10.99.99.7") == 404  # the headnode has no ping on port 80


def test_ping_fail_on_a_vm_answers_500_and_count_applies(api, sim):
    vm = vm_by_alias(api, "vmapi0")
    other = vm_by_alias(api, "cnapi0")
    sim.add_fault({"type": "ping-fail", "target": vm["uuid"], "count": 2})
    assert get(sim, vm["ip"], 80, "/ping") == 500
    assert get(sim, other["ip"], 80, "/ping") == 200
    assert get(sim, vm["ip"], 80, "/ping") == 500
    assert get(sim, vm["ip"], 80, "/ping") == 200  # count used up


def test_ping_fail_on_a_server_fails_its_agents_not_its_vms(api, sim):
    uuid, ip = server_ip(api, "headnode")
    sim.add_fault({"type": "ping-fail", "target": uuid})
    assert get(sim, ip, 2021, "/status") == 500
    assert get(sim, vm_by_alias(api, "vmapi0")["ip"], 80, "/ping") == 200
    assert get(sim, server_ip(api, "cn01")[1], 2021, "/status") == 200


def test_ping_hang_never_answers(api, sim):
    vm = vm_by_alias(api, "papi0")
    sim.add_fault({"type": "ping-hang", "target": vm["uuid"]})
    with pytest.raises(socket.timeout):
        get(sim, vm["ip"], 80, "/ping", timeout=0.5)
    assert get(sim, vm_by_alias(api, "napi0")["ip"], 80, "/ping") == 200


def test_ping_hang_over_https(api, sim):
    vm = vm_by_alias(api, "cloudapi0")
    sim.add_fault({"type": "ping-hang", "target": vm["uuid"]})
    with pytest.raises(socket.timeout):
        get(sim, vm["ip"], 443, "/--ping", https=True, timeout=0.5)


def test_a_stopped_vm_does_not_answer(api, sim):
    vm = vm_by_alias(api, "fwapi0")
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=stop")["job_uuid"]
    assert api.ok("GET", "vmapi", f"/jobs/{job}/wait")["execution"] == "succeeded"
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        get(sim, vm["ip"], 80, "/ping")


def test_an_agent_on_a_server_that_is_down_does_not_answer(api, sim, until):
    uuid, ip = server_ip(api, "cn01")
    sim.add_fault({"type": "reboot-hang", "target": uuid})
    api.ok("POST", "cnapi", f"/servers/{uuid}/reboot")
    until(lambda: api.server("cn01")["status"] != "running")
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        get(sim, ip, 2021, "/status")
    assert get(sim, server_ip(api, "cn02")[1], 2021, "/status") == 200


def test_pings_are_not_mutations(api, sim):
    vm = vm_by_alias(api, "sapi0")
    for _ in range(3):
        assert get(sim, vm["ip"], 80, "/ping") == 200
    assert sim.mutations() == []
