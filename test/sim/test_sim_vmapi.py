"""VMAPI and Workflow contract: listing, paging, filters, actions, jobs."""
from __future__ import annotations

import json

import pytest

ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


def test_ping_and_header(api):
    r = api.get("vmapi", "/ping")
    assert r.headers["server"] == "VMAPI/9.16.0" and r.json()["healthy"] is True
    assert api.get("workflow", "/ping").headers["server"] == "workflow/1.4.2"


def test_core_vms_listing(api):
    vms = api.ok("GET", "vmapi", f"/vms?state=active&owner_uuid={ADMIN}")
    roles = [v["tags"]["smartdc_role"] for v in vms]
    assert (len(vms) == 32
            and roles.count("moray") == roles.count("binder") == roles.count("manatee") == 3)
    assert [v["uuid"] for v in vms] == sorted((v["uuid"] for v in vms),
                                              reverse=True), "default sort uuid desc"
    vm = vms[0]
    for key in ("uuid", "alias", "brand", "image_uuid", "server_uuid", "owner_uuid", "state",
                "zone_state",
                "nics", "tags", "customer_metadata", "internal_metadata", "create_timestamp",
                "last_modified",
                "max_physical_memory", "quota", "ram", "resolvers", "snapshots", "datasets",
                "autoboot"):
        assert key in vm, key
    assert vm["nics"][0]["nic_tag"] == "admin" and vm["nics"][0]["ip"].startswith("10.99.99.")
    assert api.ok("GET", "vmapi", "/vms?owner_uuid=930896af-0000-0000-0000-000000000000") == []


def test_offset_limit_paging_like_the_node_client(api):
    everything = api.ok("GET", "vmapi", "/vms?state=active&offset=0")
    pages, offset = [], 0
    while True:
        page = api.ok("GET", "vmapi", f"/vms?state=active&offset={offset}&limit=7")
        pages += page
        offset += len(page)
        if len(page) < 7:
            break
    assert [v["uuid"] for v in pages] == [v["uuid"] for v in everything]
    r = api.get("vmapi", "/vms?limit=7")
    assert r.headers["x-joyent-resource-count"] == str(len(everything))
    head = api.request("HEAD", "vmapi", "/vms?state=active")
    assert head.headers["x-joyent-resource-count"] == str(len(everything))


@pytest.mark.parametrize("query,check", [
    ("tag.smartdc_role=moray", lambda v: v["tags"]["smartdc_role"] == "moray"),
    ("alias=bin*", lambda v: v["alias"].startswith("bin")),
    ("brand=joyent", lambda v: v["brand"] == "joyent"),
    ("state=running", lambda v: v["state"] == "running"),
    ("tag.smartdc_type=*", lambda v: "smartdc_type" in v["tags"]),
])
def test_list_filters(api, query, check):
    vms = api.ok("GET", "vmapi", f"/vms?{query}")
    assert vms and all(check(v) for v in vms)


def test_filter_by_server_image_uuids_predicate_and_fields(api):
    moray = api.ok("GET", "vmapi", "/vms?tag.smartdc_role=moray")
    first = moray[0]
    on_server = api.ok("GET", "vmapi", f"/vms?server_uuid={first['server_uuid']}")
    assert {v["uuid"] for v in on_server} >= {first["uuid"]}
    same = api.ok("GET", "vmapi", f"/vms?image_uuid={first['image_uuid']}")
    assert all(v["image_uuid"] == first["image_uuid"] for v in same)
    two = api.ok("GET", "vmapi", f"/vms?uuids={moray[0]['uuid']},{moray[1]['uuid']}")
    assert {v["uuid"] for v in two} == {moray[0]["uuid"], moray[1]["uuid"]}
    pred = json.dumps({"and": [{"eq": ["state", "running"]},
                               {"eq": ["tag.smartdc_role", "moray"]}]})
    assert {v["uuid"] for v in api.ok("GET", "vmapi", "/vms",
                                      params={"predicate": pred})} == {v["uuid"] for v in moray}
    slim = api.ok("GET", "vmapi", "/vms?tag.smartdc_role=moray&fields=uuid,alias")
    assert all(set(v) == {"uuid", "alias"} for v in slim)


