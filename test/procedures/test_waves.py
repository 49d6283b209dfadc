"""Expanding a scheduled plan: waves of services become parallel groups of chained steps."""
from __future__ import annotations

import json

from dcbuilder import DC, plan_for

from sdcadm.plan import Plan
from sdcadm.procedures import expand
from sdcadm.render.breakdown import render_breakdown


def datacenter() -> DC:
    dc = DC()
    for name, count in (("amon", 1), ("vmapi", 1), ("papi", 2), ("sdc", 1)):
        dc.vm_service(name, dc.image(name, "20240101"), count)
        dc.image(name, "20240601")
    return dc


def test_one_service_at_a_time_is_the_plan_order_without_groups() -> None:
    dc = datacenter()
    serial = expand(plan_for(dc, "amon", "vmapi", "papi", "sdc"))
    one = expand(plan_for(dc, "amon", "vmapi", "papi", "sdc", service_concurrency=1))
    assert one == serial
    assert [s.change for s in one if s.change != "download"] == \
        ["amon"] * 3 + ["vmapi"] * 3 + ["sdc"] * 3 + ["papi"] * 5
    assert {s.parallel for s in one if s.change != "download"} == {None}


def test_services_run_together_chained_and_the_machinery_after_them_alone() -> None:
    dc = datacenter()
    steps = expand(plan_for(dc, "amon", "vmapi", "papi", "sdc", service_concurrency=2))
    work = [s for s in steps if s.change != "download"]
    assert [s.change for s in work] == ["amon"] * 3 + ["sdc"] * 3 + ["papi"] * 5 + \
        ["vmapi"] * 3
    wave = [s for s in work if s.parallel]
    assert {s.parallel for s in wave} == {"wave:1"}
    assert {(s.concurrency, s.on_failure) for s in wave} == {(2, "stop")}
    assert {s.change for s in wave} == {"amon", "papi", "sdc"}
    # each step comes after the previous step of its own service, the first after none
    for service in ("amon", "papi", "sdc"):
        chain = [s for s in wave if s.change == service]
        assert chain[0].after == ()
        assert [s.after for s in chain[1:]] == [(prev.id,) for prev in chain[:-1]]
    # (stateless services before HA-ready ones, as the plan orders them); vmapi, the
    # machinery, runs alone after the wave
    assert all(s.parallel is None and s.after == () for s in work if s.change == "vmapi")
    # ids stay "<position>:<action>:<target>"
    assert [s.id for s in steps] == [f"{n}:{s.action}:{s.target}"
                                     for n, s in enumerate(steps, start=1)]


def test_a_saved_plan_expands_to_the_same_scheduled_steps() -> None:
    dc = datacenter()
    p = plan_for(dc, "amon", "vmapi", "papi", service_concurrency=3)
    again = Plan.from_json(json.loads(json.dumps(p.to_json())))
    assert expand(again) == expand(p)


def test_the_breakdown_shows_the_waves_only_when_services_run_together() -> None:
    dc = datacenter()
    text = render_breakdown(plan_for(dc, "amon", "vmapi", "papi", "sdc",
                                     service_concurrency=2))
    lines = text.splitlines()
    at = lines.index("    schedule (2 services at a time, --service-concurrency):")
    assert lines[at + 1:at + 3] == [
        "        wave 1, 2 at a time: amon, sdc, papi",
        "        wave 2, one at a time, each alone (the update machinery): vmapi",
    ]
    for opts in ({"service_concurrency": 1}, {}):
        assert "schedule (" not in render_breakdown(plan_for(dc, "amon", "vmapi", "papi",
                                                             **opts))
    assert "schedule (" not in render_breakdown(plan_for(dc, "amon", "vmapi",
                                                         service_concurrency=4))
