"""Planner rules: --all, locks, minimums, conflicts, routing and order, refusals, agents,
platforms, downloads. Each case: a datacenter, a request, the expected plan or message."""
from __future__ import annotations

import json

import pytest
from dcbuilder import DC, config, plan_for

from sdcadm.errors import MultiError, UpdateError, UsageError
from sdcadm.plan import ChangeRequest, Plan
from sdcadm.planner import PlanOptions, all_services, parse_spec, plan, requests_from_args


def run(dc: DC, *args: str, cfg=None, topology=None, **opts) -> Plan:
    return plan_for(dc, *args, cfg=cfg, topology=topology, **opts)


def stale(dc: DC, name: str, count: int = 1, image_name: str | None = None, servers=None):
    """A service on an old image with a newer one on the updates server."""
    old = dc.image(image_name or name, "20240101")
    new = dc.image(image_name or name, "20240601", local=False)
    dc.vm_service(name, old, count, servers=servers)
    return old, new


# -- --all ------------------------------------------------------------------------

def full_dc() -> DC:
    dc = DC()
    for name in ("vmapi", "papi", "rabbitmq", "portolan", "sapi", "moray", "binder",
                 "manatee", "imgapi", "cnapi"):
        image_name = {"binder": "mantav2-nameservice", "moray": "mantav2-moray",
                      "manatee": "sdc-postgres"}.get(name)
        stale(dc, name, image_name=image_name)
    dc.service("zookeeper", dc.image("zookeeper", "20240101"))
    dc.service("cabase", type="agent")
    dc.service("cn-agent", type="agent")
    old = dc.image("cn-agent", "20240101")
    dc.image("cn-agent", "20240601", local=False)
    dc.inst("cn-agent", old, type="agent")
    return dc


def test_all_service_set() -> None:
    dc = full_dc()
    assert all_services(dc.state(), PlanOptions(all=True)) == [
        "vmapi", "papi", "sapi", "moray", "binder", "manatee", "imgapi", "cnapi", "cn-agent"]
    forced = PlanOptions(all=True, force_rabbitmq=True, force_data_path=True,
                         exclude=("sapi,moray", "binder", "manatee"))
    assert all_services(dc.state(), forced) == [
        "vmapi", "papi", "rabbitmq", "portolan", "imgapi", "cnapi", "cn-agent"]


@pytest.mark.parametrize("exclude, expected", [
    (("agents",), ["vmapi", "papi", "sapi", "moray", "binder", "manatee", "imgapi", "cnapi"]),
    (("agents,vmapi",), ["papi", "sapi", "moray", "binder", "manatee", "imgapi", "cnapi"]),
    (("cn-agent",), ["vmapi", "papi", "sapi", "moray", "binder", "manatee", "imgapi", "cnapi"]),
    ((), ["vmapi", "papi", "sapi", "moray", "binder", "manatee", "imgapi", "cnapi",
          "cn-agent"]),
])
def test_exclude_agents_is_every_agent_service(exclude: tuple[str, ...],
                                               expected: list[str]) -> None:
    assert all_services(full_dc().state(), PlanOptions(all=True, exclude=exclude)) == expected


def test_all_orders_by_procedure_and_includes_agents() -> None:
    p = run(full_dc(), all=True)
    assert [(c.service.name, c.procedure) for c in p.changes] == [
        ("vmapi", "stateless"), ("cnapi", "stateless"), ("papi", "ha"), ("moray", "moray"),
        ("sapi", "sapi"), ("manatee", "manatee"), ("binder", "binder"), ("imgapi", "imgapi"),
        ("cn-agent", "agent")]


def test_exclude_needs_all_and_refuses_unknown_names() -> None:
    with pytest.raises(UsageError, match=r"^-x/--exclude is only valid with --all$"):
        run(full_dc(), "vmapi", exclude=("papi",))
    with pytest.raises(UsageError, match=r'^unknown service "manate" in -x/--exclude$'):
        run(full_dc(), all=True, exclude=("manate",))
    with pytest.raises(UsageError, match=r'^unknown service "nosuch" in -x/--exclude$'):
        run(full_dc(), all=True, exclude=("papi,nosuch",))
    p = run(full_dc(), all=True, exclude=("papi,manatee",))
    assert {c.service.name for c in p.changes}.isdisjoint({"papi", "manatee"})


def test_all_warns_about_services_without_image_names() -> None:
    dc = DC()
    dc.vm_service("mystery", dc.image("mystery", "20240101"))
    p = run(dc, all=True)
    assert p.empty
    assert p.options["warnings"] == ['warning: do not know valid image names for service "mystery"']


