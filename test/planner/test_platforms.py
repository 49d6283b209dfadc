"""Pure platform rules: rows, counts, latest/default, avail, install resolution, assign
(OS checks, downgrades, no-ops, the default) and remove selection, table-driven."""
from __future__ import annotations

from typing import Any

import pytest

from sdcadm.errors import MultiError, SdcAdmError, UpdateError, UsageError
from sdcadm.model import Image, Server
from sdcadm.planner import platforms as p

OLD, MID, NEW = "20240101T000000Z", "20240601T000000Z", "20250101T000000Z"
LNX_OLD, LNX_NEW = "20240301T000000Z", "20240901T000000Z"
PLATFORMS: dict[str, dict[str, Any]] = {OLD: {"os": "smartos"}, MID: {"os": "smartos"},
                                         NEW: {"os": "smartos", "latest": True}}
MIXED = {**PLATFORMS, LNX_OLD: {"os": "linux"}, LNX_NEW: {"os": "linux", "latest": True}}


def srv(name: str, current: str, boot: str | None = None, *, headnode: bool = False,
        setup: bool = True) -> Server:
    return Server(uuid=f"uuid-{name}", hostname=name, headnode=headnode, setup=setup,
                  current_platform=current, boot_platform=boot or current)


HN = srv("headnode", MID, headnode=True)
CN1 = srv("cn1", MID)
CN2 = srv("cn2", OLD, NEW)
CN3 = srv("cn3", OLD)
SERVERS = [HN, CN1, CN2, CN3]


def img(name: str, stamp: str, published: str, *, os_: str = "other",
        uuid: str | None = None) -> Image:
    return Image(uuid=uuid or f"img-{name}-{stamp}", name=name, version=f"master-{stamp}",
                 published_at=published, os=os_, size=3 << 20, sha1="ab" * 20)


# -- latest / os ---------------------------------------------------------------------------
@pytest.mark.parametrize("platforms, os_, expected", [
    (PLATFORMS, "smartos", NEW),
    ({OLD: {"os": "smartos"}, MID: {"os": "smartos"}}, "smartos", MID),  # no flag: newest
    ({OLD: {"os": "smartos", "latest": True}, MID: {"os": "smartos"}}, "smartos", OLD),
    (MIXED, "linux", LNX_NEW),
    (PLATFORMS, "linux", None),
    ({OLD: {"os": "other"}}, "smartos", OLD),  # old CNAPIs say "other"
    ({OLD: {}}, "smartos", OLD),
    ({}, "smartos", None),
])
def test_latest_installed(platforms: Any, os_: str, expected: str | None) -> None:
    assert p.latest_installed(platforms, os_) == expected


# -- list ------------------------------------------------------------------------------------
def test_list_rows_count_boot_and_current_servers_and_flags() -> None:
    rows = p.list_rows(PLATFORMS, SERVERS, MID, usb_key=[MID, NEW])
    table = {r["version"]: r for r in p.counted(rows)}
    assert [r["version"] for r in rows] == [OLD, MID, NEW]
    assert {v: (r["current_platform"], r["boot_platform"]) for v, r in table.items()} == {
        OLD: (2, 1), MID: (2, 2), NEW: (0, 1)}
    assert {v: (r["latest"], r["default"], r["usb_key"], r["os"]) for v, r in table.items()} == {
        OLD: (False, False, False, "smartos"), MID: (False, True, True, "smartos"),
        NEW: (True, False, True, "smartos")}
    # The JSON form names the servers.
    assert rows[0]["current_platform"] == [{"uuid": "uuid-cn2", "hostname": "cn2"},
                                           {"uuid": "uuid-cn3", "hostname": "cn3"}]


def test_list_rows_resolve_latest_links_and_skip_unset_up_servers() -> None:
    servers = [srv("a", "latest", "latest"), srv("b", OLD, setup=False)]
    table = {r["version"]: r for r in p.counted(p.list_rows(PLATFORMS, servers, "latest", []))}
    assert (table[NEW]["current_platform"], table[NEW]["boot_platform"]) == (1, 1)
    assert table[OLD]["current_platform"] == 0  # not set up: not counted
    assert table[NEW]["default"] is True


@pytest.mark.parametrize("flags, expected", [
    ({}, [OLD, MID, NEW]),
    ({"active": True}, [OLD, MID]),
    ({"inactive": True}, [NEW]),
    ({"active": True, "inactive": True}, [OLD, MID]),  # -a wins, as the original
    ({"usbkey": True}, [MID, NEW]),
    ({"usbkey": True, "active": True}, [MID]),
])
def test_filter_rows(flags: dict[str, bool], expected: list[str]) -> None:
    servers = [srv("a", OLD), srv("b", MID)]
    rows = p.counted(p.list_rows(PLATFORMS, servers, None, [MID, NEW]))
    assert [r["version"] for r in p.filter_rows(rows, **flags)] == expected


