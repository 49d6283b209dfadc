"""The zones pools: CNAPI's disk figures, the image store on the headnode's pool, `pool-full`."""
from __future__ import annotations

MIB = 1024 * 1024


def _disk(api, hostname):
    s = api.server(hostname, extras="disk")
    return s["disk_pool_size_bytes"], s["disk_pool_alloc_bytes"]


def test_cnapi_reports_the_pool_and_an_import_takes_its_file_size(api):
    size, alloc = _disk(api, "headnode")
    assert size > alloc > 0
    assert "disk_pool_alloc_bytes" not in api.server("headnode", extras="agents")
    origin = api.latest("cloudapi")["origin"]
    manifest = api.ok("GET", "updates", f"/images/{origin}")
    assert api.import_image(origin)["execution"] == "succeeded"
    assert _disk(api, "headnode") == (size, alloc + manifest["files"][0]["size"])
    assert _disk(api, "cn01")[1] == api.server("cn02", extras="disk")["disk_pool_alloc_bytes"]


def test_a_full_pool_fails_the_import_and_takes_nothing(api, sim):
    hn = api.server("headnode")
    size, alloc = _disk(api, "headnode")
    fault = sim.add_fault({"type": "pool-full", "target": hn["uuid"], "free_mib": 0.25})
    assert _disk(api, "headnode") == (size, size - MIB // 4)
    assert _disk(api, "cn01")[1] == alloc  # the fault names one server
    origin = api.latest("cloudapi")["origin"]
    assert api.ok("GET", "updates", f"/images/{origin}")["files"][0]["size"] > MIB // 4
    job = api.import_image(origin)
    assert job["execution"] == "failed"
    assert job["chain_results"][-1]["error"]["message"] == \
        "ENOSPC: no space left on device, write"
    assert api.get("imgapi", f"/images/{origin}").status_code == 404
    sim.remove_fault(fault)
    assert _disk(api, "headnode") == (size, alloc)
    assert api.import_image(origin)["execution"] == "succeeded"
