"""`sdcadm self-update` against the simulator, for real: its updates server serves wheels of
this project (sdcadm.sim.builds), installed into a temporary prefix and run."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from sdcadm import __version__

ERROR = "sdcadm self-update: error"


@pytest.fixture
def su(sim: Any) -> Iterator["SelfUpdate"]:
    # A directory as short as a headnode's (/opt/smartdc/sdcadm, /var/sdcadm), not pytest's
    # long tmp_path: the confirmation's lines are measured against 100 columns.
    tmp = Path(tempfile.mkdtemp(prefix="su-", dir="/tmp"))
    try:
        yield SelfUpdate(sim, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class SelfUpdate:
    """A configuration of our own (prefix, varDir, tmpDir in a directory) and the catalog."""

    def __init__(self, sim: Any, tmp: Path, **self_update: Any) -> None:
        self.sim = sim
        self.prefix = tmp / "opt"
        self.var = tmp / "var"
        self.tmp = tmp / "tmp"
        conf = json.loads(Path(sim.config_path).read_text())
        conf.update(varDir=str(self.var), tmpDir=str(self.tmp), retries=0,
                    selfUpdate={"prefix": str(self.prefix), **self_update})
        self.conf = tmp / f"sdcadm-{len(self_update)}.conf"
        self.conf.write_text(json.dumps(conf, indent=2))
        imgs = requests.get(sim.urls["updates"] + "/images?name=sdcadm&channel=*",
                            timeout=10).json()
        x, y, z = (int(v) for v in __version__.split(".")[:3])
        by_version = {i["version"]: i for i in imgs}
        self.older = by_version[f"{x}.{y}.{z}"]
        self.patch = by_version[f"{x}.{y}.{z + 1}"]
        self.needs_platform = by_version[f"{x}.{y}.{z + 2}"]
        self.major = by_version[f"{x + 1}.0.0"]

    def env(self) -> dict[str, str]:
        return {"SDCADM_CONFIG": str(self.conf)}

    @property
    def current(self) -> Path:
        return self.prefix / "current"

    def target(self, link: str) -> Path:
        return (self.prefix / link).resolve()

    def build_dir(self, img: dict[str, Any]) -> Path:
        stamp = img["tags"]["buildstamp"].split("-")[-2]
        return (self.prefix / "builds" / f"{img['version']}-{stamp}").resolve()

    def run_current(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The build `current` names, as an operator would run it."""
        env = {**os.environ, "SDCADM_CONFIG": str(self.conf), "NO_COLOR": "1"}
        return subprocess.run([str(self.current / "bin" / "sdcadm"), *args], env=env,
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    def version_of_current(self) -> str:
        return self.run_current("--version").stdout


def label(img: dict[str, Any]) -> str:
    return f"sdcadm {img['version']} ({img['tags']['buildstamp']})"


def running_label() -> str:
    stamp = (Path(__file__).resolve().parents[2] / "sdcadm/etc/buildstamp").read_text().strip()
    return f"sdcadm {__version__} ({stamp})"


def error_line(r: Any) -> str:
    """The one line a failure prints: the last on stderr, and the only error line."""
    lines = r.err.splitlines()
    assert lines and lines[-1].startswith(ERROR), r.err
    assert sum(1 for line in lines if line.startswith(ERROR)) == 1, r.err
    return lines[-1]


def flat(text: str) -> str:
    """Text with its lines joined: a long line of a confirmation goes on on the next."""
    return " ".join(text.split())


def assert_fits(out: str, err: str) -> None:
    """Every line of a confirmation (a dry run prints nothing else) fits 100 columns, as the
    update breakdown's."""
    wide = [ln for ln in (out + err).splitlines() if len(ln) > 100]
    assert not wide, "\n".join(wide)


def history(sdcadm: Any, su: SelfUpdate) -> list[dict[str, Any]]:
    r = sdcadm("history", "-j", env=su.env())
    assert r.exit_code == 0, r.err
    return [e for e in json.loads(r.out)
            if any(str(c.get("type", "")).startswith("self-update") for c in e["changes"])]


def test_latest_installs_beside_the_running_build_and_switches(
        sdcadm: Any, su: SelfUpdate) -> None:
    conf_before = su.conf.read_bytes()
    dry = sdcadm("self-update", "--latest", "-n", env=su.env())
    assert dry.exit_code == 0, dry.err
    assert dry.out.startswith(f"[dry-run] Update to {label(su.patch)}\n")
    assert_fits(dry.out, dry.err)
    r = sdcadm("self-update", "--latest", "-y", env=su.env())
    assert r.exit_code == 0, r.err
    out = r.out.splitlines()
    assert out[0] == f"Update to {label(su.patch)}"
    assert re.fullmatch(rf"Updated to sdcadm {su.patch['version']} "
                        rf"\({su.patch['tags']['buildstamp']}, elapsed \d+s\)", out[-1])
    assert "Using channel dev" in r.err
    assert (f"Skipping available major sdcadm update, version {su.major['version']} "
            "(use --allow-major-update to allow)") in flat(r.err)
    assert (f"Skipping sdcadm {su.needs_platform['version']} ({su.needs_platform['uuid']}): "
            "it requires platform 20250115T120000Z or later, the headnode (headnode) runs "
            "20241010T000000Z") in flat(r.err)

    # A new versioned directory beside the running build; `current` names it, `previous`
    # the environment this test runs from.
    assert su.target("current") == su.build_dir(su.patch)
    assert su.target("previous") == Path(sys.prefix).resolve()
    assert su.version_of_current() == f"{label(su.patch)}\n"
    (run,) = (su.var / "self-updates").iterdir()
    log = (run / "install.log").read_text()
    assert "pip install --no-deps --no-index" in log and "instances -H" in log
    assert json.loads((run / "plan.json").read_text())["command"] == "self-update"
    assert not (su.tmp / f"sdcadm-{su.patch['uuid']}").exists()  # the download is gone
    assert su.conf.read_bytes() == conf_before
    (entry,) = history(sdcadm, su)
    assert entry["changes"][0]["image"]["uuid"] == su.patch["uuid"]
    assert entry["finished"] and not entry.get("error")

    # The new build works: it reads the datacenter and knows it is the latest.
    r2 = su.run_current("self-update", "--latest", "-y")
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == 'Already up-to-date (using "dev" update channel).\n'

    # It rolls back to the build in use before; that one is kept as previous.
    dry = su.run_current("self-update", "--rollback", "-n")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"[dry-run] Roll back to {running_label()} in ")
    assert_fits(dry.stdout, dry.stderr)
    r3 = su.run_current("self-update", "--rollback", "-y")
    assert r3.returncode == 0, r3.stderr
    assert r3.stdout.splitlines()[-1].startswith(f"Rolled back to sdcadm {__version__} (")
    assert su.target("current") == Path(sys.prefix).resolve()
    assert su.target("previous") == su.build_dir(su.patch)
    assert su.version_of_current() == f"{running_label()}\n"

    # Forward again by image uuid: the installed build is reused, nothing is downloaded.
    dry = sdcadm("self-update", su.patch["uuid"], "-n", env=su.env())
    assert dry.exit_code == 0, dry.err
    assert_fits(dry.out, dry.err)
    r4 = sdcadm("self-update", su.patch["uuid"], "-y", env=su.env())
    assert r4.exit_code == 0, r4.err
    assert f"installed already in {su.build_dir(su.patch)}" in flat(r4.out)
    assert "Download update" not in r4.err
    assert su.target("current") == su.build_dir(su.patch)
    assert [e["changes"][0]["type"] for e in history(sdcadm, su)] == [
        "self-update", "self-update-rollback", "self-update"]