def test_usage_rows() -> None:
    rows = p.usage_rows(PLATFORMS, SERVERS, NEW)
    assert rows == [{"uuid": "uuid-cn2", "hostname": "cn2", "current_platform": OLD,
                     "boot_platform": NEW}]
    assert p.usage_rows(PLATFORMS, [srv("x", OLD, setup=False)], OLD) == []
    with pytest.raises(UsageError, match="^invalid platform 1999$"):
        p.usage_rows(PLATFORMS, SERVERS, "1999")


# -- avail -----------------------------------------------------------------------------------
CATALOG = [img("platform", OLD, "2024-01-01T01:00:00Z"),
           img("platform", NEW, "2025-01-01T01:00:00Z"),
           img("platform", "20251201T000000Z", "2025-12-01T01:00:00Z"),
           img("platform-linux", LNX_NEW, "2024-09-01T01:00:00Z", os_="linux"),
           img("platform-linux", "20241201T000000Z", "2024-12-01T01:00:00Z", os_="linux"),
           img("vmapi", "20251201T000000Z", "2025-12-01T01:00:00Z")]


@pytest.mark.parametrize("platforms, os_, expected", [
    (PLATFORMS, None, ["20251201T000000Z"]),  # SmartOS only: no Linux is installed
    (PLATFORMS, "smartos", ["20251201T000000Z"]),
    (PLATFORMS, "linux", [LNX_NEW, "20241201T000000Z"]),  # asked for: all of them
    (MIXED, None, ["20241201T000000Z", "20251201T000000Z"]),
    (MIXED, "linux", ["20241201T000000Z"]),
    ({OLD: {"os": "smartos"}, "20251201T000000Z": {"os": "smartos", "latest": True}},
     "smartos", []),
])
def test_avail_rows(platforms: Any, os_: str | None, expected: list[str]) -> None:
    rows = p.avail_rows(CATALOG, platforms, os_)
    assert [r["version"] for r in rows] == expected
    assert all(r["os"] == ("linux" if r["version"] in (LNX_NEW, "20241201T000000Z")
                           else "smartos") for r in rows)
    assert all(set(r) == {"version", "uuid", "published_at", "os"} for r in rows)


# -- install ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ident, os_, expected", [
    ("latest", "smartos", "20251201T000000Z"),
    ("latest", "linux", "20241201T000000Z"),
    (NEW, "smartos", NEW),
    ("img-platform-" + OLD, "smartos", OLD),
    ("19990101T000000Z", "smartos", None),
])
def test_find_platform_image(ident: str, os_: str, expected: str | None) -> None:
    if ident.startswith("img-"):
        ident = "6f1c1d2e-3b4a-5c6d-8e9f-0a1b2c3d4e5f"
        catalog = [*CATALOG, img("platform", OLD, "2023-01-01T00:00:00Z", uuid=ident)]
    else:
        catalog = CATALOG
    found = p.find_platform_image(catalog, ident, os_)
    assert (p.image_platform_version(found.version) if found else None) == expected


def test_resolve_install_and_refusals() -> None:
    item, image = p.resolve_install(CATALOG, NEW, "smartos", channel="dev", tmp_dir="/var/tmp/")
    assert image is not None and item == p.Install(version=NEW, os="smartos", image=image.uuid,
                             file=f"/var/tmp/platform-master-{NEW}.tgz")
    with pytest.raises(UpdateError, match="^Unable to find the given Platform Image "
                                          "'1999' in channel 'dev'$"):
        p.resolve_install(CATALOG, "1999", "smartos", channel="dev", tmp_dir="/tmp")
    vm = img("vmapi", NEW, "2025-01-01T00:00:00Z", uuid="11111111-2222-3333-4444-555555555555")
    with pytest.raises(UpdateError, match="is not a platform image"):
        p.resolve_install([vm], vm.uuid, "smartos", channel="dev", tmp_dir="/tmp")


@pytest.mark.parametrize("path, version", [
    ("/var/tmp/platform-master-20250115T120000Z.tgz", "20250115T120000Z"),
    ("/x/platform-release-20240101-20240102t030405z.tgz", "20240102T030405Z"),
    ("/x/platform.tgz", None),
])
def test_given_install(path: str, version: str | None) -> None:
    if version is None:
        with pytest.raises(UsageError, match="cannot tell the platform version"):
            p.given_install(path)
    else:
        assert p.given_install(path) == (p.Install(version=version, os="smartos", file=path),
                                         None)


