"""IMGAPI contract: the DC IMGAPI and the channel-scoped updates server."""
from __future__ import annotations

import base64
import hashlib

import pytest

ALL = {"Accept-Version": "*"}
ZERO = "00000000-0000-0000-0000-000000000000"


def test_ping_and_server_header(api):
    r = api.get("imgapi", "/ping")
    assert r.headers["server"] == "imgapi/4.13.1"
    assert r.json()["ping"] == "pong" and r.json()["version"] == "4.13.1" and "pid" in r.json()
    assert "pid" not in api.ok("GET", "updates", "/ping")


def test_channels(api):
    chans = api.ok("GET", "updates", "/channels")
    assert [c["name"] for c in chans] == ["dev", "staging", "release"]
    assert [c["name"] for c in chans if c.get("default")] == ["dev"]
    r = api.get("imgapi", "/channels")
    assert r.status_code == 404 and r.json()["code"] == "ResourceNotFound"


def test_manifest_shape_and_channels_only_for_version_2(api):
    imgs = api.ok("GET", "updates", "/images?name=vmapi", headers=ALL)
    m = imgs[0]
    assert list(m)[:12] == ["v", "uuid", "owner", "name", "version", "state", "disabled", "public",
                            "published_at", "type", "os", "files"]
    assert m["owner"] == ZERO and m["state"] == "active" and m["type"] == "zone-dataset"
    assert set(m["files"][0]) == {"sha1", "size", "compression"}
    assert m["tags"]["smartdc_service"] is True and m["tags"]["buildstamp"] == m["version"]
    assert m["description"] and m["origin"] and "dev" in m["channels"]
    assert all("channels" not in i for i in api.ok("GET", "updates", "/images?name=vmapi"))
    local = api.ok("GET", "imgapi", "/images?name=vmapi", headers=ALL)
    admin = "930896af-bf8c-48d4-885c-6573a94b1853"
    assert local and all("channels" not in i and i["owner"] == admin for i in local)


def test_versions_are_realistic_and_sorted_by_published_at(api):
    imgs = api.ok("GET", "updates", "/images?name=sdc-postgres&channel=*")
    assert len(imgs) >= 4
    stamps = [i["published_at"] for i in imgs]
    assert stamps == sorted(stamps)
    for i in imgs:
        branch, stamp, sha = i["version"].split("-")
        assert len(stamp) == 16 and stamp.endswith("Z") and sha.startswith("g") and len(sha) == 8
    desc = api.ok("GET", "updates", "/images?name=sdc-postgres&channel=*&sort=published_at.desc")
    assert [i["uuid"] for i in desc] == [i["uuid"] for i in reversed(imgs)]
    sdcadm = api.ok("GET", "updates", "/images?name=sdcadm&channel=*")
    # Derived from the running version (sdcadm.sim.builds): X.Y.Z, two patches, a major.
    from sdcadm import __version__
    x, y, z = (int(v) for v in __version__.split(".")[:3])
    assert [i["version"] for i in sdcadm] == [f"{x}.{y}.{z}", f"{x}.{y}.{z + 1}",
                                              f"{x}.{y}.{z + 2}", f"{x + 1}.0.0"]
    assert all(i["tags"]["buildstamp"] for i in sdcadm)
    assert api.ok("GET", "updates",
                  "/images?name=platform&channel=*")[0]["version"].startswith("master-2024")


def test_channel_scoping(api):
    dev = api.ok("GET", "updates", "/images?name=vmapi")
    assert dev == api.ok("GET", "updates", "/images?name=vmapi&channel=dev")
    release = api.ok("GET", "updates", "/images?name=vmapi&channel=release", headers=ALL)
    everything = api.ok("GET", "updates", "/images?name=vmapi&channel=*", headers=ALL)
    assert len(release) < len(dev) <= len(everything)
    assert all("release" in i["channels"] for i in release)
    newest_dev = dev[-1]["uuid"]
    r = api.get("updates", f"/images/{newest_dev}?channel=release")
    assert r.status_code == 404 and r.json() == {"code": "ResourceNotFound",
                                                 "message": "image not found"}
    assert api.ok("GET", "updates", f"/images/{newest_dev}?channel=dev")["uuid"] == newest_dev
    r = api.get("updates", "/images?channel=bogus")
    assert r.status_code == 422 and r.json()["code"] == "ValidationFailed"
    assert r.json()["message"] == "unknown channel: bogus"
    assert r.json()["errors"][0]["field"] == "channel"


