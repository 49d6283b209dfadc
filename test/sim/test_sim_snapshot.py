"""`sdcadm-sim snapshot`: a scenario from a running datacenter that, served again, answers
every read sdcadm makes the same way."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sdcadm.sim.testing import SimHandle, start_sim

# Fields that change on their own (heartbeats, clocks) and loopback ports in URLs.
VOLATILE = {"last_heartbeat"}
HEADERS = {"sapi": {"Accept-Version": "~2"}, "imgapi": {"Accept-Version": "*"},
           "updates": {"Accept-Version": "*"}}
ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


def snapshot(config: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdcadm.sim.cli", "snapshot", "--config",
                           str(config), *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        items = [normalized(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, str):
        return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", value)
    return value


def reads(handle: SimHandle) -> dict[str, Any]:
    """Every read sdcadm makes, answer by answer."""
    s = requests.Session()

    def get(service: str, path: str, **params: Any) -> Any:
        r = s.get(handle.urls[service] + path, params=params, headers=HEADERS.get(service),
                  timeout=30)
        assert r.status_code == 200, (service, path, r.text)
        return r.json()

    out: dict[str, Any] = {
        "sapi applications": get("sapi", "/applications", name="sdc"),
        "sapi services": get("sapi", "/services"),
        "sapi instances": get("sapi", "/instances"),
        "sapi mode": get("sapi", "/mode"),
        "imgapi images": get("imgapi", "/images", state="all"),
        "updates channels": get("updates", "/channels"),
        "updates images (default channel)": get("updates", "/images"),
        "updates images (every channel)": get("updates", "/images", channel="*"),
        "vmapi vms": get("vmapi", "/vms", state="active", owner_uuid=ADMIN),
        "cnapi servers": get("cnapi", "/servers", extras="sysinfo,agents"),
        "cnapi platforms": get("cnapi", "/platforms", os="true"),
        "cnapi boot default": get("cnapi", "/boot/default"),
    }
    for server in out["cnapi servers"]:
        out[f"cnapi boot {server['hostname']}"] = get("cnapi", f"/boot/{server['uuid']}")
    return out


def roles(handle: SimHandle) -> dict[str, Any]:
    """The HA roles as sdcadm reads them over SSH: manatee's zk-state, binder's leader."""
    from sdcadm.clients import Clients
    from sdcadm.config import load_config
    from sdcadm.gather import gather
    from sdcadm.planner.topology import read_shard_state, read_topology

    config = load_config(handle.config_path)
    clients = Clients(config)
    try:
        state = gather(clients, config)
        topology = read_topology(clients, state, ["manatee", "binder"])
        zk = read_shard_state(clients.remote, [(i.instance, i.server or "")
                                               for i in state.instances_of("manatee")])
    finally:
        clients.close()
    return {"topology": topology, "generation": zk.get("generation")}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    """A fresh `small`, and a second simulator serving its snapshot."""
    root = tmp_path_factory.mktemp("snapshot")
    live = start_sim("small", state_dir=root / "live", time_scale=0.001)
    try:
        out = root / "dc.yaml"
        done = snapshot(live.config_path, "-o", str(out), cwd=root)
        assert done.returncode == 0, done.stderr
        copy = start_sim(out, state_dir=root / "copy", time_scale=0.001)
        try:
            yield live, copy, out, done
        finally:
            copy.stop()
    finally:
        live.stop()


def test_a_snapshot_served_again_answers_every_read_the_same_way(pair):
    live, copy, _path, _done = pair
    before, after = reads(live), reads(copy)
    assert before.keys() == after.keys()
    for what in before:
        assert normalized(after[what]) == normalized(before[what]), what
    assert roles(copy) == roles(live)
    assert live.mutations() == []  # a snapshot only reads (SSH included)


def test_the_scenario_names_what_it_holds_and_reads_nothing_secret(pair):
    _live, _copy, path, done = pair
    text = path.read_text()
    data = yaml.safe_load(text)
    assert text.startswith("# Snapshot of datacenter coal taken ")
    assert "manatee-adm zk-state" in text.splitlines()[3]  # what was read over SSH
    assert data["manatee"]["primary"] == "a8df067d-025c-5000-a8ad-93ce21ae0e89"
    assert {s["hostname"] for s in data["servers"]} == {"headnode", "cn01", "cn02", "cn03",
                                                        "cn04"}
    assert "Read: 5 servers, 38 services, 32 core VMs, 60 agents" in done.stderr


def test_image_files_served_from_a_snapshot_match_their_manifests(pair):
    live, copy, _path, _done = pair
    image = next(m for m in requests.get(copy.urls["updates"] + "/images",
                                         params={"name": "vmapi"}, timeout=10).json())
    body = requests.get(f"{copy.urls['updates']}/images/{image['uuid']}/file", timeout=30).content
    assert len(body) == image["files"][0]["size"]
    assert hashlib.sha1(body).hexdigest() == image["files"][0]["sha1"]
    original = requests.get(f"{live.urls['updates']}/images/{image['uuid']}", timeout=10).json()
    assert original["files"] == image["files"]


def test_large_image_files_are_declared_smaller(pair, tmp_path):
    live, _copy, _path, _done = pair
    done = snapshot(live.config_path, "--max-image-mib", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(done.stdout)
    sizes = [i["size"] for i in data["images"]]
    assert max(sizes) == 1 << 20 and any(s < 1 << 20 for s in sizes)
    assert "declared at 1 MiB instead of their real size" in done.stdout


def test_secrets_in_metadata_are_redacted(sim, tmp_path):
    svc = next(s for s in requests.get(sim.urls["sapi"] + "/services", params={"name": "ufds"},
                                       timeout=10).json())
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    r = requests.put(f"{sim.urls['sapi']}/services/{svc['uuid']}", timeout=10,
                     json={"action": "update", "metadata": {
                         "ufds_ldap_root_pw": "hunter2", "UFDS_TOKEN": "t0ken",
                         "signing_key": pem, "ufds_port": 636}})
    assert r.status_code == 200, r.text
    done = snapshot(sim.config_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for secret in ("hunter2", "t0ken", "MIIEow"):
        assert secret not in done.stdout
    ufds = next(s for s in yaml.safe_load(done.stdout)["services"] if s["name"] == "ufds")
    assert ufds["metadata"] == {"ufds_ldap_root_pw": "[REDACTED]", "UFDS_TOKEN": "[REDACTED]",
                                "signing_key": "[REDACTED]", "ufds_port": 636}


def test_an_unreachable_datacenter_is_one_line_and_exit_1(tmp_path):
    conf = tmp_path / "dead.conf"
    dead = "http://127.0.0.1:9"
    conf.write_text(json.dumps({"sapi": {"url": dead}, "imgapi": {"url": dead},
                                "vmapi": {"url": dead}, "cnapi": {"url": dead},
                                "updatesServerUrl": dead, "retries": 0,
                                "ufds_admin_uuid": ADMIN}))
    out = tmp_path / "dc.yaml"
    done = snapshot(conf, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sdcadm-sim snapshot: error (SDCClient): ")
    assert not out.exists()


def test_a_binder_leader_that_moved_is_kept_by_the_copy(tmp_path: Path) -> None:
    """After binder0 was stopped and started, binder1 leads; the copy must not elect the
    lowest alias again, or a rehearsed binder roll would take the wrong instance last."""
    live = start_sim("small", state_dir=tmp_path / "live", time_scale=0.001)
    try:
        vms = requests.get(live.urls["vmapi"] + "/vms", timeout=10).json()
        binder0 = next(v for v in vms if v.get("alias") == "binder0")
        for action in ("stop", "start"):
            job = requests.post(f"{live.urls['vmapi']}/vms/{binder0['uuid']}",
                                params={"action": action}, timeout=10).json()["job_uuid"]
            done = requests.get(f"{live.urls['vmapi']}/jobs/{job}/wait", timeout=30).json()
            assert done["execution"] == "succeeded"
            before = roles(live)
        leaders = [u for u, r in before["topology"]["binder"].items() if r == "leader"]
        assert leaders and leaders != [binder0["uuid"]]
        out = tmp_path / "dc.yaml"
        r = snapshot(live.config_path, "-o", str(out), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert yaml.safe_load(out.read_text())["binder_leader"] == leaders[0]
        copy = start_sim(out, state_dir=tmp_path / "copy", time_scale=0.001)
        try:
            assert roles(copy)["topology"]["binder"] == before["topology"]["binder"]
        finally:
            copy.stop()
    finally:
        live.stop()
