"""The pure parts of a rehearsal: fault wishes, the journal's timeline and the prediction,
outage windows, plan keys and the report's text."""
from __future__ import annotations

from typing import Any

import pytest

from sdcadm.errors import UsageError
from sdcadm.model import DatacenterState
from sdcadm.rehearse import faults, record, report, timeline


def ev(t: float, event: str, step: str | None = None, **kw: Any) -> dict[str, Any]:
    from datetime import datetime, timezone

    iso = datetime.fromtimestamp(1_800_000_000 + t, timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    return {"time": iso, "event": event, **({"step": step} if step else {}), **kw}


def step(id_: str, action: str, target: str, change: str, *, parallel: str | None = None,
         concurrency: int = 1, after: tuple[str, ...] = (), exclusive: tuple[str, ...] = (),
         **params: Any) -> dict[str, Any]:
    return {"id": id_, "action": action, "target": target, "change": change, "params": params,
            "summary": f"{action} {target}", "parallel": parallel, "concurrency": concurrency,
            "after": list(after), "exclusive": list(exclusive)}


# -- faults ---------------------------------------------------------------------------------

def test_fault_words_become_wishes():
    got = faults.parse(["reprovision:5%,reboot-hang:cn07", "reprovision:moray1:always",
                        "api-error:vmapi:10%", '{"type": "ping-fail", "target": "*"}'])
    assert [(w.kind, w.target, w.rate, w.always) for w in got[:4]] == [
        ("reprovision", "*", 0.05, True), ("reboot-hang", "cn07", None, False),
        ("reprovision", "moray1", None, True), ("api-error", "vmapi", 0.1, False)]
    assert got[4].raw == {"type": "ping-fail", "target": "*"}


@pytest.mark.parametrize("bad, says", [
    ("explode:cn01", 'unknown fault "explode"'),
    ("reprovision:0%", "a rate is a percentage above 0"),
    ("reprovision:moray1:twice", "expected reprovision:TARGET[:always]"),
    ("api-error:nosuch", "api-error:API[:RATE%]"),
    ("{not json", "not JSON"),
])
def test_bad_fault_words_are_usage_errors(bad, says):
    with pytest.raises(UsageError, match=says.replace("[", r"\[").replace("]", r"\]")):
        faults.parse([bad])


def _state() -> DatacenterState:
    from sdcadm.model import Application, Instance, Server

    return DatacenterState(
        app=Application(uuid="a", name="sdc"), services={},
        instances=(Instance(instance="vm-1", service="moray", type="vm", alias="moray1",
                            server="srv-7"),),
        servers={"srv-7": Server(uuid="srv-7", hostname="cn07")},
        local_images={}, update_images={})


def test_names_resolve_to_uuids_and_transient_failures_fire_once():
    specs = faults.resolve(faults.parse(["reprovision:moray1,reboot-hang:cn07,"
                                         "reprovision:5%,api-error:cnapi"]), _state())
    assert specs[0] == {"type": "fail-job", "label": "reprovision:moray1", "target": "vm-1",
                        "action": "reprovision", "count": 1,
                        "message": "rehearsal fault reprovision:moray1"}
    assert specs[1] == {"type": "reboot-hang", "label": "reboot-hang:cn07", "target": "srv-7"}
    assert specs[2]["rate"] == 0.05 and "count" not in specs[2] and specs[2]["target"] == "*"
    assert specs[3]["service"] == "cnapi" and specs[3]["status"] == 503
    with pytest.raises(UsageError, match='no server "cn99" in this datacenter'):
        faults.resolve(faults.parse(["install-agent:cn99"]), _state())


def test_a_failed_step_is_blamed_on_the_fault_that_matches_it():
    repro = step("3:reprovision:vm-1", "reprovision", "vm-1", "moray", instance="vm-1")
    wait = step("4:wait-instance:vm-1", "wait-instance", "vm-1", "moray", instance="vm-1")
    fired = [{"type": "fail-job", "action": "install-agent", "target": "*", "fired": 1,
              "label": "install-agent:5%"},
             {"type": "fail-job", "action": "reprovision", "target": "vm-1", "fired": 1,
              "label": "reprovision:moray1"},
             {"type": "unhealthy", "target": "vm-1", "fired": 0, "label": "unhealthy:moray1"}]
    assert faults.cause(repro, fired)["label"] == "reprovision:moray1"
    assert faults.cause(wait, fired)["label"] == "unhealthy:moray1"
    assert faults.cause(repro, fired[:1]) is None


MEMBERS = {"moray": [("vm-1", "srv-7"), ("vm-2", "srv-8")], "cns": [("vm-3", "srv-8")]}
REPROVISION_VM2 = step("2:reprovision:vm-2", "reprovision", "vm-2", "moray", instance="vm-2",
                       service="moray", server_uuid="srv-8")
WAIT_VM2 = step("3:wait-instance:vm-2", "wait-instance", "vm-2", "moray", instance="vm-2",
                service="moray")
REBOOT_SRV8 = step("4:reboot-server:srv-8", "reboot-server", "srv-8", "reboot")
VERIFY = step("5:verify:datacenter", "verify", "datacenter", "verify", services=["cns"])


@pytest.mark.parametrize("fault, ran, why", [
    # reboot-hang:cn07 with a plan that reboots nothing, another server, that server
    ({"type": "reboot-hang", "target": "srv-7", "label": "reboot-hang:cn07"},
     [REPROVISION_VM2, WAIT_VM2], "the plan reboots no server"),
    ({"type": "reboot-hang", "target": "srv-7", "label": "reboot-hang:cn07"},
     [REBOOT_SRV8], "the plan does not reboot cn07"),
    ({"type": "reboot-hang", "target": "srv-8", "label": "reboot-hang:cn08"},
     [REBOOT_SRV8], None),
    # a reprovision failure: counted by the simulator
    ({"type": "fail-job", "action": "reprovision", "target": "vm-1", "count": 1, "fired": 0,
      "label": "reprovision:moray1"}, [REPROVISION_VM2], "the plan does not reprovision moray1"),
    ({"type": "fail-job", "action": "reprovision", "target": "vm-2", "count": 1, "fired": 1,
      "label": "reprovision:moray2"}, [REPROVISION_VM2], None),
    ({"type": "fail-job", "action": "reprovision", "target": "*", "rate": 0.05, "fired": 0,
      "label": "reprovision:5%"}, [REPROVISION_VM2], "its 5% chance never came up"),
    ({"type": "fail-job", "action": "install-agent", "target": "srv-7", "fired": 0,
      "label": "install-agent:cn07"}, [REPROVISION_VM2], "the plan installs no agent"),
    # standing conditions of an instance: met by a wait for it, a reboot of its server or
    # the verification of its service
    ({"type": "unhealthy", "target": "vm-2", "fired": 0, "label": "unhealthy:moray2"},
     [REPROVISION_VM2, WAIT_VM2], None),
    ({"type": "unhealthy", "target": "vm-2", "fired": 0, "label": "unhealthy:moray2"},
     [REBOOT_SRV8], None),
    ({"type": "unhealthy", "target": "vm-3", "fired": 0, "label": "unhealthy:cns0"},
     [VERIFY], None),
    ({"type": "unhealthy", "target": "vm-1", "fired": 0, "label": "unhealthy:moray1"},
     [REPROVISION_VM2, WAIT_VM2, VERIFY], "no step of the plan met moray1"),
    ({"type": "unhealthy", "target": "vm-1", "fired": 0, "label": "unhealthy:moray1"},
     [REPROVISION_VM2], "no step of the plan can meet it"),
    # a server that SSH cannot reach, met by a wait for an instance on it
    ({"type": "ssh-unreachable", "target": "srv-8", "label": "ssh-unreachable:cn08"},
     [WAIT_VM2], None),
    # API errors: counted
    ({"type": "error", "service": "cnapi", "status": 503, "fired": 0,
      "label": "api-error:cnapi"}, [REPROVISION_VM2],
     "the run sent cnapi no request it applies to"),
    ({"type": "error", "service": "cnapi", "status": 503, "rate": 0.1, "fired": 0,
      "label": "api-error:cnapi:10%"}, [REPROVISION_VM2], "its 10% chance never came up"),
    ({"type": "error", "service": "cnapi", "status": 503, "fired": 3,
      "label": "api-error:cnapi"}, [REPROVISION_VM2], None),
    # a JSON fault names its target by uuid; one the rehearsal knows nothing of is not judged
    ({"type": "reboot-hang", "target": "srv-7", "label": '{"type": "reboot-hang"}'},
     [REBOOT_SRV8], "the plan does not reboot srv-7"),
    ({"type": "ssh-hostkey", "target": "srv-7", "label": "{}"}, [], None),
])
def test_a_fault_that_never_fired_says_why(fault, ran, why):
    assert faults.never_fired(fault, ran, MEMBERS) == why


def test_the_report_names_each_fault_that_never_fired_in_one_line():
    hang = {"type": "reboot-hang", "target": "srv-7", "label": "reboot-hang:cn07"}
    mine = {"type": "unhealthy", "target": "srv-7", "message": "after a reboot"}  # no label
    got = report.build(report.Facts(steps=STEPS, events=EVENTS, members={}, faults=[hang, mine],
                                    basis=timeline.Basis(LATENCIES, time_scale=0.01)))
    assert got["faults_not_fired"] == [{"fault": "reboot-hang:cn07",
                                        "why": "the plan reboots no server"}]
    assert got["status"] == "ok"
    text = report.render({**got, "command": "sdcadm update moray",
                          "rehearsal": {**got["rehearsal"], "speed": 100}})
    assert text[-1] == "Fault reboot-hang:cn07 never fired: the plan reboots no server."


# -- the timeline -----------------------------------------------------------------------------

STEPS = [step("1:import-image:i", "import-image", "i", "download"),
         step("2:reprovision:vm-1", "reprovision", "vm-1", "moray", instance="vm-1",
              service="moray"),
         step("3:wait-instance:vm-1", "wait-instance", "vm-1", "moray", instance="vm-1",
              service="moray"),
         step("4:install-agent:srv-7", "install-agent", "srv-7", "cn-agent",
              parallel="agents:cn-agent", concurrency=5, agent="cn-agent"),
         step("5:install-agent:srv-8", "install-agent", "srv-8", "cn-agent",
              parallel="agents:cn-agent", concurrency=5, agent="cn-agent")]
# At time scale 0.01: the import waits 20.5 s x 0.01, the reprovision 30.5 s x 0.01, each
# agent install 15 s x 0.01 (both at once); 0.01 s of sdcadm's own time around each.
FROM_REPROVISION = [
    (0.3, "step-intent", "2:reprovision:vm-1", {}), (0.3, "step-start", "2:reprovision:vm-1", {}),
    (0.615, "step-end", "2:reprovision:vm-1", {"outcome": "done"}),
    (0.615, "step-intent", "3:wait-instance:vm-1", {}),
    (0.625, "step-end", "3:wait-instance:vm-1", {"outcome": "done"}),
    (0.7, "step-intent", "4:install-agent:srv-7", {}),
    (0.7, "step-intent", "5:install-agent:srv-8", {}),
    (0.86, "step-end", "4:install-agent:srv-7", {"outcome": "done"}),
    (0.86, "step-end", "5:install-agent:srv-8", {"outcome": "done"}),
    (0.9, "run-end", None, {"status": "done"})]


def shifted(rows: list[tuple[float, str, str | None, dict[str, Any]]],
            by: float = 0.0) -> list[dict[str, Any]]:
    return [ev(t + by, kind, step_id, **kw) for t, kind, step_id, kw in rows]


EVENTS = [ev(0.0, "run-start"),
          ev(0.0, "step-intent", "1:import-image:i"), ev(0.0, "step-start", "1:import-image:i"),
          ev(0.215, "step-end", "1:import-image:i", outcome="done"),
          *shifted(FROM_REPROVISION)]
LATENCIES = {"job-queue": 0.5, "import-image": 20.0, "reprovision": 30.0, "install-agent": 15.0}


def test_the_prediction_puts_the_real_latencies_back_and_keeps_sdcadms_own_time():
    basis = timeline.Basis(LATENCIES, time_scale=0.01)
    got = report.build(report.Facts(
        steps=STEPS, events=EVENTS, basis=basis,
        members={"moray": [("vm-1", "srv-7"), ("vm-2", "srv-8")],
                 "cn-agent": [("a-7", "srv-7"), ("a-8", "srv-8")]}))
    waves = {w["wave"]: w for w in got["predicted"]["waves"]}
    assert list(waves) == ["download", "moray", "cn-agent"]
    # Each wave runs until the next one starts: sdcadm's time between them is its own.
    assert waves["download"]["predicted_s"] == pytest.approx(20.5 + 0.01 + 0.085, abs=0.01)
    assert waves["moray"]["predicted_s"] == pytest.approx(30.5 + 0.02 + 0.075, abs=0.01)
    # Two installs side by side: the wave lasts one install, not two.
    assert waves["cn-agent"]["predicted_s"] == pytest.approx(15.0 + 0.01 + 0.04, abs=0.01)
    gaps = 0.9 - 0.215 - 0.325 - 0.16
    assert got["predicted"]["total_s"] == pytest.approx(20.51 + 30.52 + 15.01 + gaps, abs=0.1)
    assert sum(w["predicted_s"] for w in waves.values()) == pytest.approx(
        got["predicted"]["total_s"], abs=0.05)
    assert sum(w["rehearsal_s"] for w in waves.values()) == pytest.approx(0.9)
    assert got["rehearsal"]["elapsed_s"] == pytest.approx(0.9)
    assert got["predicted"]["basis"]["reprovision"] == {"source": "simulator", "seconds": 30.5}
    services = {s["service"]: s for s in got["services"]}
    assert services["moray"]["longest_below_usual_s"] == pytest.approx(30.52, abs=0.05)
    assert (services["moray"]["instances"], services["moray"]["most_down"]) == (2, 1)
    assert services["cn-agent"]["most_down"] == 2
    assert got["status"] == "ok" and got["failures"] == [] and got["quorum_losses"] == []


def test_past_runs_in_history_replace_the_simulators_latencies():
    history = [{"command": "update", "steps": [
        {"action": "reprovision", "status": "done", "started": "2030-01-01T00:00:00.000Z",
         "finished": "2030-01-01T00:01:00.000Z"},
        {"action": "reprovision", "status": "failed", "started": "2030-01-01T00:00:00.000Z",
         "finished": "2030-01-01T00:09:00.000Z"}]},
        {"command": "rehearse", "rehearsal": {}, "steps": [
            {"action": "reprovision", "status": "done", "started": "2030-01-01T00:00:00Z",
             "finished": "2030-01-01T05:00:00Z"}]}]
    samples = timeline.history_samples(history)
    assert samples == {"reprovision": [60.0]}
    basis = timeline.Basis(LATENCIES, time_scale=0.01, samples=samples)
    got = report.build(report.Facts(steps=STEPS, events=EVENTS, basis=basis, members={}))
    waves = {w["wave"]: w for w in got["predicted"]["waves"]}
    assert waves["moray"]["predicted_s"] == pytest.approx(60.0 + 0.01 + 0.075, abs=0.01)
    assert got["predicted"]["basis"]["reprovision"] == {"source": "history", "samples": 1,
                                                        "seconds": 60.0}


def test_a_failed_step_and_its_resume_are_reported_with_their_fault():
    events = [*EVENTS[:5], ev(0.3, "step-start", "2:reprovision:vm-1"),
              ev(0.4, "step-end", "2:reprovision:vm-1", outcome="failed",
                 error={"code": "StepFailed", "message": "job failed: rehearsal fault"}),
              ev(0.41, "run-end", status="failed"), ev(2.0, "run-resume"),
              ev(2.0, "step-end", "1:import-image:i", outcome="skipped"),
              *shifted(FROM_REPROVISION, by=1.7)]
    fault = {"type": "fail-job", "action": "reprovision", "target": "vm-1", "fired": 1,
             "label": "reprovision:moray1"}
    got = report.build(report.Facts(steps=STEPS, events=events, members={}, faults=[fault],
                                    basis=timeline.Basis(LATENCIES, time_scale=0.01),
                                    resume={"attempts": 1, "converged": True, "error": None}))
    assert got["failures"] == [{"step": "2:reprovision:vm-1", "summary": "reprovision vm-1",
                                "error": "job failed: rehearsal fault", "code": "StepFailed",
                                "fault": "reprovision:moray1", "done_after_resume": True}]
    assert got["status"] == "ok"
    # The pause before the resume is the operator's time, not the update's.
    assert got["rehearsal"]["elapsed_s"] == pytest.approx(0.41 + 0.6, abs=0.05)
    text = "\n".join(report.render({**got, "command": "sdcadm update moray",
                                    "rehearsal": {**got["rehearsal"], "speed": 100}}))
    assert "fault: reprovision:moray1" in text
    assert "update --resume converged after 1 attempt(s)." in text
    assert "Failed steps: 1" in text


def test_a_wave_is_scheduled_as_the_executor_runs_its_steps():
    def reboot(n: int, **kw: Any) -> dict[str, Any]:
        return step(f"{n}:reboot-server:s{n}", "reboot-server", f"s{n}", "reboot",
                    parallel="reboot", concurrency=2, **kw)

    # s1 and s2 hold members of one shard: never down together; s3 comes after s1.
    group = [reboot(1, exclusive=("shard",)), reboot(2, exclusive=("shard",)),
             reboot(3, after=("s1",)), reboot(4)]
    durations = {s["id"]: 90.0 for s in group}
    # 0-90: s1 and s4 (s2 waits for the shard, s3 for s1); 90-180: s2 and s3.
    assert timeline.schedule(group, durations) == 180.0
    serial = [step("1:reprovision:a", "reprovision", "a", "x"),
              step("2:reprovision:b", "reprovision", "b", "x")]
    assert timeline.schedule(serial, {"1:reprovision:a": 30.0, "2:reprovision:b": 30.0}) == 60.0
    # Five installs at two a time: three rounds.
    five = [step(f"{n}:install-agent:s{n}", "install-agent", f"s{n}", "a", parallel="a",
                 concurrency=2) for n in range(5)]
    assert timeline.schedule(five, {s["id"]: 15.0 for s in five}) == 45.0


def _service(n: int, name: str, *, parallel: str | None = None) -> list[dict[str, Any]]:
    """A service's update: its SAPI update, its one instance's reprovision, the wait for it
    (each after the previous one when it runs beside other services, as `update` plans)."""
    ids = [f"{n}:sapi-update-service:{name}", f"{n + 1}:reprovision:{name}0",
           f"{n + 2}:wait-instance:{name}0"]
    kw: dict[str, Any] = {"parallel": parallel, "concurrency": 2} if parallel else {}
    return [step(ids[0], "sapi-update-service", name, name, **kw),
            step(ids[1], "reprovision", f"{name}0", name, service=name, instance=f"{name}0",
                 **kw, **({"after": (ids[0],)} if parallel else {})),
            step(ids[2], "wait-instance", f"{name}0", name, service=name, instance=f"{name}0",
                 **kw, **({"after": (ids[1],)} if parallel else {}))]


# a, b and c run together two at a time (c once a is done), then d alone; b's instance
# takes 0.1 s of sdcadm's own time to come up. At time scale 0.01 each reprovision waits
# 0.305 s, plus 0.01 s of sdcadm's own time.
TOGETHER = [*_service(1, "a", parallel="wave:1"), *_service(4, "b", parallel="wave:1"),
            *_service(7, "c", parallel="wave:1"), *_service(10, "d")]
TOGETHER_TIMES = {"1": (0.0, 0.01), "2": (0.01, 0.325), "3": (0.325, 0.335),
                  "4": (0.0, 0.01), "5": (0.01, 0.325), "6": (0.325, 0.425),
                  "7": (0.335, 0.345), "8": (0.345, 0.66), "9": (0.66, 0.67),
                  "10": (0.7, 0.71), "11": (0.71, 1.025), "12": (1.025, 1.035)}


def test_services_that_run_together_are_one_wave_and_each_is_timed_by_its_own_steps():
    rows = [(0.0, "run-start", None, {}), (1.1, "run-end", None, {"status": "done"})]
    for s in TOGETHER:
        a, b = TOGETHER_TIMES[s["id"].split(":")[0]]
        rows += [(a, "step-intent", s["id"], {}), (b, "step-end", s["id"], {"outcome": "done"})]
    rows.sort(key=lambda r: r[0])
    got = report.build(report.Facts(
        steps=TOGETHER, events=shifted(rows), basis=timeline.Basis(LATENCIES, time_scale=0.01),
        members={name: [(f"{name}0", "srv-7")] for name in "abcd"}))
    waves = got["predicted"]["waves"]
    assert [(w["wave"], w["changes"], w["steps"]) for w in waves] == [
        ("a, b, c", ["a", "b", "c"], 9), ("d", ["d"], 3)]
    # Two reprovisions side by side, then the third: two reprovisions long, not three.
    assert waves[0]["predicted_s"] == pytest.approx(2 * (0.01 + 30.51 + 0.01) + 0.03, abs=0.01)
    assert waves[1]["predicted_s"] == pytest.approx(0.01 + 30.51 + 0.01 + 0.065, abs=0.01)
    # The waves follow one another: they add up to the whole run.
    assert sum(w["predicted_s"] for w in waves) == pytest.approx(
        got["predicted"]["total_s"], abs=0.05)
    assert sum(w["rehearsal_s"] for w in waves) == pytest.approx(1.1)
    # Each service is down for its own reprovision and wait, whatever ran beside it.
    longest = {s["service"]: s["longest_below_usual_s"] for s in got["services"]}
    assert longest == pytest.approx({"a": 30.52, "b": 30.61, "c": 30.52, "d": 30.52},
                                    abs=0.05)
    text = report.render({**got, "command": "sdcadm update a b c d",
                          "rehearsal": {**got["rehearsal"], "speed": 100}})
    assert any(ln.startswith("a, b, c  ") for ln in text), text


@pytest.mark.parametrize("changes, label", [
    (["moray"], "moray"),
    (["cns", "docker", "sdc", "cloudapi", "cmon"], "cns, docker, sdc, cloudapi, cmon"),
    (["adminui", "amon", "amonredis", "assets", "cloudapi", "cmon", "cns", "docker"],
     "adminui, amon, amonredis, assets +4 more"),
])
def test_a_wave_of_many_services_is_named_within_its_column(changes, label):
    wave = {"wave": ", ".join(changes), "changes": changes, "steps": 3, "rehearsal_s": 0.1,
            "predicted_s": 30.0}
    got = {"rehearsal": {"steps": 3, "steps_run": 3, "elapsed_s": 0.1, "speed": 1000},
           "predicted": {"total_s": 30.0, "basis": {}, "waves": [wave]}, "services": [],
           "quorum_losses": [], "failures": [], "command": "sdcadm update --all"}
    text = report.render(got)
    row = text[next(n for n, ln in enumerate(text) if ln.startswith("WAVE")) + 1]
    assert row.split("  ")[0] == label and row.endswith("30s")


def test_a_clock_stretches_only_the_waves():
    clock = timeline.Clock([(10.0, 11.0, 30.0)])
    assert clock.at(5.0) == 5.0
    assert clock.at(10.5) == pytest.approx(10.5 + 14.5)
    assert clock.span(9.0, 12.0) == pytest.approx(1.0 + 30.0 + 1.0)


# -- the live side ----------------------------------------------------------------------------

LIVE_LOG = [
    "sapi GET http://10.0.0.1/applications?name=sdc 200 3ms",
    "cnapi GET http://10.0.0.2/servers 200 5ms",
    "ssh EXEC ssh://root@10.99.99.7:22 0 40ms zlogin z1 'manatee-adm zk-state'",
    "ssh EXEC ssh://root@10.99.99.8:22 ERR 10000ms zlogin z2 'bash -c '\"'\"'echo stat | nc "
    "127.0.0.1 2181'\"'\"''",
]
PRIVATE_LOG = [
    "vmapi GET http://127.0.0.1:4001/vms 200 2ms",
    "ssh EXEC ssh://root@127.0.0.1:40001 0 3ms svcadm -z z9 disable -s registrar",
]


@pytest.mark.parametrize("live, private, want", [
    # the snapshot's reads of the HA roles, over SSH, are counted
    ([], [], (2, {"GET": 2}, 2, [])),
    # the private run's commands went to the private copy: not the live datacenter's
    ([], ["ssh EXEC ssh://root@127.0.0.1:40002 0 3ms svcadm -z z9 enable registrar"],
     (2, {"GET": 2}, 2, [])),
    # ... unless one reached a live server
    ([], ["ssh EXEC ssh://root@10.99.99.7:22 0 3ms svcadm -z z9 disable registrar"],
     (2, {"GET": 2}, 3, ["ssh EXEC ssh://root@10.99.99.7:22 0 3ms svcadm -z z9 disable "
                         "registrar"])),
    # a command that is not one of the reads is not a read, even in a zone
    (["ssh EXEC ssh://root@10.99.99.7:22 0 3ms zlogin z1 'manatee-adm freeze -r x'"], [],
     (2, {"GET": 2}, 3, ["ssh EXEC ssh://root@10.99.99.7:22 0 3ms zlogin z1 'manatee-adm "
                         "freeze -r x'"])),
    (["sapi PUT http://10.0.0.1/services/s 200 3ms"], [],
     (3, {"GET": 2, "PUT": 1}, 2, ["sapi PUT http://10.0.0.1/services/s 200 3ms"])),
])
def test_the_live_side_counts_requests_and_ssh_commands(tmp_path, live, private, want):
    from sdcadm.rehearse import processes

    (tmp_path / "live.log").write_text("\n".join(LIVE_LOG + live) + "\n")
    (tmp_path / "private.log").write_text("\n".join(PRIVATE_LOG + private) + "\n")
    bases = ["http://10.0.0.1", "http://10.0.0.2"]
    got = (processes.audit([tmp_path / "live.log"], bases)
           + processes.audit([tmp_path / "private.log"], bases,
                             {"10.99.99.7:22", "10.99.99.8:22"}))
    assert (got.requests, got.by_method, got.ssh_commands, got.writes) == want


@pytest.mark.parametrize("live, line", [
    ({"requests": 21, "by_method": {"GET": 21}, "ssh_commands": 2, "writes": []},
     "The live datacenter received only reads: 21 requests, all GET, and 2 read-only SSH "
     "commands."),
    ({"requests": 21, "by_method": {"GET": 21}, "ssh_commands": 1, "writes": []},
     "The live datacenter received only reads: 21 requests, all GET, and 1 read-only SSH "
     "command."),
    ({"requests": 21, "by_method": {"GET": 20, "HEAD": 1}, "ssh_commands": 0, "writes": []},
     "The live datacenter received only reads: 21 requests, 20 GET, 1 HEAD."),
    ({"requests": 21, "by_method": {"GET": 21}, "writes": []},  # a report of an older sdcadm
     "The live datacenter received only reads: 21 requests, all GET."),
    ({"requests": 21, "by_method": {"GET": 21}, "ssh_commands": 1,
      "writes": ["ssh EXEC ssh://root@10.99.99.7:22 0 3ms reboot"]},
     "The live datacenter received 1 request(s) other than reads: ssh EXEC "
     "ssh://root@10.99.99.7:22 0 3ms reboot"),
])
def test_the_last_line_says_what_the_live_datacenter_received(live, line):
    from sdcadm.cli.rehearse import last_line

    assert last_line(live) == line


# -- keys, summaries -----------------------------------------------------------------------------

def test_a_plan_key_ignores_order_and_roles_but_not_what_changes():
    a = {"fingerprint": "sha256:f", "changes": [
        {"type": "update-service", "service": {"name": "moray"}, "image": {"uuid": "i"},
         "insts": [{"instance": "x"}, {"instance": "y"}]}]}
    b = {"fingerprint": "sha256:f", "options": {"verify": False}, "changes": [
        {"type": "update-service", "service": {"name": "moray"}, "image": {"uuid": "i"},
         "insts": [{"instance": "y", "role": "primary"}, {"instance": "x"}]}]}
    assert record.plan_key(a) == record.plan_key(b)
    assert record.plan_key(a) != record.plan_key({**a, "fingerprint": "sha256:g"})


@pytest.mark.parametrize("secs, text", [(0.042, "0.04s"), (4.25, "4.2s"), (42, "42s"),
                                        (61, "1m 01s"), (3725, "1h 02m")])
def test_durations_read_like_a_clock(secs, text):
    assert report.duration(secs) == text


def test_a_quorum_loss_is_timed_on_the_predicted_clock_and_fails_the_rehearsal():
    loss = {"id": "q1", "group": "manatee", "members": ["manatee0", "manatee1", "manatee2"],
            "down": ["manatee1 on cn01", "manatee2 on cn02"], "reason": "2 of 3 peers down",
            "started": ev(0.3, "x")["time"], "ended": ev(0.615, "x")["time"]}
    got = report.build(report.Facts(steps=STEPS, events=EVENTS, members={},
                                    basis=timeline.Basis(LATENCIES, time_scale=0.01),
                                    quorum_losses=[loss]))
    assert got["status"] == "failed"
    # It lasted the reprovision: 30.5 s at real latencies.
    assert got["quorum_losses"][0]["predicted_s"] == pytest.approx(30.5, abs=0.1)
    text = "\n".join(report.render({**got, "command": "sdcadm update --all",
                                    "rehearsal": {**got["rehearsal"], "speed": 100}}))
    assert "Quorum losses: 1" in text and "manatee: 2 of 3 peers down (30s; down: " in text