@pytest.mark.parametrize("query,check", [
    ("name=~agent", lambda i: "agent" in i["name"]),
    ("version=~-2024", lambda i: "-2024" in i["version"]),
    ("type=!zone-dataset", lambda i: i["type"] != "zone-dataset"),
    ("type=other", lambda i: i["type"] == "other"),
    ("tag.smartdc_service=true", lambda i: i["tags"]["smartdc_service"] is True),
    ("os=smartos", lambda i: i["os"] == "smartos"),
    ("owner=" + ZERO, lambda i: i["owner"] == ZERO),
])
def test_list_filters(api, query, check):
    imgs = api.ok("GET", "updates", f"/images?channel=*&{query}")
    assert imgs and all(check(i) for i in imgs)
    every = api.ok("GET", "updates", "/images?channel=*")
    assert len(imgs) < len(every) or query.startswith("owner")


def test_state_filter(api):
    local = api.ok("GET", "imgapi", "/images?state=all")
    assert local == api.ok("GET", "imgapi", "/images")
    # an unactivated image only shows with state=unactivated or all
    u = "11111111-2222-4333-8444-555555555555"
    api.ok("POST", "imgapi", f"/images/{u}?action=import",
           json={"uuid": u, "name": "foo", "version": "1.0"})
    assert u not in {i["uuid"] for i in api.ok("GET", "imgapi", "/images")}
    assert [i["uuid"] for i in api.ok("GET", "imgapi", "/images?state=unactivated")] == [u]
    assert u in {i["uuid"] for i in api.ok("GET", "imgapi", "/images?state=all")}
    r = api.get("imgapi", "/images?state=weird")
    assert r.status_code == 422 and r.json()["code"] == "InvalidParameter"


def test_marker_and_limit_paging(api):
    full = api.ok("GET", "updates", "/images?channel=*")
    assert len(full) > 20
    page = api.ok("GET", "updates", "/images?channel=*&limit=7")
    assert page == full[:7]
    # uuid marker is inclusive; a client drops the first entry
    nxt = api.ok("GET", "updates", f"/images?channel=*&limit=7&marker={page[-1]['uuid']}")
    assert nxt[0] == page[-1] and nxt[1:] == full[7:13]
    # date marker: everything published at or after it
    stamp = full[10]["published_at"]
    since = api.ok("GET", "updates", f"/images?channel=*&marker={stamp}")
    assert since == full[10:]
    collected, marker = [], None
    while True:
        q = "/images?channel=*&limit=10" + (f"&marker={marker}" if marker else "")
        got = api.ok("GET", "updates", q)
        if marker and got and got[0]["uuid"] == marker:
            got = got[1:]
        collected += got
        if len(got) < 9:
            break
        marker = collected[-1]["uuid"]
    assert [i["uuid"] for i in collected] == [i["uuid"] for i in full]


@pytest.mark.parametrize("query,status,code", [
    ("limit=abc", 422, "InvalidParameter"), ("limit=1001", 422, "InvalidParameter"),
    ("limit=0", 422, "InvalidParameter"), ("marker=not-a-date", 422, "InvalidParameter"),
    ("marker=11111111-2222-4333-8444-555555555555", 404, "ResourceNotFound"),
    ("sort=name", 422, "InvalidParameter"),
])
def test_list_errors(api, query, status, code):
    r = api.get("updates", f"/images?channel=*&{query}")
    assert r.status_code == status and r.json()["code"] == code


