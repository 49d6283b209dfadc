"""`sdcadm check-health` against the simulated datacenter: SMF over SSH, pings over HTTP.

The expected table is computed here from raw API reads (plain `requests`), not from
sdcadm's own code, so a selection or sort bug shows up as a difference.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"
UNHEALTHY = "sdcadm check-health: error (Unhealthy): Some instances appear unhealthy\n"
NOT_CHECKED = {"cabase", "cainstsvc", "agents_core"}
TYPE_ORDER = {"vm": 0, "global": 1, "agent": 2}  # -type: vm, global, agent


@pytest.fixture
def conf(sim: Any, tmp_path: Path) -> str:
    """The simulator's configuration with short timeouts, so faults cost seconds."""
    data = json.loads(Path(sim.config_path).read_text())
    data["ssh"] = dict(data["ssh"], connectTimeout=2, commandTimeout=2)
    data["health"] = {"pingTimeout": 1, "commandTimeout": 1}
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def health(sdcadm: Any, conf: str) -> Any:
    def run(*args: str) -> Any:
        return sdcadm("--config", conf, "check-health", *args)
    return run


def get(sim: Any, service: str, path: str, **params: Any) -> Any:
    headers = {"Accept-Version": "~2"} if service == "sapi" else {}
    r = requests.get(sim.urls[service] + path, params=params, headers=headers, timeout=10)
    r.raise_for_status()
    return r.json()


def expected_rows(sim: Any) -> list[dict[str, Any]]:
    """What the original checks, read straight from the APIs, in `-type,service,hostname,
    instance` order."""
    app = get(sim, "sapi", "/applications", name="sdc")[0]
    kinds = {s["name"]: s.get("type") for s in get(sim, "sapi", "/services",
                                                   application_uuid=app["uuid"])}
    servers = get(sim, "cnapi", "/servers", extras="sysinfo,agents")
    hosts = {s["uuid"]: s["hostname"] for s in servers}
    rows = []
    for vm in get(sim, "vmapi", "/vms", state="active", owner_uuid=ADMIN):
        role = vm["tags"]["smartdc_role"]
        rows.append({"type": "vm", "instance": vm["uuid"], "service": role,
                     "hostname": hosts[vm["server_uuid"]], "alias": vm["alias"],
                     "server": vm["server_uuid"], "ip": vm["nics"][0]["ip"]})
    for s in servers:
        for a in s["agents"]:
            if a["name"] in NOT_CHECKED or kinds.get(a["name"]) != "agent":
                continue
            rows.append({"type": "agent", "instance": a["uuid"], "service": a["name"],
                         "hostname": s["hostname"], "alias": None, "server": s["uuid"],
                         "ip": s["sysinfo"]["Admin IP"]})
        if s["headnode"]:
            rows.append({"type": "global", "instance": s["uuid"], "service": "global",
                         "hostname": s["hostname"], "alias": "global", "server": s["uuid"],
                         "ip": s["sysinfo"]["Admin IP"]})
    rows.sort(key=lambda r: (TYPE_ORDER[r["type"]], r["service"], r["hostname"],
                             r["instance"]))
    return rows


def table(rows: list[dict[str, Any]], bad: set[str] = frozenset(),  # type: ignore[assignment]
          header: bool = True) -> str:
    cols = ["instance", "service", "hostname", "alias", "healthy"]
    cells = [[r["instance"], r["service"], r["hostname"], r["alias"] or "-",
              "false" if r["instance"] in bad else "true"] for r in rows]
    if header:
        cells.insert(0, [c.upper() for c in cols])
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                   + "\n" for line in cells)


def block(row: dict[str, Any], *errors: str) -> str:
    lines = [f"    Type: {row['type']}", f"Instance: {row['instance']}",
             f" Service: {row['service']}", f"Hostname: {row['hostname']}"]
    if row["alias"]:
        lines.append(f"   Alias: {row['alias']}")
    text = "\n--\n".join(e.strip() for e in errors).strip()
    lines += [f"   Error: {line}" for line in text.split("\n")]
    return "\n".join(lines) + "\n"


