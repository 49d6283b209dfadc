"""Rows as the original prints them: JSON shape, report blocks, sort, the whole output,
and the command-line filters (pure)."""
from __future__ import annotations

import json

import pytest

from sdcadm.cli.health import parse_args, render, sorted_rows
from sdcadm.errors import UsageError
from sdcadm.health import HealthRow, report, severe_row

VM = HealthRow("vm", "u-vm", "imgapi", "headnode", "imgapi0", "s-hn", True)
BAD_VM = HealthRow("vm", "u-bad", "vmapi", "headnode", "vmapi0", "s-hn", False,
                   ("SMF svcs check failed: stdout: svc:/smartdc/application/vmapi:default "
                    "(vmapi)\n State: maintenance\n",
                    "ping check to 10.0.0.2 failed with HTTP code 500"))
AGENT = HealthRow("agent", "u-ag", "cn-agent", "cn1", None, "s-cn", True)
BAD_AGENT = HealthRow("agent", "u-fw", "firewaller", "cn1", None, "s-cn", False,
                      ("server cn1 (10.0.0.8): cannot connect: Connection refused",))
GLOBAL = HealthRow("global", "s-hn", "global", "headnode", "global", "s-hn", True)


def test_to_json_has_the_original_keys_in_order():
    assert list(VM.to_json()) == ["type", "healthy", "hostname", "instance", "alias", "service"]
    assert AGENT.to_json() == {"type": "agent", "healthy": True, "hostname": "cn1",
                               "instance": "u-ag", "service": "cn-agent"}
    assert BAD_AGENT.to_json()["health_errors"] == [
        {"message": "server cn1 (10.0.0.8): cannot connect: Connection refused"}]
    assert severe_row("sapi client error (X): down").to_json() == {
        "type": "triton", "healthy": False, "hostname": "headnode", "health_errors": [
            {"message": "sapi client error (X): down"},
            {"message": "Triton is experiencing severe errors that prevent detailed health "
                        "checks"}]}


@pytest.mark.parametrize("row,expected", [
    (BAD_VM, """\
    Type: vm
Instance: u-bad
 Service: vmapi
Hostname: headnode
   Alias: vmapi0
   Error: SMF svcs check failed: stdout: svc:/smartdc/application/vmapi:default (vmapi)
   Error:  State: maintenance
   Error: --
   Error: ping check to 10.0.0.2 failed with HTTP code 500"""),
    (BAD_AGENT, """\
    Type: agent
Instance: u-fw
 Service: firewaller
Hostname: cn1
   Error: server cn1 (10.0.0.8): cannot connect: Connection refused"""),
    (severe_row("boom"), """\
    Type: triton
Hostname: headnode
   Error: boom
   Error: --
   Error: Triton is experiencing severe errors that prevent detailed health checks"""),
])
def test_report(row, expected):
    assert report(row) == expected


def test_sort_is_minus_type_then_service_hostname_instance():
    rows = [AGENT, BAD_AGENT, GLOBAL, BAD_VM, VM,
            HealthRow("vm", "u-a", "imgapi", "cn1", "imgapi1", "s-cn", True)]
    assert [(r.type, r.service, r.hostname) for r in sorted_rows(rows)] == [
        ("vm", "imgapi", "cn1"), ("vm", "imgapi", "headnode"), ("vm", "vmapi", "headnode"),
        ("global", "global", "headnode"),
        ("agent", "cn-agent", "cn1"), ("agent", "firewaller", "cn1")]


ROWS = sorted_rows([VM, BAD_VM, GLOBAL, AGENT, BAD_AGENT])
TABLE = """\
INSTANCE  SERVICE     HOSTNAME  ALIAS    HEALTHY
u-vm      imgapi      headnode  imgapi0  true
u-bad     vmapi       headnode  vmapi0   false
s-hn      global      headnode  global   true
u-ag      cn-agent    cn1       -        true
u-fw      firewaller  cn1       -        false
"""


@pytest.mark.parametrize("opts,expected", [
    ({}, TABLE + "\n" + report(BAD_VM) + "\n\n" + report(BAD_AGENT) + "\n"),
    # -H: columns sized by their cells alone
    ({"no_header": True}, """\
u-vm   imgapi      headnode  imgapi0  true
u-bad  vmapi       headnode  vmapi0   false
s-hn   global      headnode  global   true
u-ag   cn-agent    cn1       -        true
u-fw   firewaller  cn1       -        false
""" + "\n" + report(BAD_VM) + "\n\n" + report(BAD_AGENT) + "\n"),
    # -q: no table, no blank line before the first block
    ({"quiet": True}, report(BAD_VM) + "\n\n" + report(BAD_AGENT) + "\n"),
    ({"quiet": True, "no_header": True}, report(BAD_VM) + "\n\n" + report(BAD_AGENT) + "\n"),
])
def test_render_plain(opts, expected):
    kw = {"as_json": False, "quiet": False, "no_header": False, **opts}
    assert render(ROWS, **kw) == expected


def test_render_healthy_is_just_the_table_and_quiet_prints_nothing():
    rows = sorted_rows([VM, GLOBAL, AGENT])
    out = render(rows, as_json=False, quiet=False, no_header=False)
    assert out.splitlines()[0] == "INSTANCE  SERVICE   HOSTNAME  ALIAS    HEALTHY"
    assert len(out.splitlines()) == 4
    assert render(rows, as_json=False, quiet=True, no_header=False) == ""
    assert render([], as_json=False, quiet=False, no_header=True) == ""


@pytest.mark.parametrize("quiet,expected", [
    (False, [r.to_json() for r in ROWS]),
    (True, [BAD_VM.to_json(), BAD_AGENT.to_json()]),
])
def test_render_json_ignores_table_options(quiet, expected):
    out = render(ROWS, as_json=True, quiet=quiet, no_header=True)
    assert json.loads(out) == expected
    assert out == json.dumps(expected, indent=4) + "\n"


@pytest.mark.parametrize("args,types,words", [
    ((), None, []),
    (("imgapi", "cn-agent"), None, ["imgapi", "cn-agent"]),
    (("type=vm",), {"vm"}, []),
    (("type=agent", "imgapi"), {"agent"}, ["imgapi"]),
    (("type=vm", "type=agent"), None, []),  # both types: no filter
    (("type=vm", "type=vm"), {"vm"}, []),
])
def test_parse_args(args, types, words):
    assert parse_args(args) == (types, words)


@pytest.mark.parametrize("args,message", [
    (("svc=imgapi",), "invalid argument: svc=imgapi"),
    (("type=zone",), "invalid instance type: zone"),
    (("type=",), "invalid instance type: "),
])
def test_parse_args_refuses(args, message):
    with pytest.raises(UsageError) as e:
        parse_args(args)
    assert e.value.message == message
