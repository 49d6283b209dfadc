"""`sdcadm dc-maint status|start|stop` through the CLI against the simulated datacenter.

What the command did is read back from the APIs with plain HTTP (SAPI metadata, Workflow
jobs, history) and from the simulator's mutation log (the config-agent refreshes run over
SSH are logged as service `ssh`).
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

HEADNODE = "6a88b195-a9d8-5857-945d-20220af2f4ab"
CN01 = "20e1f79b-579b-58b5-bfe4-fa38a50ffa37"
MSG = "SmartDataCenter is being upgraded"
GETTING = "Getting SDC's cloudapi and docker instances"
WAITING = "Waiting up to 5 minutes for workflow jobs to drain"
CLEARED = "Workflow cleared of running and queued jobs"
ISO_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
# The drain's progress without a terminal: a timestamped line at its start, every
# progressInterval (30 s unless set) and at its end.
DRAIN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ wait for workflow jobs to drain: (.*)$")
TOOK = r" \((?:\d+m)?\d+s\)"


class Dc:
    """Raw reads and writes of the simulated datacenter (not sdcadm's clients)."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.urls = sim.urls
        self.conf = json.loads(Path(sim.config_path).read_text())

    def call(self, method: str, service: str, path: str, **kw: Any) -> Any:
        headers = {"Accept-Version": "~2"} if service == "sapi" else {}
        r = requests.request(method, self.urls[service] + path, headers=headers, timeout=30, **kw)
        assert r.status_code < 300, f"{method} {service}{path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def app(self) -> dict[str, Any]:
        return self.call("GET", "sapi", "/applications", params={"name": "sdc"})[0]

    def service(self, name: str) -> dict[str, Any]:
        return self.call("GET", "sapi", "/services",
                         params={"name": name, "application_uuid": self.app()["uuid"]})[0]

    def readonly(self) -> tuple[Any, Any]:
        return (self.service("cloudapi")["metadata"].get("CLOUDAPI_READONLY"),
                self.service("docker")["metadata"].get("DOCKER_READONLY"))

    def maint_info(self) -> dict[str, Any]:
        meta = self.app()["metadata"]
        return {k: meta[k] for k in ("DC_MAINT_MESSAGE", "DC_MAINT_ETA") if k in meta}

    def vm(self, alias: str) -> dict[str, Any]:
        return next(v for v in self.call("GET", "vmapi", "/vms", params={"alias": alias})
                    if v["state"] != "destroyed")

    def refresh_line(self, alias: str, hostname: str = "headnode") -> str:
        return f"{hostname}: /usr/sbin/svcadm -z {self.vm(alias)['uuid']} refresh config-agent"

    def refreshes(self) -> list[str]:
        return [m["path"] for m in self.sim.mutations() if m["service"] == "ssh"]

    def sapi_changes(self) -> list[tuple[str, str]]:
        """SAPI mutations other than history records."""
        return [(m["method"], m["path"]) for m in self.sim.mutations()
                if m["service"] == "sapi" and not m["path"].startswith("/history")]

    def history(self) -> list[dict[str, Any]]:
        return sorted(self.call("GET", "sapi", "/history"), key=lambda e: e["started"])

    def info_file(self) -> Path:
        return Path(self.conf["varDir"]) / "dc-maint.json"

    def config(self, tmp_path: Path, **changes: Any) -> str:
        p = tmp_path / "sdcadm.conf"
        p.write_text(json.dumps({**self.conf, **changes}))
        return str(p)

    def slow_job(self, alias: str = "vmapi0") -> str:
        """A real reprovision job (to the image the VM already runs) that takes as long as
        the simulator's latencies say."""
        vm = self.vm(alias)
        body = self.call("POST", "vmapi", f"/vms/{vm['uuid']}", params={"action": "reprovision"},
                         json={"image_uuid": vm["image_uuid"]})
        return body["job_uuid"]

    def job(self, uuid: str) -> dict[str, Any]:
        return self.call("GET", "workflow", f"/jobs/{uuid}")


def wait_until(fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
    return value


@pytest.fixture
def dc(sim: Any) -> Dc:
    d = Dc(sim)
    # The simulator's reset does not know sdcadm's var directory.
    d.info_file().unlink(missing_ok=True)
    for p in (Path(d.conf["varDir"]) / "history").glob("*.json"):
        p.unlink()
    return d


@pytest.fixture
def sdcadm(sdcadm: Any) -> Callable[..., Any]:
    """The CLI with its run-log lines checked (a start or stop names its log twice, the
    file is there) and taken out of stderr, which is otherwise compared exactly; so are the
    drain's progress lines, kept (without their time stamps) in `progress`, right after
    the line that says the drain starts."""
    def run(*args: str, **kw: Any) -> Any:
        r = sdcadm(*args, **kw)
        named = [ln for ln in r.err.splitlines() if ln.startswith("Log: ")]
        if named:
            assert len(named) == 2 and named[0] == named[1], r.err
            assert Path(named[0][len("Log: "):]).is_file()
        kept = [ln for ln in r.err.splitlines(keepends=True) if not ln.startswith("Log: ")]
        drain = [n for n, ln in enumerate(kept) if DRAIN.match(ln)]
        r.progress = [DRAIN.match(kept[n]).group(1) for n in drain]  # type: ignore[union-attr]
        if drain:
            assert kept[drain[0] - 1] == WAITING + "\n", r.err
            assert drain == list(range(drain[0], drain[0] + len(drain))), r.err
        r.err = "".join(ln for n, ln in enumerate(kept) if n not in drain)
        return r
    return run


def lines(*items: str) -> str:
    return "".join(f"{i}\n" for i in items)


def test_status_start_status_stop(sdcadm: Any, dc: Dc) -> None:
    r = sdcadm("dc-maint", "status")
    assert (r.exit_code, r.out, r.err) == (0, "DC maintenance: off\n", "")
    r = sdcadm("dc-maint", "status", "-j")
    assert json.loads(r.out) == {"maint": False, "cloudapiMaint": False, "dockerMaint": False}
    assert dc.sim.mutations() == []

    before = datetime.now(timezone.utc)
    r = sdcadm("dc-maint", "start", "--message", "Back at noon", "--eta", "2099-01-02T03:04:05Z")
    after = datetime.now(timezone.utc)
    assert (r.exit_code, r.out) == (0, "")
    assert r.err == lines(GETTING, "Putting cloudapi in read-only mode",
                          "Putting docker in read-only mode",
                          "Saving data center maintenance eta/message", WAITING, CLEARED)
    assert r.progress[0] == "started" and re.fullmatch(f"done{TOOK}", r.progress[-1])
    assert dc.readonly() == (True, True)
    assert dc.maint_info() == {"DC_MAINT_MESSAGE": "Back at noon",
                               "DC_MAINT_ETA": "2099-01-02T03:04:05.000Z"}
    cloudapi, docker = dc.service("cloudapi"), dc.service("docker")
    assert dc.sapi_changes() == [("PUT", f"/services/{cloudapi['uuid']}"),
                                 ("PUT", f"/services/{docker['uuid']}"),
                                 ("PUT", f"/applications/{dc.app()['uuid']}")]
    assert sorted(dc.refreshes()) == sorted([dc.refresh_line("cloudapi0"),
                                             dc.refresh_line("docker0")])
    # SAPI first, then the zones are told to re-read it
    kinds = [m["service"] for m in dc.sim.mutations() if not m["path"].startswith("/history")]
    assert kinds == ["sapi"] * 3 + ["ssh"] * 2

    since = json.loads(dc.info_file().read_text())["startTime"]
    started = datetime.fromisoformat(since.replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= started <= after
    r = sdcadm("dc-maint", "status")
    assert (r.exit_code, r.out, r.err) == (0, lines(
        f"DC maintenance: on (since {since})", "DC maintenance message: Back at noon",
        "DC maintenance ETA: 2099-01-02T03:04:05.000Z"), "")
    r = sdcadm("dc-maint", "status", "-j")
    assert r.out.startswith('{\n    "maint": true,')
    assert json.loads(r.out) == {"maint": True, "cloudapiMaint": True, "dockerMaint": True,
                                 "startTime": since, "message": "Back at noon",
                                 "eta": "2099-01-02T03:04:05.000Z"}

    dc.sim.clear_mutations()
    r = sdcadm("dc-maint", "stop")
    assert (r.exit_code, r.out) == (0, "")
    assert r.err == lines(GETTING, "Taking cloudapi out of read-only mode",
                          "Taking docker out of read-only mode",
                          "Clearing data center maintenance information")
    assert dc.readonly() == (False, False)
    assert dc.maint_info() == {}
    assert sorted(dc.refreshes()) == sorted([dc.refresh_line("cloudapi0"),
                                             dc.refresh_line("docker0")])
    assert not dc.info_file().exists()
    r = sdcadm("dc-maint", "status", "-j")
    assert json.loads(r.out) == {"maint": False, "cloudapiMaint": False, "dockerMaint": False}


def test_cloudapi_only_then_docker_only(sdcadm: Any, dc: Dc) -> None:
    r = sdcadm("dc-maint", "start", "--cloudapi-only")
    assert r.exit_code == 0, r.err
    assert r.err == lines(GETTING, "Putting cloudapi in read-only mode",
                          "Saving data center maintenance eta/message", WAITING, CLEARED)
    assert dc.readonly() == (True, None)
    assert dc.maint_info() == {"DC_MAINT_MESSAGE": MSG}
    assert dc.refreshes() == [dc.refresh_line("cloudapi0")]
    since = json.loads(dc.info_file().read_text())["startTime"]
    assert sdcadm("dc-maint", "status").out == lines(
        f"DC maintenance: cloudapi-only (since {since})", f"DC maintenance message: {MSG}")

    # docker joins later: maintenance began when cloudapi went read-only
    dc.sim.clear_mutations()
    r = sdcadm("dc-maint", "start", "--docker-only")
    assert r.exit_code == 0, r.err
    assert r.err == lines(GETTING, "Putting docker in read-only mode", WAITING, CLEARED)
    assert dc.readonly() == (True, True)
    assert dc.refreshes() == [dc.refresh_line("docker0")]
    assert sdcadm("dc-maint", "status").out.splitlines()[0] == f"DC maintenance: on (since {since})"

    assert sdcadm("dc-maint", "stop").exit_code == 0
    r = sdcadm("dc-maint", "start", "--docker-only", "--message", "")
    assert r.err == lines(GETTING, "Putting docker in read-only mode", WAITING, CLEARED)
    assert (dc.readonly(), dc.maint_info()) == ((False, True), {})
    assert sdcadm("dc-maint", "status").out.startswith("DC maintenance: docker-only (since ")


@pytest.mark.parametrize("args, status, line", [
    (["--eta", "1"], 2, "error (Usage): --eta must be set to any time in the future"),
    (["--eta", "2001-01-01T00:00:00Z"], 2,
     "error (Usage): --eta must be set to any time in the future"),
    (["--cloudapi-only", "--docker-only"], 2,
     "error (Usage): --cloudapi-only and --docker-only are mutually exclusive"),
    (["--eta", "2001-01-01", "--docker-only", "--cloudapi-only"], 2,
     "error (Usage): --eta must be set to any time in the future"),
    # the original's option parser: code Option, exit 1
    (["--eta", "tomorrow"], 1,
     'error (Option): arg for "--eta" is not a valid date format: "tomorrow"'),
    (["--eta", "2099-13-01"], 1, 'error (Option): arg for "--eta" is an invalid date: '
                                 '"2099-13-01"'),
])
def test_bad_start_options_change_nothing(sdcadm: Any, dc: Dc, args: list[str], status: int,
                                          line: str) -> None:
    r = sdcadm("dc-maint", "start", *args)
    assert (r.exit_code, r.out, r.err) == (status, "", f"sdcadm dc-maint start: {line}\n")
    assert dc.sim.mutations() == []
    assert dc.history() == []
    assert not dc.info_file().exists()


def test_eta_as_epoch_seconds_is_stored_as_iso(sdcadm: Any, dc: Dc) -> None:
    eta = int(time.time()) + 3600
    r = sdcadm("dc-maint", "start", "--eta", str(eta))
    assert r.exit_code == 0, r.err
    expected = datetime.fromtimestamp(eta, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert dc.maint_info() == {"DC_MAINT_MESSAGE": MSG, "DC_MAINT_ETA": expected}
    assert sdcadm("dc-maint", "status").out.endswith(f"DC maintenance ETA: {expected}\n")


def test_start_when_already_in_maintenance(sdcadm: Any, dc: Dc) -> None:
    assert sdcadm("dc-maint", "start").exit_code == 0
    first = dc.info_file().read_text()
    dc.sim.clear_mutations()
    r = sdcadm("dc-maint", "start")
    assert (r.exit_code, r.out) == (0, "")
    assert r.err == lines(GETTING, "Cloudapi service already in read-only mode",
                          "Docker service already in read-only mode", WAITING, CLEARED)
    assert dc.sapi_changes() == []
    # the zones are refreshed again: running start again retries a failed refresh
    assert sorted(dc.refreshes()) == sorted([dc.refresh_line("cloudapi0"),
                                             dc.refresh_line("docker0")])
    assert dc.info_file().read_text() == first


def test_stop_when_not_in_maintenance(sdcadm: Any, dc: Dc) -> None:
    r = sdcadm("dc-maint", "stop")
    assert (r.exit_code, r.out) == (0, "")
    assert r.err == lines(GETTING, "Cloudapi service is not in read-only mode",
                          "Docker service is not in read-only mode",
                          "Data center is not in maintenance mode")
    assert dc.sapi_changes() == []
    assert dc.readonly() == (None, None)


def test_history_records_start_and_stop(sdcadm: Any, dc: Dc) -> None:
    t0 = int(time.time() * 1000)
    assert sdcadm("dc-maint", "start", "--message", "m1").exit_code == 0
    assert sdcadm("dc-maint", "stop").exit_code == 0
    t1 = int(time.time() * 1000)
    start, stop = dc.history()
    app = dc.app()["uuid"]
    cloudapi, docker = dc.service("cloudapi")["uuid"], dc.service("docker")["uuid"]
    zones = {"cloudapi": [dc.vm("cloudapi0")["uuid"]], "docker": [dc.vm("docker0")["uuid"]]}
    assert start["changes"] == [
        {"type": "dc-maint-start", "service": {"name": "cloudapi", "uuid": cloudapi},
         "metadata": {"CLOUDAPI_READONLY": True}, "previous": {"CLOUDAPI_READONLY": None}},
        {"type": "dc-maint-start", "service": {"name": "docker", "uuid": docker},
         "metadata": {"DOCKER_READONLY": True}, "previous": {"DOCKER_READONLY": None}},
        {"type": "dc-maint-start", "service": {"name": "sdc", "uuid": app},
         "metadata": {"DC_MAINT_MESSAGE": "m1"}, "previous": {"DC_MAINT_MESSAGE": None}},
        {"type": "refresh-config-agent", "service": {"name": "cloudapi"},
         "instances": zones["cloudapi"]},
        {"type": "refresh-config-agent", "service": {"name": "docker"},
         "instances": zones["docker"]},
    ]
    assert [(c["type"], c["service"]["name"]) for c in stop["changes"]] == [
        ("dc-maint-stop", "cloudapi"), ("dc-maint-stop", "docker"), ("dc-maint-stop", "sdc"),
        ("refresh-config-agent", "cloudapi"), ("refresh-config-agent", "docker")]
    assert stop["changes"][2]["action"] == "delete"
    assert stop["changes"][2]["previous"] == {"DC_MAINT_MESSAGE": "m1"}
    for entry in (start, stop):
        assert t0 <= entry["started"] <= entry["finished"] <= t1
        assert entry["username"] and "error" not in entry
    r = sdcadm("history", "-H", "-o", "changes")
    assert r.out.splitlines() == ["dc-maint-stop(cloudapi),dc-maint-stop(do...",
                                  "dc-maint-start(cloudapi),dc-maint-start(...",
                                  ]


@pytest.mark.parametrize("latencies, listing", [
    ({"reprovision": 2000, "job-queue": 0}, "execution=running"),
    ({"reprovision": 0, "job-queue": 2000}, "execution=queued"),
])
def test_start_waits_for_workflow_to_drain(sdcadm: Any, dc: Dc, tmp_path: Path,
                                           latencies: dict[str, float], listing: str) -> None:
    # Polls every 0.1 s, so the 5 minutes are 6 s here; the job takes 2 s. Without a
    # terminal, the wait says every 0.3 s what it is waiting for.
    conf = dc.config(tmp_path, pollInterval=0.1, progressInterval=0.3)
    log = tmp_path / "requests.log"
    dc.sim.set_latencies(latencies)
    job = dc.slow_job()
    busy = "running" if "running" in listing else "queued"
    wait_until(lambda: dc.job(job)["execution"] == busy)
    r = sdcadm("dc-maint", "start", env={"SDCADM_CONFIG": conf,
                                         "SDCADM_REQUEST_LOG": str(log)})
    assert r.exit_code == 0, r.err
    assert r.err.endswith(lines(WAITING, CLEARED))
    # It returned only once the job was done, having seen it busy at least once.
    assert dc.job(job)["execution"] == "succeeded"
    assert r.progress[0] == "started" and re.fullmatch(f"done{TOOK}", r.progress[-1])
    ticks = r.progress[1:-1]
    assert len(ticks) >= 2, r.progress
    assert all(re.fullmatch(rf"(waiting|still {busy}: reprovision-7.0.4 {job}){TOOK}", t)
               for t in ticks), r.progress
    assert any(t.startswith("still") for t in ticks), r.progress
    polls = [ln for ln in log.read_text().splitlines()
             if ln.startswith("wfapi GET") and listing in ln]
    assert len(polls) >= 2
    assert all("limit=10" in ln for ln in polls)


def test_drain_timeout_fails_and_is_recorded(sdcadm: Any, dc: Dc) -> None:
    # The simulator's pollInterval (0.01 s) makes the 5 minutes 0.6 s.
    dc.sim.set_latencies({"reprovision": 1_000_000, "job-queue": 0})
    job = dc.slow_job()
    wait_until(lambda: dc.job(job)["execution"] == "running")
    r = sdcadm("dc-maint", "start")
    message = (f"timeout waiting for workflow jobs to drain (still running: "
               f"reprovision-7.0.4 {job})")
    assert r.exit_code == 1
    assert r.err == lines(GETTING, "Putting cloudapi in read-only mode",
                          "Putting docker in read-only mode",
                          "Saving data center maintenance eta/message", WAITING,
                          f"sdcadm dc-maint start: error (InternalError): {message}")
    assert r.progress[0] == "started" and re.fullmatch(f"failed{TOOK}", r.progress[-1])
    # The datacenter is in maintenance all the same, as the original leaves it.
    assert dc.readonly() == (True, True)
    assert sdcadm("dc-maint", "status").out.startswith("DC maintenance: on (since ")
    (entry,) = dc.history()
    assert entry["error"] == {"code": "InternalError", "message": message}
    assert entry["finished"] >= entry["started"]
    dc.call("POST", "workflow", f"/jobs/{job}/cancel")


@pytest.mark.parametrize("count, status", [(None, 1), (2, 0)])
def test_job_listing_errors(sdcadm: Any, dc: Dc, tmp_path: Path, count: int | None,
                            status: int) -> None:
    conf = dc.config(tmp_path, retries=0)
    fault: dict[str, Any] = {"type": "error", "service": "workflow", "method": "GET",
                             "path": r"^/jobs\?", "status": 503, "message": "try later"}
    if count:
        fault["count"] = count
    dc.sim.add_fault(fault)
    r = sdcadm("dc-maint", "start", env={"SDCADM_CONFIG": conf})
    assert r.exit_code == status
    (fired,) = [f["fired"] for f in dc.sim.faults()]
    if status:
        # three listings failed, and that was enough
        assert fired == 3
        assert r.err.endswith(lines(WAITING, "sdcadm dc-maint start: error (SDCClient): "
                                             "wfapi client error (ServiceUnavailableError): "
                                             "try later"))
    else:
        assert fired == 2
        assert r.err.endswith(lines(WAITING, CLEARED))


def test_unreachable_server_is_reported_without_hiding_the_others(sdcadm: Any, dc: Dc) -> None:
    # A second cloudapi instance, on cn01 (a real SAPI provision).
    cloudapi = dc.service("cloudapi")
    dc.call("POST", "sapi", "/instances", json={
        "service_uuid": cloudapi["uuid"], "params": {"alias": "cloudapi1", "server_uuid": CN01}})
    cloudapi1 = dc.vm("cloudapi1")
    assert cloudapi1["server_uuid"] == CN01
    dc.sim.clear_mutations()
    fault = dc.sim.add_fault({"type": "ssh-unreachable", "target": CN01})

    r = sdcadm("dc-maint", "start")
    assert (r.exit_code, r.out) == (1, "")
    err = r.err.splitlines()
    failure = [ln for ln in err if ln.startswith("Error refreshing config-agent")]
    assert len(failure) == 1
    assert failure[0].startswith(f"Error refreshing config-agent in zone cloudapi1 "
                                 f"({cloudapi1['uuid']}): server cn01 (10.99.99.41): "
                                 "cannot connect: ")
    # the rest of the start went on: the headnode's zones, the start time, the drain
    assert sorted(dc.refreshes()) == sorted([dc.refresh_line("cloudapi0"),
                                             dc.refresh_line("docker0")])
    assert err[-3:-1] == [WAITING, CLEARED]
    assert err[-1] == ("sdcadm dc-maint start: error (Remote): config-agent was not refreshed "
                       "in 1 of 3 zones (listed above): run `sdcadm dc-maint start` again to "
                       "retry")
    assert dc.readonly() == (True, True)
    assert dc.info_file().exists()
    assert dc.history()[0]["error"]["code"] == "Remote"

    # Once the server answers, running start again finishes the job.
    dc.sim.remove_fault(fault)
    dc.sim.clear_mutations()
    r = sdcadm("dc-maint", "start")
    assert r.exit_code == 0, r.err
    assert dc.refresh_line("cloudapi1", "cn01") in dc.refreshes()
    assert dc.sapi_changes() == []


def test_without_a_docker_service(sdcadm: Any, dc: Dc) -> None:
    dc.call("DELETE", "sapi", f"/services/{dc.service('docker')['uuid']}")
    dc.sim.clear_mutations()
    r = sdcadm("dc-maint", "start", "--docker-only")
    assert (r.exit_code, r.out, r.err) == (
        2, "", 'sdcadm dc-maint start: error (Validation): no "docker" service in SAPI: cannot '
               "put docker in read-only mode\n")
    assert dc.sim.mutations() == []

    # Without the option, docker is skipped as the original does.
    r = sdcadm("dc-maint", "start")
    assert r.exit_code == 0, r.err
    assert r.err == lines(GETTING, "Putting cloudapi in read-only mode",
                          "Saving data center maintenance eta/message", WAITING, CLEARED)
    assert dc.refreshes() == [dc.refresh_line("cloudapi0")]
    assert sdcadm("dc-maint", "status").out.startswith("DC maintenance: cloudapi-only (since ")
    r = sdcadm("dc-maint", "stop")
    assert r.err == lines(GETTING, "Taking cloudapi out of read-only mode",
                          "Clearing data center maintenance information")


def test_deprecated_top_level_flags(sdcadm: Any, dc: Dc) -> None:
    r = sdcadm("dc-maint", "--start")
    assert r.exit_code == 0, r.err
    assert r.err == lines("Warning: `sdcadm dc-maint --start` is deprecated: use "
                          "`sdcadm dc-maint start`", GETTING,
                          "Putting cloudapi in read-only mode", "Putting docker in read-only mode",
                          "Saving data center maintenance eta/message", WAITING, CLEARED)
    # the sub-command's default message applies
    assert dc.maint_info() == {"DC_MAINT_MESSAGE": MSG}
    r = sdcadm("dc-maint", "-j")
    assert r.err == ("Warning: `sdcadm dc-maint -j` is deprecated: use "
                     "`sdcadm dc-maint status -j`\n")
    assert json.loads(r.out)["maint"] is True
    r = sdcadm("dc-maint", "--stop")
    assert r.exit_code == 0
    assert r.err.startswith("Warning: `sdcadm dc-maint --stop` is deprecated: use "
                            "`sdcadm dc-maint stop`\n")
    assert dc.readonly() == (False, False)

    dc.sim.clear_mutations()
    for args, message in [
        (["--start", "--stop"], "--start and --stop are mutually exclusive"),
        (["--start", "status"], "--start (the deprecated form of `sdcadm dc-maint start`) "
                                "cannot be combined with a sub-command"),
    ]:
        r = sdcadm("dc-maint", *args)
        assert (r.exit_code, r.out, r.err) == (2, "", f"sdcadm dc-maint: error (Usage): "
                                                      f"{message}\n")
    assert dc.sim.mutations() == []
    r = sdcadm("dc-maint")
    assert r.exit_code == 0 and "status" in r.out and "start" in r.out and "stop" in r.out


def test_workflow_lists_jobs_by_execution_with_a_limit(dc: Dc) -> None:
    r = requests.get(dc.urls["workflow"] + "/jobs", params={"execution": "busy"}, timeout=10)
    assert (r.status_code, r.json()) == (409, {
        "code": "ConflictError",
        "message": "Execution must be one of queued, failed, succeeded, canceled or running"})
    dc.sim.set_latencies({"reprovision": 1_000_000, "job-queue": 0})
    jobs = {dc.slow_job(alias) for alias in ("vmapi0", "papi0", "napi0")}
    wait_until(lambda: all(dc.job(j)["execution"] == "running" for j in jobs))
    two = dc.call("GET", "workflow", "/jobs", params={"execution": "running", "limit": 2})
    assert len(two) == 2 and {j["uuid"] for j in two} <= jobs
    assert {j["execution"] for j in two} == {"running"}
    running = dc.call("GET", "workflow", "/jobs", params={"execution": "running", "limit": 10})
    assert {j["uuid"] for j in running} == jobs
    assert dc.call("GET", "workflow", "/jobs", params={"execution": "queued"}) == []
    for j in jobs:
        dc.call("POST", "workflow", f"/jobs/{j}/cancel")
    assert dc.call("GET", "workflow", "/jobs", params={"execution": "running"}) == []