def test_get_image_errors(api):
    missing = "11111111-2222-4333-8444-555555555555"
    r = api.get("imgapi", f"/images/{missing}")
    assert r.status_code == 404 and r.json() == {"code": "ResourceNotFound",
                                                 "message": f"image {missing} not found"}
    assert api.get("imgapi", "/images/abc").status_code == 422
    r = api.request("PATCH", "imgapi", "/images")
    assert r.status_code == 405 and r.json() == {"code": "MethodNotAllowedError",
                                                 "message": "PATCH is not allowed"}
    r = api.get("imgapi", "/nope")
    assert r.json() == {"code": "ResourceNotFound", "message": "/nope does not exist"}


def test_file_download_bytes_match_manifest(api):
    m = api.ok("GET", "updates", "/images?name=cn-agent")[-1]
    r = api.get("updates", f"/images/{m['uuid']}/file")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    body = r.content
    assert len(body) == m["files"][0]["size"] == int(r.headers["content-length"])
    assert hashlib.sha1(body).hexdigest() == m["files"][0]["sha1"] == r.headers["etag"]
    assert base64.b64encode(hashlib.md5(body).digest()).decode() == r.headers["content-md5"]
    assert r.headers["last-modified"].endswith("GMT")
    assert api.get("updates", f"/images/{m['uuid']}/file").content == body, "deterministic bytes"


def test_admin_import_add_file_activate_delete(api):
    u = "11111111-2222-4333-8444-555555555555"
    m = api.ok("POST", "imgapi", f"/images/{u}?action=import",
               json={"uuid": u, "name": "foo", "version": "1.0", "type": "other", "os": "other"})
    assert m["state"] == "unactivated" and m["files"] == []
    r = api.post("imgapi", f"/images/{u}?action=import",
                 json={"uuid": u, "name": "foo", "version": "1.0"})
    assert r.status_code == 409 and r.json()["code"] == "ImageUuidAlreadyExists"
    r = api.post("imgapi", f"/images/{u}?action=activate")
    assert r.status_code == 422 and r.json()["code"] == "NoActivationNoFile"
    r = api.put("imgapi", f"/images/{u}/file", data=b"hello")
    assert r.status_code == 422 and r.json()["code"] == "InvalidParameter"
    data = b"x" * 100_000
    m = api.ok("PUT", "imgapi",
               f"/images/{u}/file?compression=none&sha1={hashlib.sha1(data).hexdigest()}",
               data=data)
    assert m["files"] == [{"sha1": hashlib.sha1(data).hexdigest(), "size": len(data),
                           "compression": "none"}]
    m = api.ok("POST", "imgapi", f"/images/{u}?action=activate")
    assert m["state"] == "active" and m["published_at"]
    r = api.post("imgapi", f"/images/{u}?action=activate")
    assert r.status_code == 422 and r.json()["code"] == "ImageAlreadyActivated"
    r = api.put("imgapi", f"/images/{u}/file?compression=none", data=data)
    assert r.status_code == 422 and r.json()["code"] == "ImageFilesImmutable"
    got = api.get("imgapi", f"/images/{u}/file")
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert got.content == data and got.headers["content-md5"] == md5
    updated = api.ok("POST", "imgapi", f"/images/{u}?action=update", json={"description": "d"})
    assert updated["description"] == "d"
    assert api.ok("POST", "imgapi", f"/images/{u}?action=disable")["state"] == "disabled"
    assert api.ok("POST", "imgapi", f"/images/{u}?action=enable")["state"] == "active"
    assert api.delete("imgapi", f"/images/{u}").status_code == 204
    assert api.get("imgapi", f"/images/{u}").status_code == 404


def test_actions_errors(api):
    u = api.ok("GET", "imgapi", "/images")[0]["uuid"]
    r = api.post("imgapi", f"/images/{u}")
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "action",
                                                            "code": "MissingParameter"}]
    r = api.post("imgapi", f"/images/{u}?action=frob")
    assert r.status_code == 422 and r.json()["message"] == '"frob" is not a valid action'
    r = api.delete("imgapi", f"/images/{u}")  # minimal-64-lts is an origin of others
    assert r.status_code == 422 and r.json()["code"] == "ImageHasDependentImages"