def test_explicit_change_overrides_what_all_implies() -> None:
    dc = full_dc()
    pinned = dc.image("vmapi", "20240301", local=False)
    state = dc.state()
    doc = parse_spec('{"all": true, "changes": [{"service": "vmapi", "image": "%s"}]}'
                     % pinned.uuid, origin="x.json")
    p = plan(state, doc.changes, PlanOptions().merged(doc.options), config())
    assert [c.image for c in p.changes if c.service.name == "vmapi"] == [pinned]


# -- locks and minimums ---------------------------------------------------------------

def test_rabbitmq_and_portolan_locks() -> None:
    dc = DC()
    stale(dc, "rabbitmq")
    stale(dc, "portolan")
    with pytest.raises(UpdateError) as e:
        run(dc, "rabbitmq")
    assert e.value.message == ('rabbitmq updates are locked: {"service":"rabbitmq",'
                               '"type":"update-service"} (use --force-rabbitmq flag)')
    with pytest.raises(UpdateError) as e:
        run(dc, "portolan")
    assert e.value.message == ('portolan updates are locked: {"service":"portolan",'
                               '"type":"update-service"} (use --force-data-path flag)')
    assert len(run(dc, "rabbitmq", "portolan", force_rabbitmq=True,
                   force_data_path=True).changes) == 2


def test_up_to_date_rabbitmq_does_not_trip_the_lock() -> None:
    dc = DC()
    dc.vm_service("rabbitmq", dc.image("rabbitmq", "20240101"))
    assert run(dc, "rabbitmq").empty


def test_minimum_platform() -> None:
    dc = DC()
    old_cn = dc.server("cn-old", platform="20120101T000000Z")
    stale(dc, "vmapi", servers=[old_cn])
    inst = dc.instances[-1]
    with pytest.raises(UpdateError) as e:
        run(dc, "vmapi")
    assert e.value.message == (
        f'insufficient platform for service "vmapi" instance "{inst.instance}" on server '
        f'"{old_cn.uuid}" (current platform is "20120101T000000Z", require minimum '
        '"20130606T000000Z")')


def test_minimum_image_and_bypass() -> None:
    dc = DC()
    stale(dc, "vmapi")
    cfg = config(min_images={"vmapi": "20240301T000000Z"})
    with pytest.raises(UpdateError) as e:
        run(dc, "vmapi", cfg=cfg)
    assert e.value.message == ('image for service "vmapi" is too old for sdcadm update (min '
                               'image build date is "20240301T000000Z" current image build '
                               'date is "20240101T000000Z")')
    assert run(dc, "vmapi", cfg=cfg, force_bypass_min_image=True).changes


def test_minimum_image_unknown_version_suggests_import() -> None:
    dc = DC()
    gone = dc.image("vmapi", "20231201", local=False, updates=False)
    new = dc.image("vmapi", "20240601", local=False)
    dc.service("vmapi")
    inst = dc.inst("vmapi", gone)
    object.__setattr__(inst, "version", None)
    with pytest.raises(UpdateError) as e:
        run(dc, f"vmapi@{new.uuid}")
    assert e.value.message == (
        f'cannot determine the build date of image {gone.uuid} of service "vmapi" instance '
        f'"{inst.instance}": import it into the local IMGAPI with `sdc-imgadm import '
        f"{gone.uuid} -S https://updates.example.com?channel=dev` or use "
        "--force-bypass-min-image")
    assert run(dc, f"vmapi@{new.uuid}", force_bypass_min_image=True).changes


def test_several_platform_problems_are_one_multi_error() -> None:
    dc = DC()
    cns = [dc.server(f"cn{n}", platform="20120101T000000Z") for n in range(2)]
    stale(dc, "vmapi", 2, servers=cns)
    with pytest.raises(MultiError) as e:
        run(dc, "vmapi")
    assert e.value.message.startswith("multiple (2) errors\n    error (Update): insufficient")
    assert e.value.exit_status == 2


def test_sapi_not_in_full_mode() -> None:
    dc = DC(sapi_mode="proto")
    stale(dc, "vmapi")
    with pytest.raises(UpdateError, match=r"^SAPI is not in full mode\. This could mean"):
        run(dc, "vmapi")


# -- conflicts ----------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (("papi", "papi"), 'conflict: cannot make multiple changes to the same service: '
     '{"type":"update-service","service":"papi"} and {"type":"update-service","service":"papi"}'),
    (("papi0", "papi0"), "conflict: cannot make multiple changes to the same instance: "
     '{"type":"update-instance","service":"papi","instance":"<papi0>"} and '
     '{"type":"update-instance","service":"papi","instance":"<papi0>"}'),
    (("papi", "papi0"), "conflict: cannot make changes to a service and an instance of that "
     'service: {"type":"update-service","service":"papi"} and '
     '{"type":"update-instance","service":"papi","instance":"<papi0>"}'),
])
def test_conflicts(args, message) -> None:
    dc = DC()
    stale(dc, "papi", 2)
    with pytest.raises(UpdateError) as e:
        run(dc, *args)
    assert e.value.message == message.replace("<papi0>", dc.instances[0].instance)