def test_an_older_binary_measures_against_the_build_in_use(
        sdcadm: Any, su: SelfUpdate) -> None:
    """Run by its path, an older sdcadm (this test's) must not move `current` back: the
    rules compare with the build `current` names, the one a switch would replace."""
    r = sdcadm("self-update", su.major["uuid"], "--allow-major-update", "-y", env=su.env())
    assert r.exit_code == 0, r.err
    assert su.target("current") == su.build_dir(su.major)

    r = sdcadm("self-update", "--latest", "-y", env=su.env())
    assert r.exit_code == 0, r.err
    assert r.out == 'Already up-to-date (using "dev" update channel).\n'
    r = sdcadm("self-update", su.patch["uuid"], "-y", env=su.env())
    assert r.exit_code == 2
    assert error_line(r) == (
        f"{ERROR} (Usage): Major sdcadm version update requires --allow-major-update option")
    r = sdcadm("self-update", su.patch["uuid"], "--allow-major-update", "-y", env=su.env())
    assert r.exit_code == 2
    assert error_line(r) == (
        f"{ERROR} (Update): image {su.patch['uuid']} ({label(su.patch)}) is older than "
        f"{label(su.major)}, the build in use: use --allow-downgrade to downgrade")
    assert su.target("current") == su.build_dir(su.major)