def test_updates_delete_removes_from_one_channel(api):
    m = api.ok("GET", "updates", "/images?name=vmapi&channel=release", headers=ALL)[0]
    assert api.delete("updates", f"/images/{m['uuid']}?channel=release").status_code == 204
    again = api.ok("GET", "updates", f"/images/{m['uuid']}?channel=dev", headers=ALL)
    assert "release" not in again["channels"]
    assert api.get("updates", f"/images/{m['uuid']}?channel=release").status_code == 404
    added = api.ok("POST", "updates", f"/images/{m['uuid']}?action=channel-add&channel=dev",
                   json={"channel": "release"}, headers=ALL)
    assert "release" in added["channels"]


def test_import_remote_async_via_workflow(api, sim):
    target = api.latest("cloudapi")
    r = api.post("imgapi", f"/images/{target['uuid']}", params={
        "action": "import-remote", "source": f"{sim.urls['updates']}?channel=dev",
        "skip_owner_check": "true"})
    assert r.status_code == 422 and r.json()["code"] == "OriginIsNotActive", \
        "origin must be imported first"
    origin_job = api.import_image(target["origin"])
    assert origin_job["execution"] == "succeeded"
    r = api.post("imgapi", f"/images/{target['uuid']}", params={
        "action": "import-remote", "source": f"{sim.urls['updates']}?channel=dev",
        "skip_owner_check": "true"})
    assert r.status_code == 200 and r.headers["workflow-api"] == sim.urls["workflow"]
    body = r.json()
    assert body["image_uuid"] == target["uuid"] and set(body) == {"image_uuid", "job_uuid"}
    job = api.ok("GET", "workflow", f"/jobs/{body['job_uuid']}")
    assert job["name"].startswith("import-remote-image")
    assert job["params"]["source"] == f"{sim.urls['updates']}?channel=dev"
    job = api.wait_job(body["job_uuid"])
    assert job["execution"] == "succeeded"
    assert [c["name"] for c in job["chain_results"]][-1] == "activate_image"
    assert all(c["error"] == "" for c in job["chain_results"])
    local = api.ok("GET", "imgapi", f"/images/{target['uuid']}", headers=ALL)
    assert local["state"] == "active" and local["owner"] == "930896af-bf8c-48d4-885c-6573a94b1853"
    assert local["files"] == target["files"] and local["published_at"] == target["published_at"]
    assert "channels" not in local
    got = api.get("imgapi", f"/images/{target['uuid']}/file")
    assert hashlib.sha1(got.content).hexdigest() == target["files"][0]["sha1"]
    r = api.post("imgapi", f"/images/{target['uuid']}", params={
        "action": "import-remote", "source": sim.urls["updates"], "skip_owner_check": "true"})
    assert r.status_code == 409 and r.json()["code"] == "ImageUuidAlreadyExists"


def test_import_remote_validation(api, sim):
    target = api.latest("sapi")
    r = api.post("imgapi", f"/images/{target['uuid']}?action=import-remote")
    assert r.status_code == 422 and r.json()["code"] == "ValidationFailed"
    r = api.post("imgapi", "/images/11111111-2222-4333-8444-555555555555",
                 params={"action": "import-remote", "source": sim.urls["updates"]})
    assert r.status_code == 404
    r = api.post("imgapi", f"/images/{target['uuid']}",
                 params={"action": "import-remote", "source": "http://127.0.0.1:9/"})
    assert r.status_code == 503 and r.json()["code"] == "RemoteSourceError"


def test_import_shows_unactivated_while_running(api, sim, until):
    sim.set_latencies({"import-image": 5000})  # 5 s at the test time scale
    target = api.latest("workflow")
    api.ok("POST", "imgapi", f"/images/{target['uuid']}", params={
        "action": "import-remote", "source": sim.urls["updates"], "skip_owner_check": "true"})

    def unactivated():
        r = api.get("imgapi", f"/images/{target['uuid']}")
        return r.status_code == 200 and r.json()["state"] == "unactivated"
    until(unactivated, timeout=5)
