"""`avail` reports what `update` would do, and says why when update would not act on a row.

Compared against `update --all -j` (the plan itself) and raw reads of the updates server,
not against avail's own code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

LOCKED = {"portolan", "rabbitmq", "sdcadm"}


def planned(sdcadm: Any, *args: str) -> dict[str, str]:
    r = sdcadm("update", "-j", *args)
    assert r.exit_code == 0, r.err
    plan = json.loads(r.out)
    return {c["service"]["name"]: c["image"]["uuid"] for c in plan["changes"]}


def listed(sdcadm: Any, *args: str) -> dict[str, str]:
    r = sdcadm("avail", "-j", *args)
    assert r.exit_code == 0, r.err
    return {row["service"]: row["image"] for row in json.loads(r.out)}


def catalog(sim: Any) -> list[dict[str, Any]]:
    return requests.get(sim.urls["updates"] + "/images", params={"channel": "dev"},
                        timeout=10).json()


def test_avail_lists_what_update_all_does(sdcadm: Any, sim: Any) -> None:
    rows = listed(sdcadm)
    plan = planned(sdcadm, "--all")
    assert plan  # the scenario has work to do
    assert {s: i for s, i in rows.items() if s not in LOCKED} == plan
    # the locked portolan is listed, and exactly what --force-data-path would plan
    assert "portolan" in rows and "portolan" not in plan
    assert planned(sdcadm, "--all", "--force-data-path")["portolan"] == rows["portolan"]
    assert sim.mutations() == []


def test_avail_on_an_older_channel_lists_only_what_update_would_move(sdcadm: Any,
                                                                     sim: Any) -> None:
    # On `release` the newest cmon-agent is the one cn03/cn04 already run, and older than
    # the others' image: nothing moves to it, so it is no update.
    newest = max((i for i in requests.get(sim.urls["updates"] + "/images",
                                          params={"channel": "release"}, timeout=10).json()
                  if i["name"] == "cmon-agent"), key=lambda i: i["published_at"])
    insts = json.loads(sdcadm("instances", "-j").out)
    assert newest["uuid"] in {i["image"] for i in insts if i["service"] == "cmon-agent"}
    rows = listed(sdcadm, "-C", "release")
    assert {s: i for s, i in rows.items() if s not in LOCKED} == planned(
        sdcadm, "--all", "-C", "release")
    r = sdcadm("avail", "-C", "release", "cmon-agent")
    assert (r.exit_code, r.out) == (0, "Up-to-date.\n")


def test_avail_leaves_out_agents_update_cannot_handle(sdcadm: Any, sim: Any) -> None:
    # cabase has a newer build on the channel, but `update` has no procedure for it
    newer = [i for i in catalog(sim) if i["name"] == "cabase"]
    assert newer
    assert "cabase" not in listed(sdcadm)
    r = sdcadm("update", "-n", "cabase")
    assert r.exit_code == 2 and "do not support the following changes" in r.err
    # named explicitly, avail shows it and says update will not do it
    r = sdcadm("avail", "-H", "-o", "service", "cabase")
    assert (r.exit_code, r.out) == (0, "cabase\n")
    assert r.err == 'note: "sdcadm update" cannot update the "cabase" service\n'


def test_avail_notes_follow_exclusions(sdcadm: Any) -> None:
    r = sdcadm("avail", "-x", "portolan,sdcadm")
    assert r.exit_code == 0
    assert r.err == ""
    r = sdcadm("avail", "-H", "-o", "service", "portolan")
    assert r.out == "portolan\n"
    assert r.err == ('note: portolan updates are locked: "sdcadm update --all" leaves '
                     "portolan out (use --force-data-path)\n")


def test_avail_sdcadm_row_for_a_newer_release(sdcadm: Any, sim: Any) -> None:
    # This package's build stamp is later than every release on the channel; a higher
    # version must still be offered (the stamp only orders builds of one version).
    from sdcadm import __version__

    def ver(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split(".")[:3])

    builds = sorted((i for i in catalog(sim) if i["name"] == "sdcadm"
                     and ver(i["version"]) > ver(__version__)), key=lambda i: ver(i["version"]))
    assert builds
    r = sdcadm("avail", "-H", "sdcadm")
    assert r.out.split() == ["sdcadm", builds[-1]["uuid"], f"sdcadm@{builds[-1]['version']}"]
    assert r.err == ('note: "sdcadm update" does not update sdcadm itself: '
                     'use "sdcadm self-update --latest"\n')


def test_avail_notes_a_service_update_would_refuse(sdcadm: Any, sim: Any,
                                                   tmp_path: Path) -> None:
    # A minimum image later than anything cns runs: avail still lists cns (it skips the
    # gate, as the original did) but says that update would refuse, with update's words.
    conf = json.loads(Path(sim.config_path).read_text())
    conf["svcMinImages"] = {"cns": "20991231T000000Z"}
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(conf))
    r = sdcadm("--config", str(path), "avail", "-H", "-o", "service", "cns")
    assert (r.exit_code, r.out) == (0, "cns\n")
    refused = sdcadm("--config", str(path), "update", "-n", "cns")
    assert refused.exit_code == 2
    reason = refused.err.splitlines()[-1].split("error (Update): ", 1)[1]
    assert "too old" in reason
    assert r.err == f'note: "sdcadm update cns" would refuse: {reason}\n'
    assert sim.mutations() == []