def test_an_older_build_needs_allow_downgrade(sdcadm: Any, su: SelfUpdate) -> None:
    r = sdcadm("self-update", su.older["uuid"], "-y", env=su.env())
    assert r.exit_code == 2
    assert error_line(r) == (
        f"{ERROR} (Update): image {su.older['uuid']} ({label(su.older)}) is older than "
        f"{running_label()}, the build in use: use --allow-downgrade to downgrade")
    assert not su.prefix.exists()

    r = sdcadm("self-update", su.older["uuid"], "--allow-downgrade", "-y", env=su.env())
    assert r.exit_code == 0, r.err
    assert su.target("current") == su.build_dir(su.older)
    assert su.version_of_current() == f"{label(su.older)}\n"


def test_older_builds_beyond_keep_builds_are_removed_after_a_switch(
        sdcadm: Any, sim: Any) -> None:
    """`selfUpdate.keepBuilds` builds are kept, the newest, besides whatever `current` and
    `previous` name; older ones go once a switch succeeded, with a line naming them."""
    tmp = Path(tempfile.mkdtemp(prefix="su-", dir="/tmp"))
    try:
        su = SelfUpdate(sim, tmp, keepBuilds=1)
        for img, extra in ((su.patch, ()), (su.major, ("--allow-major-update",)),
                           (su.older, ("--allow-downgrade", "--allow-major-update"))):
            r = sdcadm("self-update", img["uuid"], "-y", *extra, env=su.env())
            assert r.exit_code == 0, r.err
        # patch was current, then previous; now neither, and not among the newest one
        assert "Removed 1 older build (selfUpdate.keepBuilds 1): " \
            f"{su.build_dir(su.patch).name}" in r.err.splitlines()
        assert sorted(d.name for d in (su.prefix / "builds").iterdir()) == sorted(
            su.build_dir(i).name for i in (su.major, su.older))
        assert su.target("current") == su.build_dir(su.older)
        assert su.target("previous") == su.build_dir(su.major)
        assert su.version_of_current() == f"{label(su.older)}\n"
        # the removed build is installed again when asked for
        r = sdcadm("self-update", su.patch["uuid"], "-y", env=su.env())
        assert r.exit_code == 0, r.err
        assert su.target("current") == su.build_dir(su.patch)
        assert su.version_of_current() == f"{label(su.patch)}\n"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_run_killed_as_it_ends_has_its_history_entry_finished(
        sdcadm: Any, su: SelfUpdate, monkeypatch: pytest.MonkeyPatch) -> None:
    """History is finished before the journal's end, as in every run: a self-update killed
    between the two leaves a finished entry (it is never resumed: nothing else would)."""
    from sdcadm.executor.journal import Journal

    class Killed(BaseException):
        pass

    append = Journal.append

    def killed_at_the_end(self: Journal, event: str, **fields: Any) -> None:
        if event == "run-end":
            raise Killed()
        append(self, event, **fields)

    monkeypatch.setattr(Journal, "append", killed_at_the_end)
    with pytest.raises(Killed):
        sdcadm("self-update", "--latest", "-y", env=su.env())
    monkeypatch.setattr(Journal, "append", append)
    (entry,) = history(sdcadm, su)
    assert entry["finished"] and not entry.get("error")
    assert su.target("current") == su.build_dir(su.patch)


