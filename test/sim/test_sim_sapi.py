"""SAPI contract: shapes, versions, bag semantics, errors, mode, history."""
from __future__ import annotations

import uuid

import pytest

V2 = {"Accept-Version": "~2"}


def test_headers_server_and_request_id_echo(api):
    r = api.get("sapi", "/ping", headers={"x-request-id": "req-123"})
    assert r.status_code == 200
    assert r.headers["server"] == "sapi/2.1.3"
    assert r.headers["x-request-id"] == "req-123"
    assert r.json() == {"mode": "full", "storType": "MorayStorage", "storAvailable": True}
    fresh = api.get("sapi", "/ping").headers["x-request-id"]
    assert uuid.UUID(fresh)


def test_sdc_application(api):
    apps = api.ok("GET", "sapi", "/applications?name=sdc")
    assert len(apps) == 1
    app = apps[0]
    assert app["owner_uuid"] == "930896af-bf8c-48d4-885c-6573a94b1853"
    assert app["metadata"]["datacenter_name"] == "coal"
    assert "update_channel" not in app["metadata"]
    assert api.ok("GET", "sapi", f"/applications/{app['uuid']}") == app
    assert api.ok("GET", "sapi", "/applications?name=nope") == []


def test_services_v2_include_agents_and_type(api):
    services = api.ok("GET", "sapi", "/services", headers=V2)
    by_name = {s["name"]: s for s in services}
    assert by_name["vmapi"]["type"] == "vm" and by_name["cn-agent"]["type"] == "agent"
    assert set(by_name["vmapi"]) == {"uuid", "name", "application_uuid", "type", "params",
                                     "metadata", "manifests"}
    assert by_name["vmapi"]["params"]["tags"]["smartdc_role"] == "vmapi"
    agents = api.ok("GET", "sapi", "/services?type=agent", headers=V2)
    assert agents and all(s["type"] == "agent" for s in agents)
    assert [s["name"] for s in api.ok("GET", "sapi", "/services?name=moray",
                                      headers=V2)] == ["moray"]
    assert api.ok("GET", "sapi", "/services?name=nothing", headers=V2) == []


def test_version_1_hides_agents_and_type(api):
    for headers in ({}, {"Accept-Version": "~1"}):
        services = api.ok("GET", "sapi", "/services", headers=headers)
        assert services and all("type" not in s for s in services)
        assert "cn-agent" not in {s["name"] for s in services}
        insts = api.ok("GET", "sapi", "/instances", headers=headers)
        assert insts and all("type" not in i for i in insts)
    assert len(api.ok("GET", "sapi", "/instances", headers=V2)) > len(insts)


def test_bad_accept_version(api):
    r = api.get("sapi", "/services", headers={"Accept-Version": "~7"})
    assert r.status_code == 400 and r.json()["code"] == "InvalidVersion"


def test_instances_filter_by_service(api):
    moray = api.ok("GET", "sapi", "/services?name=moray", headers=V2)[0]
    insts = api.ok("GET", "sapi", f"/instances?service_uuid={moray['uuid']}", headers=V2)
    assert sorted(i["params"]["alias"] for i in insts) == ["moray0", "moray1", "moray2"]
    assert all(i["type"] == "vm" and i["service_uuid"] == moray["uuid"] for i in insts)
    agent_insts = api.ok("GET", "sapi", "/instances?type=agent", headers=V2)
    assert agent_insts and all(i["params"]["server_uuid"] for i in agent_insts)
    one = api.ok("GET", "sapi", f"/instances/{insts[0]['uuid']}", headers=V2)
    assert one == insts[0]


def test_not_found_errors(api):
    missing = "00000000-1111-4222-8333-444444444444"
    for path, label in (("/applications", "application"), ("/services", "service"),
                        ("/instances", "instance")):
        r = api.get("sapi", f"{path}/{missing}")
        assert r.status_code == 404
        assert r.json() == {"code": "ResourceNotFound", "message": f"no such {label}: {missing}"}
    r = api.get("sapi", "/nope")
    assert r.status_code == 404 and r.json() == {"code": "ResourceNotFound",
                                                 "message": "/nope does not exist"}
    r = api.request("PATCH", "sapi", "/services")
    assert r.status_code == 405 and r.json()["code"] == "MethodNotAllowedError"
    # untyped 500 on updating something that is not there; empty 404 on delete
    r = api.put("sapi", f"/services/{missing}", json={"params": {"a": 1}})
    assert r.status_code == 500 and r.json() == {
        "message": f"updateObject failed: no record for bucket sapi_services object {missing}"}
    r = api.delete("sapi", f"/services/{missing}")
    assert r.status_code == 404 and r.content == b""