# -- routing and refusals -----------------------------------------------------------

def test_manatee_instances_cannot_be_updated_one_by_one() -> None:
    dc = DC()
    stale(dc, "manatee", 3, image_name="sdc-postgres")
    with pytest.raises(UpdateError,
                       match="^Individual update of manatee instances is not allowed$"):
        run(dc, "manatee0")


def test_deposed_manatee_peer_refuses_the_update() -> None:
    dc = DC()
    stale(dc, "manatee", 3, image_name="sdc-postgres")
    m = dc.instances
    topo = {"manatee": {m[0].instance: "primary", m[1].instance: "sync",
                        m[2].instance: "deposed"}}
    with pytest.raises(UpdateError) as e:
        run(dc, "manatee", topology=topo)
    assert e.value.message == (f"manatee shard has a deposed peer ({m[2].instance}): rebuild it "
                               'with "manatee-adm rebuild" before updating manatee')


def test_imgapi_only_as_a_single_headnode_instance() -> None:
    dc = DC()
    cn = dc.server("cn1")
    stale(dc, "imgapi", 2, servers=[dc.hn, cn])
    with pytest.raises(UpdateError) as e:
        run(dc, "imgapi")
    assert e.value.message == ('the "imgapi" service can only be updated when it has a single '
                               "instance on the headnode (it has 2: imgapi0 on headnode, "
                               "imgapi1 on cn1)")


def test_non_ha_multi_instance_service_is_planned_with_a_note() -> None:
    dc = DC()
    stale(dc, "vmapi", 2)
    (change,) = run(dc, "vmapi").changes
    assert len(change.instances) == 2
    assert change.notes == ('"vmapi" is not HA-ready: its instances are updated one at a time '
                            "and the service may be briefly unavailable",)
    dc2 = DC()
    stale(dc2, "papi", 2)
    assert run(dc2, "papi").changes[0].notes == ()


def test_unsupported_services_are_refused_not_dropped() -> None:
    dc = DC()
    stale(dc, "zookeeper")
    stale(dc, "papi")
    with pytest.raises(UpdateError) as e:
        run(dc, "zookeeper", "papi")
    assert e.value.message == ("do not support the following changes:\n"
                               '{"type":"update-service","service":"zookeeper","image":null}')


def test_delete_kinds_validate_but_are_not_supported() -> None:
    dc = DC()
    stale(dc, "papi")
    doc = parse_spec('{"type": "delete", "instance": "papi0"}')
    with pytest.raises(UpdateError, match="^do not support the following changes:"):
        plan(dc.state(), doc.changes, PlanOptions(), config())


# -- agents -------------------------------------------------------------------------

def agents_dc(n: int = 4) -> DC:
    dc = DC()
    old, mid = dc.image("cn-agent", "20240101"), dc.image("cn-agent", "20240301")
    dc.image("cn-agent", "20240601", local=False)
    dc.service("cn-agent", type="agent")
    servers = [dc.hn] + [dc.server(f"cn{i}") for i in range(1, n)]
    for k, s in enumerate(servers):
        dc.inst("cn-agent", mid if k == 1 else old, server=s, type="agent")
    return dc


def test_agent_service_across_servers() -> None:
    p = run(agents_dc(), "cn-agent")
    (change,) = p.changes
    assert change.type == "update-agent" and change.procedure == "agent"
    assert len(change.servers) == 4 and p.options["concurrency"] == 5


def test_servers_option_restricts_agents_and_unknown_servers_fail() -> None:
    p = run(agents_dc(), "cn-agent", servers=("cn1,cn2",), concurrency=2)
    (change,) = p.changes
    assert sorted(i.hostname for i in change.instances) == ["cn1", "cn2"]
    assert p.options["concurrency"] == 2
    with pytest.raises(UpdateError, match='^unknown servers "nope", "cn9"$'):
        run(agents_dc(), "cn-agent", servers=("nope", "cn9"))


def test_one_agent_by_server_and_by_instance_uuid() -> None:
    dc = agents_dc()
    (change,) = run(dc, "cn2/cn-agent").changes
    assert [i.hostname for i in change.instances] == ["cn2"]
    agent = dc.instances[3]
    (change,) = run(dc, agent.instance).changes
    assert change.type == "update-agent" and [i.hostname for i in change.instances] == ["cn3"]


# -- platforms ----------------------------------------------------------------------

def platform_plan(dc: DC, **change) -> Plan:
    req = {"type": "update-platform", "platform": "20250101T000000Z", **change}
    doc = parse_spec(json.dumps({"changes": [req]}), origin="p.json")
    return plan(dc.state(), doc.changes, PlanOptions(), config())


