"""plan(state, requests, options, config): candidate images, no-ops, instances, downgrades."""
from __future__ import annotations

import pytest
from dcbuilder import DC, config, plan_for

from sdcadm.errors import UpdateError
from sdcadm.plan import Plan
from sdcadm.planner import PlanOptions, plan


def run(dc: DC, *args: str, **opts) -> Plan:
    return plan_for(dc, *args, **opts)


def outline(p: Plan) -> list[tuple]:
    """(service, procedure, target version day, [to update], [already]) per change."""
    return [(c.service.name if c.service else c.platform, c.procedure,
             c.image.version.split("-")[1][:8] if c.image else None,
             sorted(i.alias or i.hostname for i in c.instances),
             sorted(i.alias or i.hostname for i in c.already)) for c in p.changes]


@pytest.fixture
def dc() -> DC:
    return DC()


# -- candidate images ---------------------------------------------------------------

def test_latest_newer_image_is_chosen(dc: DC) -> None:
    a = dc.image("vmapi", "20240101")
    dc.image("vmapi", "20240201", local=False)
    dc.image("vmapi", "20240301", local=False)
    dc.vm_service("vmapi", a)
    assert outline(run(dc, "vmapi")) == [("vmapi", "stateless", "20240301", ["vmapi0"], [])]


def test_mixed_current_images_update_only_the_stale_ones(dc: DC) -> None:
    a, c = dc.image("vmapi", "20240101"), dc.image("vmapi", "20240301")
    dc.service("vmapi", a)
    dc.inst("vmapi", a)
    dc.inst("vmapi", c)
    p = run(dc, "vmapi")
    assert outline(p) == [("vmapi", "stateless", "20240301", ["vmapi0"], ["vmapi1"])]


def test_nothing_older_than_the_oldest_image_in_use_is_proposed(dc: DC) -> None:
    dc.image("vmapi", "20230101", local=False)
    b = dc.image("vmapi", "20240101")
    dc.vm_service("vmapi", b)
    assert run(dc, "vmapi").empty


def test_up_to_date_is_a_noop_and_force_same_image_reprovisions(dc: DC) -> None:
    a = dc.image("papi", "20240101")
    dc.vm_service("papi", a, 2)
    assert run(dc, "papi").empty
    forced = run(dc, "papi", force_same_image=True)
    assert outline(forced) == [("papi", "ha", "20240101", ["papi0", "papi1"], [])]


def test_service_without_instances_updates_the_configuration_only(dc: DC) -> None:
    a = dc.image("amon", "20240101")
    dc.image("amon", "20240201", local=False)
    dc.service("amon", a)
    (change,) = run(dc, "amon").changes
    assert change.instances == () and change.image.version.startswith("master-20240201")
    assert change.notes == ('there are no "amon" instances: only the service configuration '
                            "will be updated",)


@pytest.mark.parametrize("service, names, current, candidate", [
    ("binder", ("manta-nameservice", "mantav2-nameservice"), "20240101", "20240201"),
    ("moray", ("manta-moray", "mantav2-moray"), "20240101", "20240201"),
    ("mahi", ("manta-authcache", "mantav2-authcache"), "20240101", "20240201"),
])
def test_multi_name_services_take_any_allowed_name(dc: DC, service, names, current,
                                                   candidate) -> None:
    old = dc.image(names[0], current)
    new = dc.image(names[1], candidate, local=False)
    dc.image("something-else", "20250101", local=False)
    dc.vm_service(service, old)
    (change,) = run(dc, service).changes
    assert change.image == new


def test_channel_is_the_plan_channel_and_option_wins(dc: DC) -> None:
    a = dc.image("vmapi", "20240101")
    dc.image("vmapi", "20240201", local=False)
    dc.vm_service("vmapi", a)
    assert run(dc, "vmapi").channel == "dev"
    assert run(dc, "vmapi", channel="release").channel == "release"


# -- explicit images and versions -----------------------------------------------------

def test_explicit_image_and_version(dc: DC) -> None:
    a = dc.image("vmapi", "20240101")
    b = dc.image("vmapi", "20240201", local=False)
    dc.image("vmapi", "20240301", local=False)
    dc.vm_service("vmapi", a)
    assert run(dc, f"vmapi@{b.uuid}").changes[0].image == b
    assert run(dc, f"vmapi@{b.version}").changes[0].image == b


def test_image_of_another_service_is_refused(dc: DC) -> None:
    a = dc.image("binder-old", "20240101")
    p = dc.image("papi", "20240101")
    dc.vm_service("binder", dc.image("manta-nameservice", "20240101"))
    dc.vm_service("papi", p)
    with pytest.raises(UpdateError) as e:
        run(dc, f"binder@{p.uuid}")
    assert e.value.message == (
        f"image {p.uuid} (papi@{p.version}) is invalid for service binder, valid images must "
        f'have name "mantav2-nameservice" or "manta-nameservice" (update change: '
        f'{{"service":"binder","image":"{p.uuid}","type":"update-service"}})')
    del a