def test_refusals_change_nothing(sdcadm: Any, su: SelfUpdate, sim: Any) -> None:
    vmapi = requests.get(sim.urls["updates"] + "/images?name=vmapi", timeout=10).json()[0]
    unknown = "0badcafe-0000-4000-8000-000000000000"
    cases: list[tuple[tuple[str, ...], int, str]] = [
        ((), 2, "(Usage): Please provide an image UUID or use `sdcadm self-update --latest` "
                "in order to update to the latest available image."),
        (("help",), 2, "(Usage): Please use `sdcadm help self-update` instead"),
        (("nope",), 2, '(Usage): invalid image uuid: "nope"'),
        (("--latest", su.patch["uuid"]), 2,
         "(Usage): --latest and IMAGE-UUID are mutually exclusive"),
        (("--rollback",), 2, f"(Usage): no previous sdcadm build to roll back to in {su.prefix}"),
        (("--rollback", "--latest"), 2,
         "(Usage): --rollback takes no IMAGE-UUID, --latest, -C or -S"),
        (("-S", "ftp://example.com", "--latest"), 2,
         '(Usage): -S must be an http:// or https:// URL, not "ftp://example.com"'),
        ((unknown,), 1, f"(SDCClient): updates client error (ResourceNotFound): image "
                        f'{unknown} not found on {sim.urls["updates"]} (channel "dev")'),
        ((vmapi["uuid"],), 2, f"(Validation): image {vmapi['uuid']} "
                              f"(vmapi@{vmapi['version']}) is not an sdcadm image"),
        ((su.major["uuid"],), 2,
         "(Usage): Major sdcadm version update requires --allow-major-update option"),
        ((su.needs_platform["uuid"],), 2,
         f"(Update): image {su.needs_platform['uuid']} ({label(su.needs_platform)}): it "
         "requires platform 20250115T120000Z or later, the headnode (headnode) runs "
         "20241010T000000Z"),
    ]
    for args, status, message in cases:
        r = sdcadm("self-update", *args, "-y", env=su.env())
        assert (r.exit_code, error_line(r)) == (status, f"{ERROR} {message}"), args
    r = sdcadm("self-update", su.major["uuid"], env=su.env())
    assert (f"Skipping sdcadm self-update to version {su.major['version']} "
            "(use --allow-major-update to allow)") in r.err

    r = sdcadm("self-update", "-C", "release", "--latest", "-y", env=su.env())
    assert r.exit_code == 0, r.err
    assert r.out == 'Already up-to-date (using "release" update channel).\n'

    r = sdcadm("self-update", "--latest", "--allow-major-update", "-n", env=su.env())
    assert r.exit_code == 0, r.err
    out = r.out.splitlines()
    assert out[0] == f"[dry-run] Update to {label(su.major)}"
    assert out[-1] == "Dry run: nothing was changed."
    assert not su.prefix.exists() and not su.var.exists() and not su.tmp.exists()
    assert sim.mutations() == []  # and no history entry either


def test_faults_leave_the_build_in_use_running(sdcadm: Any, su: SelfUpdate, sim: Any) -> None:
    r = sdcadm("self-update", "--latest", "-y", env=su.env())
    assert r.exit_code == 0, r.err
    kept = f"{label(su.patch)} in {su.build_dir(su.patch)} is still in use"

    def unchanged() -> None:
        assert su.target("current") == su.build_dir(su.patch)
        assert su.version_of_current() == f"{label(su.patch)}\n"
        assert sorted(p.name for p in (su.prefix / "builds").iterdir()) == [
            su.build_dir(su.patch).name]

    # A corrupt download: sha1 mismatch, nothing installed, the partial file removed.
    sim.add_fault({"type": "corrupt-file", "target": su.major["uuid"]})
    r = sdcadm("self-update", su.major["uuid"], "--allow-major-update", "-y", env=su.env())
    assert r.exit_code == 1
    line = error_line(r)
    assert line.startswith(f"{ERROR} (ChecksumError): download of sdcadm "
                           f"{su.major['version']} ({su.major['uuid']}) is corrupt: image file "
                           "sha1 mismatch")
    assert line.endswith(f"; {kept}")
    unchanged()
    assert [p for p in su.tmp.rglob("*") if p.is_file()] == []
    assert history(sdcadm, su)[0]["error"]["code"] == "ChecksumError"
    sim.clear_faults()

    # No room: refused before anything is downloaded.
    full = SelfUpdate(sim, su.prefix.parent, reserveMiB=10 ** 9)
    r = sdcadm("self-update", su.major["uuid"], "--allow-major-update", "-y", env=full.env())
    assert r.exit_code == 1
    assert re.fullmatch(rf"{ERROR} \(NoSpace\): Not enough disk space available in "
                        rf"{re.escape(str(su.prefix))} for sdcadm {su.major['version']}: \d+ MiB "
                        r"available, \d+ MiB required \(selfUpdate.reserveMiB keeps "
                        r"1000000000 MiB free\)", error_line(r))
    unchanged()
    assert [p for p in su.tmp.rglob("*") if p.is_file()] == []

    # A build that cannot read the datacenter fails its smoke test: removed, not switched.
    sim.add_fault({"type": "error", "service": "vmapi", "method": "GET", "path": "^/vms",
                   "status": 500})
    r = sdcadm("self-update", su.major["uuid"], "--allow-major-update", "-y", env=su.env())
    assert r.exit_code == 1
    line = error_line(r)
    assert line.startswith(f"{ERROR} (StepFailed): sdcadm {su.major['version']} failed its "
                           "smoke test: `sdcadm instances` exited 1: ")
    assert line.endswith(f"; {kept}")
    unchanged()
    sim.clear_faults()
    assert su.run_current("instances", "-H", "-o", "instance").stdout.strip()

    # Once the cause is gone, the same command finishes, reusing the download.
    r = sdcadm("self-update", su.major["uuid"], "--allow-major-update", "-y", env=su.env())
    assert r.exit_code == 0, r.err
    assert "downloaded already" in r.err and "Download update" not in r.err
    assert su.target("current") == su.build_dir(su.major)
    assert su.target("previous") == su.build_dir(su.patch)


