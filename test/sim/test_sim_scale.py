"""Load the simulator must carry: many concurrent long-polls, and the `large` scenario."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sdcadm.sim.testing import start_sim


def test_fifty_concurrent_task_waits_add_no_latency(api, sim):
    sim.set_latencies({"install-agent": 500})  # 0.5 s at the test time scale
    servers = api.ok("GET", "cnapi", "/servers?extras=agents")
    image = next(a["image_uuid"] for a in servers[0]["agents"] if a["name"] == "vm-agent")
    cnapi = sim.urls["cnapi"]

    def one(i: int) -> float:
        server = servers[i % len(servers)]
        s = requests.Session()
        t0 = time.monotonic()
        tid = s.post(f"{cnapi}/servers/{server['uuid']}/install-agent", json={"image_uuid": image},
                     timeout=10).json()["id"]
        task = s.get(f"{cnapi}/tasks/{tid}/wait?timeout=30", timeout=40).json()
        assert task["status"] == "complete"
        return time.monotonic() - t0

    with ThreadPoolExecutor(max_workers=50) as pool:
        each = list(pool.map(one, range(50)))
    assert min(each) >= 0.5
    assert max(each) < 1.5


@pytest.mark.slow
def test_large_starts_fast_and_lists_all_servers_quickly(tmp_path):
    t0 = time.monotonic()
    handle = start_sim("large", state_dir=tmp_path / "large", time_scale=0.001)
    try:
        assert time.monotonic() - t0 < 10
        s = requests.Session()
        t0 = time.monotonic()
        page = s.get(handle.urls["cnapi"] + "/servers?extras=sysinfo,agents&limit=1000&offset=0",
                     timeout=30).json()
        rest = s.get(handle.urls["cnapi"] + "/servers?extras=sysinfo,agents&limit=1000&offset=1000",
                     timeout=30).json()
        assert time.monotonic() - t0 < 1.0
        assert len(page) == 1000 and rest == []
        assert all(len(srv["agents"]) == 12 and srv["sysinfo"] for srv in page)
        agent_insts = s.get(handle.urls["sapi"] + "/instances?type=agent",
                            headers={"Accept-Version": "~2"}, timeout=30).json()
        assert len(agent_insts) == 12_000
    finally:
        handle.stop()
