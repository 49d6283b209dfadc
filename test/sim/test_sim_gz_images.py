"""`sysinfo` and `imgadm list` in the simulated global zones, over SSH, checked against what
CNAPI, VMAPI and IMGAPI say about the same servers."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from sdcadm.clients.remote import CommandResult, Remote
from sdcadm.config import load_config

HOSTS = ("headnode", "cn01", "cn02", "cn03", "cn04")


@pytest.fixture
def remote(sim: Any, api: Any) -> Iterator[Remote]:
    r = Remote(load_config(sim.config_path))
    r.learn(api.ok("GET", "cnapi", "/servers?extras=sysinfo"))
    yield r
    r.close()


def run(remote: Remote, api: Any, host: str, *argv: str) -> CommandResult:
    return remote.run(api.server(host, "sysinfo")["uuid"], list(argv), timeout=10)


def installed(api: Any, host: str) -> dict[str, dict[str, Any]]:
    """What IMGAPI says the server's zones need: their images and those images' origins,
    with the zones (and images) cloned from each."""
    uuid = api.server(host, "sysinfo")["uuid"]
    clones: dict[str, set[str]] = {}
    for vm in api.ok("GET", "vmapi", f"/vms?server_uuid={uuid}"):
        if vm["state"] != "destroyed":
            clones.setdefault(vm["image_uuid"], set()).add(f"zones/{vm['uuid']}")
    images: dict[str, dict[str, Any]] = {}
    todo = list(clones)
    while todo:
        image = api.ok("GET", "imgapi", f"/images/{todo.pop()}")
        if image["uuid"] not in images:
            images[image["uuid"]] = image
            if image.get("origin"):
                clones.setdefault(image["origin"], set()).add(f"zones/{image['uuid']}")
                todo.append(image["origin"])
    return {u: dict(m, clones=clones.get(u, set())) for u, m in images.items()}


# -- sysinfo ------------------------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_sysinfo_is_the_servers_sysinfo(remote, api, sim, host):
    res = run(remote, api, host, "sysinfo")
    assert (res.exit_status, res.stderr) == (0, "")
    assert json.loads(res.stdout) == api.server(host, "sysinfo")["sysinfo"]
    assert res.stdout.startswith('{\n  "UUID": ') and res.stdout.endswith("}\n")
    assert json.loads(run(remote, api, host, "/usr/bin/sysinfo", "-f").stdout) == \
        json.loads(res.stdout)
    assert sim.mutations() == []


def test_sysinfo_follows_a_reboot_onto_another_platform(remote, api):
    cn = api.server("cn04", "sysinfo")
    assert cn["current_platform"] != cn["boot_platform"]
    before = json.loads(run(remote, api, "cn04", "sysinfo").stdout)
    assert before["Live Image"] == cn["current_platform"]
    job = api.ok("POST", "cnapi", f"/servers/{cn['uuid']}/reboot")
    assert api.wait_job(job["job_uuid"])["execution"] == "succeeded"
    after = json.loads(run(remote, api, "cn04", "sysinfo").stdout)
    assert after["Live Image"] == cn["boot_platform"]
    assert int(after["Boot Time"]) > int(before["Boot Time"])
    assert after == api.server("cn04", "sysinfo")["sysinfo"]


def test_sysinfo_refuses_options_it_does_not_know(remote, api):
    res = run(remote, api, "cn01", "sysinfo", "-p")
    assert (res.exit_status, res.stdout, res.stderr) == (2, "", "Usage: sysinfo [-f]\n")


# -- imgadm list --------------------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_imgadm_list_json_is_the_images_of_the_servers_zones(remote, api, sim, host):
    res = run(remote, api, host, "imgadm", "list", "-j")
    assert (res.exit_status, res.stderr) == (0, "")
    listed = json.loads(res.stdout)
    want = installed(api, host)
    assert [i["manifest"]["uuid"] for i in listed] == sorted(want)
    for info in listed:
        image = want[info["manifest"]["uuid"]]
        assert set(info) == {"manifest", "zpool", "cloneNames", "clones"}
        assert info["zpool"] == "zones"
        assert info["manifest"] == {k: v for k, v in image.items() if k != "clones"}
        assert (set(info["cloneNames"]), info["clones"]) == (image["clones"],
                                                             len(image["clones"]))
    assert res.stdout == json.dumps(listed, indent=2) + "\n"
    assert sim.mutations() == []


@pytest.mark.parametrize("host", ["headnode", "cn02"])
def test_imgadm_list_is_a_table_by_publication(remote, api, host):
    res = run(remote, api, host, "imgadm", "list")
    assert (res.exit_status, res.stderr) == (0, "")
    header, *lines = res.stdout.splitlines()
    assert header.split() == ["UUID", "NAME", "VERSION", "OS", "TYPE", "PUB"]
    rows = [line.split() for line in lines]
    want = sorted(installed(api, host).values(), key=lambda m: (m["published_at"], m["name"]))
    assert rows == [[m["uuid"], m["name"], m["version"], m["os"], m["type"],
                     m["published_at"][:10]] for m in want]
    starts = [header.index(c) for c in ("NAME", "VERSION", "OS", "TYPE", "PUB")]
    for line, m in zip(lines, want, strict=True):
        assert [line.index(v, s) for v, s in zip(
            (m["name"], m["version"], m["os"], m["type"], m["published_at"][:10]), starts,
            strict=True)] == starts
    assert run(remote, api, host, "imgadm", "list", "-H").stdout.splitlines() == lines


def test_imgadm_list_filters(remote, api):
    want = installed(api, "cn01")
    moray = {u for u, m in want.items() if m["name"] == "mantav2-moray"}
    assert moray
    for flt in ("name=mantav2-moray", "name=~moray"):
        got = json.loads(run(remote, api, "cn01", "imgadm", "list", "-j", flt).stdout)
        assert {i["manifest"]["uuid"] for i in got} == moray
    got = run(remote, api, "cn01", "imgadm", "list", "-H", "public=false", "zpool=zones")
    assert sorted(line.split()[0] for line in got.stdout.splitlines()) == sorted(want)
    assert run(remote, api, "cn01", "imgadm", "list", "name=nothing").stdout == (
        "UUID  NAME  VERSION  OS  TYPE  PUB\n")


def test_imgadm_list_follows_a_reprovision(remote, api):
    vm = api.vm("moray1")
    assert vm["server_uuid"] == api.server("cn01")["uuid"]
    other = next(i for i in api.ok("GET", "imgapi", "/images?name=mantav2-moray")
                 if i["uuid"] not in installed(api, "cn01"))
    job = api.ok("POST", "vmapi", f"/vms/{vm['uuid']}?action=reprovision",
                 json={"image_uuid": other["uuid"]})
    assert api.ok("GET", "vmapi", f"/jobs/{job['job_uuid']}/wait")["execution"] == "succeeded"
    listed = json.loads(run(remote, api, "cn01", "imgadm", "list", "-j").stdout)
    mine = next(i for i in listed if i["manifest"]["uuid"] == other["uuid"])
    assert (mine["cloneNames"], mine["manifest"]["version"]) == (
        [f"zones/{vm['uuid']}"], other["version"])
    assert [i["manifest"]["uuid"] for i in listed] == sorted(installed(api, "cn01"))


@pytest.mark.parametrize("argv,status,err", [
    (["imgadm", "list", "-x"], 1, 'imgadm list: error (Option): unknown option: "-x"\n'),
    (["imgadm", "list", "moray"], 2, 'imgadm list: error (Usage): invalid filter: "moray" '
                                     '(must be of the form "field=value")\n'),
])
def test_imgadm_list_bad_arguments(remote, api, sim, argv, status, err):
    res = run(remote, api, "cn01", *argv)
    assert (res.exit_status, res.stdout, res.stderr) == (status, "", err)
    assert sim.mutations() == []


def test_other_imgadm_commands_are_not_simulated_and_count_as_changes(remote, api, sim):
    res = run(remote, api, "cn01", "imgadm", "vacuum", "-f")
    assert (res.exit_status, res.stderr) == (127, "bash: imgadm: command not found\n")
    assert [(m["service"], m["path"]) for m in sim.mutations()] == [
        ("ssh", "cn01: imgadm vacuum -f")]