def test_the_self_update_section_is_checked_key_by_key(sdcadm: Any, su: SelfUpdate,
                                                       tmp_path: Path) -> None:
    for section, message in (({"prefx": "/x"}, 'unknown key "selfUpdate.prefx" (did you mean '
                                                '"selfUpdate.prefix"?)'),
                             ({"reserveMiB": -1}, '"selfUpdate.reserveMiB" must be a '
                                                  "non-negative number"),
                             ({"keepBuilds": 1.5}, '"selfUpdate.keepBuilds" must be a '
                                                   "non-negative integer")):
        conf = json.loads(su.conf.read_text())
        conf["selfUpdate"] = section
        bad = tmp_path / "bad.conf"
        bad.write_text(json.dumps(conf))
        r = sdcadm("self-update", "--latest", "-y", env={"SDCADM_CONFIG": str(bad)})
        assert (r.exit_code, error_line(r)) == (2, f"{ERROR} (Config): {bad}: {message}")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_kill_stops_at_a_safe_point_and_the_same_command_finishes(
        sdcadm: Any, su: SelfUpdate, sig: str) -> None:
    """A `kill` or a dropped ssh session while the build installs: the install ends, the
    build is not switched to, history says so, and the same command finishes the job."""
    import signal
    import time

    env = {**os.environ, "SDCADM_CONFIG": str(su.conf), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sdcadm", "self-update", su.patch["uuid"],
                             "-y"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        journals = list((su.var / "self-updates").glob("*/events.jsonl"))
        if journals and re.search(r'"event":"step-start","step":"\d+:install-sdcadm:',
                                  journals[0].read_text()):
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(getattr(signal, sig))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.startswith(ERROR)]
    assert len(lines) == 1 and lines[0].startswith(f"{ERROR} (Interrupted): interrupted "
                                                   "before step "), err
    assert "Traceback" not in err
    assert not su.current.exists()
    (entry,) = history(sdcadm, su)
    assert entry["finished"] and entry["error"]["code"] == "Interrupted"

    r = sdcadm("self-update", su.patch["uuid"], "-y", env=su.env())
    assert r.exit_code == 0, r.err
    assert su.target("current") == su.build_dir(su.patch)


def test_a_source_given_with_S_is_the_updates_server_asked(sdcadm: Any, su: SelfUpdate,
                                                           sim: Any) -> None:
    source = sim.urls["updates"].replace("127.0.0.1", "localhost")
    assert source != sim.urls["updates"]
    r = sdcadm("self-update", "-S", source + "/", "--latest", "-n", env=su.env())
    assert r.exit_code == 0, r.err
    assert r.out.splitlines()[:3] == [
        f"[dry-run] Update to {label(su.patch)}",
        f"    download image {su.patch['uuid']} ({su.patch['files'][0]['size'] / 2**20:.1f} "
        "MiB, sha1 checked)",
        f"        from {source}"]
    assert not su.prefix.exists()
