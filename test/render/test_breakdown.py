"""The confirmation breakdown, compared as exact text."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "planner"))

from dcbuilder import DC, config  # noqa: E402

from sdcadm.plan import Plan  # noqa: E402
from sdcadm.planner import PlanOptions, parse_spec, plan, requests_from_args  # noqa: E402
from sdcadm.render.breakdown import render_breakdown  # noqa: E402

MiB = 1048576


def planned(dc: DC, *args: str, topology=None, **opts) -> Plan:
    state = dc.state()
    names = list(state.services) + [i.service for i in state.instances if i.type == "agent"]
    return plan(state, requests_from_args(args, names), PlanOptions(**opts), config(),
                topology=topology)


def test_download_and_per_source_image_breakout() -> None:
    dc = DC()
    a = dc.image("vmapi", "20240101")
    b = dc.image("vmapi", "20240201")
    new = dc.image("vmapi", "20240529", local=False, size=69 * MiB + 5000)
    dc.service("vmapi", a)
    for _ in range(3):
        dc.inst("vmapi", a)
    dc.inst("vmapi", b)
    dc.inst("vmapi", new)
    assert render_breakdown(planned(dc, "vmapi")) == f"""
This update will make the following changes:
    download 1 image (69 MiB):
        image {new.uuid} (vmapi@{new.version})
    update "vmapi" service (5 instances) to image
            {new.uuid} (vmapi@{new.version}):
        3 instances will be updated from image
                {a.uuid} (vmapi@{a.version})
        1 instance will be updated from image
                {b.uuid} (vmapi@{b.version})
        1 instance already at image {new.uuid}
        note: "vmapi" is not HA-ready: its instances are updated one at a time and the service may
            be briefly unavailable

download 1 image (69 MiB); update 1 service; 0 reboots.
"""


def test_plural_sizes_and_single_instance() -> None:
    dc = DC()
    v_old, p_old = dc.image("vmapi", "20240101"), dc.image("papi", "20240101")
    v_new = dc.image("vmapi", "20240601", local=False, size=100 * MiB)
    p_new = dc.image("papi", "20240601", local=False, size=71 * MiB + MiB - 1)
    dc.vm_service("vmapi", v_old)
    dc.vm_service("papi", p_old)
    text = render_breakdown(planned(dc, "vmapi", "papi"))
    assert text.splitlines()[2:5] == [
        "    download 2 images (171 MiB):",
        f"        image {p_new.uuid} (papi@{p_new.version})",
        f"        image {v_new.uuid} (vmapi@{v_new.version})",
    ]
    assert (f'    update "vmapi" service (1 instance) to image\n            {v_new.uuid} '
            f"(vmapi@{v_new.version}):\n        1 instance will be updated from image\n"
            f"                {v_old.uuid} (vmapi@{v_old.version})\n") in text


def test_forced_downgrade_breakout() -> None:
    dc = DC()
    old = dc.image("vmapi", "20240101")
    cur = dc.image("vmapi", "20240601")
    dc.vm_service("vmapi", cur, 2)
    text = render_breakdown(planned(dc, f"vmapi@{old.uuid}", allow_downgrade=True))
    assert text.splitlines()[2:-2] == [
        '    update "vmapi" service (2 instances) to image',
        f"            {old.uuid} (vmapi@{old.version}):",
        "        2 instances forced downgrade from image",
        f"                {cur.uuid} (vmapi@{cur.version})",
        '        note: "vmapi" is not HA-ready: its instances are updated one at a time and the '
        "service may",
        "            be briefly unavailable",
    ]


def test_force_same_image_and_instance_change() -> None:
    dc = DC()
    cur = dc.image("papi", "20240601")
    dc.vm_service("papi", cur, 2)
    i1 = dc.instances[1]
    text = render_breakdown(planned(dc, "papi1", force_same_image=True))
    assert text.splitlines()[2:-2] == [
        f'    update instance "{i1.instance}" (papi1) of service "papi" to image',
        f"            {cur.uuid} (papi@{cur.version}):",
        "        1 instance will be reprovisioned at the same image",
        f"                {cur.uuid} (papi@{cur.version})",
        "                (--force-same-image)",
    ]


def test_agents_block() -> None:
    dc = DC()
    old = dc.image("cn-agent", "20240101")
    new = dc.image("cn-agent", "20240601")
    dc.service("cn-agent", type="agent")
    servers = [dc.hn] + [dc.server(f"cn{i}") for i in range(1, 4)]
    for k, s in enumerate(servers):
        dc.inst("cn-agent", new if k == 3 else old, server=s, type="agent")
    text = render_breakdown(planned(dc, "cn-agent"))
    assert text.splitlines()[2:-2] == [
        '    update "cn-agent" service (4 instances) on 3 servers to image',
        f"            {new.uuid} (cn-agent@{new.version}):",
        "        3 instances will be updated from image",
        f"                {old.uuid} (cn-agent@{old.version})",
        f"        1 instance already at image {new.uuid}",
    ]


def test_manatee_order_line() -> None:
    dc = DC()
    cn1, cn2 = dc.server("cn1"), dc.server("cn2")
    old = dc.image("sdc-postgres", "20240101")
    new = dc.image("sdc-postgres", "20240601")
    dc.vm_service("manatee", old, 3, servers=[dc.hn, cn1, cn2])
    m0, m1, m2 = dc.instances
    topo = {"manatee": {m0.instance: "primary", m1.instance: "sync", m2.instance: "async"}}
    text = render_breakdown(planned(dc, "manatee", topology=topo))
    assert text.splitlines()[2:-2] == [
        '    update "manatee" service (3 instances) to image',
        f"            {new.uuid} (sdc-postgres@{new.version}):",
        "        3 instances will be updated from image",
        f"                {old.uuid} (sdc-postgres@{old.version})",
        "        order: shard check, manatee2 (async), manatee1 (sync), manatee0 (primary)",
    ]


def test_platform_block() -> None:
    dc = DC()
    for n in range(1, 4):
        dc.server(f"cn{n}", platform="20250101T000000Z" if n == 3 else "20240101T000000Z")
    req = {"type": "update-platform", "platform": "20250101T000000Z", "selector": "all",
           "max_unavailable": 2}
    doc = parse_spec(json.dumps({"changes": [req]}), origin="p.json")
    text = render_breakdown(plan(dc.state(), doc.changes, PlanOptions(), config()))
    assert text == """
