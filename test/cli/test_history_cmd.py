"""`sdcadm history` against the simulator's SAPI /history, and its local fallback."""
from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import pytest
import requests


@pytest.fixture
def clean_var(sim):
    var = Path(json.loads(Path(sim.config_path).read_text())["varDir"])
    shutil.rmtree(var, ignore_errors=True)
    # SAPI's history survives resets only if the scenario has some; start from none.
    for e in requests.get(sim.urls["sapi"] + "/history", timeout=10).json():
        requests.delete(f"{sim.urls['sapi']}/history/{e['uuid']}", timeout=10)
    return var


def _entry(**kw):
    e = {"uuid": str(uuid.uuid4()), "username": "root", "started": 1417629679385,
         "finished": 1417630234960,
         "changes": [{"type": "update-service", "service": {"name": "adminui"}}]}
    e.update(kw)
    return e


def _post(sim, entry):
    r = requests.post(sim.urls["sapi"] + "/history", json=entry, timeout=10)
    assert r.status_code < 300, r.text


def test_table_has_the_original_columns_and_formatting(sdcadm, sim, clean_var):
    a = _entry()
    b = _entry(started=1417625874339, finished=1417625949883,
               changes=[{"type": "add-instance", "service": {"name": "cloudapi"}}] * 3,
               error={"message": "first line of a long error message that goes on and on\nsecond"})
    _post(sim, a)
    _post(sim, b)
    r = sdcadm("history")
    assert r.exit_code == 0, r.err
    lines = r.out.splitlines()
    header = ["UUID", "USER", "STARTED", "FINISHED", "CHANGES", "ERROR"]
    assert re.split(r"\s{2,}", lines[0]) == header
    first = re.split(r"\s{2,}", lines[1])
    assert first == [a["uuid"], "root", "2014-12-03T18:01:19.385Z", "2014-12-03T18:10:34.960Z",
                     "update-service(adminui)", "-"]
    second = re.split(r"\s{2,}", lines[2])
    assert second[2] == "2014-12-03T16:57:54.339Z"
    joined = "add-instance(cloudapi),add-instance(cloudapi),add-instance(cloudapi)"
    assert second[4] == joined[:40] + "..."
    assert second[5] == "first line of a long error message that "[:40] + "..."
    assert all(not ln.endswith(" ") for ln in lines)


def test_show_one_entry_and_bad_arguments(sdcadm, sim, clean_var):
    a = _entry()
    _post(sim, a)
    r = sdcadm("history", a["uuid"])
    assert r.exit_code == 0
    assert json.loads(r.out)["uuid"] == a["uuid"]
    assert r.out.startswith("{\n    ")
    r = sdcadm("history", "nope")
    assert (r.exit_code, r.err.strip()) == (2, "sdcadm history: error (Usage): Invalid UUID: nope")
    r = sdcadm("history", "--since", "yesterday-ish")
    assert (r.exit_code, r.err.strip()) == (
        2, "sdcadm history: error (Usage): Invalid Date: yesterday-ish")
    r = sdcadm("history", a["uuid"], a["uuid"])
    assert r.exit_code == 2 and "too many args" in r.err
    r = sdcadm("history", "--since", "2026-11-22", "--until", "2026-11-20")
    assert (r.exit_code, r.err.strip()) == (
        2, "sdcadm history: error (Usage): --since (2026-11-22T00:00:00.000Z) is after --until "
           "(2026-11-20T00:00:00.000Z)")
    r = sdcadm("history", "-o", "nope")
    assert r.exit_code == 2 and 'invalid output field: "nope"' in r.err


def test_since_until_and_json(sdcadm, sim, clean_var):
    old = _entry(started=1417625874339)
    new = _entry(started=1717625874339)
    _post(sim, old)
    _post(sim, new)
    r = sdcadm("history", "--since", "2020-01-01", "-H", "-o", "uuid")
    assert r.out.split() == [new["uuid"]]
    r = sdcadm("history", "--until", "2020-01-01T00:00:00Z", "-H", "-o", "uuid")
    assert r.out.split() == [old["uuid"]]
    r = sdcadm("history", "-j")
    assert [e["uuid"] for e in json.loads(r.out)] == [new["uuid"], old["uuid"]]


