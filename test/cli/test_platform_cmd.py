"""`sdcadm platform ...` through the real CLI against the simulated datacenter.

Expected tables are computed from raw API reads and the simulator's USB key directory, not
from sdcadm's own code; every refusal is checked for its line, its exit status and an empty
mutation log."""
from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from cli_runner import make_runner

OLD, CUR, NEXT = "20240411T001730Z", "20241010T000000Z", "20250115T120000Z"
BIG = "20250301T000000Z"
BIG_IMAGE = "5b9d3e1c-6a7f-4b2e-9c1d-0e8f7a6b5c4d"  # large: the 1 GiB platform


def get(sim: Any, service: str, path: str, **params: Any) -> Any:
    r = requests.get(sim.urls[service] + path, params=params, timeout=10,
                     headers={"Accept-Version": "*"} if service == "updates" else {})
    r.raise_for_status()
    return r.json()


def table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [[h.upper() for h in header]] + [["-" if v is None else str(v) for v in r]
                                              for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells) + "\n"


def servers(sim: Any) -> dict[str, dict[str, Any]]:
    return {s["hostname"]: s for s in get(sim, "cnapi", "/servers", setup="true")}


def var_dir(sim: Any) -> Path:
    return Path(json.loads(Path(sim.config_path).read_text())["varDir"])


def tmp_dir(sim: Any) -> Path:
    return Path(json.loads(Path(sim.config_path).read_text())["tmpDir"])


def on_key(sim: Any) -> list[str]:
    return sorted(p.name for p in (sim.state_dir / "usbkey/os").iterdir())


def mutations(sim: Any) -> list[tuple[str, str, str]]:
    """The changes made, but for the datacenter lease each run takes and gives back (a
    metadata key of the sdc application)."""
    return [(m["service"], m["method"], m["path"]) for m in sim.mutations()
            if not (m["service"], m["method"]) == ("sapi", "PUT")
            or not m["path"].startswith("/applications/")]


def execute(sim: Any, line: str) -> dict[str, Any]:
    hn = servers(sim)["headnode"]["uuid"]
    r = requests.post(f"{sim.urls['cnapi']}/servers/{hn}/execute", timeout=10,
                      json={"script": f"#!/bin/bash\n{line}\n", "json": True})
    return r.json()


@pytest.fixture
def clean(sim: Any) -> Any:
    """The small datacenter with no earlier run's journals, history or downloads."""
    for d in (var_dir(sim), tmp_dir(sim)):
        shutil.rmtree(d, ignore_errors=True)
    return sim


# -- list / usage / avail ---------------------------------------------------------------------
def expected_list(sim: Any) -> list[dict[str, Any]]:
    plats = get(sim, "cnapi", "/platforms", os="true")
    default = get(sim, "cnapi", "/boot/default")["platform"]
    key = on_key(sim)
    srvs = servers(sim).values()
    return [{"version": v, "current_platform": sum(s["current_platform"] == v for s in srvs),
             "boot_platform": sum(s["boot_platform"] == v for s in srvs),
             "latest": "true" if info.get("latest") else "false",
             "default": "true" if v == default else "false", "os": info["os"],
             "usb_key": "true" if v in key else "false"}
            for v, info in sorted(plats.items(), reverse=True)]


COLS = ["version", "current_platform", "boot_platform", "latest", "default", "os"]


def test_list_table_counts_servers_and_changes_nothing(sdcadm: Any, clean: Any) -> None:
    rows = expected_list(clean)
    assert [(r["version"], r["current_platform"], r["boot_platform"]) for r in rows] == [
        (CUR, 3, 4), (OLD, 2, 1)]
    r = sdcadm("platform", "list")
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == table(COLS, [[row[c] for c in COLS] for row in rows])
    r = sdcadm("platform", "list", "-H", "-o", "version,usb_key,default", "-s", "version")
    assert r.out == f"{OLD}  true  false\n{CUR}  true  true\n"
    assert mutations(clean) == []


