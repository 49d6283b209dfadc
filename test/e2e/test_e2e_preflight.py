"""A bad day on the headnode, end to end: a run that cannot keep its journal, reach an API
or store its images is refused before its first change; a disk that fills up mid-run stops
it cleanly, and `update --resume` finishes it once there is room."""
from __future__ import annotations

import json
import re
import resource
import shutil
from pathlib import Path

import requests
from e2e_runs import cli, events, run_dirs, var_dir, wait_for_event


def _fresh(sim_factory, scale: float = 0.002):
    sim = sim_factory("small", scale)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    sim.clear_mutations()
    return sim


def _conf(sim, tmp_path: Path, **keys) -> Path:
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps({**json.loads(Path(sim.config_path).read_text()), **keys}))
    return path


def _refused(sim, r, line: str) -> None:
    """One error line, exit 1, and nothing changed: no request that mutates (so no lease
    either), no work directory, no history."""
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ": error (" in ln]
    assert errors == [r.stderr.splitlines()[-1]], r.stderr
    assert re.fullmatch(line, errors[0]), errors[0]
    assert sim.mutations() == []
    assert run_dirs(sim) == []
    assert requests.get(sim.urls["sapi"] + "/history", timeout=10).json() == []


def test_too_little_room_for_the_journal_is_refused(sim_factory, tmp_path) -> None:
    sim = _fresh(sim_factory)
    conf = _conf(sim, tmp_path, minFreeMiB=10 ** 12)
    r = cli(sim, "--config", str(conf), "update", "cloudapi", "-y")
    _refused(sim, r, r"sdcadm update: error \(NoSpace\): not enough free space for the run's "
             rf"journal in {re.escape(str(var_dir(sim)))}/updates: \d+ MiB free, \d+ MiB "
             r"needed \(\d+ MiB for the journal, minFreeMiB keeps 1000000000000 MiB free\); "
             r"nothing was changed")


def test_a_refusal_after_reading_the_ha_roles_wrote_no_lease(sim_factory, tmp_path) -> None:
    """`update --all` reads the manatee and binder roles before its preflight: that read
    looks at the datacenter lease but never writes it, so the refusal changed nothing."""
    sim = _fresh(sim_factory)
    conf = _conf(sim, tmp_path, minFreeMiB=10 ** 12)
    r = cli(sim, "--config", str(conf), "update", "--all", "-y")
    _refused(sim, r, r"sdcadm update: error \(NoSpace\): not enough free space for the run's "
             rf"journal in {re.escape(str(var_dir(sim)))}/updates: \d+ MiB free, \d+ MiB "
             r"needed \(\d+ MiB for the journal, minFreeMiB keeps 1000000000000 MiB free\); "
             r"nothing was changed")


def test_an_unwritable_work_dir_is_refused(sim_factory, tmp_path) -> None:
    sim = _fresh(sim_factory)
    var_dir(sim).mkdir(parents=True)
    (var_dir(sim) / "updates").write_text("not a directory")
    r = cli(sim, "update", "cloudapi", "-y")
    _refused(sim, r, r"sdcadm update: error \(Preflight\): the work directory "
             rf"{re.escape(str(var_dir(sim)))}/updates cannot be written \(Not a directory\); "
             r"nothing was changed")


def test_an_api_the_run_needs_that_does_not_answer_is_refused(sim_factory) -> None:
    sim = _fresh(sim_factory)
    # Planning reads SAPI, IMGAPI, CNAPI, VMAPI and the updates server, never the Workflow
    # API; the imports this update starts are followed there.
    sim.add_fault({"type": "drop", "service": "workflow"})
    try:
        r = cli(sim, "update", "cloudapi", "-y")
    finally:
        sim.clear_faults()
    _refused(sim, r, r"sdcadm update: error \(Preflight\): the Workflow API at "
             rf"{re.escape(sim.urls['workflow'])} does not answer \(wfapi client error "
             r"\(ConnectionError\): .*\): import-image, verify need it; nothing was changed")


def test_images_that_do_not_fit_in_the_image_store_are_refused(sim_factory) -> None:
    sim = _fresh(sim_factory)
    hn = requests.get(sim.urls["cnapi"] + "/servers", params={"headnode": "true"},
                      timeout=10).json()[0]
    sim.add_fault({"type": "pool-full", "target": hn["uuid"], "free_mib": 1})
    try:
        r = cli(sim, "update", "cloudapi", "-y")
    finally:
        sim.clear_faults()
    _refused(sim, r, r"sdcadm update: error \(NoSpace\): not enough space in the headnode's "
             r"image store for 2 images \(\d+ MiB\): its zones pool has 1 MiB free \(CNAPI "
             r"disk_pool_size_bytes - disk_pool_alloc_bytes of headnode\); nothing was "
             r"changed")
    assert cli(sim, "update", "cloudapi", "-y").returncode == 0  # room again: it runs


def test_a_disk_filling_up_mid_run_stops_it_cleanly_and_resume_finishes(sim_factory,
                                                                         tmp_path) -> None:
    """The disk fills for real: the running sdcadm gets a file size limit (RLIMIT_FSIZE,
    set from outside with prlimit) a few bytes past its journal's end, so its next journal
    write is cut short and fails in the kernel (EFBIG), as a full disk's ENOSPC would."""
    sim = _fresh(sim_factory, 0.02)
    proc = cli(sim, "update", "--all", "-y", wait=False)
    wait_for_event(sim, lambda e: e.get("event") == "step-start"
                   and ":reprovision:" in e.get("step", ""), proc=proc)
    journal = run_dirs(sim)[-1] / "events.jsonl"
    limit = journal.stat().st_size + 10
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE,
                     (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ": error (" in ln]
    assert errors == [err.splitlines()[-1]], err
    assert re.fullmatch(
        rf"sdcadm update: error \(WriteFailed\): cannot write the journal "
        rf"{re.escape(str(journal))}: File too large: the run stopped at step \d+ of \d+ "
        r"\(\d+:[a-z-]+:\S+\); once there is room, run \"sdcadm update --resume\" to "
        r"go on", errors[0]), errors[0]
    assert "Updated successfully" not in out
    run_uuid = json.loads((journal.parent / "plan.json").read_text())["run_uuid"]
    entry = requests.get(f"{sim.urls['sapi']}/history/{run_uuid}", timeout=10).json()
    assert entry["error"]["code"] == "WriteFailed" and entry["finished"]

    # While the disk is still full, a resume is refused before it changes anything.
    sim.clear_mutations()
    full = _conf(sim, tmp_path, minFreeMiB=10 ** 12)
    r = cli(sim, "--config", str(full), "update", "--resume")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1].startswith(
        "sdcadm update: error (NoSpace): not enough free space for the run's journal in "
        f"{journal.parent}: ")
    assert sim.mutations() == []

    r = cli(sim, "update", "--resume")  # a new process: no limit, room again
    assert r.returncode == 0, r.stderr
    assert f"Resuming run {run_uuid}" in r.stderr
    assert r.stdout.strip().startswith("Updated successfully (elapsed ")
    # Read whole: a line the limit tore was cut by the resume, not merged with its events.
    assert events(journal.parent)[-1]["status"] == "done"
    assert cli(sim, "update", "--all", "-n").stdout.strip().endswith("Up-to-date.")