def pick(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def smf_block(fmri: str, role: str, zone: str | None = None) -> str:
    """What the simulator's `svcs -vx` prints for a service in maintenance (time elided)."""
    log = fmri.replace("svc:/", "").replace("/", "-")
    root = f"/zones/{zone}/root" if zone else ""
    lines = [f"{fmri} ({role})"] + ([f" Zone: {zone}"] if zone else []) + [
        " State: maintenance since <TIME>",
        "Reason: Start method exited with $SMF_EXIT_ERR_FATAL.",
        "   See: http://illumos.org/msg/SMF-8000-KS",
        f"   See: {root}/var/svc/log/{log}.log",
        "Impact: This service is not running."]
    return "\n".join(lines)


def untimed(text: str) -> str:
    return re.sub(r"maintenance since [A-Z][a-z]{2} [A-Z][a-z]{2} \d\d [\d:]{8} \d{4}",
                  "maintenance since <TIME>", text)


# -- healthy ------------------------------------------------------------------------------

def test_a_healthy_datacenter_is_one_table_and_exit_0(health, sim):
    r = health()
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == table(expected_rows(sim))
    assert sim.mutations() == []


def test_the_alias_and_json_rows(sdcadm, conf, sim):
    r = sdcadm("--config", conf, "health", "-j")
    assert (r.exit_code, r.err) == (0, "")
    want = []
    for row in expected_rows(sim):
        obj = {"type": row["type"], "healthy": True, "hostname": row["hostname"],
               "instance": row["instance"]}
        if row["alias"]:
            obj["alias"] = row["alias"]
        obj["service"] = row["service"]
        want.append(obj)
    assert r.out == json.dumps(want, indent=4) + "\n"


def test_nothing_is_locked_recorded_or_changed(health, sim):
    var = Path(json.loads(Path(sim.config_path).read_text())["varDir"])
    before = sorted(p.relative_to(var) for p in var.rglob("*")) if var.exists() else []
    sim.add_fault({"type": "unhealthy", "target": pick(expected_rows(sim),
                                                       alias="imgapi0")["instance"]})
    assert health().exit_code == 1
    after = sorted(p.relative_to(var) for p in var.rglob("*")) if var.exists() else []
    assert after == before
    assert sim.mutations() == []


# -- faults -------------------------------------------------------------------------------

def test_a_zone_in_maintenance(health, sim):
    rows = expected_rows(sim)
    imgapi = pick(rows, alias="imgapi0")
    sim.add_fault({"type": "unhealthy", "target": imgapi["instance"]})
    r = health()
    assert r.exit_code == 1
    assert r.err == UNHEALTHY
    smf = "SMF svcs check failed: stdout: " + smf_block(
        "svc:/smartdc/application/imgapi:default", "imgapi", imgapi["instance"])
    assert untimed(r.out) == table(rows, {imgapi["instance"]}) + "\n" + block(imgapi, smf)
    j = health("-j")
    assert (j.exit_code, j.err) == (1, "")
    entry = next(e for e in json.loads(j.out) if e["instance"] == imgapi["instance"])
    assert entry["healthy"] is False
    assert [untimed(e["message"]) for e in entry["health_errors"]] == [smf]
    assert sim.mutations() == []


def test_an_agent_in_maintenance(health, sim):
    rows = expected_rows(sim)
    agent = pick(rows, service="cn-agent", hostname="cn01")
    sim.add_fault({"type": "unhealthy", "target": agent["server"], "agent": "cn-agent"})
    r = health()
    assert (r.exit_code, r.err) == (1, UNHEALTHY)
    smf = "SMF svcs check failed: stdout: " + smf_block(
        "svc:/smartdc/agent/cn-agent:default", "cn-agent")
    assert untimed(r.out) == table(rows, {agent["instance"]}) + "\n" + block(agent, smf)


def test_a_global_zone_service_in_maintenance(health, sim):
    rows = expected_rows(sim)
    gz = pick(rows, type="global")
    sim.add_fault({"type": "unhealthy", "target": gz["server"]})
    r = health("-q")
    assert (r.exit_code, r.err) == (1, "")
    smf = "SMF svcs check failed: stdout: " + smf_block(
        "svc:/system/filesystem/local:default", "global")
    assert untimed(r.out) == block(gz, smf)


def test_ping_fail_on_a_vm(health, sim):
    rows = expected_rows(sim)
    vmapi = pick(rows, alias="vmapi0")
    sim.add_fault({"type": "ping-fail", "target": vmapi["instance"]})
    r = health()
    assert (r.exit_code, r.err) == (1, UNHEALTHY)
    msg = f"ping check to {vmapi['ip']} failed with HTTP code 500"
    assert r.out == table(rows, {vmapi["instance"]}) + "\n" + block(vmapi, msg)
    j = json.loads(health("-j", "-q").out)
    assert j == [{"type": "vm", "healthy": False, "hostname": "headnode",
                  "instance": vmapi["instance"], "alias": "vmapi0", "service": "vmapi",
                  "health_errors": [{"message": msg}]}]


def test_ping_fail_on_a_server_fails_its_firewaller(health, sim):
    rows = expected_rows(sim)
    fw = pick(rows, service="firewaller", hostname="cn02")
    sim.add_fault({"type": "ping-fail", "target": fw["server"]})
    r = health("-q")
    assert (r.exit_code, r.err) == (1, "")
    assert r.out == block(fw, f"ping check to {fw['ip']} failed with HTTP code 500")


def test_a_moray_is_pinged_in_its_zone(health, sim):
    """moray has no HTTP ping: node-moray's deep `morayping -d` runs in its zone, so a moray
    that does not answer, or whose manatee shard takes no writes, is unhealthy."""
    rows = expected_rows(sim)
    moray = pick(rows, alias="moray1")
    sim.add_fault({"type": "ping-fail", "target": moray["instance"]})
    r = health("-q")
    assert (r.exit_code, r.err) == (1, "")
    assert r.out == block(moray, 'morayping -d failed: morayping: moray client '
                                 '"127.0.0.1:2020": failed to establish connection')
    sim.clear_faults()
    assert health("-q").exit_code == 0


def test_ping_hang_times_out(health, sim):
    rows = expected_rows(sim)
    cloudapi = pick(rows, alias="cloudapi0")  # HTTPS on 443
    cnapi = pick(rows, alias="cnapi0")
    for row in (cloudapi, cnapi):
        sim.add_fault({"type": "ping-hang", "target": row["instance"]})
    t0 = time.monotonic()
    r = health("-q")
    elapsed = time.monotonic() - t0
    assert (r.exit_code, r.err) == (1, "")
    assert r.out == (block(cloudapi, f"ping check to {cloudapi['ip']} failed: timed out after 1s")
                     + "\n" + block(cnapi, f"ping check to {cnapi['ip']} failed: timed out "
                                           "after 1s"))
    assert elapsed < 6, elapsed  # both hang at once: one ping timeout, not two


def server_rows(rows: list[dict[str, Any]], hostname: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["hostname"] == hostname]


def test_an_unreachable_server(health, sim):
    rows = expected_rows(sim)
    on = server_rows(rows, "cn03")
    sim.add_fault({"type": "ssh-unreachable", "target": on[0]["server"]})
    r = health("-j", "-q")
    assert r.exit_code == 1
    bad = json.loads(r.out)
    assert [e["instance"] for e in bad] == [x["instance"] for x in on]
    for e in bad:
        (err,) = e["health_errors"]
        assert err["message"].startswith("server cn03 (10.99.99.43): cannot connect: "), err
    t = health()
    assert t.out.startswith(table(rows, {x["instance"] for x in on}))


def test_a_refused_host_key(health, sim):
    rows = expected_rows(sim)
    on = server_rows(rows, "cn04")
    sim.add_fault({"type": "ssh-hostkey", "target": on[0]["server"]})
    r = health("-j", "-q")
    assert r.exit_code == 1
    bad = json.loads(r.out)
    assert [e["instance"] for e in bad] == [x["instance"] for x in on]
    for e in bad:
        (err,) = e["health_errors"]
        assert err["message"].startswith("server cn04 (10.99.99.44): host key CHANGED"), err
        assert "refusing to connect" in err["message"]


def test_a_hung_server_costs_one_command_timeout(health, sim):
    rows = expected_rows(sim)
    on = server_rows(rows, "cn01")
    assert any(r["type"] == "vm" for r in on) and any(r["type"] == "agent" for r in on)
    sim.add_fault({"type": "ssh-hang", "target": on[0]["server"]})
    t0 = time.monotonic()
    r = health("-j", "-q")
    elapsed = time.monotonic() - t0
    assert r.exit_code == 1
    bad = json.loads(r.out)
    assert [e["instance"] for e in bad] == [x["instance"] for x in on]
    # `svcs -vx` (the global zone and its agents) is the command that hung; the VMs after
    # it were never asked
    assert {e["type"]: e["health_errors"] for e in bad} == {
        "agent": [{"message": "server cn01: timed out after 1s: svcs -vx"}],
        "vm": [{"message": "not checked: cn01 stopped answering (svcs -vx timed out after 1s)"}]}
    assert elapsed < 6, elapsed
    assert health("-s", "cn02").exit_code == 0  # the others still answer


def test_a_hung_zone_is_the_only_one_said_to_time_out(health, sim):
    rows = expected_rows(sim)
    hn = pick(rows, type="global")
    # A server's zones are checked in the order VMAPI lists them.
    order = [vm["uuid"] for vm in get(sim, "vmapi", "/vms", state="active", owner_uuid=ADMIN)
             if vm["server_uuid"] == hn["server"]]
    at = len(order) // 2
    hung = order[at]
    sim.add_fault({"type": "ssh-hang", "target": hn["server"], "command": f"svcs -vxz {hung}"})
    t0 = time.monotonic()
    r = health("-j")
    elapsed = time.monotonic() - t0
    assert (r.exit_code, r.err) == (1, "")
    said = {e["instance"]: e.get("health_errors") for e in json.loads(r.out)}
    assert said[hung] == [{"message": f"server headnode: timed out after 1s: svcs -vxz {hung}"}]
    skipped = [{"message": f"not checked: headnode stopped answering (svcs -vxz {hung} timed "
                           "out after 1s)"}]
    assert [said[z] for z in order[at + 1:]] == [skipped] * (len(order) - at - 1)
    # checked before the hang (the zones before it, the global zone, its agents): healthy
    assert all(said[z] is None for z in order[:at])
    assert all(said[x["instance"]] is None for x in rows if x["instance"] not in order[at:])
    assert elapsed < 6, elapsed


# -- host keys ----------------------------------------------------------------------------

def sim_known_hosts(sim: Any) -> list[str]:
    """The simulator's known_hosts lines, one per server (`ADMIN_IP ssh-ed25519 KEY`)."""
    data = json.loads(Path(sim.config_path).read_text())
    return Path(data["ssh"]["knownHosts"]).read_text().splitlines()


def key_conf(conf: str, tmp_path: Path, lines: list[str] | None, policy: str | None = None
             ) -> tuple[str, Path]:
    """`conf` with a known_hosts file of these lines (None: no file) and a host-key policy."""
    known = tmp_path / "ssh" / "known_hosts"
    if lines is not None:
        known.parent.mkdir(exist_ok=True)
        known.write_text("".join(f"{line}\n" for line in lines))
    data = json.loads(Path(conf).read_text())
    data["ssh"] = dict(data["ssh"], knownHosts=str(known))
    if policy is not None:
        data["ssh"]["hostKeyPolicy"] = policy
    path = tmp_path / "keys.conf"
    path.write_text(json.dumps(data))
    return str(path), known


def fingerprint(line: str) -> str:
    from paramiko.hostkeys import HostKeyEntry

    entry = HostKeyEntry.from_line(line)
    assert entry is not None
    return entry.key.fingerprint


def without(lines: list[str], ip: str) -> tuple[list[str], str]:
    (gone,) = [line for line in lines if line.startswith(f"{ip} ")]
    return [line for line in lines if line != gone], gone


def test_an_unknown_host_key_is_refused_by_default(sdcadm, conf, sim, tmp_path):
    rows = expected_rows(sim)
    on = server_rows(rows, "cn02")
    lines, gone = without(sim_known_hosts(sim), "10.99.99.42")
    path, known = key_conf(conf, tmp_path, lines)  # no hostKeyPolicy: strict
    r = sdcadm("--config", path, "check-health", "-j", "-q")
    assert (r.exit_code, r.err) == (1, "")
    bad = json.loads(r.out)
    assert [e["instance"] for e in bad] == [x["instance"] for x in on]
    refused = (f"server cn02 (10.99.99.42): host key ssh-ed25519 {fingerprint(gone)} is not in "
               f'{known}: refusing to connect (add it, or set ssh.hostKeyPolicy to "accept-new")')
    assert {e["health_errors"][0]["message"] for e in bad} == {refused}
    assert known.read_text() == "".join(f"{line}\n" for line in lines)


def test_accept_new_adds_an_unknown_key_once_with_a_warning(sdcadm, conf, sim, tmp_path):
    rows = expected_rows(sim)
    lines, gone = without(sim_known_hosts(sim), "10.99.99.42")
    path, known = key_conf(conf, tmp_path, lines, "accept-new")
    r = sdcadm("--config", path, "check-health")
    assert (r.exit_code, r.out) == (0, table(rows))
    assert r.err == (f"Warning: added the host key of cn02 (10.99.99.42) (ssh-ed25519 "
                     f"{fingerprint(gone)}) to {known}\n")
    assert known.read_text().splitlines() == [*lines, gone]
    again = sdcadm("--config", path, "check-health")
    assert (again.exit_code, again.out, again.err) == (0, table(rows), "")
    assert known.read_text().splitlines() == [*lines, gone]


def test_accept_new_still_refuses_a_changed_key(sdcadm, conf, sim, tmp_path):
    rows = expected_rows(sim)
    on = server_rows(rows, "cn04")
    path, known = key_conf(conf, tmp_path, sim_known_hosts(sim), "accept-new")
    sim.add_fault({"type": "ssh-hostkey", "target": on[0]["server"]})
    r = sdcadm("--config", path, "check-health", "-j", "-q")
    assert (r.exit_code, r.err) == (1, "")
    bad = json.loads(r.out)
    assert [e["instance"] for e in bad] == [x["instance"] for x in on]
    for e in bad:
        assert e["health_errors"][0]["message"].startswith(
            "server cn04 (10.99.99.44): host key CHANGED (ssh-ed25519 SHA256:")
    assert known.read_text().splitlines() == sim_known_hosts(sim)


def test_policy_off_accepts_any_key_and_says_so_once(sdcadm, conf, sim, tmp_path):
    rows = expected_rows(sim)
    path, known = key_conf(conf, tmp_path, None, "off")
    sim.add_fault({"type": "ssh-hostkey", "target": server_rows(rows, "cn04")[0]["server"]})
    r = sdcadm("--config", path, "check-health")
    assert (r.exit_code, r.out) == (0, table(rows))
    assert r.err == 'Warning: ssh.hostKeyPolicy is "off": server host keys are not checked\n'
    assert not known.exists()


def test_a_malformed_known_hosts_line_is_skipped_with_one_warning(sdcadm, conf, sim, tmp_path):
    rows = expected_rows(sim)
    lines = ["# sdcadm", "10.99.99.99 ssh-ed25519 AAAA!!notbase64", *sim_known_hosts(sim)]
    path, known = key_conf(conf, tmp_path, lines)
    r = sdcadm("--config", path, "check-health")
    assert (r.exit_code, r.out) == (0, table(rows))  # every other key still counts
    assert r.err == f"Warning: {known}:2: line ignored: the key is not valid base64\n"
    # a key left out is still refused: the bad line did not turn checking off
    lines, _ = without(lines, "10.99.99.43")
    path, known = key_conf(conf, tmp_path, lines)
    r = sdcadm("--config", path, "check-health", "-j", "-q")
    assert r.exit_code == 1
    assert {e["hostname"] for e in json.loads(r.out)} == {"cn03"}
    assert r.err == f"Warning: {known}:2: line ignored: the key is not valid base64\n"


@pytest.mark.parametrize("line,why", [
    ("10.99.99.99 ssh-ed25519", "expected hostnames, key type and key"),
    ("10.99.99.99 ssh-ed25519 QUJD", "the key is not a valid ssh-ed25519 key"),
    ("@cert-authority *.example.com ssh-ed25519 QUJD", "@cert-authority lines are not supported"),
])
def test_other_unparsable_known_hosts_lines(sdcadm, conf, sim, tmp_path, line, why):
    path, known = key_conf(conf, tmp_path, [*sim_known_hosts(sim), line])
    r = sdcadm("--config", path, "check-health", "-q")
    assert (r.exit_code, r.out) == (0, "")
    assert r.err == f"Warning: {known}:{len(sim_known_hosts(sim)) + 1}: line ignored: {why}\n"


# -- selection ----------------------------------------------------------------------------

def test_no_header(health, sim):
    r = health("-H")
    assert (r.exit_code, r.out) == (0, table(expected_rows(sim), header=False))


def test_quiet_and_healthy_prints_nothing(health):
    r = health("-q")
    assert (r.exit_code, r.out, r.err) == (0, "", "")


@pytest.mark.parametrize("servers", [["cn01"], ["cn01", "cn02"], ["uuid:cn02"]])
def test_servers_option(health, sim, servers):
    rows = expected_rows(sim)
    uuids = {r["hostname"]: r["server"] for r in rows}
    args, hosts = [], set()
    for s in servers:
        host = s.split(":", 1)[-1]
        hosts.add(host)
        args += ["-s", uuids[host] if s.startswith("uuid:") else host]
    r = health(*args)
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == table([x for x in rows if x["hostname"] in hosts])


@pytest.mark.parametrize("args,keep", [
    (["type=vm"], lambda r: r["type"] in ("vm", "global")),
    (["type=agent"], lambda r: r["type"] in ("agent", "global")),
    (["type=vm", "type=agent"], lambda r: True),
    (["imgapi", "cn-agent"], lambda r: r["service"] in ("imgapi", "cn-agent", "global")),
    (["moray1", "vmapi"], lambda r: r["alias"] in ("moray1", "vmapi0", "global")),
    (["type=agent", "-s", "cn04"], lambda r: r["type"] == "agent" and r["hostname"] == "cn04"),
])
def test_filters(health, sim, args, keep):
    rows = expected_rows(sim)
    r = health(*args)
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == table([x for x in rows if keep(x)])


def test_uuids_name_instances_and_services(health, sim):
    rows = expected_rows(sim)
    app = get(sim, "sapi", "/applications", name="sdc")[0]
    napi = next(s for s in get(sim, "sapi", "/services", application_uuid=app["uuid"])
                if s["name"] == "napi")
    binder1 = pick(rows, alias="binder1")
    r = health(napi["uuid"], binder1["instance"])
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == table([x for x in rows if x["service"] in ("napi", "global")
                           or x is binder1])


@pytest.mark.parametrize("args,message", [
    (["nope", "imgapi", "zzz"], "unrecognized service or instance: nope, zzz"),
    (["99999999-9999-4999-8999-999999999999"],
     "unrecognized service or instance: 99999999-9999-4999-8999-999999999999"),
    (["svc=imgapi"], "invalid argument: svc=imgapi"),
    (["type=zone"], "invalid instance type: zone"),
    (["-s", "cn99"], 'unknown servers "cn99"'),
    (["-s", ""], "-s/--servers needs at least one server (uuid or hostname)"),
])
def test_bad_arguments_exit_2(health, sim, args, message):
    r = health(*args)
    assert (r.exit_code, r.out) == (2, "")
    assert r.err == f"sdcadm check-health: error (Usage): {message}\n"
    assert sim.mutations() == []


def test_an_unreadable_datacenter_is_one_severe_row(health, sim):
    sim.add_fault({"type": "error", "service": "sapi", "status": 503})
    r = health("-j")
    assert r.exit_code == 1
    (row,) = json.loads(r.out)
    assert (row["type"], row["healthy"], row["hostname"]) == ("triton", False, "headnode")
    assert row["health_errors"][0]["message"].startswith("sapi client error")
    assert row["health_errors"][1]["message"] == (
        "Triton is experiencing severe errors that prevent detailed health checks")


def test_as_a_process_json_exits_1_without_an_error_line(sim, conf):
    import os
    import subprocess
    import sys

    rows = expected_rows(sim)
    sim.add_fault({"type": "ping-fail", "target": pick(rows, alias="sapi0")["instance"]})
    env = dict(os.environ, NO_COLOR="1")
    base = [sys.executable, "-m", "sdcadm", "--config", conf, "check-health"]
    p = subprocess.run([*base, "-j", "-q"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert (p.returncode, p.stderr) == (1, "")
    assert [r["alias"] for r in json.loads(p.stdout)] == ["sapi0"]
    p = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (1, UNHEALTHY)