def test_list_json_names_the_servers(sdcadm: Any, clean: Any) -> None:
    r = sdcadm("platform", "list", "-j")
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    by_host = servers(clean)
    assert [d["version"] for d in data] == [OLD, CUR]
    assert list(data[0]) == ["version", "boot_platform", "current_platform", "latest",
                             "default", "usb_key", "os"]
    old = data[0]
    assert sorted(s["hostname"] for s in old["current_platform"]) == ["cn03", "cn04"]
    assert old["boot_platform"] == [{"uuid": by_host["cn03"]["uuid"], "hostname": "cn03"}]
    r = sdcadm("platform", "list", "-J", "-a")  # -a does not apply to JSON
    assert [json.loads(line)["version"] for line in r.out.splitlines()] == [OLD, CUR]


@pytest.mark.parametrize("args, versions", [
    (["-a"], [CUR, OLD]), (["-i"], []), (["-u"], [CUR, OLD]),
])
def test_list_filters(sdcadm: Any, clean: Any, args: list[str], versions: list[str]) -> None:
    r = sdcadm("platform", "list", "-H", "-o", "version", *args)
    assert (r.exit_code, r.out.split()) == (0, versions)


def test_list_mounts_an_unmounted_key_and_leaves_it_unmounted(sdcadm: Any, clean: Any) -> None:
    assert execute(clean, "sdc-usbkey unmount")["exitCode"] == 0
    clean.clear_mutations()
    r = sdcadm("platform", "list", "-H", "-o", "version,usb_key")
    assert r.out == f"{CUR}  true\n{OLD}  true\n"
    assert [p for _, _, p in mutations(clean)] == [
        "headnode: /opt/smartdc/bin/sdc-usbkey mount",
        "headnode: /opt/smartdc/bin/sdc-usbkey unmount"]
    assert execute(clean, "sdc-usbkey status")["stdout"] == "unmounted\n"


def test_usage_lists_servers_booting_or_running_a_platform(sdcadm: Any, clean: Any) -> None:
    users = sorted((s for s in servers(clean).values()
                    if OLD in (s["current_platform"], s["boot_platform"])),
                   key=lambda s: s["uuid"], reverse=True)
    r = sdcadm("platform", "usage", OLD)
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == table(["uuid", "hostname", "current_platform", "boot_platform"],
                          [[s["uuid"], s["hostname"], s["current_platform"],
                            s["boot_platform"]] for s in users])
    assert {d["hostname"] for d in json.loads(sdcadm("platform", "usage", OLD, "-j").out)} == {
        "cn03", "cn04"}
    assert mutations(clean) == []


def test_avail_lists_newer_platforms_of_the_channel(sdcadm: Any, clean: Any) -> None:
    newer = [i for i in get(clean, "updates", "/images", name="platform", channel="dev")
             if i["version"].split("-")[-1] > CUR]
    r = sdcadm("platform", "avail")
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == table(["version", "uuid", "published_at", "os"],
                          [[NEXT, i["uuid"], i["published_at"], "smartos"] for i in newer])
    assert sdcadm("platform", "available", "-j").out == json.dumps(
        [{"version": NEXT, "uuid": newer[0]["uuid"], "published_at": newer[0]["published_at"],
          "os": "smartos"}], indent=4) + "\n"
    r = sdcadm("platform", "avail", "-C", "release")
    assert r.out == 'The latest platform image for "release" channel is already installed.\n'
    r = sdcadm("platform", "avail", "--os", "linux")
    assert r.out == 'The latest platform image for "dev" channel is already installed.\n'
    assert mutations(clean) == []