def test_empty_history_prints_nothing(sdcadm, sim, clean_var):
    r = sdcadm("history")
    assert (r.exit_code, r.out) == (0, "")


def test_update_records_history_locally_when_sapi_history_fails(sdcadm, sim, clean_var):
    sim.add_fault({"type": "error", "service": "sapi", "path": "^/history", "status": 503})
    r = sdcadm("update", "cns", "-y")
    assert r.exit_code == 0, r.err
    assert "Warning: could not save history entry" in r.err
    local = list((clean_var / "history").glob("*.json"))
    assert len(local) == 1
    entry = json.loads(local[0].read_text())
    assert entry["finished"] and entry["changes"][0]["service"]["name"] == "cns"
    # Listing while SAPI /history fails reads the local files.
    r = sdcadm("history", "-H", "-o", "uuid")
    assert r.out.split() == [entry["uuid"]]
    # SAPI is back: the next recorded run pushes the local entry.
    sim.clear_faults()
    r = sdcadm("update", "--all", "-y")
    assert r.exit_code == 0, r.err
    assert list((clean_var / "history").glob("*.json")) == []
    uuids = {e["uuid"] for e in requests.get(sim.urls["sapi"] + "/history", timeout=10).json()}
    assert entry["uuid"] in uuids and len(uuids) == 2


def test_platform_update_is_named_in_the_changes_column(sdcadm, sim, clean_var, tmp_path):
    servers = requests.get(sim.urls["cnapi"] + "/servers", timeout=10).json()
    newest = max(s["current_platform"] for s in servers)
    old = next(s for s in servers if s["current_platform"] != newest)
    spec = tmp_path / "platform.json"
    spec.write_text(json.dumps({"changes": [{"type": "update-platform", "platform": newest,
                                             "servers": [old["hostname"]]}]}))
    r = sdcadm("update", "-f", str(spec), "-y")
    assert r.exit_code == 0, r.err
    h = sdcadm("history", "-H", "-o", "changes")
    assert h.out == "update-platform(platform)\n", h.out


def test_listing_shows_the_end_saved_locally_while_sapi_missed_it(sdcadm, sim, clean_var):
    # SAPI takes the start of the run, then fails the update that records its end.
    sim.add_fault({"type": "error", "service": "sapi", "method": "PUT", "path": "^/history",
                   "status": 503})
    r = sdcadm("update", "cns", "-y")
    assert r.exit_code == 0, r.err
    sim.clear_faults()
    (local,) = (clean_var / "history").glob("*.json")
    uuid_ = local.stem
    remote = requests.get(f"{sim.urls['sapi']}/history/{uuid_}", timeout=10).json()
    assert "finished" not in remote  # SAPI alone would show a run that never ended
    r = sdcadm("history", "-H", "-o", "uuid,finished")
    assert r.out.split()[0] == uuid_ and r.out.split()[1] != "-", r.out
    shown = json.loads(sdcadm("history", uuid_).out)
    assert shown["finished"] and shown["steps"]


@pytest.mark.parametrize("text, iso", [
    ("2026-11-21", "2026-11-21T00:00:00.000Z"),
    ("2026-11-21T10:00:00Z", "2026-11-21T10:00:00.000Z"),
    ("2026-11-21 10:00", "2026-11-21T10:00:00.000Z"),
    ("2026-11-21T10:00:00+02:00", "2026-11-21T08:00:00.000Z"),
    ("1763719200", "2025-11-21T10:00:00.000Z"),         # seconds, as `date +%s` prints
    ("1763719200123", "2025-11-21T10:00:00.123Z"),      # ms, as history stores
    ("Sat Nov 21 14:30:54 UTC 2026", "2026-11-21T14:30:54.000Z"),   # `date`
    ("Sat, 21 Nov 2026 10:00:00 +0200", "2026-11-21T08:00:00.000Z"),  # `date -R`
])
def test_normalize_date(text, iso):
    from sdcadm.cli.history import normalize_date

    assert normalize_date(text) == iso


@pytest.mark.parametrize("text", ["Sat Nov 21 14:30:54 CET 2026", "yesterday", "Nov 21"])
def test_normalize_date_refuses_what_it_would_guess(text):
    from sdcadm.cli.history import normalize_date
    from sdcadm.errors import UsageError

    with pytest.raises(UsageError, match=f"^Invalid Date: {text}$"):
        normalize_date(text)
