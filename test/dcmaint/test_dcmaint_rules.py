"""dc-maint decisions, table by table: status rendering, --eta, what start and stop change."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sdcadm.dcmaint.rules import (
    EtaError,
    MaintFacts,
    MaintService,
    Status,
    Zone,
    busy_summary,
    check_start_options,
    iso,
    parse_eta,
    plan_start,
    plan_stop,
    render_status_json,
    status_json,
    status_lines,
    status_of,
    truthy,
)
from sdcadm.errors import UsageError, ValidationError

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
APP = "aaaaaaaa-0000-4000-8000-000000000000"
CLOUDAPI = "cccccccc-0000-4000-8000-000000000000"
DOCKER = "dddddddd-0000-4000-8000-000000000000"
Z_C0 = Zone("c0000000-0000-4000-8000-000000000000", "cloudapi", "cloudapi0", "hn")
Z_C1 = Zone("c1000000-0000-4000-8000-000000000000", "cloudapi", "cloudapi1", "cn01")
Z_D0 = Zone("d0000000-0000-4000-8000-000000000000", "docker", "docker0", "hn")


def facts(cloudapi: Any = "absent", docker: Any = "absent", app: dict[str, Any] | None = None,
          start_time: str | None = None) -> MaintFacts:
    """`cloudapi`/`docker`: "absent" (no such service), or the READONLY metadata value
    (None: the key is not set)."""
    services = {}
    if cloudapi != "absent":
        meta = {} if cloudapi is None else {"CLOUDAPI_READONLY": cloudapi}
        services["cloudapi"] = MaintService("cloudapi", CLOUDAPI, meta)
    if docker != "absent":
        meta = {} if docker is None else {"DOCKER_READONLY": docker}
        services["docker"] = MaintService("docker", DOCKER, meta)
    zones = tuple(z for z in (Z_C0, Z_C1, Z_D0) if z.service in services)
    return MaintFacts(APP, app or {}, services, zones, start_time)


@pytest.mark.parametrize("value, on", [
    (None, False), (False, False), (True, True), ("", False), ("true", True),
    ("false", True), (0, False), (1, True), ([], False), ({}, True),
])
def test_truthy_follows_the_mustache_section_config_agent_renders(value: Any, on: bool) -> None:
    assert truthy(value) is on


SINCE = "2024-05-01T10:00:00.000Z"


@pytest.mark.parametrize("f, lines, js", [
    (facts(None, None), ["DC maintenance: off"],
     {"maint": False, "cloudapiMaint": False, "dockerMaint": False}),
    # message/eta and a stale start time: only the JSON tells about the message
    (facts(False, False, {"DC_MAINT_MESSAGE": "m"}, SINCE), ["DC maintenance: off"],
     {"maint": False, "cloudapiMaint": False, "dockerMaint": False, "message": "m"}),
    (facts(True, True, {"DC_MAINT_MESSAGE": "Upgrading",
                        "DC_MAINT_ETA": "2024-05-02T00:00:00.000Z"}, SINCE),
     [f"DC maintenance: on (since {SINCE})", "DC maintenance message: Upgrading",
      "DC maintenance ETA: 2024-05-02T00:00:00.000Z"],
     {"maint": True, "cloudapiMaint": True, "dockerMaint": True, "startTime": SINCE,
      "message": "Upgrading", "eta": "2024-05-02T00:00:00.000Z"}),
    (facts(True, False), ["DC maintenance: cloudapi-only"],
     {"maint": True, "cloudapiMaint": True, "dockerMaint": False}),
    (facts(None, True, start_time=SINCE), [f"DC maintenance: docker-only (since {SINCE})"],
     {"maint": True, "cloudapiMaint": False, "dockerMaint": True, "startTime": SINCE}),
    # no docker service at all: what is read-only is cloudapi only, as the original says
    (facts(True), ["DC maintenance: cloudapi-only"],
     {"maint": True, "cloudapiMaint": True, "dockerMaint": False}),
    (facts(), ["DC maintenance: off"],
     {"maint": False, "cloudapiMaint": False, "dockerMaint": False}),
])
def test_status_text_and_json(f: MaintFacts, lines: list[str], js: dict[str, Any]) -> None:
    st = status_of(f)
    assert status_lines(st) == lines
    assert status_json(st) == js


def test_status_json_is_four_space_json_keeping_non_ascii() -> None:
    text = render_status_json(Status(True, True, message="Mise à jour"))
    assert text.startswith('{\n    "maint": true,\n')
    assert "Mise à jour" in text


UTC = timezone.utc
PLUS2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize("text, expected", [
    ("1396031701", "2014-03-28T18:35:01.000Z"),
    ("2014-03-28", "2014-03-28T00:00:00.000Z"),
    ("2014-03-28T18:35:01Z", "2014-03-28T18:35:01.000Z"),
    ("2014-03-28T18:35:01.489Z", "2014-03-28T18:35:01.489Z"),
    ("2014-03-28T18:35:01.4891234Z", "2014-03-28T18:35:01.489Z"),
    ("2014-03-28t18:35:01.4z", "2014-03-28T18:35:01.400Z"),
    # without Z a time is local time (here UTC+2), as JavaScript reads it
    ("2014-03-28T18:35:01", "2014-03-28T16:35:01.000Z"),
    ("2014-03-28T18:35:01.489", "2014-03-28T16:35:01.489Z"),
])
def test_eta_forms(text: str, expected: str) -> None:
    assert iso(parse_eta(text, local=PLUS2)) == expected


@pytest.mark.parametrize("text, message", [
    ("tomorrow", 'arg for "--eta" is not a valid date format: "tomorrow"'),
    ("2014-03-28 18:35", 'arg for "--eta" is not a valid date format: "2014-03-28 18:35"'),
    ("-5", 'arg for "--eta" is not a valid date format: "-5"'),
    ("", 'arg for "--eta" is not a valid date format: ""'),
    ("2014-13-01", 'arg for "--eta" is an invalid date: "2014-13-01"'),
    ("2014-02-30T00:00:00Z", 'arg for "--eta" is an invalid date: "2014-02-30T00:00:00Z"'),
    ("99999999999999999999", 'arg for "--eta" is an invalid date: "99999999999999999999"'),
])
def test_eta_errors(text: str, message: str) -> None:
    with pytest.raises(EtaError) as e:
        parse_eta(text, local=UTC)
    assert str(e.value) == message


@pytest.mark.parametrize("eta, cloudapi_only, docker_only, message", [
    (None, False, False, None),
    (NOW + timedelta(seconds=1), True, False, None),
    (NOW, False, False, "--eta must be set to any time in the future"),
    (NOW - timedelta(days=1), True, True, "--eta must be set to any time in the future"),
    (None, True, True, "--cloudapi-only and --docker-only are mutually exclusive"),
])
def test_start_options(eta: datetime | None, cloudapi_only: bool, docker_only: bool,
                       message: str | None) -> None:
    if message is None:
        check_start_options(eta=eta, now=NOW, cloudapi_only=cloudapi_only,
                            docker_only=docker_only)
        return
    with pytest.raises(UsageError) as e:
        check_start_options(eta=eta, now=NOW, cloudapi_only=cloudapi_only,
                            docker_only=docker_only)
    assert e.value.message == message


MSG = "SmartDataCenter is being upgraded"
ETA = "2024-05-02T00:00:00.000Z"
STAMP = "2024-05-01T12:00:00.123Z"


@pytest.mark.parametrize("f, kw, notes, services, app, refresh, start_time", [
    # from nothing: both read-only, message saved, every zone refreshed, clock started
    (facts(None, False), {}, [],
     [("cloudapi", True, "Putting cloudapi in read-only mode"),
      ("docker", True, "Putting docker in read-only mode")],
     {"DC_MAINT_MESSAGE": MSG}, [Z_C0, Z_C1, Z_D0], STAMP),
    (facts(None, None), {"eta": ETA}, [],
     [("cloudapi", True, "Putting cloudapi in read-only mode"),
      ("docker", True, "Putting docker in read-only mode")],
     {"DC_MAINT_MESSAGE": MSG, "DC_MAINT_ETA": ETA}, [Z_C0, Z_C1, Z_D0], STAMP),
    # already there, same message: nothing to change, zones refreshed again, clock kept
    (facts(True, True, {"DC_MAINT_MESSAGE": MSG}, SINCE), {},
     ["Cloudapi service already in read-only mode", "Docker service already in read-only mode"],
     [], {}, [Z_C0, Z_C1, Z_D0], None),
    # a new message only
    (facts(True, True, {"DC_MAINT_MESSAGE": MSG}, SINCE), {"message": "back soon"},
     ["Cloudapi service already in read-only mode", "Docker service already in read-only mode"],
     [], {"DC_MAINT_MESSAGE": "back soon"}, [Z_C0, Z_C1, Z_D0], None),
    # --cloudapi-only leaves docker and its zones alone
    (facts(None, None), {"cloudapi_only": True}, [],
     [("cloudapi", True, "Putting cloudapi in read-only mode")],
     {"DC_MAINT_MESSAGE": MSG}, [Z_C0, Z_C1], STAMP),
    (facts(None, None), {"docker_only": True, "message": None}, [],
     [("docker", True, "Putting docker in read-only mode")], {}, [Z_D0], STAMP),
    # adding docker after a cloudapi-only start keeps the time maintenance began
    (facts(True, None, {"DC_MAINT_MESSAGE": MSG}, SINCE), {},
     ["Cloudapi service already in read-only mode"],
     [("docker", True, "Putting docker in read-only mode")], {}, [Z_C0, Z_C1, Z_D0], None),
    # ... unless it is not known
    (facts(True, None, {"DC_MAINT_MESSAGE": MSG}), {},
     ["Cloudapi service already in read-only mode"],
     [("docker", True, "Putting docker in read-only mode")], {}, [Z_C0, Z_C1, Z_D0], STAMP),
    # a stale start time from an earlier maintenance is not kept
    (facts(False, False, {}, SINCE), {"message": None}, [],
     [("cloudapi", True, "Putting cloudapi in read-only mode"),
      ("docker", True, "Putting docker in read-only mode")], {}, [Z_C0, Z_C1, Z_D0], STAMP),
    # no docker service: skipped without a word, as the original
    (facts(None), {}, [], [("cloudapi", True, "Putting cloudapi in read-only mode")],
     {"DC_MAINT_MESSAGE": MSG}, [Z_C0, Z_C1], STAMP),
    # a string "false" is on for config-agent's template: already read-only
    (facts("false", True, {"DC_MAINT_MESSAGE": MSG}, SINCE), {},
     ["Cloudapi service already in read-only mode", "Docker service already in read-only mode"],
     [], {}, [Z_C0, Z_C1, Z_D0], None),
])
def test_plan_start(f: MaintFacts, kw: dict[str, Any], notes: list[str],
                    services: list[tuple[str, bool, str]], app: dict[str, Any],
                    refresh: list[Zone], start_time: str | None) -> None:
    kw = {"message": MSG, "eta": None, **kw}
    plan = plan_start(f, now=NOW, **kw)
    assert list(plan.notes) == notes
    assert [(c.service.name, c.readonly, c.say) for c in plan.services] == services
    assert dict(plan.app_metadata) == app
    assert (plan.app_say is not None) == bool(app)
    assert not plan.app_delete
    assert list(plan.refresh) == refresh
    assert plan.write_start_time == start_time
    assert plan.drain and not plan.remove_start_time


@pytest.mark.parametrize("f, kw, message", [
    (facts(None), {"docker_only": True},
     'no "docker" service in SAPI: cannot put docker in read-only mode'),
    (facts(docker=None), {"cloudapi_only": True},
     'no "cloudapi" service in SAPI: cannot put cloudapi in read-only mode'),
    (facts(), {}, 'no "cloudapi" or "docker" service in SAPI: nothing to put in read-only mode'),
])
def test_plan_start_refuses_what_cannot_be_done(f: MaintFacts, kw: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(ValidationError) as e:
        plan_start(f, message=MSG, eta=None, now=NOW, **kw)
    assert e.value.message == message


@pytest.mark.parametrize("f, notes, services, clear", [
    (facts(True, True, {"DC_MAINT_MESSAGE": MSG, "DC_MAINT_ETA": ETA, "other": 1}), [],
     [("cloudapi", False, "Taking cloudapi out of read-only mode"),
      ("docker", False, "Taking docker out of read-only mode")],
     {"DC_MAINT_MESSAGE": None, "DC_MAINT_ETA": None}),
    (facts(False, None, {"update_channel": "dev"}),
     ["Cloudapi service is not in read-only mode", "Docker service is not in read-only mode",
      "Data center is not in maintenance mode"], [], {}),
    (facts(True, False, {"DC_MAINT_ETA": ETA}), ["Docker service is not in read-only mode"],
     [("cloudapi", False, "Taking cloudapi out of read-only mode")], {"DC_MAINT_ETA": None}),
    # only the information left (a start with --message and neither service present)
    (facts(False, False, {"DC_MAINT_MESSAGE": MSG}),
     ["Cloudapi service is not in read-only mode", "Docker service is not in read-only mode"],
     [], {"DC_MAINT_MESSAGE": None}),
    # an empty message is no maintenance information
    (facts(None, None, {"DC_MAINT_MESSAGE": ""}),
     ["Cloudapi service is not in read-only mode", "Docker service is not in read-only mode",
      "Data center is not in maintenance mode"], [], {}),
    # no docker service: nothing said about it
    (facts(True), ["Data center is not in maintenance mode"],
     [("cloudapi", False, "Taking cloudapi out of read-only mode")], {}),
])
def test_plan_stop(f: MaintFacts, notes: list[str], services: list[tuple[str, bool, str]],
                   clear: dict[str, Any]) -> None:
    plan = plan_stop(f)
    assert list(plan.notes) == notes
    assert [(c.service.name, c.readonly, c.say) for c in plan.services] == services
    assert dict(plan.app_metadata) == clear
    assert plan.app_delete
    assert plan.app_say == ("Clearing data center maintenance information" if clear else None)
    assert list(plan.refresh) == list(f.zones)
    assert plan.remove_start_time and not plan.drain and plan.write_start_time is None


def test_changes_for_history() -> None:
    f = facts(None, False, {"DC_MAINT_MESSAGE": "old"})
    plan = plan_start(f, message=MSG, eta=ETA, now=NOW)
    assert plan.changes() == [
        {"type": "dc-maint-start", "service": {"name": "cloudapi", "uuid": CLOUDAPI},
         "metadata": {"CLOUDAPI_READONLY": True}, "previous": {"CLOUDAPI_READONLY": None}},
        {"type": "dc-maint-start", "service": {"name": "docker", "uuid": DOCKER},
         "metadata": {"DOCKER_READONLY": True}, "previous": {"DOCKER_READONLY": False}},
        {"type": "dc-maint-start", "service": {"name": "sdc", "uuid": APP},
         "metadata": {"DC_MAINT_MESSAGE": MSG, "DC_MAINT_ETA": ETA},
         "previous": {"DC_MAINT_MESSAGE": "old", "DC_MAINT_ETA": None}},
        {"type": "refresh-config-agent", "service": {"name": "cloudapi"},
         "instances": [Z_C0.uuid, Z_C1.uuid]},
        {"type": "refresh-config-agent", "service": {"name": "docker"},
         "instances": [Z_D0.uuid]},
    ]
    stop = plan_stop(facts(True, True, {"DC_MAINT_MESSAGE": MSG}))
    assert [(c["type"], c["service"]["name"]) for c in stop.changes()] == [
        ("dc-maint-stop", "cloudapi"), ("dc-maint-stop", "docker"), ("dc-maint-stop", "sdc"),
        ("refresh-config-agent", "cloudapi"), ("refresh-config-agent", "docker")]
    assert stop.changes()[2]["action"] == "delete"
    assert stop.changes()[2]["previous"] == {"DC_MAINT_MESSAGE": MSG}


@pytest.mark.parametrize("jobs, text", [
    ([], "no jobs left"),
    ([{"name": "reprovision-7.0.4", "uuid": "u1", "execution": "running"}],
     "still running: reprovision-7.0.4 u1"),
    ([{"name": f"n{i}", "uuid": f"u{i}", "execution": "queued"} for i in range(5)],
     "still queued: n0 u0, n1 u1, n2 u2, ..."),
])
def test_busy_summary(jobs: list[dict[str, Any]], text: str) -> None:
    assert busy_summary(jobs) == text
