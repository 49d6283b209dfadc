"""Pure parts of the handlers: streaming verification, shard rules, timeouts, job errors."""
from __future__ import annotations

import hashlib

import pytest

from sdcadm.executor.context import minutes
from sdcadm.executor.handlers.images import ChecksumError, importable, verified_chunks
from sdcadm.executor.handlers.jobs import job_error, task_error
from sdcadm.planner.topology import shard_problem

DATA = [b"a" * 10, b"b" * 10, b"c" * 5]
SHA = hashlib.sha1(b"".join(DATA)).hexdigest()


def test_verified_chunks_passes_good_data_through():
    seen = []
    assert list(verified_chunks(iter(DATA), sha1=SHA, size=25, advance=seen.append)) == DATA
    assert seen == [10, 10, 5]


@pytest.mark.parametrize("sha1, size, match", [
    ("0" * 40, 25, "sha1 mismatch"),
    (SHA, 26, "size mismatch"),
])
def test_verified_chunks_withholds_the_last_chunk_on_mismatch(sha1, size, match):
    out = []
    with pytest.raises(ChecksumError, match=match):
        for chunk in verified_chunks(iter(DATA), sha1=sha1, size=size):
            out.append(chunk)
    assert out == DATA[:-1]  # the upload can never complete with bad bytes


def test_importable_drops_server_state():
    m = {"uuid": "u", "name": "n", "state": "active", "files": [{}], "channels": ["dev"], "v": 2}
    assert importable(m) == {"uuid": "u", "name": "n", "v": 2}


PRIMARY = {"zoneId": "p", "ip": "10.0.0.1"}
SYNC = {"zoneId": "s", "ip": "10.0.0.2"}
ASYNC = [{"zoneId": "a", "ip": "10.0.0.3"}]


@pytest.mark.parametrize("state, n, expect", [
    ({"primary": PRIMARY, "sync": SYNC, "async": ASYNC, "deposed": []}, 3, None),
    ({"primary": PRIMARY, "sync": None, "async": [], "deposed": []}, 1, None),
    ({"primary": PRIMARY, "sync": SYNC, "async": [], "deposed": [ASYNC[0]]}, 3,
     "manatee-adm rebuild"),
    ({"primary": PRIMARY, "sync": SYNC, "async": [], "deposed": []}, 3, "no async"),
    ({"primary": PRIMARY, "sync": None, "async": ASYNC, "deposed": []}, 3, "ha-manatee"),
    ({"primary": PRIMARY, "sync": SYNC, "deposed": []}, 2, None),
    ({"sync": SYNC, "deposed": []}, 2, "no primary"),
])
def test_shard_rules(state, n, expect):
    problem = shard_problem(state, n)
    if expect is None:
        assert problem is None
    else:
        assert expect in problem


@pytest.mark.parametrize("seconds, text", [(300, "5m"), (1800, "30m"), (30, "30s"), (90, "2m")])
def test_minutes(seconds, text):
    assert minutes(seconds) == text


@pytest.mark.parametrize("job, err", [
    ({"chain_results": []}, None),
    ({"chain_results": [{"error": ""}]}, None),
    ({"chain_results": [{"error": ""}, {"error": {"name": "Error", "message": "boom"}}]}, "boom"),
    ({"chain_results": [{"error": "plain"}]}, "plain"),
])
def test_job_error_reads_the_last_chain_result(job, err):
    assert job_error(job) == err


def test_task_error_reads_history():
    task = {"id": "t", "status": "failure",
            "history": [{"name": "error", "event": {"error": {"message": "disk full"}}},
                        {"name": "finish", "event": {}}]}
    assert task_error(task) == "disk full"