def test_unknown_image_and_version(dc: DC) -> None:
    dc.vm_service("vmapi", dc.image("vmapi", "20240101"))
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(UpdateError) as e:
        run(dc, f"vmapi@{missing}")
    assert e.value.message == (f'unknown image "{missing}" from '
                               f'{{"service":"vmapi","image":"{missing}","type":"update-service"}}')
    with pytest.raises(UpdateError) as e:
        run(dc, "vmapi@1.2.3")
    assert e.value.message == ('no image with version "1.2.3" and name "vmapi" was found '
                               '(update change: {"service":"vmapi","version":"1.2.3",'
                               '"type":"update-service"})')


def test_downgrade_needs_allow_downgrade(dc: DC) -> None:
    old = dc.image("vmapi", "20240101")
    cur = dc.image("vmapi", "20240301")
    dc.service("vmapi", cur)
    inst = dc.inst("vmapi", cur)
    with pytest.raises(UpdateError) as e:
        run(dc, f"vmapi@{old.uuid}")
    assert e.value.message == (
        f"image {old.uuid} (vmapi@{old.version}) is older than image {cur.uuid} "
        f'(vmapi@{cur.version}) in use by instance "{inst.instance}" (vmapi0) of service '
        f'"vmapi": use --allow-downgrade to downgrade (change: {{"service":"vmapi",'
        f'"image":"{old.uuid}","type":"update-service"}})')
    p = run(dc, f"vmapi@{old.uuid}", allow_downgrade=True)
    assert p.changes[0].downgrade and p.options["downgrades"] == [inst.instance]


# -- instances ----------------------------------------------------------------------

def test_instance_by_alias_or_uuid_touches_only_that_instance(dc: DC) -> None:
    a = dc.image("papi", "20240101")
    dc.image("papi", "20240201", local=False)
    dc.service("papi", a)
    i0 = dc.inst("papi", a)
    dc.inst("papi", a)
    for ident in ("papi0", i0.instance):
        (change,) = run(dc, ident).changes
        assert change.type == "update-instance"
        assert [i.instance for i in change.instances] == [i0.instance]


def test_instance_already_on_target_is_a_noop_even_if_others_are_not(dc: DC) -> None:
    a, b = dc.image("papi", "20240101"), dc.image("papi", "20240201")
    dc.service("papi", a)
    dc.inst("papi", a)
    dc.inst("papi", b)
    assert run(dc, f"papi1@{b.uuid}").empty


def test_unknown_instance_or_service(dc: DC) -> None:
    with pytest.raises(UpdateError) as e:
        run(dc, "nosuch0")
    assert e.value.message == ('unknown SDC instance or service "nosuch0" from '
                               '{"instance":"nosuch0","type":"update-instance"}')


# -- stdin/spec requests that name an unknown service -----------------------------------

def test_unknown_service_in_a_spec(dc: DC) -> None:
    from sdcadm.planner import parse_spec

    doc = parse_spec('{"service": "nosuch"}')
    with pytest.raises(UpdateError) as e:
        plan(dc.state(), doc.changes, PlanOptions(), config())
    assert e.value.message == ('unknown service "nosuch" from '
                               '{"service":"nosuch","type":"update-service"}')


def test_candidate_rule_never_moves_an_instance_backwards(dc: DC) -> None:
    # moray1 runs a build that is not in this channel and newer than its latest image.
    a = dc.image("mantav2-moray", "20240101")
    b = dc.image("mantav2-moray", "20240301", local=False)
    c = dc.image("mantav2-moray", "20240601", updates=False)
    dc.service("moray", a)
    dc.inst("moray", a)
    dc.inst("moray", c)
    p = run(dc, "moray")
    (change,) = p.changes
    assert change.image == b and not change.downgrade
    assert [i.alias for i in change.instances] == ["moray0"]
    assert [i.alias for i in change.already] == ["moray1"]
    from sdcadm.render.breakdown import render_breakdown

    lines = render_breakdown(p).splitlines()
    at = lines.index("        1 instance left at newer image")
    assert lines[at + 1:at + 3] == [f"                {c.uuid}",
                                    f"                (mantav2-moray@{c.version})"]


def test_version_shared_by_two_images_picks_the_latest_published(dc: DC) -> None:
    from dataclasses import replace

    a = dc.image("vmapi", "20240101")
    b = dc.image("vmapi", "20240201", local=False)
    c = replace(dc.image("vmapi", "20240301", local=False), version=b.version)
    dc.updates[c.uuid] = c
    dc.vm_service("vmapi", a)
    assert run(dc, f"vmapi@{b.version}").changes[0].image == c
