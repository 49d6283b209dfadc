"""Procedures: plan -> ordered steps, with exact actions, targets, params and grouping."""
from __future__ import annotations

import json

import pytest
from dcbuilder import DC, config, plan_for

from sdcadm.plan import Plan, Step
from sdcadm.planner import PlanOptions, parse_spec, plan
from sdcadm.procedures import expand


def steps_for(dc: DC, *args: str, topology=None, **opts) -> tuple[Plan, list[Step]]:
    p = plan_for(dc, *args, topology=topology, **opts)
    return p, expand(p)


def brief(steps: list[Step], dc: DC) -> list[tuple[str, str]]:
    """(action, alias/hostname/name) per step, for order assertions."""
    names = {i.instance: i.alias or i.hostname for i in dc.instances}
    names.update({s.uuid: s.hostname for s in dc.servers.values()})
    return [(s.action, names.get(s.target, s.target)) for s in steps]


def test_stateless_service_steps_and_params() -> None:
    dc = DC()
    old = dc.image("vmapi", "20240101")
    new = dc.image("vmapi", "20240601")
    svc = dc.vm_service("vmapi", old, 2)
    _, steps = steps_for(dc, "vmapi")
    assert brief(steps, dc) == [("sapi-update-service", "vmapi"),
                                ("reprovision", "vmapi0"), ("wait-instance", "vmapi0"),
                                ("reprovision", "vmapi1"), ("wait-instance", "vmapi1")]
    i0 = dc.instances[0]
    assert steps[0].params == {"service_uuid": svc.uuid, "service": "vmapi",
                               "image_uuid": new.uuid}
    assert steps[1].params == {"instance": i0.instance, "alias": "vmapi0", "service": "vmapi",
                               "server_uuid": dc.hn.uuid, "image_uuid": new.uuid}
    assert steps[2].params == {"instance": i0.instance, "alias": "vmapi0", "service": "vmapi",
                               "image_uuid": new.uuid, "timeout": 300}
    # One at a time: no parallel groups, and ids are unique and ordered.
    assert all(s.parallel is None for s in steps)
    assert [s.id for s in steps] == [f"{n}:{s.action}:{s.target}"
                                     for n, s in enumerate(steps, start=1)]


def test_single_instance_change_does_not_touch_the_service_image() -> None:
    dc = DC()
    old = dc.image("papi", "20240101")
    dc.image("papi", "20240601")
    dc.vm_service("papi", old, 2)
    _, steps = steps_for(dc, "papi1")
    assert brief(steps, dc) == [("reprovision", "papi1"), ("wait-instance", "papi1")]


def test_config_only_change_is_just_the_sapi_step() -> None:
    dc = DC()
    dc.service("amon", dc.image("amon", "20240101"))
    dc.image("amon", "20240601")
    _, steps = steps_for(dc, "amon")
    assert brief(steps, dc) == [("sapi-update-service", "amon")]


def three_instance_dc(service: str, image_name: str) -> DC:
    """`service` on an old image, one instance on each of headnode, cn1 and cn2; a newer
    image is available."""
    dc = DC()
    cn1, cn2 = dc.server("cn1"), dc.server("cn2")
    old = dc.image(image_name, "20240101")
    dc.image(image_name, "20240601")
    dc.vm_service(service, old, 3, servers=[dc.hn, cn1, cn2])
    return dc


@pytest.mark.parametrize("service, image_name", [
    ("papi", "papi"), ("moray", "mantav2-moray"), ("sapi", "sapi")])
def test_rolling_services_put_the_headnode_instance_last(service, image_name) -> None:
    dc = three_instance_dc(service, image_name)
    _, steps = steps_for(dc, service)
    reprov = [n for a, n in brief(steps, dc) if a == "reprovision"]
    assert reprov == [f"{service}1", f"{service}2", f"{service}0"]


def test_binder_leader_last() -> None:
    dc = three_instance_dc("binder", "mantav2-nameservice")
    b0, b1, b2 = dc.instances
    topo = {"binder": {b0.instance: "follower", b1.instance: "leader",
                       b2.instance: "follower"}}
    _, steps = steps_for(dc, "binder", topology=topo)
    assert [n for a, n in brief(steps, dc) if a == "reprovision"] == ["binder2", "binder0",
                                                                       "binder1"]
    assert [s for s in steps if s.action == "wait-instance"][-1].params["timeout"] == 600
    # Each binder rejoins its ensemble before the next one goes (no DNS name known here).
    assert [a for a, n in brief(steps, dc) if n == "binder0"] == [
        "reprovision", "wait-instance", "zk-join"]


