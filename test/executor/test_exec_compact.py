"""History entries of a bounded size (executor/compact.py): pure, table-driven."""
from __future__ import annotations

import json

import pytest

from sdcadm.executor.compact import (
    FAILED_LISTED,
    compact_change,
    compact_changes,
    compact_steps,
    group_status,
    outcome_steps,
    planned_steps,
)
from sdcadm.plan import Step

SVC = {"uuid": "s-1", "name": "cn-agent", "type": "agent", "metadata": {"k": "[REDACTED]"}}
IMG = {"uuid": "i-new", "name": "cn-agent", "version": "1.7.4"}


def agent(n: int, version: str = "1.6.3", image: str = "i-old") -> dict:
    return {"instance": f"a-{n}", "service": "cn-agent", "type": "agent", "alias": None,
            "image": image, "version": version, "server": f"srv-{n}",
            "hostname": f"cn{n:02d}", "server_ip": f"10.0.0.{n}", "state": None, "ip": None}


def vm(n: int) -> dict:
    return {"instance": f"vm-{n}", "service": "moray", "type": "vm", "alias": f"moray{n}",
            "image": "i-old", "version": "m1", "server": f"srv-{n}", "hostname": f"cn{n:02d}"}


AGENT_CHANGE = {"type": "update-agent", "procedure": "agent", "service": SVC, "image": IMG,
                "insts": [agent(1), agent(2), agent(3, "1.6.0", "i-older")],
                "already": [agent(4, "1.7.4", "i-new")], "downgrade": False,
                "servers": ["srv-1", "srv-2", "srv-3"], "platform": None, "notes": [],
                "request": {"service": "cn-agent"}}
VM_CHANGE = {"type": "update-service", "procedure": "moray", "service": {"name": "moray"},
             "image": IMG, "insts": [vm(1), vm(2)], "already": [], "servers": []}
REBOOTS = [{"server": "srv-1", "hostname": "cn01", "why": "holds nothing"},
           {"server": "srv-0", "hostname": "headnode", "why": "last"}]


@pytest.mark.parametrize("change, expected", [
    # VM instances stay listed: a service has a few.
    (VM_CHANGE, VM_CHANGE),
    # Agents: counts and the hostnames by the version they ran; no per-instance records.
    (AGENT_CHANGE, {
        "type": "update-agent", "procedure": "agent", "service": SVC, "image": IMG,
        "downgrade": False, "platform": None, "notes": [], "request": {"service": "cn-agent"},
        "counts": {"insts": 3, "already": 1, "servers": 3},
        "per_server": [{"version": "1.6.3", "image": "i-old", "servers": ["cn01", "cn02"]},
                       {"version": "1.6.0", "image": "i-older", "servers": ["cn03"]}]}),
    # A rolling platform change keeps its server list; its slots become the reboot order.
    ({"type": "update-platform", "platform": "P2", "servers": ["srv-1", "srv-0"],
      "insts": [], "reboots": REBOOTS},
     {"type": "update-platform", "platform": "P2", "servers": ["srv-1", "srv-0"],
      "counts": {"servers": 2, "reboots": 2}, "reboot_order": ["cn01", "headnode"]}),
    # Not a change of the plan's shape (dc-maint, channel, a hand-posted entry): as it is.
    ({"type": "set-channel", "channel": "dev"}, {"type": "set-channel", "channel": "dev"}),
    ("update-service", "update-service"),
])
def test_compact_change(change, expected):
    assert compact_change(change) == expected
    assert compact_change(compact_change(change)) == expected  # idempotent


def test_compact_changes_takes_a_list_or_one_change():
    assert compact_changes([AGENT_CHANGE, VM_CHANGE])[1] == VM_CHANGE
    assert "insts" not in compact_changes(AGENT_CHANGE)
    assert compact_changes(None) is None


def test_a_thousand_servers_stay_small():
    big = {**AGENT_CHANGE, "insts": [agent(n) for n in range(1000)],
           "servers": [f"srv-{n}" for n in range(1000)]}
    full, small = len(json.dumps(big)), len(json.dumps(compact_change(big)))
    assert small * 20 < full
    assert compact_change(big)["counts"] == {"insts": 1000, "already": 1, "servers": 1000}