@pytest.mark.parametrize("args, code, line", [
    (["usage"], 2, "sdcadm platform usage: error (Usage): too few args, platform name is "
                   "required"),
    (["usage", "19990101T000000Z"], 2, "sdcadm platform usage: error (Usage): invalid platform "
                                       "19990101T000000Z"),
    (["list", "-o", "version,nope"], 2, 'sdcadm platform list: error (Usage): invalid output '
                                        'field: "nope"'),
    (["avail", "-C", "nope"], 2, 'sdcadm platform avail: error (Validation): unknown update '
                                 'channel "nope" (valid channels: dev, staging, release)'),
    (["install"], 2, "sdcadm platform install: error (Usage): must specify Platform Image UUID "
                     "or --latest"),
    (["install", "help"], 2, "sdcadm platform install: error (Usage): Please use `sdcadm "
                             "platform help install` instead"),
    (["install", CUR, "--os", "linux"], 2, "sdcadm platform install: error (Usage): Option "
                                           "--os can be used only with --latest"),
    (["install", "19990101T000000Z"], 2, "sdcadm platform install: error (Update): Unable to "
                                         "find the given Platform Image '19990101T000000Z' in "
                                         "channel 'dev'"),
    (["assign", CUR], 2, "sdcadm platform assign: error (Usage): must specify platform and "
                         "server (or --all)"),
    (["assign", CUR, "cn01", "--all"], 2, "sdcadm platform assign: error (Usage): using --all "
                                          "and explicitly specifying a server are mutually "
                                          "exclusive"),
    (["assign", "1999", "cn01"], 2, "sdcadm platform assign: error (Usage): invalid platform "
                                    "1999"),
    (["assign", CUR, "cn01", "cn99"], 2, 'sdcadm platform assign: error (Usage): server '
                                         '["cn99"] not found'),
    (["set-default"], 2, "sdcadm platform set-default: error (Usage): too few args, platform "
                         "name is required when '--latest' option is not given"),
    (["set-default", "1999"], 2, "sdcadm platform set-default: error (Usage): Invalid platform "
                                 "version: 1999"),
    (["remove"], 2, "sdcadm platform remove: error (Usage): too few args, either platform name "
                    "or '--all' option are required"),
    (["remove", CUR, "--force", "-y"], 2, "sdcadm platform remove: error (Usage): Default "
                                          "platform cannot be removed"),
    (["remove", "-k", "1", OLD], 2, "sdcadm platform remove: error (Usage): -k/--keep-latest "
                                    "requires --all"),
    (["remove", "--all"], 2, "sdcadm platform remove: error (Usage): No platforms will be "
                             "removed"),
])
def test_refusals_are_one_line_and_change_nothing(sdcadm: Any, clean: Any, args: list[str],
                                                  code: int, line: str) -> None:
    r = sdcadm("platform", *args)
    assert r.exit_code == code
    assert r.err.splitlines()[-1] == line
    assert "Traceback" not in r.err
    assert mutations(clean) == []


def test_an_image_that_is_not_a_platform_is_refused(sdcadm: Any, clean: Any) -> None:
    vmapi = get(clean, "updates", "/images", name="vmapi", channel="dev")[-1]
    r = sdcadm("platform", "install", vmapi["uuid"])
    assert r.exit_code == 2
    assert r.err.splitlines()[-1] == (
        f"sdcadm platform install: error (Update): image {vmapi['uuid']} "
        f"(vmapi@{vmapi['version']}) is not a platform image")
    assert mutations(clean) == []


def test_remove_in_use_names_the_platforms_and_asks_for_force(sdcadm: Any, clean: Any) -> None:
    r = sdcadm("platform", "remove", OLD, "-y")
    assert r.exit_code == 2
    assert r.err == ("sdcadm platform remove: error (Usage): No platforms will be removed\n\n"
                     f"The following platforms are in use:\n{OLD}\n"
                     "Please use `--force` option if you want to remove them anyway\n")
    assert mutations(clean) == []


# -- install ----------------------------------------------------------------------------------
def history(sim: Any) -> list[dict[str, Any]]:
    entries = get(sim, "sapi", "/history")
    return sorted(entries, key=lambda e: e["started"])


