"""Each effect handler against the simulated datacenter over HTTP (in-process executor)."""
from __future__ import annotations

import pytest
import requests

from sdcadm.errors import InstanceIsDownError, SdcAdmError, StepFailedError, UpdateError
from sdcadm.plan import Plan, Step

ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


@pytest.fixture
def app(sim, monkeypatch):
    from sdcadm.cli.app import App

    monkeypatch.setenv("NO_COLOR", "1")
    return App(config_path=str(sim.config_path))


def _get(sim, svc, path, **params):
    r = requests.get(sim.urls[svc] + path, params=params, headers={"Accept-Version": "~2"},
                     timeout=10)
    r.raise_for_status()
    return r.json()


def _run(app, steps, **options):
    from sdcadm.executor.run import execute

    return execute(app, Plan(), steps, options={"yes": True, **options})


def _missing_image(sim, name=None):
    """An updates-server image (optionally by name) not in the local IMGAPI."""
    local = {i["uuid"] for i in _get(sim, "imgapi", "/images", state="all")}
    for img in reversed(_get(sim, "updates", "/images")):
        if img["uuid"] not in local and (name is None or img["name"] == name) \
                and (not img.get("origin") or img["origin"] in local):
            return img
    pytest.skip("no suitable image to import in the scenario")


def _import_step(img):
    f = img["files"][0]
    return Step(id=f"1:import-image:{img['uuid']}", action="import-image", target=img["uuid"],
                params={"image_uuid": img["uuid"], "name": img["name"], "version": img["version"],
                        "size": f["size"], "sha1": f["sha1"], "origin": img.get("origin"),
                        "source": None, "channel": None, "reimport": False},
                parallel="download:gen0", concurrency=4)


@pytest.mark.parametrize("via", ["imgapi", "sdcadm"])
def test_import_image_both_ways(sim, app, capfd, via):
    img = _missing_image(sim)
    _run(app, [_import_step(img)], download_via=via)
    local = _get(sim, "imgapi", f"/images/{img['uuid']}")
    assert local["state"] == "active"
    assert local["files"][0]["sha1"] == img["files"][0]["sha1"]
    err = capfd.readouterr().err
    label = f"{img['name']}@{img['version']}"
    assert f"Downloading image {img['uuid']}\n    ({label})\n" in err
    assert f"Imported image {img['uuid']}\n    ({label})\n" in err
    paths = [m["path"] for m in sim.mutations() if m["service"] == "imgapi"]
    if via == "imgapi":
        assert any("action=import-remote" in p for p in paths)
    else:
        assert not any("action=import-remote" in p for p in paths)
        assert any(p.startswith(f"/images/{img['uuid']}/file") for p in paths)
        assert any("action=activate" in p for p in paths)


def test_import_image_skips_an_active_image(sim, app, capfd):
    img = _missing_image(sim)
    _run(app, [_import_step(img)])
    sim.clear_mutations()
    _run(app, [_import_step(img)])
    assert [m for m in sim.mutations() if m["service"] == "imgapi"] == []
    assert f"Image {img['uuid']} is already imported" in capfd.readouterr().err


def test_import_retries_a_failing_job_then_succeeds(sim, app, capfd):
    img = _missing_image(sim)
    sim.add_fault({"type": "fail-job", "target": img["uuid"], "action": "import", "count": 2})
    _run(app, [_import_step(img)])
    assert _get(sim, "imgapi", f"/images/{img['uuid']}")["state"] == "active"
    err = capfd.readouterr().err
    assert err.count("Warning: import of image") == 2


def test_import_gives_up_after_five_attempts(sim, app, capfd):
    img = _missing_image(sim)
    sim.add_fault({"type": "fail-job", "target": img["uuid"], "action": "import"})
    with pytest.raises(StepFailedError):
        _run(app, [_import_step(img)])
    err = capfd.readouterr().err
    assert err.count("Warning: import of image") == 5
    assert f"Error importing image {img['uuid']}" in err


def _vm_of(sim, role):
    vms = _get(sim, "vmapi", "/vms", owner_uuid=ADMIN, state="active", **{"tag.smartdc_role": role})
    return sorted(vms, key=lambda v: v["alias"])[0]


