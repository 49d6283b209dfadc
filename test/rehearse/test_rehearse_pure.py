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
    assert waves["download"]["predicted_s"] == pytest.approx(20.5 + 0.01, abs=0.05)
    assert waves["moray"]["predicted_s"] == pytest.approx(30.5 + 0.02, abs=0.05)
    # Two installs side by side: the wave lasts one install, not two.
    assert waves["cn-agent"]["predicted_s"] == pytest.approx(15.0 + 0.01, abs=0.05)
    gaps = 0.9 - 0.215 - 0.325 - 0.16
    assert got["predicted"]["total_s"] == pytest.approx(20.51 + 30.52 + 15.01 + gaps, abs=0.1)
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
    assert waves["moray"]["predicted_s"] == pytest.approx(60.0 + 0.01, abs=0.05)
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


def test_a_clock_stretches_only_the_waves():
    w = timeline.Wave("x", [], [(10.0, 11.0, 30.0)])
    clock = timeline.Clock([w])
    assert clock.at(5.0) == 5.0
    assert clock.at(10.5) == pytest.approx(10.5 + 14.5)
    assert clock.span(9.0, 12.0) == pytest.approx(1.0 + 30.0 + 1.0)


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