@pytest.mark.parametrize("cached, on_key, left", [
    ({NEW}, {NEW}, []),
    ({NEW}, set(), [NEW]),  # in the cache only: the installer puts it back on the key
    (set(), {NEW}, [NEW]),
])
def test_not_installed(cached: set[str], on_key: set[str], left: list[str]) -> None:
    items = [(p.Install(version=NEW, os="smartos", file="/f"), None)]
    assert [i.version for i, _ in p.not_installed(items, cached, on_key)] == left


def test_install_steps() -> None:
    steps = p.install_steps([p.Install(NEW, "smartos", "/f", "img")], HN, set_default=NEW)
    assert [(s.id, s.action) for s in steps] == [
        (f"1:install-platform:{NEW}", "install-platform"),
        ("2:set-default-platform:default", "set-default-platform")]
    assert steps[0].params == {"server_uuid": HN.uuid, "hostname": "headnode", "platform": NEW,
                               "os": "smartos", "file": "/f", "image_uuid": "img"}


# -- assign ----------------------------------------------------------------------------------
def _assign(**kw: Any) -> p.AssignPlan:
    args: dict[str, Any] = {"platform": NEW, "names": (), "all_": False, "default": MID,
                            "allow_downgrade": False}
    args.update(kw)
    return p.plan_assign(args.pop("platforms", PLATFORMS), SERVERS, **args)


@pytest.mark.parametrize("kw, targets, already, default", [
    ({"names": ["cn1", "uuid-cn3"]}, ["cn1", "cn3"], [], None),
    ({"names": ["cn2"]}, [], ["cn2"], None),  # boots NEW already: nothing to do
    ({"all_": True}, ["headnode", "cn1", "cn3"], ["cn2"], NEW),
    ({"all_": True, "default": NEW}, ["headnode", "cn1", "cn3"], ["cn2"], None),
    ({"platform": None, "names": ["cn3"]}, ["cn3"], [], None),  # --latest
    ({"names": ["cn1", "cn1"]}, ["cn1"], [], None),
])
def test_plan_assign(kw: dict[str, Any], targets: list[str], already: list[str],
                     default: str | None) -> None:
    plan = _assign(**kw)
    assert [s.hostname for s, _ in plan.targets] == targets
    assert [s.hostname for s in plan.already] == already
    assert plan.set_default == default
    assert all(v == NEW for _, v in plan.targets)


@pytest.mark.parametrize("kw, error, message", [
    ({"platform": "1999"}, UsageError, "^invalid platform 1999$"),
    ({"names": ["cn9", "cn1", "nope"]}, UsageError, r'^server \["cn9","nope"\] not found$'),
    ({"platform": OLD, "names": ["cn1", "headnode"]}, UpdateError,
     rf"^platform {OLD} is older than the platform running on cn1 \({MID}\), headnode "
     rf"\({MID}\): use --allow-downgrade to assign it anyway$"),
    ({"platform": LNX_NEW, "names": ["headnode"], "platforms": MIXED}, UsageError,
     "^Headnode Operating System must be SmartOS$"),
    ({"platform": LNX_NEW, "names": ["cn1"], "platforms": MIXED}, UsageError,
     "^Cannot change server Operating System without a Factory Reset"),
    ({"platform": LNX_NEW, "names": ["cn1", "headnode"], "platforms": MIXED}, MultiError,
     r"^multiple \(2\) errors"),
    ({"platform": None, "names": ["cn1"], "platforms": {LNX_NEW: {"os": "linux"}}}, UsageError,
     "no SmartOS platform is installed"),
])
def test_plan_assign_refusals(kw: dict[str, Any], error: type[SdcAdmError],
                              message: str) -> None:
    with pytest.raises(error, match=message) as e:
        _assign(**kw)
    assert e.value.exit_status == 2  # bad input, nothing changed


def test_assign_downgrade_allowed_and_only_for_changes() -> None:
    plan = _assign(platform=OLD, names=["cn1", "cn3"], allow_downgrade=True)
    assert [(s.hostname, cur) for s, cur in plan.downgrades] == [("cn1", MID)]
    assert [s.hostname for s in plan.already] == ["cn3"]
    # A server that already boots the older platform is not downgraded by this command.
    cn4 = srv("cn4", NEW, OLD)
    plan = p.plan_assign(PLATFORMS, [cn4], platform=OLD, names=["cn4"])
    assert plan.empty and plan.downgrades == ()
    many = [srv(f"cn{i:02d}", NEW) for i in range(12)]
    with pytest.raises(UpdateError, match=r"cn09 \(.*\) and 2 more: use --allow-downgrade"):
        p.plan_assign(PLATFORMS, many, platform=OLD, all_=True)