def test_platform_by_selector_skips_servers_already_there() -> None:
    dc = DC()
    for n in range(1, 5):
        dc.server(f"cn{n}", platform="20250101T000000Z" if n == 4 else "20240101T000000Z")
    (change,) = platform_plan(dc, selector="all", max_unavailable=2).changes
    assert [i.hostname for i in change.instances] == ["cn1", "cn2", "cn3", "headnode"]
    assert [i.hostname for i in change.already] == ["cn4"]


@pytest.mark.parametrize("change, message", [
    ({"platform": "19990101T000000Z", "selector": "all"}, 'unknown platform "19990101T000000Z"'),
    ({"servers": ["cn1", "ghost"]}, 'unknown SDC server "ghost"'),
    ({"servers": ["ghost1", "ghost2"]}, 'unknown SDC servers "ghost1, ghost2"'),
    ({"selector": "db*"}, 'no servers match selector "db*"'),
])
def test_platform_bad_input(change, message) -> None:
    dc = DC()
    dc.server("cn1")
    with pytest.raises(UpdateError) as e:
        platform_plan(dc, **change)
    assert e.value.message.startswith(message + " from {")


def test_two_platform_changes_on_one_server_conflict() -> None:
    dc = DC()
    dc.server("cn1")
    reqs = [ChangeRequest(type="update-platform", platform="20250101T000000Z", servers=("cn1",),
                          max_unavailable=1, source={"n": i}) for i in range(2)]
    with pytest.raises(UpdateError,
                       match="^conflict: cannot make multiple changes to the same server"):
        plan(dc.state(), reqs, PlanOptions(), config())


# -- downloads and --just-images -----------------------------------------------------

def test_downloads_with_origins_oldest_generation_first() -> None:
    dc = DC()
    base = dc.image("origin-base", "20230101", local=False)
    mid = dc.image("origin-mid", "20230201", local=False, origin=base)
    old = dc.image("vmapi", "20240101")
    new_v = dc.image("vmapi", "20240601", local=False, origin=mid)
    old_p = dc.image("papi", "20240101")
    new_p = dc.image("papi", "20240601", local=False, origin=mid)
    dc.vm_service("vmapi", old)
    dc.vm_service("papi", old_p)
    p = run(dc, "vmapi", "papi")
    assert [i.uuid for i in p.downloads] == [base.uuid, mid.uuid, new_p.uuid, new_v.uuid]


def test_present_images_are_skipped_and_unactivated_reimported() -> None:
    dc = DC()
    old = dc.image("vmapi", "20240101")
    new = dc.image("vmapi", "20240601", state="unactivated")
    dc.vm_service("vmapi", old)
    p = run(dc, "vmapi")
    assert [(i.uuid, i.state) for i in p.downloads] == [(new.uuid, "unactivated")]
    dc2 = DC()
    old2 = dc2.image("vmapi", "20240101")
    dc2.image("vmapi", "20240601")
    dc2.vm_service("vmapi", old2)
    assert run(dc2, "vmapi").downloads == ()


def test_just_images_keeps_only_downloads() -> None:
    dc = DC()
    stale(dc, "vmapi")
    p = run(dc, "vmapi", just_images=True)
    assert p.changes == () and len(p.downloads) == 1 and p.just_images


def test_plan_records_the_state_fingerprint() -> None:
    dc = DC()
    stale(dc, "vmapi")
    state = dc.state()
    p = plan(state, requests_from_args(["vmapi"], state.services), PlanOptions(), config())
    assert p.fingerprint == state.fingerprint()
    assert p.fingerprint_facts == state.fingerprint_facts()


def test_agent_installed_nowhere_says_so() -> None:
    dc = DC()
    dc.service("net-agent", type="agent")
    dc.image("net-agent", "20240601")
    p = run(dc, "net-agent")
    assert p.empty
    assert p.options["warnings"] == ['warning: agent "net-agent" is not installed on any '
                                     "server: nothing to update"]


def test_servers_option_with_a_vm_instance_elsewhere() -> None:
    dc = DC()
    cn1 = dc.server("cn1")
    stale(dc, "papi", 2, servers=[dc.hn, cn1])
    with pytest.raises(UpdateError) as e:
        run(dc, "papi0", servers=("cn1",))
    assert e.value.message == f'Instance "{dc.instances[0].instance}" is not on server(s) "cn1"'
    assert run(dc, "papi1", servers=("cn1",)).changes


def test_sdcadm_itself_is_refused_with_the_reason() -> None:
    dc = DC()
    with pytest.raises(UpdateError) as e:
        run(dc, "sdcadm")
    assert e.value.message == ('"sdcadm update" does not update sdcadm itself: '
                               'use "sdcadm self-update --latest"')