def with_dns(dc: DC, service: str) -> DC:
    """The service's SERVICE_DOMAIN and its instances' admin IPs, as gather reads them."""
    import dataclasses

    svc = dc.services[service]
    dc.services[service] = dataclasses.replace(
        svc, metadata={"SERVICE_DOMAIN": f"{service}.coal.joyent.us"})
    dc.instances = [dataclasses.replace(i, ip=f"10.99.99.{20 + n}") if i.service == service
                    else i for n, i in enumerate(dc.instances)]
    return dc


def test_moray_instances_leave_dns_before_they_go_and_rejoin_before_the_next() -> None:
    dc = with_dns(three_instance_dc("moray", "mantav2-moray"), "moray")
    _, steps = steps_for(dc, "moray")
    assert brief(steps, dc)[1:6] == [("dns-leave", "moray1"), ("reprovision", "moray1"),
                                     ("wait-instance", "moray1"), ("dns-join", "moray1"),
                                     ("dns-leave", "moray2")]
    leave = steps[1]
    m1 = dc.instances[1]
    assert leave.params == {"instance": m1.instance, "alias": "moray1", "service": "moray",
                            "server_uuid": m1.server, "ip": m1.ip,
                            "domain": "moray.coal.joyent.us", "headnode": dc.hn.uuid}
    assert leave.summary == f"take moray1 ({m1.instance}) out of DNS (moray.coal.joyent.us)"


def test_a_single_moray_has_no_dns_dance() -> None:
    dc = DC()
    old = dc.image("mantav2-moray", "20240101")
    dc.image("mantav2-moray", "20240601")
    dc.vm_service("moray", old, 1)
    with_dns(dc, "moray")
    _, steps = steps_for(dc, "moray")
    assert [a for a, _ in brief(steps, dc)] == ["sapi-update-service", "reprovision",
                                                 "wait-instance"]


def test_binder_without_topology_puts_the_headnode_last() -> None:
    dc = three_instance_dc("binder", "mantav2-nameservice")
    _, steps = steps_for(dc, "binder")
    assert [n for a, n in brief(steps, dc) if a == "reprovision"] == ["binder1", "binder2",
                                                                       "binder0"]


def test_manatee_check_shard_then_async_sync_primary() -> None:
    dc = three_instance_dc("manatee", "sdc-postgres")
    m0, m1, m2 = dc.instances
    topo = {"manatee": {m0.instance: "primary", m1.instance: "async", m2.instance: "sync"}}
    _, steps = steps_for(dc, "manatee", topology=topo)
    assert brief(steps, dc) == [
        ("check-shard", "manatee"), ("sapi-update-service", "manatee"),
        ("reprovision", "manatee1"), ("wait-instance", "manatee1"),
        ("reprovision", "manatee2"), ("wait-instance", "manatee2"),
        ("reprovision", "manatee0"), ("wait-instance", "manatee0")]
    assert steps[0].params == {"service": "manatee",
                               "instances": [m0.instance, m1.instance, m2.instance]}


def agent_dc() -> DC:
    dc = DC()
    old = dc.image("vm-agent", "20240101")
    dc.image("vm-agent", "20240601")
    dc.service("vm-agent", type="agent")
    for s in [dc.hn] + [dc.server(f"cn{i}") for i in range(1, 4)]:
        dc.inst("vm-agent", old, server=s, type="agent")
    return dc


def test_agents_one_install_per_server_in_parallel() -> None:
    dc = agent_dc()
    p, steps = steps_for(dc, "vm-agent", concurrency=3)
    new = p.changes[0].image
    assert brief(steps, dc) == [("sapi-update-service", "vm-agent")] + [
        ("install-agent", h) for h in ("headnode", "cn1", "cn2", "cn3")]
    inst = steps[1]
    assert inst.params == {"server_uuid": dc.hn.uuid, "hostname": "headnode",
                           "agent": "vm-agent", "image_uuid": new.uuid}
    assert {(s.parallel, s.concurrency, s.on_failure) for s in steps[1:]} == {
        ("agents:vm-agent", 3, "continue")}


def test_agents_restricted_by_servers_keep_the_service_image() -> None:
    dc = agent_dc()
    _, steps = steps_for(dc, "vm-agent", servers=("cn2",))
    assert brief(steps, dc) == [("install-agent", "cn2")]