def test_update_replace_delete_semantics(api):
    svc = api.ok("GET", "sapi", "/services?name=vmapi", headers=V2)[0]
    path = f"/services/{svc['uuid']}"
    out = api.ok("PUT", "sapi", path, json={"params": {"image_uuid": "NEW", "tags": {"x": 1}}},
                 headers=V2)
    assert out["params"]["image_uuid"] == "NEW"
    assert out["params"]["tags"] == {"x": 1}, "nested objects are replaced wholesale"
    assert out["params"]["quota"] == svc["params"]["quota"], "other keys stay"
    assert out["metadata"] == svc["metadata"], "absent bags are untouched"
    out = api.ok("PUT", "sapi", path, json={"action": "replace", "metadata": {"A": 1}}, headers=V2)
    assert out["metadata"] == {"A": 1}
    out = api.ok("PUT", "sapi", path, json={"action": "delete", "params": {"quota": None}},
                 headers=V2)
    assert "quota" not in out["params"] and out["params"]["image_uuid"] == "NEW"
    r = api.put("sapi", path, json={"action": "frob", "params": {}})
    assert r.status_code == 409 and r.json()["code"] == "InvalidArgument"
    assert api.ok("GET", "sapi", path, headers=V2) == out
    app = api.ok("GET", "sapi", "/applications?name=sdc")[0]
    api.ok("PUT", "sapi", f"/applications/{app['uuid']}",
           json={"metadata": {"update_channel": "staging"}})
    got = api.ok("GET", "sapi", f"/applications/{app['uuid']}")
    assert got["metadata"]["update_channel"] == "staging"
    api.ok("PUT", "sapi", f"/applications/{app['uuid']}",
           json={"action": "delete", "metadata": {"update_channel": "x"}})
    assert "update_channel" not in api.ok("GET", "sapi", f"/applications/{app['uuid']}")["metadata"]


def test_create_returns_200_with_object_and_validates(api):
    app = api.ok("GET", "sapi", "/applications?name=sdc")[0]
    r = api.post("sapi", "/services",
                 json={"name": "volapi", "application_uuid": app["uuid"], "type": "vm",
                                            "params": {"image_uuid": "abc"}}, headers=V2)
    assert r.status_code == 200 and r.json()["name"] == "volapi" and r.json()["type"] == "vm"
    assert api.ok("GET", "sapi", f"/services/{r.json()['uuid']}", headers=V2) == r.json()
    r = api.post("sapi", "/services", json={"application_uuid": app["uuid"]})
    assert r.status_code == 409 and r.json() == {"code": "MissingParameter",
                                                 "message": "missing required keys: name"}
    r = api.post("sapi", "/services",
                 json={"name": "x", "application_uuid": app["uuid"], "type": "weird"})
    assert r.status_code == 500 and "code" not in r.json()
    agent = api.post("sapi", "/services",
                     json={"name": "dockerlogger", "application_uuid": app["uuid"],
                                                "type": "agent"}, headers=V2).json()
    inst = api.post("sapi", "/instances",
                    json={"service_uuid": agent["uuid"], "params": {"server_uuid": "s"}},
                    headers=V2)
    assert inst.status_code == 200 and inst.json()["type"] == "agent"
    assert api.delete("sapi", f"/instances/{inst.json()['uuid']}").status_code == 204
    assert api.delete("sapi", f"/services/{agent['uuid']}").status_code == 204


def test_create_vm_instance_provisions_a_vm(api):
    svc = api.ok("GET", "sapi", "/services?name=cloudapi", headers=V2)[0]
    hn = api.server("headnode")
    params = {"alias": "cloudapi1", "server_uuid": hn["uuid"]}
    inst = api.ok("POST", "sapi", "/instances",
                  json={"service_uuid": svc["uuid"], "params": params}, headers=V2)
    vm = api.ok("GET", "vmapi", f"/vms/{inst['uuid']}")
    assert vm["state"] == "running" and vm["alias"] == "cloudapi1"
    assert vm["image_uuid"] == svc["params"]["image_uuid"] and vm["server_uuid"] == hn["uuid"]
    assert api.delete("sapi", f"/instances/{inst['uuid']}").status_code == 204
    assert api.ok("GET", "vmapi", f"/vms/{inst['uuid']}")["state"] == "destroyed"


