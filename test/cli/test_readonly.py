"""The read-only commands against the simulated datacenter, output compared exactly.

Expected rows are computed here from raw API reads (plain `requests`, not sdcadm's
clients) and the shipped image-name table, so a bug in gather/candidates/render shows up
as a difference instead of being copied into the expectation.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pytest
import requests

ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"
NAMES: dict[str, list[str]] = json.loads(
    (Path(__file__).resolve().parents[2] / "sdcadm/etc/defaults.json").read_text()
)["imgNamesFromSvcName"]


class Api:
    """Raw reads of the simulated datacenter."""

    def __init__(self, sim: Any) -> None:
        self.urls = sim.urls

    def get(self, service: str, path: str, **params: Any) -> Any:
        version = {"sapi": "~2", "imgapi": "*", "updates": "*"}.get(service)
        headers = {"Accept-Version": version} if version else {}
        r = requests.get(self.urls[service] + path, params=params, headers=headers, timeout=10)
        r.raise_for_status()
        return r.json()

    def sdc_app(self) -> dict[str, Any]:
        return self.get("sapi", "/applications", name="sdc")[0]

    def services(self) -> list[dict[str, Any]]:
        return self.get("sapi", "/services", application_uuid=self.sdc_app()["uuid"])

    def servers(self) -> list[dict[str, Any]]:
        return self.get("cnapi", "/servers", extras="sysinfo,agents", limit=1000)

    def vms(self) -> list[dict[str, Any]]:
        return self.get("vmapi", "/vms", state="active", owner_uuid=ADMIN, limit=1000)

    def local_images(self) -> dict[str, dict[str, Any]]:
        return {i["uuid"]: i for i in self.get("imgapi", "/images", state="all", limit=1000)}

    def channel(self) -> str:
        chosen = (self.sdc_app().get("metadata") or {}).get("update_channel")
        if chosen:
            return chosen
        return next(c["name"] for c in self.get("updates", "/channels") if c.get("default"))

    def catalog(self, channel: str | None = None) -> dict[str, dict[str, Any]]:
        ch = channel or self.channel()
        return {i["uuid"]: i for i in self.get("updates", "/images", channel=ch, limit=1000)}

    def instances(self) -> list[dict[str, Any]]:
        """(type, service, instance, image, version, hostname, alias) of every instance."""
        servers = {s["uuid"]: s for s in self.servers()}
        local = self.local_images()
        rows = []
        for vm in self.vms():
            role = (vm.get("tags") or {}).get("smartdc_role")
            if not role:
                continue
            img = local.get(vm["image_uuid"])
            rows.append({"type": "vm", "service": role, "instance": vm["uuid"],
                         "image": vm["image_uuid"], "version": img["version"] if img else None,
                         "hostname": servers[vm["server_uuid"]]["hostname"],
                         "alias": vm.get("alias")})
        for s in servers.values():
            for a in s.get("agents") or []:
                rows.append({"type": "agent", "service": a["name"], "instance": a["uuid"],
                             "image": a["image_uuid"], "version": a["version"],
                             "hostname": s["hostname"], "alias": None})
        return rows


def table(header: Iterable[str] | None, rows: list[list[Any]]) -> str:
    """The plain layout, written independently of sdcadm.render."""
    cells = [["-" if v is None else str(v) for v in r] for r in rows]
    if header is not None:
        cells.insert(0, [h.upper() for h in header])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def nulls_first(v: Any) -> tuple[bool, str]:
    return (v is not None, "" if v is None else str(v))


@pytest.fixture
def api(sim: Any) -> Api:
    return Api(sim)


# -- version, python -m --------------------------------------------------------------------

def test_version(sdcadm: Any) -> None:
    from sdcadm import __version__

    stamp = (Path(__file__).resolve().parents[2] / "sdcadm/etc/buildstamp").read_text().strip()
    r = sdcadm("--version")
    assert (r.exit_code, r.out, r.err) == (0, f"sdcadm {__version__} ({stamp})\n", "")


def test_python_dash_m(sim: Any) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, SDCADM_CONFIG=str(sim.config_path), NO_COLOR="1")
    p = subprocess.run([sys.executable, "-m", "sdcadm", "--version"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("sdcadm ")
    p = subprocess.run([sys.executable, "-m", "sdcadm", "svcs", "-H", "-o", "name"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "vmapi" in p.stdout.split()


# -- instances -----------------------------------------------------------------------------

def sorted_insts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["type"] != "vm", r["service"], nulls_first(
        r["hostname"]), nulls_first(r["version"]), nulls_first(r["alias"])))


def test_instances_default_table(sdcadm: Any, api: Api) -> None:
    rows = sorted_insts(api.instances())
    assert any(r["type"] == "agent" for r in rows) and any(r["type"] == "vm" for r in rows)
    expected = table(["instance", "service", "hostname", "version", "alias"],
                     [[r["instance"], r["service"], r["hostname"], r["version"], r["alias"]]
                      for r in rows])
    r = sdcadm("instances")
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == expected
    assert sdcadm("insts").out == expected


@pytest.mark.parametrize("args, keep", [
    (["moray"], lambda r: r["service"] == "moray"),
    (["svc=manatee"], lambda r: r["service"] == "manatee"),
    (["type=agent"], lambda r: r["type"] == "agent"),
    (["type=vm", "binder"], lambda r: r["type"] == "vm" and r["service"] == "binder"),
    (["cn-agent", "vm-agent"], lambda r: r["service"] in ("cn-agent", "vm-agent")),
    # type filters add up like service filters: both types = no type filter
    (["type=vm", "type=agent", "binder", "cn-agent"],
     lambda r: r["service"] in ("binder", "cn-agent")),
])
def test_instances_filters(sdcadm: Any, api: Api, args: list[str], keep: Any) -> None:
    rows = [r for r in sorted_insts(api.instances()) if keep(r)]
    assert rows
    expected = table(None, [[r["instance"], r["service"], r["hostname"]] for r in rows])
    r = sdcadm("instances", "-H", "-o", "instance,service,hostname", *args)
    assert (r.exit_code, r.out) == (0, expected)


def test_instances_json_and_sort(sdcadm: Any, api: Api) -> None:
    r = sdcadm("instances", "-j", "-s", "alias", "type=vm")
    assert r.exit_code == 0
    data = json.loads(r.out)
    assert r.out == json.dumps(data, indent=4) + "\n"
    vms = {v["uuid"]: v for v in api.vms()}
    assert [d["alias"] for d in data] == sorted(v["alias"] for v in vms.values()
                                               if v.get("tags", {}).get("smartdc_role"))
    first = data[0]
    vm = vms[first["instance"]]
    assert list(first) == ["type", "alias", "version", "instance", "zonename", "service",
                           "image", "state", "server", "hostname", "server_ip", "ip"]
    assert (first["zonename"], first["image"], first["server"], first["state"]) == (
        vm["uuid"], vm["image_uuid"], vm["server_uuid"], vm["state"])
    nic_ip = next(n["ip"] for n in vm["nics"] if n["nic_tag"] == "admin")
    assert first["ip"] == nic_ip


def test_instances_agent_json_fields(sdcadm: Any, api: Api) -> None:
    r = sdcadm("instances", "-j", "type=agent", "cn-agent")
    data = json.loads(r.out)
    servers = {s["uuid"]: s for s in api.servers()}
    assert len(data) == len(servers)
    for d in data:
        s = servers[d["server"]]
        agent = next(a for a in s["agents"] if a["name"] == "cn-agent")
        assert d == {"type": "agent", "service": "cn-agent", "instance": agent["uuid"],
                     "version": agent["version"], "image": agent["image_uuid"],
                     "server": s["uuid"], "hostname": s["hostname"],
                     "server_ip": s["sysinfo"]["Admin IP"]}


def test_instances_group_by_image(sdcadm: Any, api: Api) -> None:
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for i in api.instances():
        g = groups.setdefault((i["type"], i["service"], i["image"]),
                              {**i, "count": 0})
        g["count"] += 1
    rows = sorted(groups.values(), key=lambda g: (g["type"] != "vm", g["service"],
                                                  nulls_first(g["version"])))
    # moray runs two builds in the small scenario: two groups
    assert len([g for g in rows if g["service"] == "moray"]) == 2
    expected = table(["service", "image", "version", "count"],
                     [[g["service"], g["image"], g["version"], g["count"]] for g in rows])
    r = sdcadm("instances", "-I")
    assert (r.exit_code, r.out) == (0, expected)


# -- services ------------------------------------------------------------------------------

def test_services_table(sdcadm: Any, api: Api) -> None:
    counts: dict[str, int] = {}
    for i in api.instances():
        counts[i["service"]] = counts.get(i["service"], 0) + 1
    svcs = [s for s in api.services() if s.get("type", "vm") in ("vm", "agent")]
    if not any(s["name"] == "assets" for s in svcs):
        svcs.append({"type": "vm", "name": "assets", "uuid": None, "params": {}})
    svcs.sort(key=lambda s: (s.get("type", "vm") != "vm", s["name"]))
    expected = table(["type", "uuid", "name", "image", "insts"], [
        [s.get("type", "vm"), s["uuid"], s["name"],
         s["params"].get("image_uuid") if s.get("type", "vm") == "vm" else None,
         counts.get(s["name"], 0)] for s in svcs])
    r = sdcadm("services")
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == expected
    assert sdcadm("svcs").out == expected


def test_services_json_is_raw_sapi_plus_insts(sdcadm: Any, api: Api) -> None:
    raw = {s["uuid"]: s for s in api.services()}
    data = json.loads(sdcadm("services", "-j").out)
    vmapi = next(d for d in data if d["name"] == "vmapi")
    assert vmapi == {**raw[vmapi["uuid"]], "insts": 1}


def test_services_without_insts_column(sdcadm: Any, api: Api, sim: Any, tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    r = sdcadm("services", "-H", "-o", "name", "-s", "name", env={"SDCADM_REQUEST_LOG": str(log)})
    names = sorted({s["name"] for s in api.services()} | {"assets"})
    assert r.out == "\n".join(names) + "\n"
    # no instance inventory when it is not shown
    assert not any(" vmapi " in line or " cnapi " in line for line in log.read_text().splitlines())


# -- avail ---------------------------------------------------------------------------------

def sdcadm_builds(api: Api, channel: str | None = None) -> list[dict[str, Any]]:
    """sdcadm builds newer than this package (a higher version, or a later stamp of the
    same version), oldest first."""
    from sdcadm import __version__

    def ver(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split(".")[:3])

    stamp = (Path(__file__).resolve().parents[2] / "sdcadm/etc/buildstamp").read_text()
    running = stamp.strip().split("-")[-2]
    builds = [i for i in api.catalog(channel).values() if i["name"] == "sdcadm" and (
        ver(i["version"]) > ver(__version__) or ver(i["version"]) == ver(__version__)
        and i["tags"]["buildstamp"].split("-")[-2] > running)]
    return sorted(builds, key=lambda i: (ver(i["version"]), i["uuid"]))


def all_services(api: Api, exclude: Iterable[str] = ()) -> list[str]:
    """What `update --all` covers (the planner's routing tables), plus the locked
    rabbitmq and portolan, which avail always lists."""
    from sdcadm.planner import rules

    svcs = {s["name"]: s for s in api.services()}
    kinds = {s: (v.get("type") or "vm") for s, v in svcs.items()}
    for i in api.instances():
        kinds.setdefault(i["service"], i["type"])
    return [n for n, kind in kinds.items() if n not in set(exclude)
            and n not in rules.UNSUPPORTED_IN_ALL and rules.procedure_for(n, kind)]


def expected_avail(api: Api, *, all_images: bool = False, only: Iterable[str] | None = None,
                   exclude: Iterable[str] = (), channel: str | None = None) -> list[dict[str, Any]]:
    insts = api.instances()
    local = api.local_images()
    catalog = api.catalog(channel)
    svcs = {s["name"]: s for s in api.services()}
    wanted = list(only) if only is not None else all_services(api, exclude) + (
        [] if "sdcadm" in exclude else ["sdcadm"])
    rows = []
    for svc in wanted:
        if svc == "sdcadm":
            builds = sdcadm_builds(api, channel)
            rows += [{"service": svc, "image": i["uuid"], "version": f"sdcadm@{i['version']}"}
                     for i in (builds if all_images else builds[-1:])]
            continue
        used = list(dict.fromkeys(i["image"] for i in insts if i["service"] == svc))
        if not used and svc in svcs:
            used = [svcs[svc]["params"]["image_uuid"]]
        known = [local.get(u) or catalog.get(u) for u in used]
        known = [k for k in known if k]
        oldest = min(known, key=lambda i: i["published_at"]) if known else None
        cands = {i["uuid"]: i for i in catalog.values() if i["name"] in NAMES[svc]
                 and (oldest is None or i["published_at"] >= oldest["published_at"])}
        if oldest:
            cands[oldest["uuid"]] = oldest
        ordered = sorted(cands.values(), key=lambda i: i["published_at"])
        if not ordered:
            continue
        shared = used[0] if len(used) == 1 else None
        # Without -a, a latest image nothing would move to (no instance runs an older one)
        # is not an update.
        moves = oldest is None or ordered[-1]["published_at"] > oldest["published_at"]
        shown = [i for i in ordered if i["uuid"] != shared] if all_images else (
            [] if ordered[-1]["uuid"] == shared or not moves else [ordered[-1]])
        rows += [{"service": svc, "image": i["uuid"], "version": f"{i['name']}@{i['version']}"}
                 for i in shown]
    return sorted(rows, key=lambda r: (r["service"], r["version"], r["image"]))


AVAIL_NOTES = {
    "portolan": 'note: portolan updates are locked: "sdcadm update --all" leaves portolan out '
                "(use --force-data-path)\n",
    "rabbitmq": 'note: rabbitmq updates are locked: "sdcadm update --all" leaves rabbitmq out '
                "(use --force-rabbitmq)\n",
    "sdcadm": ('note: "sdcadm update" does not update sdcadm itself: '
               'use "sdcadm self-update --latest"\n'),
}


def avail_notes(rows: list[dict[str, Any]]) -> str:
    return "".join(AVAIL_NOTES[s] for s in sorted({r["service"] for r in rows})
                   if s in AVAIL_NOTES)


def avail_table(rows: list[dict[str, Any]]) -> str:
    return table(["service", "image", "version"],
                 [[r["service"], r["image"], r["version"]] for r in rows])


def test_avail_default(sdcadm: Any, api: Api) -> None:
    rows = expected_avail(api)
    services = {r["service"] for r in rows}
    # the scenario has work: out-of-date VMs, agents, moray on mixed images
    assert {"moray", "cn-agent"} <= services
    assert len(services) < len(api.services())  # and some services are current
    r = sdcadm("avail")
    assert (r.exit_code, r.out) == (0, avail_table(rows))
    # the locked portolan and sdcadm itself are listed, each with why update skips it
    assert {"portolan", "sdcadm"} <= services
    assert r.err == avail_notes(rows)
    assert sdcadm("available").out == r.out


def test_avail_json_and_stream(sdcadm: Any, api: Api) -> None:
    rows = expected_avail(api)
    r = sdcadm("avail", "-j")
    assert r.out == json.dumps(rows, indent=4) + "\n"
    r = sdcadm("avail", "-J")
    assert r.out == "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in rows)


def test_avail_all_images(sdcadm: Any, api: Api) -> None:
    rows = expected_avail(api, all_images=True)
    assert len(rows) > len(expected_avail(api))
    assert sdcadm("avail", "-a").out == avail_table(rows)


def test_avail_named_services_and_instance(sdcadm: Any, api: Api) -> None:
    rows = expected_avail(api, only=["moray", "cn-agent"])
    assert rows
    assert sdcadm("avail", "moray", "cn-agent").out == avail_table(rows)
    # an instance alias names its service
    assert sdcadm("avail", "-H", "-o", "service", "moray0").out == "moray\n"


def test_avail_exclude(sdcadm: Any, api: Api) -> None:
    rows = expected_avail(api, exclude=["moray", "cn-agent", "vm-agent"])
    r = sdcadm("avail", "-x", "moray", "-x", "cn-agent,vm-agent")
    assert r.out == avail_table(rows)


def test_avail_channel_option(sdcadm: Any, api: Api) -> None:
    channels = [c["name"] for c in api.get("updates", "/channels")]
    other = next(c for c in channels if c != api.channel())
    rows = expected_avail(api, channel=other)
    assert sdcadm("avail", "-C", other).out == (avail_table(rows) if rows else "Up-to-date.\n")
    assert rows != expected_avail(api)


def test_avail_up_to_date(sdcadm: Any, api: Api) -> None:
    current = {r["service"] for r in expected_avail(api)}
    svc = next(s["name"] for s in api.services() if s["name"] not in current
               and s["name"] in NAMES)
    r = sdcadm("avail", svc)
    assert (r.exit_code, r.out) == (0, "Up-to-date.\n")
    assert sdcadm("avail", "-j", svc).out == "[]\n"


def test_avail_sdcadm_row(sdcadm: Any, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = sorted((i for i in api.catalog().values() if i["name"] == "sdcadm"),
                    key=lambda i: i["published_at"])
    assert len(builds) >= 2
    # Pretend to run the oldest build: every later build is an update of sdcadm.
    monkeypatch.setattr("sdcadm.gather.__version__", builds[0]["version"])
    monkeypatch.setattr("sdcadm.gather.sdcadm_buildstamp",
                        lambda: builds[0]["tags"]["buildstamp"])
    latest = builds[-1]
    r = sdcadm("avail", "-H", "sdcadm")
    assert r.out == table(None, [["sdcadm", latest["uuid"], f"sdcadm@{latest['version']}"]])
    r = sdcadm("avail", "-H", "-a", "-o", "image", "sdcadm")
    # rows sort by version (string compare), then image
    assert r.out.split() == [b["uuid"] for b in sorted(builds[1:], key=lambda b: (
        b["version"], b["uuid"]))]


def test_avail_changes(sdcadm: Any, api: Api) -> None:
    catalog = api.catalog()
    rows = expected_avail(api, only=["moray"])
    (row,) = rows
    insts = [i for i in api.instances() if i["service"] == "moray"]
    oldest = min((api.local_images()[i["image"]] for i in insts),
                 key=lambda i: i["published_at"])
    target = catalog[row["image"]]
    builds = sorted((i for i in catalog.values() if i["name"] in NAMES["moray"]
                     and oldest["published_at"] < i["published_at"] <= target["published_at"]),
                    key=lambda i: i["published_at"])
    assert builds
    lines = [f"    {b['published_at'][:10]}  {b['name']}@{b['version']}  {b['description']}"
             for b in builds]
    r = sdcadm("avail", "-c", "moray")
    assert r.out == avail_table(rows) + "\n".join(lines) + "\n"
    data = json.loads(sdcadm("avail", "-c", "-j", "moray").out)
    assert [c["uuid"] for c in data[0]["changes"]] == [b["uuid"] for b in builds]


# -- changes -------------------------------------------------------------------------------

def test_changes_service(sdcadm: Any, api: Api) -> None:
    catalog = api.catalog()
    insts = api.instances()
    # a VM service with one instance that has an update
    row = next(r for r in expected_avail(api) if r["service"] in NAMES and [
        i["type"] for i in insts if i["service"] == r["service"]] == ["vm"])
    svc = row["service"]
    inst = next(i for i in insts if i["service"] == svc)
    current = api.local_images()[inst["image"]]
    builds = sorted((i for i in catalog.values() if i["name"] in NAMES[svc]
                     and current["published_at"] < i["published_at"]
                     <= catalog[row["image"]]["published_at"]),
                    key=lambda i: i["published_at"])
    expected = table(["version", "published_at", "description"],
                     [[b["version"], b["published_at"], b["description"]] for b in builds])
    assert builds
    r = sdcadm("changes", svc)
    assert (r.exit_code, r.out) == (0, expected)
    r = sdcadm("changes", "-j", inst["alias"])
    assert [d["uuid"] for d in json.loads(r.out)] == [b["uuid"] for b in builds]


def test_changes_between_two_images(sdcadm: Any, api: Api) -> None:
    vmapi = sorted((i for i in api.catalog().values() if i["name"] == "vmapi"),
                   key=lambda i: i["published_at"])
    assert len(vmapi) >= 3
    a, b = vmapi[0], vmapi[-1]
    expected = table(None, [[i["uuid"]] for i in vmapi[1:]])
    assert sdcadm("changes", "-H", "-o", "uuid", a["uuid"], b["uuid"]).out == expected
    assert sdcadm("changes", "-H", "-o", "uuid", b["uuid"], a["uuid"]).out == expected


def test_changes_up_to_date(sdcadm: Any, api: Api) -> None:
    current = {r["service"] for r in expected_avail(api)}
    svc = next(s["name"] for s in api.services() if s["name"] not in current
               and s["name"] in NAMES)
    assert sdcadm("changes", svc).out == "Up-to-date.\n"


# -- channel, info -------------------------------------------------------------------------

def test_channel_list_remote_default(sdcadm: Any, api: Api) -> None:
    channels = api.get("updates", "/channels")
    assert not (api.sdc_app().get("metadata") or {}).get("update_channel")
    expected = table(["name", "default", "description"], [
        [c["name"], "true (remote)" if c.get("default") else None, c["description"]]
        for c in channels])
    r = sdcadm("channel", "list")
    assert (r.exit_code, r.out) == (0, expected)
    data = json.loads(sdcadm("channel", "list", "-j").out)
    assert [c for c in data if c.get("default")] == [
        {**c, "remote": True} for c in channels if c.get("default")]


def test_channel_get_set_unset(sdcadm: Any, api: Api, sim: Any) -> None:
    channels = api.get("updates", "/channels")
    default = next(c["name"] for c in channels if c.get("default"))
    other = next(c["name"] for c in channels if not c.get("default"))
    assert sdcadm("channel", "get").out == f"{default}\n"

    r = sdcadm("channel", "set", other)
    assert (r.exit_code, r.out) == (0, f"Update channel has been successfully set to: '{other}'\n")
    assert api.sdc_app()["metadata"]["update_channel"] == other
    assert sdcadm("channel", "get").out == f"{other}\n"
    listed = sdcadm("channel", "list", "-H").out.splitlines()
    assert [line.split("  ")[0] for line in listed if "  true" in line] == [other]

    r = sdcadm("channel", "unset")
    assert (r.exit_code, r.out) == (0, "Update channel has been successfully unset\n")
    assert "update_channel" not in api.sdc_app()["metadata"]
    assert sdcadm("channel", "get").out == f"{default}\n"

    # Both changes are history, newest first, with what was set and what it replaced.
    h = sdcadm("history", "-H", "-o", "changes,error")
    assert h.out.splitlines() == ["unset-channel(sdc)  -", "set-channel(sdc)    -"]
    entries = json.loads(sdcadm("history", "-j").out)
    by_type = {e["changes"][0]["type"]: e["changes"][0] for e in entries}
    assert by_type["set-channel"]["channel"] == other
    assert by_type["set-channel"]["previous"] is None
    assert by_type["unset-channel"]["previous"] == other
    assert all(e["finished"] >= e["started"] for e in entries)


def test_info(sdcadm: Any, sim: Any) -> None:
    conf = json.loads(Path(sim.config_path).read_text())
    r = sdcadm("info")
    assert r.exit_code == 0
    assert r.out == (
        "Datacenter Company Name: -\n"
        f"Datacenter Name: {conf['datacenter_name']}\n"
        "Datacenter Location: -\n"
        "\n"
        "Admin IP: -\n"
        "External IP: -\n"
        f"DNS Domain: {conf['dns_domain']}\n"
        "\n"
        f"Configuration: {sim.config_path}, over /usbkey/config where present, over shipped "
        "defaults\n"
        "Update channel: dev (the updates server's default)\n"
        f"SAPI: {conf['sapi']['url']}\n"
        f"IMGAPI: {conf['imgapi']['url']}\n"
        f"VMAPI: {conf['vmapi']['url']}\n"
        f"CNAPI: {conf['cnapi']['url']}\n"
        f"Workflow: {conf['wfapi']['url']}\n"
        f"Updates server: {conf['updatesServerUrl']}\n"
    )
    data = json.loads(sdcadm("info", "-j").out)
    assert data["sapi"] == conf["sapi"]
    assert data["source"] == str(sim.config_path)
    assert data["imgNamesFromSvcName"]["manatee"] == ["sdc-postgres"]


def test_readonly_commands_change_nothing(sdcadm: Any, sim: Any) -> None:
    for args in (["instances"], ["services"], ["avail", "-a", "-c"], ["changes", "moray"],
                 ["channel", "list"], ["channel", "get"], ["info"]):
        assert sdcadm(*args).exit_code == 0, args
    assert sim.mutations() == []


def test_avail_explicit_image_and_version(sdcadm: Any, api: Api) -> None:
    vmapi = sorted((i for i in api.catalog().values() if i["name"] == "vmapi"),
                   key=lambda i: i["published_at"])
    old = vmapi[0]
    r = sdcadm("avail", "-H", f"vmapi@{old['uuid']}")
    assert r.out == table(None, [["vmapi", old["uuid"], f"vmapi@{old['version']}"]])
    r = sdcadm("avail", "-H", "-o", "image", f"vmapi@{old['version']}")
    assert r.out == f"{old['uuid']}\n"


def test_request_count_does_not_depend_on_fleet(sdcadm: Any, tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    assert sdcadm("avail", env={"SDCADM_REQUEST_LOG": str(log)}).exit_code == 0
    calls = sorted((x.split()[0], x.split()[2].split("?")[0].split("/", 3)[-1])
                   for x in log.read_text().splitlines())
    # one listing per kind of object, however many servers, VMs and images there are
    assert calls == sorted([
        ("sapi", "applications"), ("sapi", "mode"), ("sapi", "services"),
        ("imgapi", "images"), ("cnapi", "servers"), ("cnapi", "platforms"),
        ("vmapi", "vms"), ("updates", "channels"), ("updates", "images"),
    ])


@pytest.mark.parametrize("argv", [["--help"], ["avail", "--help"], ["instances", "--help"],
                                  ["channel", "--help"], ["help", "changes"]])
def test_help_needs_no_http_stack(argv: list[str]) -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom sdcadm.cli.main import run\n"
            f"rc = run({argv!r})\n"
            "heavy = [m for m in ('requests', 'urllib3', 'tabulate', 'rich', 'sdcadm.clients',"
            " 'sdcadm.config') if m in sys.modules]\n"
            "print(rc, heavy)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.splitlines()[-1] == "0 []", p.stdout + p.stderr


def test_updates_server_through_sdc_app_proxy(sdcadm: Any, api: Api, sim: Any) -> None:
    """The sdc application's `http_proxy` carries every updates-server request."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # a forwarding proxy: the request line has the full URL
            seen.append(self.path)
            r = requests.get(self.path, headers={"Accept-Version": "*"}, timeout=10)
            self.send_response(r.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

    expected = sdcadm("avail").out
    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        requests.put(f"{sim.urls['sapi']}/applications/{api.sdc_app()['uuid']}", json={
            "metadata": {"http_proxy": f"http://127.0.0.1:{server.server_address[1]}"}},
            headers={"Accept-Version": "~2"}, timeout=10).raise_for_status()
        assert sdcadm("avail").out == expected
        assert sorted(p.split("?")[0].rsplit("/", 1)[-1] for p in seen) == ["channels", "images"]
        assert all(p.startswith(sim.urls["updates"]) for p in seen)
        seen.clear()
        assert sdcadm("channel", "get").exit_code == 0
        assert [p.rsplit("/", 1)[-1] for p in seen] == ["channels"]
        seen.clear()
        assert "Update channel: dev (the updates server's default)" in sdcadm("info").out
        assert [p.rsplit("/", 1)[-1] for p in seen] == ["channels"]
    finally:
        server.shutdown()
        server.server_close()


def test_avail_warns_about_services_without_image_names(sdcadm: Any, api: Api,
                                                         sim: Any) -> None:
    before = sdcadm("avail")
    requests.post(f"{sim.urls['sapi']}/services", json={
        "name": "frobnicator", "application_uuid": api.sdc_app()["uuid"], "type": "vm",
        "params": {"image_uuid": "00000000-0000-4000-8000-00000000000f"}},
        headers={"Accept-Version": "~2"}, timeout=10).raise_for_status()
    r = sdcadm("avail")
    assert (r.exit_code, r.out) == (0, before.out)
    assert r.err == ('warning: do not know valid image names for service "frobnicator"\n'
                     + before.err)


def test_instances_filter_naming_no_service_is_refused(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("instances", "-H", "-o", "service", "vmpai", "svc=cnapi")
    assert (r.exit_code, r.out) == (2, "")
    assert r.err == "sdcadm instances: error (Usage): unknown service: vmpai\n"
    r = sdcadm("instances", "nosuch", "nosuch2")
    assert (r.exit_code, r.out) == (2, "")
    assert r.err == "sdcadm instances: error (Usage): unknown services: nosuch, nosuch2\n"
    r = sdcadm("instances", "-H", "-o", "service", "cn-agent", "type=vm")
    assert (r.out, r.err) == ("", "")  # a known service with no VM: nothing to warn about
