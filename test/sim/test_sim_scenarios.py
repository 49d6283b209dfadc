"""What each scenario contains, and how scenario files are read."""
from __future__ import annotations

import collections
import hashlib

import pytest

from sdcadm.sim.files import compute_sums, iter_bytes
from sdcadm.sim.generate import AGENTS, CORE_SERVICES, IMAGE_NAME, lab, small
from sdcadm.sim.scenario import load_scenario

V2 = {"Accept-Version": "~2"}
LAB_SERVICES = {"adminui", "amon", "amonredis", "assets", "binder", "cloudapi", "cnapi", "dhcpd",
                "fwapi",
                "imgapi", "mahi", "manatee", "moray", "napi", "papi", "rabbitmq", "redis", "sapi",
                "sdc", "ufds", "vmapi", "workflow", "cns", "portolan", "docker"}
LAB_AGENTS = {"cn-agent", "vm-agent", "net-agent", "config-agent", "amon-agent", "amon-relay",
              "cmon-agent", "firewaller", "hagfish-watcher", "smartlogin", "agents_core"}


def test_lab_one_headnode_one_instance_each(lab_api):
    servers = lab_api.ok("GET", "cnapi", "/servers?extras=agents")
    assert len(servers) == 1 and servers[0]["headnode"] is True
    assert LAB_AGENTS <= {a["name"] for a in servers[0]["agents"]}
    services = lab_api.ok("GET", "sapi", "/services", headers=V2)
    assert LAB_SERVICES <= {s["name"] for s in services if s["type"] == "vm"}
    assert LAB_AGENTS <= {s["name"] for s in services if s["type"] == "agent"}
    vms = lab_api.ok("GET", "vmapi",
                     "/vms?state=active&owner_uuid=930896af-bf8c-48d4-885c-6573a94b1853")
    roles = collections.Counter(v["tags"]["smartdc_role"] for v in vms)
    assert (set(roles) == {s["name"] for s in services if s["type"] == "vm"}
            and set(roles.values()) == {1})


def test_small_has_work_to_plan(api):
    services = {s["name"]: s for s in api.ok("GET", "sapi", "/services", headers=V2)}
    vms = api.ok("GET", "vmapi", "/vms?state=active")
    newest = {}
    for name in {IMAGE_NAME.get(s, s) for s in CORE_SERVICES}:
        newest[name] = api.latest(name)["uuid"]
    current, behind = set(), set()
    for vm in vms:
        role = vm["tags"]["smartdc_role"]
        (current if vm["image_uuid"] == newest[IMAGE_NAME.get(role, role)] else behind).add(role)
    assert {"vmapi", "cnapi", "binder"} <= current - behind
    assert {"imgapi", "manatee", "sapi"} <= behind - current
    assert "moray" in current and "moray" in behind, "moray mixes images across its instances"
    moray_images = {v["image_uuid"] for v in vms if v["tags"]["smartdc_role"] == "moray"}
    assert len(moray_images) == 2
    assert len([s for s in api.ok("GET", "cnapi", "/servers") if not s["headnode"]]) == 4
    # every image in use is in the DC IMGAPI, with its origin chain
    local = {i["uuid"]: i for i in api.ok("GET", "imgapi", "/images")}
    for vm in vms:
        img = local[vm["image_uuid"]]
        while img.get("origin"):
            img = local[img["origin"]]
    for s in api.ok("GET", "cnapi", "/servers?extras=agents"):
        assert all(a["image_uuid"] in local for a in s["agents"])
    assert services["manatee"]["params"]["image_uuid"] in local


def test_catalog_changelog_data(api):
    builds = api.ok("GET", "updates", "/images?name=vmapi&channel=*")
    assert len(builds) == 4
    assert all(b["description"].startswith("vmapi: TRITON-") for b in builds)
    assert len({b["description"] for b in builds}) > 1
    for name in AGENTS:
        assert api.ok("GET", "updates", f"/images?name={name}&channel=*"), name
    assert {i["name"] for i in api.ok("GET", "updates", "/images?channel=*&type=other")} >= {
        "platform", "sdcadm", "agentsshar", "gz-tools", "cn-agent"}


@pytest.mark.parametrize("service,image",
                         [("manatee", "sdc-postgres"), ("binder", "mantav2-nameservice"),
                                           ("moray", "mantav2-moray"),
                          ("mahi", "mantav2-authcache"),
                                           ("vmapi", "vmapi"), ("cn-agent", "cn-agent")])
def test_service_image_names(api, service, image):
    svc = api.ok("GET", "sapi", f"/services?name={service}", headers=V2)[0]
    assert api.ok("GET", "imgapi", f"/images/{svc['params']['image_uuid']}")["name"] == image


def test_builtin_yaml_matches_the_generator():
    """lab.yaml and small.yaml are plain data written by the generator; keep them in step."""
    for name, build in (("lab", lab), ("small", small)):
        assert load_scenario(name) == build(), f"regenerate: python -m sdcadm.sim.generate ({name})"


def test_large_expands_to_a_thousand_servers():
    data = load_scenario("large")
    assert len(data["servers"]) == 1000
    assert all(len(s["agents"]) == 12 for s in data["servers"])
    assert len({s["uuid"] for s in data["servers"]}) == 1000
    assert any(i["size"] == 1 << 30 for i in data["images"])
    local = set(data["local_images"])
    assert all(u in local for s in data["servers"] for u in s["agents"].values())


def test_scenario_extends_and_overrides(tmp_path, sim_factory):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: lab\nname: mine\nlatencies: {reboot: 1.0}\n")
    data = load_scenario(path)
    assert data["name"] == "mine" and data["latencies"] == {"reboot": 1.0}
    assert data["servers"] == load_scenario("lab")["servers"]
    with pytest.raises(FileNotFoundError):
        load_scenario("no-such-scenario")


def test_file_bytes_are_deterministic_and_sized():
    u = "11111111-2222-4333-8444-555555555555"
    for size in (0, 1, 65536, 65537, (1 << 20) + 3):
        data = b"".join(iter_bytes(u, size))
        assert len(data) == size
        sums = compute_sums(u, size)
        assert sums["sha1"] == hashlib.sha1(data).hexdigest()
    other = "21111111-2222-4333-8444-555555555555"
    assert b"".join(iter_bytes(u, 1000)) != b"".join(iter_bytes(other, 1000))
