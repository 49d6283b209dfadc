"""Pre-flight before a run's first change, and a journal that cannot be written (a real
ENOSPC: /dev/full), through the executor's Python API with fakes for the datacenter."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from exec_fakes import FakeApp, Recorder, empty_plan, steps

from sdcadm.errors import NoSpaceError, PreflightError, WriteFailedError
from sdcadm.executor import preflight
from sdcadm.executor.journal import Journal, RunState, read_events
from sdcadm.executor.run import execute, resume
from sdcadm.plan import Step

FULL = "/dev/full"  # every write fails with ENOSPC, for any user


def as_journalled(doc) -> list[Step]:
    return [Step.from_json(s) for s in doc["steps"]]


def _s(n: int, action: str, **params) -> Step:
    return Step(id=f"{n}:{action}:t{n}", action=action, target=f"t{n}", params=params)


@pytest.mark.parametrize("plan_steps, done, apis, image_bytes", [
    ([], (), [("sapi", ("the datacenter lease and history",))], 0),
    ([_s(1, "import-image", size=3 << 20), _s(2, "import-image", size=1 << 20),
      _s(3, "reprovision"), _s(4, "wait-instance"), _s(5, "verify")], (),
     [("sapi", ("the datacenter lease and history", "verify")),
      ("imgapi", ("import-image", "verify")), ("wfapi", ("import-image", "verify")),
      ("updates", ("import-image",)), ("vmapi", ("reprovision", "wait-instance", "verify"))],
     4 << 20),
    # A resume needs what the steps left need: the images imported already are not counted.
    ([_s(1, "import-image", size=3 << 20), _s(2, "install-agent")], ("1:import-image:t1",),
     [("sapi", ("the datacenter lease and history",)), ("cnapi", ("install-agent",))], 0),
    ([_s(1, "fake")], (), [("sapi", ("the datacenter lease and history",))], 0),
])
def test_needs(plan_steps, done, apis, image_bytes):
    need = preflight.needs(Path("/w"), plan_steps, plan_bytes=1000, done=done)
    assert list(need.apis) == apis
    assert need.image_bytes == image_bytes
    left = len(plan_steps) - len(done)
    assert need.journal_bytes == (1000 + left * preflight.EVENTS_PER_STEP
                                  * preflight.EVENT_BYTES + preflight.HISTORY_BYTES)


def test_too_little_room_refuses_before_the_work_dir_and_the_lease(tmp_path):
    app = FakeApp(tmp_path)
    app.config.min_free_mib = 10 ** 12  # more than any disk has
    rec = Recorder()
    with pytest.raises(NoSpaceError, match=r"not enough free space for the run's journal in "
                       rf"{tmp_path}/var/updates: \d+ MiB free, \d+ MiB needed"):
        execute(app, empty_plan(), steps(2), handlers={"fake": rec})
    assert rec.ran == [] and app.clients.sapi.entries == {}
    assert "update-app" not in app.clients.sapi.calls  # the lease was not taken
    assert not (tmp_path / "var/updates").exists()


def test_an_unwritable_work_dir_refuses(tmp_path):
    app = FakeApp(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var/updates").write_text("a file in the way")
    with pytest.raises(PreflightError, match=r"the work directory .*/var/updates cannot be "
                                             r"written \(Not a directory\)"):
        execute(app, empty_plan(), steps(1), handlers={"fake": Recorder()})
    assert "update-app" not in app.clients.sapi.calls


def test_an_api_that_does_not_answer_refuses(tmp_path):
    app = FakeApp(tmp_path)
    app.clients.sapi.down = True
    with pytest.raises(PreflightError, match=r"^SAPI does not answer \(sapi client error "
                       r"\(ConnectionError\): could not connect to sapi\): the datacenter "
                       r"lease and history need it; nothing was changed$"):
        execute(app, empty_plan(), steps(1), handlers={"fake": Recorder()})
    assert not any((tmp_path / "var/updates").iterdir())


def test_a_journal_on_a_full_disk_fails_every_append(tmp_path):
    journal = Journal(tmp_path)
    os.symlink(FULL, journal.events_path)
    with pytest.raises(WriteFailedError, match="No space left on device") as first:
        journal.append("step-start", step="1:x:t")
    assert first.value.step == "1:x:t"
    with pytest.raises(WriteFailedError) as again:
        journal.append("step-end", step="1:x:t", outcome="done")
    assert again.value is first.value and journal.failed is first.value
    with pytest.raises(WriteFailedError, match="cannot write the run's plan .*: No space"):
        (tmp_path / "plan.json.tmp").symlink_to(FULL)
        journal.write_plan({"steps": []})


@pytest.mark.parametrize("content, kept", [
    (b"", b""),
    (b'{"event":"a"}\n', b'{"event":"a"}\n'),
    (b'{"event":"a"}\n{"event":"b"}\n{"eve', b'{"event":"a"}\n{"event":"b"}\n'),
    (b'{"eve', b""),
    (b'{"event":"a"}\n' + b"x" * 200_000, b'{"event":"a"}\n'),
])
def test_repair_cuts_a_torn_last_line(tmp_path, content, kept):
    journal = Journal(tmp_path)
    journal.events_path.write_bytes(content)
    journal.repair()
    assert journal.events_path.read_bytes() == kept
    journal.append("run-resume")
    assert [e["event"] for e in read_events(journal.events_path)][-1] == "run-resume"


def test_a_full_disk_mid_run_stops_it_cleanly_and_resume_finishes(tmp_path):
    app = FakeApp(tmp_path)
    plan_steps = steps(3)

    def disk_fills(ctx, step):
        if step.id == plan_steps[1].id:  # the disk fills while step 2 runs
            full = os.open(FULL, os.O_WRONLY)
            os.dup2(full, ctx.journal._fd)
            os.close(full)

    rec = Recorder(on_run=disk_fills)
    with pytest.raises(WriteFailedError) as stopped:
        execute(app, empty_plan(), plan_steps, handlers={"fake": rec})
    run_dir = next((tmp_path / "var/updates").iterdir())
    assert stopped.value.message == (
        f"cannot write the journal {run_dir}/events.jsonl: No space left on device: the run "
        f"stopped at step 2 of 3 ({plan_steps[1].id}); once there is room, run "
        '"sdcadm update --resume" to go on')
    assert rec.ran == [plan_steps[0].id, plan_steps[1].id]  # nothing more started
    state = RunState.from_events(read_events(run_dir / "events.jsonl"))
    assert state.status is None and state.steps[plan_steps[1].id].in_doubt
    entry = app.clients.sapi.entries[app.request_id]
    assert entry["error"]["code"] == "WriteFailed" and entry["finished"]
    assert not any("--resume" in line and "Run" in line for line in app.lines)

    app2 = FakeApp(tmp_path, clients=app.clients)
    result = resume(app2, {}, handlers={"fake": rec}, derive=as_journalled)
    assert [o.outcome for o in result.outcomes] == ["skipped", "verified", "done"]
    assert RunState.from_events(read_events(run_dir / "events.jsonl")).status == "done"


def test_an_entry_neither_sapi_nor_the_disk_takes_is_one_error(tmp_path):
    from exec_fakes import FakeSapi

    from sdcadm.executor.history import HistoryStore, new_entry

    sapi = FakeSapi()
    sapi.down = True
    store = HistoryStore(sapi, tmp_path)
    entry = new_entry("5b8c0a34-7a39-4bd0-9f3c-0c3f4c7a2b11", [{"type": "update-service"}])
    store.dir.mkdir()
    (store.dir / f"{entry['uuid']}.tmp").symlink_to(FULL)  # the local copy hits a full disk
    with pytest.raises(WriteFailedError, match=(
            rf"^could not save history entry {entry['uuid']} to SAPI \(sapi client error "
            r"\(ConnectionError\): could not connect to sapi\) nor to .*\.json \(No space left "
            r"on device\)$")):
        store.create(entry)
    assert list(store.dir.iterdir()) == []  # no half entry for the next listing
