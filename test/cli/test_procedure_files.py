"""The ready-made specs in procedures/ do what their comments say, against the simulator."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

PROCEDURES = Path(__file__).resolve().parents[2] / "procedures"
AGENTS = ["cn-agent", "vm-agent", "net-agent", "config-agent", "amon-agent", "amon-relay",
          "cmon-agent", "firewaller", "hagfish-watcher", "smartlogin", "agents_core"]
DATA_PATH = {"sapi", "moray", "binder", "manatee"}


def updated(out: str) -> list[str]:
    """The services the breakdown updates, in the order it lists them."""
    return re.findall(r'^    update "([^"]+)" service', out, re.M)


def written_order(path: Path) -> list[str]:
    """The order a procedure's comment says it runs in (`#   a, b, c` after "whatever")."""
    text = path.read_text()
    m = re.search(r"whatever the order below.*?\n#\n#   ([a-z, -]+)\n", text, re.S)
    assert m, f"{path.name} does not state its order"
    return [s.strip() for s in m.group(1).split(",")]


@pytest.mark.parametrize("name, check", [
    ("agents.yaml", lambda s: s == AGENTS),
    ("stateless.yaml", lambda s: s and not set(s) & (DATA_PATH | set(AGENTS) | {"imgapi"})),
    ("all-but-data-path.yaml",
     lambda s: "portolan" in s and not set(s) & DATA_PATH and s[-len(AGENTS):] == AGENTS
     and s.index("imgapi") < s.index("cn-agent")),
])
def test_service_procedures_update_what_they_say(sdcadm: Any, sim: Any, name: str,
                                                 check: Any) -> None:
    r = sdcadm("update", "-f", str(PROCEDURES / name), "-n")
    assert r.exit_code == 0, r.err
    assert check(updated(r.out)), updated(r.out)
    assert r.out.endswith("Dry run: nothing was changed.\n")
    assert sim.mutations() == []


def test_ha_services_run_in_the_order_the_procedure_states(sdcadm: Any, sim: Any) -> None:
    path = PROCEDURES / "ha-services.yaml"
    r = sdcadm("update", "-f", str(path), "-n")
    assert r.exit_code == 0, r.err
    stated = written_order(path)
    assert updated(r.out) == [s for s in stated if s in updated(r.out)]
    assert set(updated(r.out)) <= DATA_PATH and updated(r.out)
    assert sim.mutations() == []


def test_listing_out_of_order_says_it_is_reordered(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("update", "-n", "sapi", "moray")
    assert r.exit_code == 0, r.err
    assert updated(r.out) == ["moray", "sapi"]
    assert "note: changes run in the update order, not as listed: moray, sapi" in r.err


def test_just_images_imports_only(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("update", "-f", str(PROCEDURES / "just-images.yaml"), "-n")
    assert r.exit_code == 0, r.err
    assert updated(r.out) == [] and re.search(r"^    download \d+ images", r.out, re.M)


def test_platform_rollout_reboots_the_compute_nodes_only(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("update", "-f", str(PROCEDURES / "platform-rollout.yaml"), "-n")
    assert r.exit_code == 0, r.err
    m = re.search(r"^    update platform to (\S+) on (\d+) servers", r.out, re.M)
    assert m, r.out
    servers = requests.get(f"{sim.urls['cnapi']}/servers", timeout=10).json()
    stale = [s for s in servers if not s["headnode"] and s["setup"]
             and (s["current_platform"] != m.group(1) or s["boot_platform"] != m.group(1))]
    assert int(m.group(2)) == len(stale) > 0
    assert sim.mutations() == []


def new_build(prefix: Path, log: Path) -> None:
    """`<prefix>/current`, as a self-update leaves it, naming a build whose sdcadm writes
    its arguments to `log`, then runs this one."""
    bin_dir = prefix / "builds" / "9.9.9-20991231T000000Z" / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "sdcadm"
    exe.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{sys.executable}" -m sdcadm "$@"\n')
    exe.chmod(0o755)
    (prefix / "current").symlink_to(bin_dir.parent.relative_to(prefix))


def test_release_upgrade_script_dry_runs_every_step(sim: Any, tmp_path: Path) -> None:
    # The sdcadm on PATH runs step 1 (self-update); the later steps run the build it made
    # current, under the configured prefix.
    prefix, log = tmp_path / "opt", tmp_path / "new-build.log"
    new_build(prefix, log)
    conf = tmp_path / "sdcadm.conf"
    conf.write_text(json.dumps({**json.loads(Path(sim.config_path).read_text()),
                                "selfUpdate": {"prefix": str(prefix), "reserveMiB": 1}},
                               indent=4))
    env = dict(os.environ, SDCADM_CONFIG=str(conf), NO_COLOR="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run(["bash", str(PROCEDURES / "release-upgrade.sh"), "-n"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"The steps below run {prefix}/current/bin/sdcadm\n" in r.stderr
    # (self-update asks the build `current` names for its version, to compare with it.)
    ran = [ln for ln in log.read_text().splitlines() if ln != "--version"]
    assert ran == [
        f"update -f {PROCEDURES}/just-images.yaml -n", f"update -f {PROCEDURES}/agents.yaml -n",
        f"update -f {PROCEDURES}/all-but-data-path.yaml -n",
        "update sapi -n", "check-health -q", "update moray -n", "check-health -q",
        "update binder -n", "check-health -q", "update manatee -n", "check-health -q"]
    steps = re.findall(r"^== (.*)$", r.stderr, re.M)
    assert [s.split(" -")[0].split(" /")[0] for s in steps] == [
        "sdcadm self-update", "sdcadm update", "sdcadm dc-maint start (skipped in a dry run)",
        "sdcadm update", "sdcadm update", "sdcadm update sapi", "sdcadm check-health",
        "sdcadm update moray", "sdcadm check-health", "sdcadm update binder",
        "sdcadm check-health", "sdcadm update manatee", "sdcadm check-health",
        "sdcadm dc-maint stop (skipped in a dry run)"]
    assert "Traceback" not in r.stderr
    assert sim.mutations() == []
