"""History store: SAPI first, local fallback, catch-up push."""
from __future__ import annotations

import json
import uuid

from exec_fakes import FakeSapi

from sdcadm.executor.history import HistoryStore, to_ms


def _entry(**kw):
    e = {"uuid": str(uuid.uuid4()), "started": 1417625874339,
         "changes": [{"type": "update-service"}]}
    e.update(kw)
    return e


def test_writes_go_to_sapi_when_it_is_up(tmp_path):
    sapi = FakeSapi()
    store = HistoryStore(sapi, tmp_path)
    e = _entry()
    store.create(e)
    store.update({**e, "finished": 1417625949883})
    assert sapi.entries[e["uuid"]]["finished"] == 1417625949883
    assert not (tmp_path / "history").exists() or not list((tmp_path / "history").iterdir())


def test_sapi_down_falls_back_to_a_local_file_then_pushes_it(tmp_path):
    sapi = FakeSapi()
    warnings: list[str] = []
    store = HistoryStore(sapi, tmp_path, warn=warnings.append)
    sapi.down = True
    e = _entry()
    store.create(e)
    store.update({**e, "finished": 5})
    local = tmp_path / "history" / f"{e['uuid']}.json"
    saved = json.loads(local.read_text())
    assert saved["finished"] == 5 and saved["changes"] == e["changes"]  # merged phases
    assert len(warnings) == 1 and "saved it to" in warnings[0]  # one line per entry
    # Listing falls back to the local files while SAPI is down.
    assert [x["uuid"] for x in store.list()] == [e["uuid"]]
    sapi.down = False
    other = _entry()
    store.create(other)  # the next successful SAPI write pushes the backlog
    assert set(sapi.entries) == {e["uuid"], other["uuid"]}
    assert sapi.entries[e["uuid"]]["finished"] == 5
    assert not local.exists()


def test_invalid_local_files_are_deleted_when_read(tmp_path):
    (tmp_path / "history").mkdir()
    bad = tmp_path / "history" / "junk.json"
    bad.write_text("{not json")
    store = HistoryStore(None, tmp_path)
    assert store.list() == []
    assert not bad.exists()


def test_local_listing_filters_by_since_and_until(tmp_path):
    store = HistoryStore(None, tmp_path)
    early = _entry(started=to_ms("2024-01-01T00:00:00Z"))
    late = _entry(started=to_ms("2024-06-01T00:00:00Z"))
    store.create(early)
    store.create(late)
    assert [e["uuid"] for e in store.list(since="2024-03-01T00:00:00.000Z")] == [late["uuid"]]
    assert [e["uuid"] for e in store.list(until="2024-03-01T00:00:00.000Z")] == [early["uuid"]]


def test_get_falls_back_to_the_local_copy(tmp_path):
    sapi = FakeSapi()
    sapi.down = True
    store = HistoryStore(sapi, tmp_path)
    e = _entry()
    store.create(e)
    assert store.get(e["uuid"])["uuid"] == e["uuid"]


def test_record_api_for_other_commands(tmp_path):
    from exec_fakes import FakeApp

    from sdcadm.errors import UpdateError
    from sdcadm.executor.history import record_finish, record_start

    app = FakeApp(tmp_path)
    change = {"type": "set-channel", "service": {"name": "sdc"}, "channel": "release"}
    entry = record_start(app, [change])
    saved = app.clients.sapi.entries[app.request_id]
    assert saved["changes"] == [change] and "finished" not in saved
    record_finish(app, entry, error=UpdateError("no such channel"))
    saved = app.clients.sapi.entries[app.request_id]
    assert saved["finished"] >= saved["started"]
    assert saved["error"] == {"code": "Update", "message": "no such channel"}