def test_install_latest_end_to_end_then_assignable(sdcadm: Any, clean: Any) -> None:
    image = get(clean, "updates", "/images", name="platform", channel="dev")[-1]
    assert image["version"].endswith(NEXT)
    r = sdcadm("platform", "install", "--latest")
    assert r.exit_code == 0, r.err
    assert r.out == "Installation complete\n"
    download = tmp_dir(clean) / f"platform-{image['version']}.tgz"
    assert r.err.splitlines()[:6] == [
        "Installing latest SmartOS Platform Image", "Using channel dev",
        "Checking latest Platform Image is already installed",
        f"Downloading platform {NEXT}", f"    image {image['uuid']}", f"    to {download}"]
    assert f"Installing Platform Image {NEXT} onto USB key" in r.err
    # install-platform.sh runs for minutes on a real USB key: without a terminal, its wait
    # is a timestamped line at its start (then every progressInterval) and at its end.
    shown = [ln.split(" ", 1)[1] for ln in r.err.splitlines()
             if re.match(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ install platform {NEXT} ", ln)]
    assert shown[0] == f"install platform {NEXT} onto USB key: started", r.err
    assert re.fullmatch(rf"install platform {NEXT} onto USB key: done \(\d+s\)", shown[-1])
    # Installed from the downloaded file over SSH, recorded in history; the file is gone.
    assert mutations(clean) == [
        ("sapi", "POST", "/history"),
        ("ssh", "EXEC", f"headnode: /usbkey/scripts/install-platform.sh {download}"),
        ("sapi", "PUT", f"/history/{history(clean)[0]['uuid']}")]
    assert list(tmp_dir(clean).iterdir()) == []
    assert sorted(get(clean, "cnapi", "/platforms")) == [OLD, CUR, NEXT]
    assert on_key(clean) == [OLD, CUR, NEXT]
    (entry,) = history(clean)
    assert entry["changes"][0]["type"] == "platform-install"
    assert entry["changes"][0]["platform"] == NEXT and "finished" in entry
    assert not entry.get("error")
    work = list((var_dir(clean) / "platforms").iterdir())
    assert len(work) == 1 and (work[0] / "events.jsonl").is_file()
    r = sdcadm("platform", "list", "-H", "-o", "version,latest,usb_key")
    assert r.out.splitlines()[0].split() == [NEXT, "true", "true"]
    assert sdcadm("platform", "avail").out == \
        'The latest platform image for "dev" channel is already installed.\n'
    # Again: nothing to do, nothing changed.
    clean.clear_mutations()
    r = sdcadm("platform", "install", "--latest")
    assert (r.exit_code, r.out) == (0, "Latest Platform Image already installed\n")
    assert mutations(clean) == []
    r = sdcadm("platform", "assign", NEXT, "cn01")
    assert r.exit_code == 0, r.err
    assert servers(clean)["cn01"]["boot_platform"] == NEXT


def test_install_dry_run_downloads_nothing(sdcadm: Any, clean: Any) -> None:
    r = sdcadm("platform", "install", NEXT, "-n")
    assert r.exit_code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("Download image ") and lines[0].endswith(
        f"platform-master-{NEXT}.tgz")
    assert lines[1:] == ["Install:", f"    install platform {NEXT} (smartos) onto the USB key",
                         "Dry run: nothing was changed."]
    assert not tmp_dir(clean).exists() or list(tmp_dir(clean).iterdir()) == []
    assert mutations(clean) == [] and on_key(clean) == [OLD, CUR]


def test_install_a_given_file_keeps_it(sdcadm: Any, clean: Any, tmp_path: Path) -> None:
    image = get(clean, "updates", "/images", name="platform", channel="dev")[-1]
    path = tmp_path / f"platform-{image['version']}.tgz"
    with requests.get(f"{clean.urls['updates']}/images/{image['uuid']}/file", timeout=30,
                      stream=True) as resp:
        path.write_bytes(resp.content)
    r = sdcadm("platform", "install", str(path))
    assert r.exit_code == 0, r.err
    assert f"Using platform file {path}" in r.err
    assert f"Platform image explicitly specified; will not delete {path}" in r.err
    assert path.is_file() and NEXT in get(clean, "cnapi", "/platforms")


class CorruptingProxy:
    """The updates server, except that image files come with one byte changed."""

    def __init__(self, upstream: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                resp = requests.get(upstream + self.path, timeout=30,
                                    headers={k: v for k, v in self.headers.items()
                                             if k.lower() != "host"})
                body = resp.content
                if self.path.split("?")[0].endswith("/file") and body:
                    body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
                self.send_response(resp.status_code)
                for k in ("Content-Type", "Content-MD5", "Server"):
                    if k in resp.headers:
                        self.send_header(k, resp.headers[k])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def corrupt_config(clean: Any, tmp_path: Path) -> Iterator[str]:
    proxy = CorruptingProxy(clean.urls["updates"])
    conf = json.loads(Path(clean.config_path).read_text())
    conf["updatesServerUrl"] = proxy.url
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(conf))
    yield str(path)
    proxy.close()


def test_a_corrupt_download_fails_in_one_line_and_installs_nothing(
        sdcadm: Any, clean: Any, corrupt_config: str) -> None:
    image = get(clean, "updates", "/images", name="platform", channel="dev")[-1]
    r = sdcadm("platform", "install", image["uuid"], env={"SDCADM_CONFIG": corrupt_config})
    assert r.exit_code == 1
    errors = [line for line in r.err.splitlines() if "error" in line]
    assert errors == [r.err.splitlines()[-1]]
    assert errors[0].startswith(
        f"sdcadm platform install: error (ChecksumError): download of image {image['uuid']} "
        f"({image['version']}) is corrupt: image file sha1 mismatch: got ")
    assert errors[0].endswith(f"expected {image['files'][0]['sha1']}; nothing was installed")
    assert list(tmp_dir(clean).iterdir()) == []  # no partial file either
    assert sorted(get(clean, "cnapi", "/platforms")) == [OLD, CUR]
    assert on_key(clean) == [OLD, CUR]
    assert mutations(clean) == [] and history(clean) == []


def test_no_room_on_the_key_for_the_big_platform_fails_before_downloading(
        sim_factory: Any, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture) -> None:
    large = sim_factory("large")
    large.reset()
    shutil.rmtree(tmp_dir(large), ignore_errors=True)
    r = make_runner(large, monkeypatch, capfd)("platform", "install", BIG_IMAGE)
    assert r.exit_code == 1
    assert r.err.splitlines() == [
        "Using channel dev",
        "sdcadm platform install: error (NoSpace): Not enough disk space available on the USB "
        f"key for platform {BIG}: 992 MiB available, 1024 MiB required"]
    assert not tmp_dir(large).exists() or list(tmp_dir(large).iterdir()) == []
    assert BIG not in get(large, "cnapi", "/platforms")
    assert mutations(large) == []


# -- assign -----------------------------------------------------------------------------------
def test_assign_refuses_a_downgrade_unless_allowed(sdcadm: Any, clean: Any) -> None:
    r = sdcadm("platform", "assign", OLD, "cn01", "cn02", "cn03")
    assert r.exit_code == 2
    assert r.err == (f"sdcadm platform assign: error (Update): platform {OLD} is older than "
                     f"the platform running on cn01 ({CUR}), cn02 ({CUR}): use "
                     "--allow-downgrade to assign it anyway\n")
    assert mutations(clean) == []
    r = sdcadm("platform", "assign", OLD, "cn01", "--allow-downgrade")
    assert r.exit_code == 0, r.err
    assert r.out == "Platform 20240411T001730Z assigned to 1 server\n"
    assert f"Warning: forced downgrade to platform {OLD} of cn01 ({CUR})" in r.err
    cn01 = servers(clean)["cn01"]
    assert cn01["boot_platform"] == OLD
    assert [(m, p) for _, m, p in mutations(clean) if p.startswith("/boot")] == [
        ("POST", f"/boot/{cn01['uuid']}")]
    change = history(clean)[-1]["changes"][0]
    assert (change["type"], change["downgrade"], change["servers"]) == (
        "platform-assign", True, [cn01["uuid"]])


def test_assign_all_switches_the_headnode_and_sets_the_default(sdcadm: Any, clean: Any) -> None:
    assert sdcadm("platform", "install", "--latest").exit_code == 0
    clean.clear_mutations()
    r = sdcadm("platform", "assign", "--latest", "--all", "-n")
    assert r.exit_code == 0, r.err
    assert r.out.splitlines()[0] == f"Assign platform {NEXT}:"
    assert r.out.splitlines()[-1] == "Dry run: nothing was changed."
    assert mutations(clean) == []
    r = sdcadm("platform", "assign", "--latest", "--all")
    assert r.exit_code == 0, r.err
    assert r.out == f"Platform {NEXT} assigned to 5 servers\n"
    assert {s["boot_platform"] for s in servers(clean).values()} == {NEXT}
    assert get(clean, "cnapi", "/boot/default")["platform"] == NEXT
    assert (clean.state_dir / "usbkey/boot/platform").read_text().strip() == NEXT
    hn = servers(clean)["headnode"]["uuid"]
    writes = [(s, m, p) for s, m, p in mutations(clean) if s != "sapi"]
    assert writes[0] == ("ssh", "EXEC", f"headnode: /usbkey/scripts/switch-platform.sh {NEXT}")
    assert writes[1] == ("cnapi", "POST", f"/boot/{hn}")
    assert sorted(p for _, _, p in writes[2:6]) == sorted(
        f"/boot/{s['uuid']}" for n, s in servers(clean).items() if n != "headnode")
    assert writes[6:] == [("cnapi", "POST", "/boot/default")]
    assert "Verifying boot_platform updates" in r.err
    clean.clear_mutations()
    r = sdcadm("platform", "assign", NEXT, "--all")
    assert (r.exit_code, r.out) == (0, f"Nothing to do: the servers already boot platform "
                                       f"{NEXT}\n")
    assert mutations(clean) == []


# -- set-default ------------------------------------------------------------------------------
def test_set_default(sdcadm: Any, clean: Any) -> None:
    r = sdcadm("platform", "set-default", "--latest")
    assert (r.exit_code, r.out) == (0, f"Default platform is already {CUR} (latest)\n")
    r = sdcadm("platform", "set-default", OLD, "-n")
    assert r.out == ("Set default platform:\n    set the default boot platform to "
                     f"{OLD}\nDry run: nothing was changed.\n")
    assert mutations(clean) == []
    r = sdcadm("platform", "set-default", OLD)
    assert (r.exit_code, r.out) == (0, f"Successfully set default platform to {OLD}\n")
    assert f"Updating default boot platform to '{OLD}'" in r.err
    assert get(clean, "cnapi", "/boot/default")["platform"] == OLD
    assert [e["changes"][0]["type"] for e in history(clean)] == ["platform-set-default"]
    r = sdcadm("platform", "list", "-H", "-o", "version,default")
    assert r.out == f"{CUR}  false\n{OLD}  true\n"


# -- remove -----------------------------------------------------------------------------------
def test_remove_without_a_terminal_needs_yes_and_dry_run_changes_nothing(
        sdcadm: Any, clean: Any) -> None:
    r = sdcadm("platform", "remove", OLD, "--force")
    assert r.exit_code == 2
    assert r.err.splitlines()[-1] == ("sdcadm platform remove: error (Usage): no terminal to "
                                      "confirm on: use -y/--yes to proceed without a prompt")
    r = sdcadm("platform", "remove", OLD, "--force", "-n")
    assert r.exit_code == 0
    assert r.out == ("\nThe following Platform Images will be removed:\n"
                     f"    {OLD}\n\nDry run: nothing was changed.\n")
    assert mutations(clean) == [] and on_key(clean) == [OLD, CUR]


def test_remove_with_force_takes_it_off_the_key_then_out_of_the_cache(
        sdcadm: Any, clean: Any) -> None:
    r = sdcadm("platform", "remove", OLD, "--force", "-y")
    assert r.exit_code == 0, r.err
    assert r.out.splitlines()[-1] == "Done."
    assert f"Removing platform {OLD}" in r.err
    assert on_key(clean) == [CUR]
    assert sorted(get(clean, "cnapi", "/platforms")) == [OLD, CUR]  # still in the cache
    assert sdcadm("platform", "list", "-H", "-u", "-o", "version").out == f"{CUR}\n"
    r = sdcadm("platform", "remove", OLD, "--force", "-y", "--cleanup-cache")
    assert r.exit_code == 0, r.err
    assert f"Removing cache for platform {OLD}" in r.err
    assert sorted(get(clean, "cnapi", "/platforms")) == [CUR]
    assert [p for s, _, p in mutations(clean) if s == "ssh"] == [
        f"headnode: rm -rf /mnt/usbkey/os/{OLD}", f"headnode: rm -rf /mnt/usbkey/os/{OLD}",
        f"headnode: rm -rf /usbkey/os/{OLD}"]
    assert [e["changes"][0]["type"] for e in history(clean)] == ["platform-remove"] * 2


def test_remove_all_keeps_what_is_used_and_mounts_the_key_for_it(
        sdcadm: Any, clean: Any) -> None:
    assert sdcadm("platform", "install", "--latest").exit_code == 0
    assert execute(clean, "sdc-usbkey unmount")["exitCode"] == 0
    clean.clear_mutations()
    r = sdcadm("platform", "remove", "--all", "-y")
    assert r.exit_code == 0, r.err
    assert r.out.startswith(f"\nThe following Platform Images will be removed:\n    {NEXT}\n")
    assert [p for s, _, p in mutations(clean) if s == "ssh"] == [
        "headnode: /opt/smartdc/bin/sdc-usbkey mount", f"headnode: rm -rf /mnt/usbkey/os/{NEXT}",
        "headnode: /opt/smartdc/bin/sdc-usbkey unmount"]
    assert on_key(clean) == [OLD, CUR]
    assert execute(clean, "sdc-usbkey status")["stdout"] == "unmounted\n"


def test_remove_prompt_on_a_terminal(clean: Any) -> None:
    from test_prompt_tty import Console

    con = Console(clean, "platform", "remove", OLD, "--force")
    con.expect("Would you like to continue? [y/N] ")
    con.type("n")
    code, out, err = con.finish()
    assert (code, out.splitlines()[-1]) == (0, "Aborting"), err
    assert mutations(clean) == [] and on_key(clean) == [OLD, CUR]


def test_a_failed_assign_step_is_recorded_and_says_how_to_finish(sdcadm: Any, clean: Any) -> None:
    cn03 = servers(clean)["cn03"]["uuid"]
    # Four 500s: the first try and the three retries a transient error gets.
    clean.add_fault({"type": "error", "service": "cnapi", "method": "POST",
                     "path": f"^/boot/{cn03}", "status": 500, "count": 4})
    r = sdcadm("platform", "assign", CUR, "cn03")
    assert r.exit_code == 1
    lines = r.err.splitlines()
    assert lines[-1].startswith("sdcadm platform assign: error (SDCClient): cnapi client error")
    assert "Platform assign failed" in lines
    assert f'Run "sdcadm platform assign {CUR} cn03" to retry' in r.err
    assert servers(clean)["cn03"]["boot_platform"] == OLD
    (entry,) = history(clean)
    assert entry["changes"][0]["type"] == "platform-assign"
    assert entry["error"]["code"] == "SDCClient"
    r = sdcadm("platform", "assign", CUR, "cn03")  # the fault fired once: this one finishes
    assert (r.exit_code, servers(clean)["cn03"]["boot_platform"]) == (0, CUR)


def test_a_headnode_booting_the_latest_link_needs_yes_to_install(sdcadm: Any, clean: Any) -> None:
    hn = servers(clean)["headnode"]["uuid"]
    requests.post(f"{clean.urls['cnapi']}/boot/{hn}", json={"platform": "latest"}, timeout=10)
    clean.clear_mutations()
    r = sdcadm("platform", "list", "-H", "-o", "version,boot_platform")
    assert r.out.split() == [CUR, "4", OLD, "1"]  # the link counts as the latest platform
    r = sdcadm("platform", "install", "--latest")
    assert r.exit_code == 2
    assert r.err.splitlines()[-1] == (
        "sdcadm platform install: error (Update): the headnode boots the 'latest' platform "
        f'link: run "sdcadm platform assign {CUR} {hn}" first, or use -y')
    assert mutations(clean) == []
    r = sdcadm("platform", "install", "--latest", "-y")
    assert r.exit_code == 0, r.err
    assert NEXT in get(clean, "cnapi", "/platforms")


def test_no_room_for_the_download_is_refused_before_it_starts(sdcadm: Any, clean: Any,
                                                              tmp_path: Path) -> None:
    """tmpDir on a file system too small for the platform image: one line before the first
    byte is fetched, nothing changed, nothing left behind."""
    import subprocess

    small = tmp_path / "tmp"
    small.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(small)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"a small file system is needed and mounting a tmpfs failed (it needs "
                    f"root): {r.stderr.strip()}")
    try:
        conf = json.loads(Path(clean.config_path).read_text())
        conf["tmpDir"] = str(small)
        path = tmp_path / "sdcadm.conf"
        path.write_text(json.dumps(conf))
        res = sdcadm("platform", "install", "--latest", env={"SDCADM_CONFIG": str(path)})
        assert res.exit_code == 1
        last = res.err.strip().splitlines()[-1]
        assert re.fullmatch(
            rf"sdcadm platform install: error \(NoSpace\): Not enough disk space in "
            rf"{re.escape(str(small))} to download platform {NEXT}: \d+ MiB "
            rf"available, \d+ MiB required; nothing was changed", last), res.err
        assert "Downloading platform" not in res.err
        assert mutations(clean) == [] and list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)
