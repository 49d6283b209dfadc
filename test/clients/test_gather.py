"""The pure parts of gather: admin IPs, agent rows, channel resolution."""
from __future__ import annotations

import pytest

from sdcadm.gather import _agent_instances, _server, resolve_channel, server_admin_ip, vm_admin_ip
from sdcadm.model import Channel


@pytest.mark.parametrize("server, ip", [
    ({"sysinfo": {"Admin IP": "10.0.0.1"}}, "10.0.0.1"),
    ({"sysinfo": {"Network Interfaces": {
        "e0": {"ip4addr": "192.168.1.2", "NIC Names": ["external"]},
        "e1": {"ip4addr": "10.0.0.2", "NIC Names": ["admin"]}}}}, "10.0.0.2"),
    ({"sysinfo": {"Admin NIC Tag": "adm", "Network Interfaces": {
        "e1": {"ip4addr": "10.0.0.3", "NIC Names": ["adm"]}}}}, "10.0.0.3"),
    ({"sysinfo": {}}, None),
    ({}, None),
])
def test_server_admin_ip(server, ip) -> None:
    assert server_admin_ip(server) == ip


@pytest.mark.parametrize("nics, ip", [
    ([{"nic_tag": "external", "ip": "1.2.3.4"}, {"nic_tag": "admin", "ip": "10.0.0.9"}],
     "10.0.0.9"),
    ([{"nic_tag": "Admin_rack_r1", "ip": "10.1.0.9"}], "10.1.0.9"),
    ([{"nic_tag": "administrator", "ip": "10.2.0.9"}], None),
    ([], None),
])
def test_vm_admin_ip(nics, ip) -> None:
    assert vm_admin_ip({"nics": nics}) == ip


def test_agents_fall_back_to_sysinfo() -> None:
    with_agents = _server({"uuid": "s1", "hostname": "cn1", "agents": [
        {"name": "cn-agent", "uuid": "a1", "image_uuid": "i1", "version": "2.0"}],
        "sysinfo": {"SDC Agents": [{"name": "old", "image_uuid": "x"}], "Admin IP": "10.0.0.5"}})
    from_sysinfo = _server({"uuid": "s2", "hostname": "cn2", "sysinfo": {
        "SDC Agents": [{"name": "vm-agent", "image_uuid": "i2", "version": "1.0"}]}})
    rows = _agent_instances([with_agents, from_sysinfo])
    assert [(r.instance, r.service, r.image, r.version, r.hostname, r.server_ip) for r in rows] == [
        ("a1", "cn-agent", "i1", "2.0", "cn1", "10.0.0.5"),
        ("s2/vm-agent", "vm-agent", "i2", "1.0", "cn2", None),
    ]


CHANNELS = [Channel("dev", default=True), Channel("release")]


@pytest.mark.parametrize("explicit, metadata, expected", [
    ("release", {"update_channel": "dev"}, "release"),
    (None, {"update_channel": "release"}, "release"),
    (None, {}, "dev"),
])
def test_resolve_channel(explicit, metadata, expected) -> None:
    assert resolve_channel(explicit, metadata, CHANNELS) == expected
    assert resolve_channel(None, {}, [Channel("x")]) is None
