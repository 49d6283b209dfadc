"""API clients against the simulator (and a recording stub where the simulator cannot
show what was sent): headers, paging, retries, and error mapping."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from sdcadm import __version__
from sdcadm.clients import Clients
from sdcadm.config import load_config
from sdcadm.errors import SDCClientError

ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


@pytest.fixture
def clients(sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Clients:
    data = json.loads(Path(sim.config_path).read_text())
    data["retryDelay"] = 0.01
    p = tmp_path / "sdcadm.conf"
    p.write_text(json.dumps(data))
    monkeypatch.setenv("SDCADM_REQUEST_LOG", str(tmp_path / "requests.log"))
    c = Clients(load_config(p), request_id="11111111-2222-4333-8444-555555555555")
    yield c
    c.close()


def logged(tmp_path: Path) -> list[str]:
    p = tmp_path / "requests.log"
    return p.read_text().splitlines() if p.exists() else []


# -- a stub that records what was sent ----------------------------------------------------

class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.seen.append({"path": url.path, "query": query, "headers": dict(self.headers)})
        if url.path == "/images":
            # IMGAPI semantics: inclusive uuid marker, default and max limit 1000
            limit = int(query.get("limit", 1000))
            start = 0
            if "marker" in query:
                start = next(n for n, i in enumerate(self.images) if i["uuid"] == query["marker"])
            self._reply(200, self.images[start:start + limit])
        else:
            self._reply(200, [])


@pytest.fixture
def stub() -> Iterator[str]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def stub_clients(url: str, tmp_path: Path) -> Clients:
    p = tmp_path / "stub.conf"
    p.write_text(json.dumps({
        "usbkeyConfig": str(tmp_path / "none"), "updatesServerUrl": url,
        **{k: {"url": url} for k in ("sapi", "imgapi", "vmapi", "cnapi", "wfapi")}}))
    return Clients(load_config(p), request_id="rid-1")


def test_headers_per_api(stub: str, tmp_path: Path) -> None:
    c = stub_clients(stub, tmp_path)
    c.sapi.list_services()
    c.imgapi.list_images()
    c.vmapi.list_vms()
    c.cnapi.list_servers()
    c.wfapi.list_jobs()
    c.updates_for("release").list_images(name="vmapi")
    by_path = {(s["path"], s["query"].get("channel")): s for s in Recorder.seen}
    for s in Recorder.seen:
        assert s["headers"]["User-Agent"] == f"sdcadm/{__version__}"
        assert s["headers"]["x-request-id"] == "rid-1"
    assert by_path[("/services", None)]["headers"]["Accept-Version"] == "~2"
    assert by_path[("/images", None)]["headers"]["Accept-Version"] == "*"
    assert by_path[("/jobs", None)]["headers"]["Accept-Version"] == "*"
    assert "Accept-Version" not in by_path[("/vms", None)]["headers"]
    assert "Accept-Version" not in by_path[("/servers", None)]["headers"]
    assert by_path[("/images", "release")]["query"] == {"name": "vmapi", "channel": "release"}


def test_imgapi_marker_paging(stub: str, tmp_path: Path) -> None:
    Recorder.images = [{"uuid": f"00000000-0000-4000-8000-{n:012d}", "name": "x"}
                       for n in range(2500)]
    c = stub_clients(stub, tmp_path)
    images = c.imgapi.list_images(name="x")
    assert [i["uuid"] for i in images] == [i["uuid"] for i in Recorder.images]
    queries = [s["query"] for s in Recorder.seen]
    # as node-sdc-clients: no limit first, then marker=<last uuid>&limit=1000
    assert queries == [
        {"name": "x"},
        {"name": "x", "marker": Recorder.images[999]["uuid"], "limit": "1000"},
        {"name": "x", "marker": Recorder.images[1998]["uuid"], "limit": "1000"},
    ]


def test_imgapi_date_marker_against_sim(clients: Clients, sim: Any) -> None:
    upd = clients.updates_for("dev")
    everything = upd.list_images()
    vmapi = [i for i in everything if i["name"] == "vmapi"]
    assert len(vmapi) >= 3
    marker = vmapi[1]["published_at"]
    got = upd.list_images(name="vmapi", marker=marker)
    assert [i["uuid"] for i in got] == [i["uuid"] for i in vmapi[1:]]
    assert all("channels" in i for i in got)  # Accept-Version: * shows channels


def test_vmapi_and_cnapi_offset_paging(clients: Clients, sim: Any, tmp_path: Path) -> None:
    raw_vms = requests.get(sim.urls["vmapi"] + "/vms", params={
        "state": "active", "owner_uuid": ADMIN, "limit": 1000}, timeout=10).json()
    raw_servers = requests.get(sim.urls["cnapi"] + "/servers", params={"limit": 1000},
                               timeout=10).json()
    clients.vmapi.page_size = 7
    clients.cnapi.page_size = 2
    vms = clients.vmapi.list_vms(state="active", owner_uuid=ADMIN)
    servers = clients.cnapi.list_servers(extras="sysinfo,agents")
    assert sorted(v["uuid"] for v in vms) == sorted(v["uuid"] for v in raw_vms)
    assert sorted(s["uuid"] for s in servers) == sorted(s["uuid"] for s in raw_servers)
    assert all("agents" in s and "sysinfo" in s for s in servers)
    lines = logged(tmp_path)
    assert sum(" GET " in x and "/vms?" in x for x in lines) == len(raw_vms) // 7 + 1
    assert sum("/servers?" in x for x in lines) == len(raw_servers) // 2 + 1
    assert any("offset=14&limit=7" in x for x in lines)


def test_sapi_accept_version_shows_agent_services(clients: Clients) -> None:
    app = clients.sapi.list_applications(name="sdc")[0]
    services = clients.sapi.list_services(application_uuid=app["uuid"])
    assert {"vm", "agent"} <= {s.get("type") for s in services}
    assert clients.sapi.get_mode() == "full"


def test_reads_are_retried(clients: Clients, sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"type": "error", "service": "sapi", "method": "GET",
                   "path": "^/applications", "status": 503, "count": 2})
    assert clients.sapi.list_applications(name="sdc")
    statuses = [x.split()[3] for x in logged(tmp_path) if "/applications" in x]
    assert statuses == ["503", "503", "200"]


def test_dropped_connection_is_retried(clients: Clients, sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"type": "drop", "service": "cnapi", "path": "^/platforms", "count": 1})
    assert clients.cnapi.list_platforms()
    assert [x.split()[3] for x in logged(tmp_path) if "/platforms" in x] == ["ERR", "200"]


def test_dropped_mutation_is_not_retried_nor_called_a_connect_failure(clients: Clients,
                                                                        sim: Any) -> None:
    app = clients.sapi.list_applications(name="sdc")[0]
    sim.add_fault({"type": "drop", "service": "sapi", "method": "PUT", "count": 1})
    with pytest.raises(SDCClientError) as e:
        clients.sapi.update_application(app["uuid"], {"metadata": {"x": "1"}})
    assert e.value.rest_code == "ConnectionError"
    # the request went out: the operator must not read this as "nothing was sent"
    assert "could not connect" not in e.value.message
    assert "(ConnectionError): connection closed without a response by http://" in e.value.message
    assert len([m for m in sim.mutations() if m["method"] == "PUT"]) == 1


def test_mutations_are_not_retried(clients: Clients, sim: Any) -> None:
    app = clients.sapi.list_applications(name="sdc")[0]
    sim.add_fault({"type": "error", "service": "sapi", "method": "PUT", "status": 503,
                   "count": 1})
    with pytest.raises(SDCClientError) as e:
        clients.sapi.update_application(app["uuid"], {"metadata": {"x": "1"}})
    assert e.value.status == 503
    puts = [m for m in sim.mutations() if m["method"] == "PUT"]
    assert len(puts) == 1


def test_gives_up_after_retries(clients: Clients, sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"type": "error", "service": "imgapi", "path": "^/images", "status": 500,
                   "message": "moray is down"})
    with pytest.raises(SDCClientError) as e:
        clients.imgapi.list_images()
    assert (e.value.client, e.value.rest_code, e.value.status) == ("imgapi", "InternalError", 500)
    assert e.value.message == "imgapi client error (InternalError): moray is down"
    assert len([x for x in logged(tmp_path) if "/images" in x]) == 1 + clients.config.retries


def test_not_found_mapping(clients: Clients) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    with pytest.raises(SDCClientError) as e:
        clients.sapi.get_service(missing)
    assert e.value.not_found and e.value.rest_code == "ResourceNotFound"
    assert e.value.message == f"sapi client error (ResourceNotFound): no such service: {missing}"
    with pytest.raises(SDCClientError) as e:
        clients.imgapi.get_image(missing)
    assert e.value.not_found and e.value.client == "imgapi"


def test_validation_errors_list(clients: Clients) -> None:
    with pytest.raises(SDCClientError) as e:
        clients.updates_for("bogus").list_images()
    assert e.value.client == "updates"
    assert e.value.rest_code == "ValidationFailed"
    assert e.value.message.startswith("updates client error (ValidationFailed): ")


def test_cnapi_strict_params_and_uuid_check(clients: Clients) -> None:
    with pytest.raises(SDCClientError) as e:
        clients.cnapi.get_server("not-a-uuid")
    assert (e.value.status, e.value.rest_code) == (409, "InvalidArgument")


def test_unreachable(tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    p = tmp_path / "c.conf"
    p.write_text(json.dumps({"usbkeyConfig": str(tmp_path / "none"), "vmapi": {"url": url},
                             "retries": 1, "retryDelay": 0.01}))
    c = Clients(load_config(p))
    with pytest.raises(SDCClientError) as e:
        c.vmapi.get_vm("00000000-0000-4000-8000-000000000001")
    assert e.value.rest_code == "ConnectionError"
    assert e.value.exit_status == 1
