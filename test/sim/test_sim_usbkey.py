"""The simulated headnode's USB key: its directories, the global-zone commands that read
and change it, their place in the mutation log, and reset.

Most tests drive the commands in-process against a World in a temporary state directory
(fast); the last ones go through the running simulator (CommandExecute, SSH, CNAPI)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sdcadm.sim import gz
from sdcadm.sim import usbkey as model
from sdcadm.sim.files import SumCache, iter_bytes
from sdcadm.sim.scenario import build_docs, load_scenario
from sdcadm.sim.store import Store, rows_from
from sdcadm.sim.world import World

OLD, CUR, NEXT = "20240411T001730Z", "20241010T000000Z", "20250115T120000Z"
MIB = 1 << 20


def make_world(tmp_path: Path, **key: Any) -> World:
    data = load_scenario("small")
    if key:
        data = dict(data, usbkey=key)
    docs = list(build_docs(data, SumCache.for_state_dir(tmp_path)))
    docs.append((*model.DOC, model.baseline(data)))
    rows = rows_from(docs)
    store = Store(tmp_path / "state.db")
    store.replace_all(rows)
    world = World(store, data, rows, time_scale=1.0, state_dir=tmp_path)
    model.UsbKey(world).restore()
    return world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def server(world: World, hostname: str) -> str:
    return next(s["uuid"] for s in world.store.all("server") if s["hostname"] == hostname)


def run(world: World, line: str, host: str = "headnode") -> tuple[str, str, int]:
    return asyncio.run(gz.run(world, server(world, host), line))


def platform_file(world: World, tmp_path: Path, stamp: str = NEXT) -> tuple[Path, int]:
    """The updates server's image file of platform `stamp`, as a download leaves it."""
    m = next(m for m in world.store.all("uimage")
             if m["name"] == "platform" and m["version"].endswith(stamp))
    size = m["files"][0]["size"]
    path = tmp_path / f"platform-{m['version']}.tgz"
    with open(path, "wb") as fh:
        for chunk in iter_bytes(m["uuid"], size):
            fh.write(chunk)
    return path, size


def cnapi_platforms(world: World) -> list[str]:
    return sorted(world.store.docs.get("platform", {}))