This update will make the following changes:
    update platform to 20250101T000000Z on 3 servers (at most 2 unavailable at once):
        3 servers will reboot from platform 20240101T000000Z
        1 server already at platform 20250101T000000Z
        order:
            1. cn1
            2. cn2
            3. headnode: headnode (sdcadm runs here): last

3 reboots.
"""


def test_saved_plan_renders_the_same() -> None:
    dc = DC()
    old = dc.image("vmapi", "20240101")
    dc.image("vmapi", "20240601", local=False)
    dc.vm_service("vmapi", old, 2)
    p = planned(dc, "vmapi")
    again = Plan.from_json(json.loads(json.dumps(p.to_json())))
    assert render_breakdown(again) == render_breakdown(p)


def test_lines_fit_100_columns_and_the_plan_is_summed_up() -> None:
    dc = DC()
    old = dc.image("mantav2-nameservice", "20240101")
    new = dc.image("mantav2-nameservice", "20240601", local=False, size=1536 * MiB)
    dc.vm_service("binder", old, 3, servers=[dc.hn, dc.server("cn1"), dc.server("cn2")])
    a_old = dc.image("cn-agent", "20240101")
    dc.image("cn-agent", "20240601")
    dc.service("cn-agent", type="agent")
    for s in (dc.hn, dc.server("cn3")):
        dc.inst("cn-agent", a_old, server=s, type="agent")
    text = render_breakdown(planned(dc, "binder", "cn-agent"))
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 100, max(lines, key=len)
    head = lines.index('    update "binder" service (3 instances) to image')
    # uuid and name together are too wide here: each on its own line
    assert lines[head + 1:head + 3] == [
        f"            {new.uuid}", f"            (mantav2-nameservice@{new.version}):"]
    assert lines[head + 3] == "        3 instances will be updated from image"
    assert lines[head + 4:head + 6] == [
        f"                {old.uuid}", f"                (mantav2-nameservice@{old.version})"]
    assert lines[-1] == ("download 1 image (1.5 GiB); update 1 service, 1 agent on 2 servers; "
                         "0 reboots.")
    assert lines[-2] == ""


def test_fit_wraps_between_words_with_a_hanging_indent() -> None:
    from sdcadm.render.breakdown import fit

    assert fit("x" * 100) == ["x" * 100]
    assert fit("    " + "word " * 30) == [
        "    " + ("word " * 19).strip(), "        " + ("word " * 11).strip()]