def _service(sim, name):
    return _get(sim, "sapi", "/services", name=name)[0]


def _image_for(sim, vm):
    """Another image with the VM's image name, already imported locally if possible."""
    cur = _get(sim, "imgapi", f"/images/{vm['image_uuid']}")
    local = [i for i in _get(sim, "imgapi", "/images", name=cur["name"])
             if i["uuid"] != cur["uuid"]]
    if local:
        return local[-1]
    cands = [i for i in _get(sim, "updates", "/images", name=cur["name"])
             if i["uuid"] != cur["uuid"]]
    if not cands:
        pytest.skip("no other image for this service")
    img = cands[-1]
    return img


def _vm_steps(sim, role, wait_timeout=300):
    vm = _vm_of(sim, role)
    svc = _service(sim, role)
    img = _image_for(sim, vm)
    steps = []
    if not _exists_locally(sim, img["uuid"]):
        steps.append(_import_step(img))
    steps += [
        Step(id="2:sapi-update-service:" + role, action="sapi-update-service", target=role,
             params={"service_uuid": svc["uuid"], "service": role, "image_uuid": img["uuid"]}),
        Step(id="3:reprovision:" + vm["uuid"], action="reprovision", target=vm["uuid"],
             params={"instance": vm["uuid"], "alias": vm["alias"], "service": role,
                     "server_uuid": vm["server_uuid"], "image_uuid": img["uuid"]}),
        Step(id="4:wait-instance:" + vm["uuid"], action="wait-instance", target=vm["uuid"],
             params={"instance": vm["uuid"], "alias": vm["alias"], "service": role,
                     "image_uuid": img["uuid"], "timeout": wait_timeout}),
    ]
    return vm, svc, img, steps


def _exists_locally(sim, uuid):
    r = requests.get(f"{sim.urls['imgapi']}/images/{uuid}", timeout=10)
    return r.status_code == 200


def test_service_update_reprovision_and_wait(sim, app, capfd):
    vm, svc, img, steps = _vm_steps(sim, "vmapi")
    _run(app, steps)
    assert _get(sim, "vmapi", f"/vms/{vm['uuid']}")["image_uuid"] == img["uuid"]
    assert _get(sim, "sapi", f"/services/{svc['uuid']}")["params"]["image_uuid"] == img["uuid"]
    err = capfd.readouterr().err
    assert f'Updating image for SAPI service "vmapi"\n    service uuid: {svc["uuid"]}\n' in err
    assert f"Reprovisioning VM {vm['uuid']} on server {vm['server_uuid']}\n" in err
    assert f"Waiting for vmapi instance {vm['uuid']} ({vm['alias']}) to come up\n" in err


def test_wait_instance_times_out_with_the_original_message(sim, app):
    vm, svc, img, steps = _vm_steps(sim, "vmapi")
    sim.add_fault({"type": "stuck-instance", "target": vm["uuid"]})
    with pytest.raises(InstanceIsDownError) as info:
        _run(app, steps)
    first, *rest = info.value.message.split("\n")
    assert first == f"Timeout (5m) waiting for vmapi instance {vm['uuid']} to come up"
    # ... and what was still wrong when it gave up.
    assert len(rest) == 1 and rest[0].startswith("    last seen: "), rest
    assert "provisioning" in rest[0], rest
    assert info.value.exit_status == 2


def test_wait_instance_stops_at_once_on_smf_maintenance(sim, app):
    vm, _svc, _img, steps = _vm_steps(sim, "vmapi")
    sim.add_fault({"type": "unhealthy", "target": vm["uuid"],
                   "fmri": "svc:/smartdc/application/vmapi:default"})
    with pytest.raises(InstanceIsDownError) as info:
        _run(app, steps)
    assert info.value.message.startswith(
        f"vmapi instance {vm['uuid']} is not healthy: SMF service "
        "svc:/smartdc/application/vmapi:default is in maintenance")
    assert "Timeout" not in info.value.message