def test_list_errors(api):
    r = api.get("vmapi", "/vms?bogus=1")
    assert (r.status_code == 409 and r.json()["code"] == "ValidationFailed"
            and r.json()["errors"][0]["field"] == "bogus")
    r = api.get("vmapi", "/vms?limit=5000")
    assert r.status_code == 409 and r.json()["code"] == "ValidationFailed"


def test_get_vm(api):
    vm = api.vm("vmapi0")
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}?sync=true") == vm
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}?owner_uuid={ADMIN}") == vm
    r = api.get("vmapi", f"/vms/{vm['uuid']}?owner_uuid=11111111-2222-4333-8444-555555555555")
    assert r.status_code == 404 and r.json() == {"code": "ResourceNotFound",
                                                 "message": "VM not found"}
    r = api.get("vmapi", "/vms/11111111-2222-4333-8444-555555555555")
    assert r.status_code == 404 and r.json()["code"] == "ResourceNotFound"
    r = api.get("vmapi", f"/vms/{vm['uuid']}?sync=yes")
    assert r.status_code == 409


def test_reprovision_job_lifecycle(api, sim, until):
    sim.set_latencies({"reprovision": 300})  # 0.3 s at the test scale
    vm = api.vm("moray0")
    morays = api.ok("GET", "imgapi", "/images?name=mantav2-moray")
    target = next(i["uuid"] for i in morays if i["uuid"] != vm["image_uuid"])
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=reprovision", json={"image_uuid": target})
    assert r.status_code == 202 and r.headers["workflow-api"] == sim.urls["workflow"]
    body = r.json()
    assert body["vm_uuid"] == vm["uuid"] and set(body) == {"vm_uuid", "job_uuid"}
    until(lambda: api.ok("GET", "vmapi", f"/vms/{vm['uuid']}?sync=true")["state"] == "provisioning")
    job = api.ok("GET", "vmapi", f"/jobs/{body['job_uuid']}")
    assert set(job) == {"name", "uuid", "execution", "params", "exec_after", "created_at",
                        "timeout", "chain_results"}
    assert job["name"] == "reprovision-7.0.4" and job["params"]["image_uuid"] == target
    done = api.ok("GET", "vmapi", f"/jobs/{body['job_uuid']}/wait")
    assert done["execution"] == "succeeded" and done["chain_results"][-1]["error"] == ""
    after = api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")
    assert after["state"] == "running" and after["image_uuid"] == target
    assert after["last_modified"] > vm["last_modified"]
    full = api.ok("GET", "workflow", f"/jobs/{body['job_uuid']}")
    assert full["execution"] == "succeeded" and full["chain"] and "workflow_uuid" in full
    assert [j["uuid"] for j in api.ok("GET", "vmapi",
                                      f"/vms/{vm['uuid']}/jobs")] == [body["job_uuid"]]
    assert [j["uuid"] for j in api.ok("GET", "vmapi",
                                      f"/jobs?vm_uuid={vm['uuid']}")] == [body["job_uuid"]]


def test_reprovision_validation(api):
    vm = api.vm("vmapi0")
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=reprovision", json={})
    assert r.status_code == 409 and r.json() == {"code": "ValidationFailed",
                                                 "message": "Invalid Parameters",
                                                 "errors": [{"field": "image_uuid",
                                                             "code": "MissingParameter",
                                                             "message": "image_uuid is required"}]}
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=reprovision", json={"image_uuid": "nope"})
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "Invalid"
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=explode")
    assert r.status_code == 409 and r.json()["code"] == "ValidationFailed"
    r = api.post("vmapi", "/vms/11111111-2222-4333-8444-555555555555?action=reprovision",
                 json={"image_uuid": vm["image_uuid"]})
    assert r.status_code == 404
    api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=update&sync=true", json={"brand": "bhyve"})
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=reprovision",
                 json={"image_uuid": vm["image_uuid"]})
    assert r.status_code == 409 and r.json()["code"] == "BrandNotSupported"