def test_instance_upgrade_reprovisions_without_touching_params(api):
    vm = api.vm("moray0")
    morays = api.ok("GET", "imgapi", "/images?name=mantav2-moray")
    older = [i for i in morays if i["uuid"] != vm["image_uuid"]][0]
    inst = api.ok("PUT", "sapi", f"/instances/{vm['uuid']}/upgrade",
                  json={"image_uuid": older["uuid"]}, headers=V2)
    assert "image_uuid" not in inst["params"]
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")["image_uuid"] == older["uuid"]
    r = api.put("sapi", f"/instances/{vm['uuid']}/upgrade", json={})
    assert r.status_code == 409 and r.json()["code"] == "MissingParameter"


def test_payload(api):
    vm = api.vm("imgapi0")
    payload = api.ok("GET", "sapi", f"/instances/{vm['uuid']}/payload")
    assert payload["uuid"] == vm["uuid"] and payload["brand"] == "joyent-minimal"
    assert payload["owner_uuid"] == "930896af-bf8c-48d4-885c-6573a94b1853"
    assert payload["networks"] == [{"name": "admin"}]
    assert set(payload["customer_metadata"]) <= {"SAPI_URL", "sapi-url", "user-script"}


def test_mode(api):
    assert api.ok("GET", "sapi", "/mode") == "full"
    assert api.post("sapi", "/mode?mode=full").status_code == 204
    r = api.post("sapi", "/mode?mode=proto")
    assert r.status_code == 409 and r.json()["code"] == "InvalidArgument"
    r = api.post("sapi", "/mode")
    assert r.status_code == 409 and r.json()["code"] == "MissingParameter"


HIST = "2be86246-4abc-4e92-b338-9fcb3f01708c"


def test_history_lifecycle(api):
    entry = {"uuid": HIST, "username": "root", "started": 1417625874339,
             "changes": [{"type": "update-service", "service": {"name": "adminui"}}]}
    assert api.ok("POST", "sapi", "/history", json=entry) == entry
    r = api.post("sapi", "/history", json=entry)
    assert r.status_code == 409
    done = api.ok("PUT", "sapi", f"/history/{HIST}",
                  json={"finished": 1417625949883, "error": {"message": "x"}})
    assert done["finished"] == 1417625949883 and done["changes"] == entry["changes"]
    assert api.ok("GET", "sapi", f"/history/{HIST}") == done
    other = {"uuid": "aa9beb7d-13c5-4956-98d1-59450fe9bb68", "started": "2014-12-03T18:01:19.385Z",
             "changes": []}
    api.ok("POST", "sapi", "/history", json=other)
    assert [h["uuid"] for h in api.ok("GET", "sapi", "/history")] == [HIST, other["uuid"]]
    assert [h["uuid"] for h in api.ok("GET", "sapi",
                                      "/history?since=2014-12-03T17:00:00Z")] == [other["uuid"]]
    assert [h["uuid"] for h in api.ok("GET", "sapi",
                                      "/history?until=2014-12-03T17:00:00Z")] == [HIST]
    assert api.delete("sapi", f"/history/{HIST}").status_code == 204
    r = api.get("sapi", f"/history/{HIST}")
    assert r.status_code == 404 and r.json()["code"] == "ResourceNotFound"


@pytest.mark.parametrize("body,code", [
    ({"started": 1, "changes": []}, "MissingParameter"),
    ({"uuid": HIST, "changes": []}, "MissingParameter"),
    ({"uuid": HIST, "started": 1}, "MissingParameter"),
    ({"uuid": "not-a-uuid", "started": 1, "changes": []}, "InvalidArgument"),
    ({"uuid": HIST, "started": "yesterday-ish", "changes": []}, "InvalidArgument"),
])
def test_history_create_validation(api, body, code):
    r = api.post("sapi", "/history", json=body)
    assert r.status_code == 409 and r.json()["code"] == code


def test_history_update_needs_finished_and_existing(api):
    api.ok("POST", "sapi", "/history", json={"uuid": HIST, "started": 1, "changes": []})
    r = api.put("sapi", f"/history/{HIST}", json={"error": "x"})
    assert r.status_code == 409 and r.json()["code"] == "MissingParameter"
    r = api.put("sapi", "/history/aa9beb7d-13c5-4956-98d1-59450fe9bb68", json={"finished": 2})
    assert r.status_code == 404