def test_assign_latest_picks_the_latest_of_each_servers_os() -> None:
    lnx = srv("lnx", LNX_OLD)
    plan = p.plan_assign(MIXED, [HN, lnx], platform=None, all_=True, default=MID)
    assert [(s.hostname, v) for s, v in plan.targets] == [("headnode", NEW), ("lnx", LNX_NEW)]
    assert plan.set_default == NEW


def test_assign_steps_headnode_first_then_cns_in_parallel_verify_default() -> None:
    steps = p.assign_steps(_assign(all_=True))
    assert [s.id for s in steps] == [
        f"1:switch-platform:{HN.uuid}", f"2:set-boot-platform:{HN.uuid}",
        f"3:set-boot-platform:{CN1.uuid}", f"4:set-boot-platform:{CN3.uuid}",
        "5:verify-boot-platforms:servers", "6:set-default-platform:default"]
    cns = steps[2:4]
    assert {(s.parallel, s.concurrency, s.on_failure) for s in cns} == {
        ("platform-assign", 5, "continue")}
    assert steps[1].parallel is None
    assert steps[4].params == {"servers": {HN.uuid: NEW, CN1.uuid: NEW, CN3.uuid: NEW}}


# -- remove ----------------------------------------------------------------------------------
FOUR: dict[str, dict[str, Any]] = {**PLATFORMS, "20230101T000000Z": {"os": "smartos"}}


@pytest.mark.parametrize("kw, removed, kept_default, in_use", [
    ({"all_": True}, ["20230101T000000Z"], None, []),
    ({"all_": True, "default": "20230101T000000Z"}, [], None, []),  # refused below
    ({"names": ["20230101T000000Z"]}, ["20230101T000000Z"], None, []),
    ({"names": [OLD], "force": True}, [OLD], None, []),
    ({"names": [OLD, "20230101T000000Z"]}, ["20230101T000000Z"], None, [OLD]),
])
def test_select_removals(kw: dict[str, Any], removed: list[str], kept_default: str | None,
                         in_use: list[str]) -> None:
    args: dict[str, Any] = {"default": NEW, **kw}
    default = args.pop("default")
    if not removed:
        with pytest.raises(UsageError, match="^No platforms will be removed$"):
            p.select_removals(FOUR, SERVERS, default, **args)
        return
    sel = p.select_removals(FOUR, SERVERS, default, **args)
    assert (list(sel.remove), sel.kept_default, list(sel.in_use)) == (removed, kept_default,
                                                                     in_use)


def test_select_removals_all_keeps_default_and_newest() -> None:
    servers = [srv("hn", NEW, headnode=True)]
    sel = p.select_removals(FOUR, servers, MID, all_=True)
    assert (sel.remove, sel.kept_default) == (("20230101T000000Z", OLD), MID)
    sel = p.select_removals(FOUR, servers, MID, all_=True, keep=1)
    assert sel.remove == ("20230101T000000Z",)
    with pytest.raises(UsageError, match="No platforms will be removed"):
        p.select_removals(FOUR, servers, MID, all_=True, keep=2)


@pytest.mark.parametrize("kw, message", [
    ({"names": [MID]}, "No platforms will be removed\n\nThe following platforms are in use:\n"
                       f"{MID}\nPlease use `--force` option if you want to remove them anyway"),
    ({"names": [NEW], "force": True}, "Default platform cannot be removed"),
    ({"names": ["1999"]}, "invalid platform 1999"),
])
def test_select_removals_refusals(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as e:
        p.select_removals(FOUR, SERVERS, NEW, **kw)
    assert e.value.message == message


@pytest.mark.parametrize("mounted, cleanup, actions", [
    (True, False, ["remove-platform:key", "remove-platform:key"]),
    (False, False, ["mount-usbkey", "remove-platform:key", "remove-platform:key",
                    "unmount-usbkey"]),
    (True, True, ["remove-platform:key", "remove-platform:key", "remove-platform:cache",
                  "remove-platform:cache"]),
])
def test_remove_steps(mounted: bool, cleanup: bool, actions: list[str]) -> None:
    steps = p.remove_steps([OLD, MID], HN, mounted=mounted, cleanup_cache=cleanup)
    assert [s.action + (f":{s.params['where']}" if "where" in s.params else "")
            for s in steps] == actions
    assert len({s.id for s in steps}) == len(steps)


def test_platform_plan_is_labelled_for_history() -> None:
    doc = p.platform_plan("assign", platform=NEW, servers=["a"], downgrade=True).to_json()
    change = doc["changes"][0]
    assert (change["type"], change["service"]["name"], change["platform"], change["servers"],
            change["downgrade"]) == ("platform-assign", "platform", NEW, ["a"], True)