@pytest.mark.parametrize("counts, status", [
    ({"done": 3}, "done"),
    ({"verified": 2}, "verified"),
    ({"done": 2, "skipped": 1, "verified": 1}, "done"),
    ({"done": 2, "failed": 1}, "failed"),
    ({"failed": 1, "interrupted": 1}, "failed"),
    ({"done": 1, "interrupted": 1, "not-run": 1}, "interrupted"),
    ({"done": 1, "running": 2, "pending": 3}, "running"),
    ({"done": 1, "pending": 3}, "running"),
    ({"pending": 4}, "pending"),
    ({"done": 2, "not-run": 2}, "not-run"),
])
def test_group_status(counts, status):
    assert group_status(counts) == status


def _step(n: int, action: str, *, parallel: str | None = None, server: str | None = None,
          target: str | None = None) -> Step:
    params = {"server_uuid": server, "hostname": f"cn{n:02d}"} if server else {}
    return Step(id=f"{n}:{action}:{target or server or n}", action=action,
                target=target or server or str(n), params=params, parallel=parallel,
                change="cn-agent" if action == "install-agent" else None)


def _rec(step: Step, status: str, **kw) -> dict:
    return {"id": step.id, "action": step.action, "target": step.target, "status": status,
            "started": kw.get("started"), "finished": kw.get("finished"),
            "error": kw.get("error")}


def test_compact_steps_groups_per_server_steps_only():
    imp = _step(1, "import-image", parallel="download:gen0")
    # A reprovision names its VM's server too: it is a step on a server, not of one.
    wave = [_step(n, "reprovision", parallel="wave:1", server=f"srv-{n}", target=f"vm-{n}")
            for n in (2, 3)]
    agents = [_step(n, "install-agent", parallel="agents:cn-agent", server=f"srv-{n}")
              for n in range(4, 8)]
    verify = _step(8, "verify")
    err = {"code": "StepFailed", "message": "task failed" + "x" * 600}
    items = [(imp, _rec(imp, "done")), *[(s, _rec(s, "done")) for s in wave],
             (agents[0], _rec(agents[0], "done", started="t1", finished="t3")),
             (agents[1], _rec(agents[1], "failed", started="t0", finished="t2", error=err)),
             (agents[2], _rec(agents[2], "done", started="t2", finished="t4")),
             (agents[3], _rec(agents[3], "not-run")),
             (verify, _rec(verify, "not-run"))]
    out = compact_steps(items)
    assert [r["id"] for r in out] == [imp.id, wave[0].id, wave[1].id, "agents:cn-agent",
                                      verify.id]
    group = out[3]
    assert {k: group[k] for k in ("action", "target", "change", "status", "started",
                                  "finished", "steps", "counts")} == {
        "action": "install-agent", "target": "4 servers", "change": "cn-agent",
        "status": "failed", "started": "t0", "finished": "t4", "steps": 4,
        "counts": {"done": 2, "failed": 1, "not-run": 1}}
    (failed,) = group["failed"]
    assert failed["id"] == agents[1].id and failed["hostname"] == "cn05"
    assert len(failed["error"]["message"]) == 503 and group["error"] == failed["error"]


def test_a_group_lists_at_most_so_many_failures():
    agents = [_step(n, "install-agent", parallel="agents:cn-agent", server=f"srv-{n}")
              for n in range(FAILED_LISTED + 5)]
    out = compact_steps((s, _rec(s, "failed", error={"message": "boom"})) for s in agents)
    assert len(out[0]["failed"]) == FAILED_LISTED and out[0]["more_failed"] == 5


def test_planned_and_outcome_steps():
    from sdcadm.executor.engine import StepOutcome

    steps = [_step(1, "reboot-server", parallel="reboot", server="srv-1"), _step(2, "verify")]
    assert planned_steps(steps) == [
        {"id": "reboot", "action": "reboot-server", "target": "1 server", "change": None,
         "status": "pending", "started": None, "finished": None, "error": None, "steps": 1,
         "counts": {"pending": 1}},
        {"id": steps[1].id, "action": "verify", "target": "2", "status": "pending"}]
    done = outcome_steps([StepOutcome(steps[0], "done", None, "t0", "t1"),
                          StepOutcome(steps[1], "done", None, "t1", "t2")])
    assert [(r["id"], r["status"], r["finished"]) for r in done] == [
        ("reboot", "done", "t1"), (steps[1].id, "done", "t2")]