def test_update_action_with_sync(api):
    vm = api.vm("cnapi0")
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=update&sync=true",
                 json={"tags": {"extra": "yes"}})
    assert r.status_code == 202
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")["tags"] == dict(vm["tags"], extra="yes")
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=update&sync=maybe", json={})
    assert r.status_code == 409


def test_stop_start(api):
    vm = api.vm("papi0")
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=stop")["job_uuid"]
    assert api.ok("GET", "vmapi", f"/jobs/{job}/wait")["execution"] == "succeeded"
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")["state"] == "stopped"
    r = api.post("vmapi", f"/vms/{vm['uuid']}?action=stop")
    assert r.status_code == 409 and r.json()["code"] == "VmNotRunning"
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=start")["job_uuid"]
    api.ok("GET", "vmapi", f"/jobs/{job}/wait")
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")["state"] == "running"


def test_workflow_job_listing_and_errors(api, sim):
    sim.set_latencies({"reprovision": 60000, "job-queue": 0})
    vm = api.vm("moray0")
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=reprovision",
                 json={"image_uuid": vm["image_uuid"]})["job_uuid"]
    running = api.ok("GET", "workflow", "/jobs?execution=running&limit=10")
    queued = api.ok("GET", "workflow", "/jobs?execution=queued&limit=10")
    assert job in {j["uuid"] for j in running + queued}
    assert api.ok("GET", "workflow", "/jobs?execution=succeeded") == []
    r = api.get("workflow", "/jobs/11111111-2222-4333-8444-555555555555")
    assert r.status_code == 404 and r.json()["code"] == "ResourceNotFound"
    canceled = api.ok("POST", "workflow", f"/jobs/{job}/cancel")
    assert canceled["execution"] == "canceled"
    assert api.post("workflow", f"/jobs/{job}/cancel").status_code == 409
    r = api.get("vmapi", "/jobs/11111111-2222-4333-8444-555555555555")
    assert r.status_code == 404


def test_wait_job_long_poll_returns_when_done(api, sim):
    import time

    sim.set_latencies({"reprovision": 400, "job-queue": 0})
    vm = api.vm("moray2")
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=reprovision",
                 json={"image_uuid": vm["image_uuid"]})["job_uuid"]
    t0 = time.monotonic()
    done = api.ok("GET", "vmapi", f"/jobs/{job}/wait")
    elapsed = time.monotonic() - t0
    assert done["execution"] == "succeeded"
    assert 0.25 < elapsed < 2.0


def test_job_goes_queued_running_succeeded(api, sim, until):
    sim.set_latencies({"job-queue": 300, "reprovision": 300})
    vm = api.vm("moray1")
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=reprovision",
                 json={"image_uuid": vm["image_uuid"]})["job_uuid"]
    seen = []

    def finished():
        execution = api.ok("GET", "workflow", f"/jobs/{job}")["execution"]
        if not seen or seen[-1] != execution:
            seen.append(execution)
        return execution == "succeeded"
    until(finished, timeout=10)
    assert seen == ["queued", "running", "succeeded"]
    assert api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")["state"] == "running"


def test_delete_vm_is_a_job(api, sim):
    vm = api.vm("adminui0")
    r = api.delete("vmapi", f"/vms/{vm['uuid']}")
    assert r.status_code == 202 and r.headers["workflow-api"] == sim.urls["workflow"]
    assert api.ok("GET", "vmapi", f"/jobs/{r.json()['job_uuid']}/wait")["execution"] == "succeeded"
    gone = api.ok("GET", "vmapi", f"/vms/{vm['uuid']}")
    assert gone["state"] == "destroyed" and gone["destroyed"]
    assert vm["uuid"] not in {v["uuid"] for v in api.ok("GET", "vmapi", "/vms?state=active")}