def test_check_shard_passes_on_a_healthy_shard_and_refuses_a_deposed_peer(sim, app):
    vms = _get(sim, "vmapi", "/vms", owner_uuid=ADMIN, state="active",
               **{"tag.smartdc_role": "manatee"})
    insts = [{"instance": v["uuid"], "server": v["server_uuid"]} for v in vms]
    step = Step(id="1:check-shard:manatee", action="check-shard", target="manatee",
                params={"service": "manatee", "instances": insts})
    _run(app, [step])
    sim.add_fault({"type": "manatee-deposed", "target": "*"})
    with pytest.raises(UpdateError, match="manatee-adm rebuild"):
        _run(app, [step])


def _servers(sim):
    return [s for s in _get(sim, "cnapi", "/servers", extras="agents") if not s.get("headnode")]


def test_install_agent_updates_the_server_record(sim, app, capfd):
    server = _servers(sim)[0]
    agent = server["agents"][0]
    cands = [i for i in _get(sim, "updates", "/images", name=agent["name"])
             if i["uuid"] != agent["image_uuid"]]
    if not cands:
        pytest.skip("no other agent image")
    img = cands[-1]
    steps = [] if _exists_locally(sim, img["uuid"]) else [_import_step(img)]
    steps.append(Step(id=f"9:install-agent:{server['uuid']}", action="install-agent",
                      target=server["uuid"],
                      params={"server_uuid": server["uuid"], "hostname": server["hostname"],
                              "agent": agent["name"], "image_uuid": img["uuid"]},
                      parallel=f"agents:{agent['name']}", concurrency=5, on_failure="continue"))
    _run(app, steps)
    got = _get(sim, "cnapi", f"/servers/{server['uuid']}")
    assert {a["name"]: a["image_uuid"] for a in got["agents"]}[agent["name"]] == img["uuid"]
    assert f"Updated {agent['name']} on 1/1 server (0 failures)" in capfd.readouterr().err


def _other_platform(sim, server):
    plats = sorted(_get(sim, "cnapi", "/platforms"))
    others = [p for p in plats if p != server["current_platform"]]
    if not others:
        pytest.skip("one platform only")
    return others[-1]


def _platform_steps(server, platform):
    common = {"server_uuid": server["uuid"], "hostname": server["hostname"], "platform": platform}
    return [Step(id=f"1:set-boot-platform:{server['uuid']}", action="set-boot-platform",
                 target=server["uuid"], params=common),
            Step(id=f"2:reboot-server:{server['uuid']}", action="reboot-server",
                 target=server["uuid"], params=common, parallel="reboot:batch0", concurrency=1)]


def test_set_boot_platform_and_reboot(sim, app, capfd):
    server = _servers(sim)[0]
    platform = _other_platform(sim, server)
    _run(app, _platform_steps(server, platform))
    got = _get(sim, "cnapi", f"/servers/{server['uuid']}")
    assert got["status"] == "running" and got["current_platform"] == platform
    assert _get(sim, "cnapi", f"/boot/{server['uuid']}")["platform"] == platform
    err = capfd.readouterr().err
    assert f"Rebooting server {server['uuid']} ({server['hostname']})" in err


def test_a_server_that_never_comes_back_fails_the_step(sim, app):
    server = _servers(sim)[0]
    platform = _other_platform(sim, server)
    sim.add_fault({"type": "reboot-hang", "target": server["uuid"]})
    with pytest.raises(SdcAdmError, match="did not come back running platform"):
        _run(app, _platform_steps(server, platform))


def test_an_unactivated_local_copy_is_removed_and_reimported(sim, app, capfd):
    from sdcadm.executor.handlers.images import importable

    img = _missing_image(sim)
    r = requests.post(f"{sim.urls['imgapi']}/images/{img['uuid']}", params={"action": "import"},
                      json=importable(img), timeout=10)
    assert r.status_code == 200, r.text
    assert _get(sim, "imgapi", f"/images/{img['uuid']}")["state"] == "unactivated"
    step = _import_step(img)
    _run(app, [Step(**{**step.__dict__, "params": {**step.params, "reimport": True}})])
    assert _get(sim, "imgapi", f"/images/{img['uuid']}")["state"] == "active"
    err = capfd.readouterr().err
    label = f"{img['name']}@{img['version']}"
    assert f"Removing unactivated image {img['uuid']}\n    ({label})\n" in err
    assert any(m["method"] == "DELETE" and m["path"].startswith(f"/images/{img['uuid']}")
               for m in sim.mutations())