def test_platform_assigns_then_reboots_in_one_rolling_window_headnode_last() -> None:
    dc = DC()
    for n in range(1, 6):
        dc.server(f"cn{n}")
    req = {"type": "update-platform", "platform": "20250101T000000Z", "selector": "all",
           "max_unavailable": 2}
    doc = parse_spec(json.dumps({"changes": [req]}), origin="p.json")
    steps = expand(plan(dc.state(), doc.changes, PlanOptions(), config()))
    got = [(s.action[:3], dc.servers[s.target].hostname, s.parallel, s.concurrency,
            s.on_failure) for s in steps]
    hosts = ["cn1", "cn2", "cn3", "cn4", "cn5", "headnode"]
    assert got == (
        [("set", h, "platform:20250101T000000Z:assign", 10, "stop") for h in hosts]
        + [("reb", h, "platform:20250101T000000Z:reboot", 2, "hold") for h in hosts])
    reboots = [s for s in steps if s.action == "reboot-server"]
    # Nothing holds a quorum member: no keys; the headnode waits for everyone else.
    assert [s.exclusive for s in reboots] == [()] * 6
    assert reboots[-1].after == tuple(sorted(s.uuid for s in dc.servers.values()
                                             if not s.headnode))
    assert [s.after for s in reboots[:-1]] == [()] * 5
    assert reboots[0].params == {
        "server_uuid": reboots[0].target, "hostname": "cn1", "platform": "20250101T000000Z",
        "headnode": False, "freeze": False, "holds": [], "peers": {}, "timeout": 1800,
        "gate_timeout": 600}


def test_platform_on_an_ha_datacenter_keeps_quorum_and_freezes_the_shard() -> None:
    dc = DC()
    cns = [dc.server(f"cn{n}") for n in range(1, 5)]
    on = [dc.hn, cns[0], cns[1]]
    for svc, img in (("manatee", "sdc-postgres"), ("binder", "mantav2-nameservice"),
                     ("moray", "mantav2-moray")):
        dc.vm_service(svc, dc.image(img, "20240101"), 3, servers=on)
    m = {i.alias: i.instance for i in dc.instances}
    topology = {"manatee": {m["manatee0"]: "primary", m["manatee1"]: "sync",
                            m["manatee2"]: "async"},
                "binder": {m["binder0"]: "follower", m["binder1"]: "leader",
                           m["binder2"]: "follower"}}
    req = {"type": "update-platform", "platform": "20250101T000000Z", "selector": "all",
           "max_unavailable": 3}
    doc = parse_spec(json.dumps({"changes": [req]}), origin="p.json")
    steps = [s for s in expand(plan(dc.state(), doc.changes, PlanOptions(), config(),
                                    topology=topology)) if s.action == "reboot-server"]
    host = {s.uuid: s.hostname for s in dc.servers.values()}
    assert [host[s.target] for s in steps] == ["cn2", "cn3", "cn4", "cn1", "headnode"]
    by = {host[s.target]: s for s in steps}
    assert by["cn1"].exclusive == ("manatee", "binder", "moray")
    assert by["cn3"].exclusive == ()
    assert [host[u] for u in by["cn1"].after] == ["cn2"]  # the sync after the async
    assert by["cn1"].params["freeze"] and by["headnode"].params["freeze"]
    assert not by["cn2"].params["freeze"]
    assert sorted(by["cn1"].params["peers"]["manatee"]) == sorted(
        [m[f"manatee{k}"], on[k].uuid] for k in range(3))
    assert "peers" not in by["cn3"].params or by["cn3"].params["peers"] == {}


def test_downloads_first_by_generation() -> None:
    dc = DC()
    base = dc.image("origin-base", "20230101", local=False)
    old = dc.image("vmapi", "20240101")
    new = dc.image("vmapi", "20240601", local=False, origin=base)
    old_p = dc.image("papi", "20240101")
    new_p = dc.image("papi", "20240601", state="unactivated")
    dc.vm_service("vmapi", old)
    dc.vm_service("papi", old_p)
    _, steps = steps_for(dc, "vmapi", "papi", channel="release")
    imports = [s for s in steps if s.action == "import-image"]
    assert steps[:3] == imports
    assert [(s.target, s.parallel, s.concurrency, s.on_failure) for s in imports] == [
        (base.uuid, "download:gen0", 4, "stop"),
        (new_p.uuid, "download:gen0", 4, "stop"),
        (new.uuid, "download:gen1", 4, "stop")]
    assert imports[1].params == {
        "image_uuid": new_p.uuid, "name": "papi", "version": new_p.version,
        "size": new_p.size, "sha1": new_p.sha1, "origin": None,
        "source": "https://updates.example.com", "channel": "release", "reimport": True}
    assert imports[2].params["reimport"] is False and imports[2].params["origin"] == base.uuid


def test_steps_round_trip_through_json() -> None:
    dc = agent_dc()
    p, steps = steps_for(dc, "vm-agent")
    again = Plan.from_json(json.loads(json.dumps(p.to_json())))
    assert expand(again) == steps
    assert [Step.from_json(s.to_json()) for s in steps] == steps