# -- the model ------------------------------------------------------------------------------
@pytest.mark.parametrize("key, free_mib, mounted", [
    ({}, 2048 - 256 - 2 * 400, True),
    ({"free_mib": 10}, 10, True),
    ({"size_mib": 8192, "platform_mib": 500, "mounted": False}, 8192 - 256 - 1000, False),
])
def test_baseline_size_free_and_mount(tmp_path: Path, key: dict[str, Any], free_mib: int,
                                      mounted: bool) -> None:
    w = make_world(tmp_path, **key)
    k = model.UsbKey(w)
    assert (k.free() // MIB, k.mounted) == (free_mib, mounted)


def test_layout_matches_cnapi_and_the_default_platform(world: World, tmp_path: Path) -> None:
    assert sorted(p.name for p in (tmp_path / "usbkey/os").iterdir()) == [OLD, CUR]
    assert sorted(p.name for p in (tmp_path / "usbkey-cache/os").iterdir()) == [OLD, CUR]
    assert cnapi_platforms(world) == [OLD, CUR]
    assert (tmp_path / "usbkey/boot/platform").read_text() == CUR + "\n"
    archive = tmp_path / "usbkey/os" / OLD / "platform/i86pc/amd64/boot_archive"
    assert archive.stat().st_size == 400 * MIB


# -- reading commands -------------------------------------------------------------------------
def test_ls_df_status_read_the_key(world: World) -> None:
    assert run(world, "ls /mnt/usbkey/os") == (f"{OLD}\n{CUR}\n", "", 0)
    assert run(world, "ls /usbkey/os") == (f"{OLD}\n{CUR}\n", "", 0)
    assert run(world, "/opt/smartdc/bin/sdc-usbkey status") == ("mounted\n", "", 0)
    out, err, code = run(world, "df -k /mnt/usbkey/os")
    assert (err, code) == ("", 0)
    head, row = out.splitlines()
    assert head.split()[:4] == ["Filesystem", "kbytes", "used", "avail"]
    fields = row.split()
    assert fields[1:4] == [str(2048 * 1024), str(1056 * 1024), str(992 * 1024)]
    assert fields[-1] == "/mnt/usbkey"
    for line in ("ls /mnt/usbkey/os", "df -k /mnt/usbkey/os", "sdc-usbkey status"):
        assert not gz.is_mutating(line)
    for line in ("sdc-usbkey mount", "sdc-usbkey unmount", "rm -rf /usbkey/os/X",
                 "/usbkey/scripts/install-platform.sh /f", "/usbkey/scripts/switch-platform.sh X"):
        assert gz.is_mutating(line)


def test_unmounted_key_is_not_there_until_mounted(world: World) -> None:
    assert run(world, "/opt/smartdc/bin/sdc-usbkey unmount") == ("", "", 0)
    assert run(world, "sdc-usbkey status") == ("unmounted\n", "", 0)
    assert run(world, "ls /mnt/usbkey/os")[1:] == (
        "ls: /mnt/usbkey/os: No such file or directory\n", 2)
    assert run(world, "df -k /mnt/usbkey/os")[2] == 2
    assert run(world, "ls /usbkey/os")[0] == f"{OLD}\n{CUR}\n"  # the cache stays
    # rm -f of a path that is not there: success, and nothing removed.
    assert run(world, f"rm -rf /mnt/usbkey/os/{OLD}") == ("", "", 0)
    assert run(world, "sdc-usbkey mount") == ("/mnt/usbkey\n", "", 0)
    assert run(world, "ls /mnt/usbkey/os")[0] == f"{OLD}\n{CUR}\n"


def test_no_usb_key_on_a_compute_node(world: World) -> None:
    assert run(world, "ls /mnt/usbkey/os", "cn01")[2] == 2
    assert run(world, "sdc-usbkey status", "cn01")[2] == 1
    assert run(world, "/usbkey/scripts/install-platform.sh /x", "cn01")[2] == 127
    assert run(world, "/usbkey/scripts/switch-platform.sh X", "cn01")[2] == 127


# -- changing commands ------------------------------------------------------------------------
def test_install_platform_puts_it_on_the_key_in_the_cache_and_in_cnapi(
        world: World, tmp_path: Path) -> None:
    path, size = platform_file(world, tmp_path)
    free = model.UsbKey(world).free()
    out, err, code = run(world, f"/usbkey/scripts/install-platform.sh {path}")
    assert (err, code) == ("", 0)
    assert out.splitlines() == [f"==> Unpacking {NEXT} to /mnt/usbkey/os",
                                f"==> Copying {NEXT} to /usbkey/os",
                                "==> Adding to list of available platforms", "==> Done!"]
    assert run(world, "ls /mnt/usbkey/os")[0].split() == [OLD, CUR, NEXT]
    assert run(world, "ls /usbkey/os")[0].split() == [OLD, CUR, NEXT]
    assert cnapi_platforms(world) == [OLD, CUR, NEXT]
    assert world.store.get("platform", NEXT) == {"os": "smartos"}
    assert model.UsbKey(world).free() == free - size
    # Again: everything is there already; nothing is unpacked twice.
    out, _, code = run(world, f"/usbkey/scripts/install-platform.sh file://{path}")
    assert code == 0 and "Unpacking" not in out and "Copying" not in out
    assert model.UsbKey(world).free() == free - size


def test_install_platform_refuses_unknown_missing_and_oversized_files(
        world: World, tmp_path: Path) -> None:
    junk = tmp_path / "platform-master-20250115T120000Z.tgz"
    junk.write_bytes(b"not a platform")
    out, err, code = run(world, f"/usbkey/scripts/install-platform.sh {junk}")
    assert code == 1 and "not in gzip format" in err
    assert run(world, "/usbkey/scripts/install-platform.sh /no/such.tgz")[1:] == (
        "curl: (37) Couldn't open file /no/such.tgz\n", 37)
    assert run(world, "/usbkey/scripts/install-platform.sh")[2] == 1
    assert cnapi_platforms(world) == [OLD, CUR]
    assert run(world, "ls /mnt/usbkey/os")[0].split() == [OLD, CUR]


def test_install_platform_without_room_installs_nothing(tmp_path: Path) -> None:
    w = make_world(tmp_path, free_mib=1)
    path, _ = platform_file(w, tmp_path)
    _, err, code = run(w, f"/usbkey/scripts/install-platform.sh {path}")
    assert code == 1 and "No space left on device" in err
    assert cnapi_platforms(w) == [OLD, CUR]
    assert run(w, "ls /mnt/usbkey/os")[0].split() == [OLD, CUR]
    assert run(w, "ls /usbkey/os")[0].split() == [OLD, CUR]


def test_rm_removes_only_platform_directories(world: World, tmp_path: Path) -> None:
    free = model.UsbKey(world).free()
    assert run(world, f"rm -rf /mnt/usbkey/os/{OLD}") == ("", "", 0)
    assert run(world, "ls /mnt/usbkey/os")[0].split() == [CUR]
    assert model.UsbKey(world).free() == free + 400 * MIB
    assert cnapi_platforms(world) == [OLD, CUR]  # CNAPI lists the cache
    assert run(world, f"rm -r -f /usbkey/os/{OLD}") == ("", "", 0)
    assert cnapi_platforms(world) == [CUR]
    assert not (tmp_path / "usbkey-cache/os" / OLD).exists()
    # Anything but a platform directory is not simulated, like an unknown command.
    for line in ("rm -rf /usbkey/os", "rm -rf /etc/passwd", "rm -rf /usbkey/os/..",
                 "rm -rf /mnt/usbkey/os/a/b", "rm -rf /", "ls /etc", "df -k /"):
        assert run(world, line)[1:] == (f"bash: {line.split()[0]}: command not found\n", 127)
    assert run(world, f"rm /usbkey/os/{CUR}") == ("", f"rm: /usbkey/os/{CUR} is a directory\n", 2)
    assert cnapi_platforms(world) == [CUR]
    assert run(world, f"rm -rf /usbkey/os/{CUR}", "cn01") == ("", "", 0)  # nothing there
    assert cnapi_platforms(world) == [CUR]


def test_switch_platform_points_the_boot_loader_at_a_platform_on_the_key(
        world: World, tmp_path: Path) -> None:
    out, _, code = run(world, f"/usbkey/scripts/switch-platform.sh {OLD}")
    assert code == 0 and out.endswith("==> Done!\n")
    assert model.UsbKey(world).boot() == OLD
    run(world, f"rm -rf /mnt/usbkey/os/{CUR}")
    assert run(world, f"/usbkey/scripts/switch-platform.sh {CUR}") == (
        f"==> FATAL /mnt/usbkey/os/{CUR} does not exist.\n", "", 1)
    assert model.UsbKey(world).boot() == OLD


def test_reset_restores_the_key_the_cache_and_cnapi(world: World, tmp_path: Path) -> None:
    path, _ = platform_file(world, tmp_path)
    run(world, f"/usbkey/scripts/install-platform.sh {path}")
    run(world, f"rm -rf /usbkey/os/{OLD}")
    run(world, f"/usbkey/scripts/switch-platform.sh {NEXT}")
    run(world, "sdc-usbkey unmount")
    world.reset()
    key = model.UsbKey(world)
    assert (key.on_key(), key.in_cache(), cnapi_platforms(world)) == ([OLD, CUR],) * 3
    assert (key.mounted, key.boot(), key.free() // MIB) == (True, CUR, 992)


# -- through the running simulator ------------------------------------------------------------
def _execute(api: Any, host: str, line: str) -> dict[str, Any]:
    uuid = api.server(host, "sysinfo")["uuid"]
    return api.ok("POST", "cnapi", f"/servers/{uuid}/execute",
                  json={"script": f"#!/bin/bash\n{line}\n", "json": True})


def test_simulator_reads_are_not_mutations_and_changes_are(sim: Any, api: Any) -> None:
    assert _execute(api, "headnode", "ls /mnt/usbkey/os")["stdout"].split() == [OLD, CUR]
    assert _execute(api, "headnode", "df -k /mnt/usbkey/os")["exitCode"] == 0
    assert _execute(api, "headnode", "sdc-usbkey status")["stdout"] == "mounted\n"
    assert sim.mutations() == []
    assert _execute(api, "headnode", f"rm -rf /usbkey/os/{OLD}")["exitCode"] == 0
    assert sorted(api.ok("GET", "cnapi", "/platforms")) == [CUR]
    assert [m["path"] for m in sim.mutations()] == [
        f"/servers/{api.server('headnode', 'sysinfo')['uuid']}/execute"]
    sim.reset()
    assert sorted(api.ok("GET", "cnapi", "/platforms")) == [OLD, CUR]
    assert (sim.state_dir / "usbkey-cache/os" / OLD).is_dir()


def test_simulator_over_ssh_logs_changes_as_ssh(sim: Any, api: Any) -> None:
    from sdcadm.clients.remote import Remote
    from sdcadm.config import load_config

    hn = api.server("headnode", "sysinfo")
    remote = Remote(load_config(sim.config_path))
    remote.learn([hn])
    try:
        res = remote.run(hn["uuid"], ["ls", "/mnt/usbkey/os"])
        assert (res.stdout.split(), res.exit_status) == ([OLD, CUR], 0)
        assert sim.mutations() == []
        assert remote.run(hn["uuid"], ["/opt/smartdc/bin/sdc-usbkey", "unmount"]).ok
    finally:
        remote.close()
    assert [(m["service"], m["method"], m["path"]) for m in sim.mutations()] == [
        ("ssh", "EXEC", "headnode: /opt/smartdc/bin/sdc-usbkey unmount")]
    assert _execute(api, "headnode", "sdc-usbkey status")["stdout"] == "unmounted\n"
