"""What `sdcadm dc-maint` shows and changes, decided from facts read beforehand (pure).

Maintenance mode lives in SAPI: `CLOUDAPI_READONLY` / `DOCKER_READONLY` in the metadata of
the cloudapi and docker services (config-agent renders them into each zone's config), and
`DC_MAINT_MESSAGE` / `DC_MAINT_ETA` in the metadata of the `sdc` application. The time it
started is kept on the headnode only (`<varDir>/dc-maint.json`), as a convenience.

Nothing here does I/O or reads the clock: `now` is a parameter.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any, Iterable, Mapping

from sdcadm.errors import UsageError, ValidationError

SERVICES = ("cloudapi", "docker")
READONLY_KEY = {"cloudapi": "CLOUDAPI_READONLY", "docker": "DOCKER_READONLY"}
LABEL = {"cloudapi": "Cloudapi", "docker": "Docker"}
MESSAGE_KEY = "DC_MAINT_MESSAGE"
ETA_KEY = "DC_MAINT_ETA"
DEFAULT_MESSAGE = "SmartDataCenter is being upgraded"


@dataclass(frozen=True)
class MaintService:
    name: str
    uuid: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def readonly(self) -> bool:
        return truthy(self.metadata.get(READONLY_KEY[self.name]))


@dataclass(frozen=True)
class Zone:
    """A cloudapi or docker VM: the zone whose config-agent must pick the change up."""

    uuid: str
    service: str
    alias: str | None = None
    server: str | None = None

    @property
    def label(self) -> str:
        return f"{self.alias} ({self.uuid})" if self.alias else self.uuid


@dataclass(frozen=True)
class MaintFacts:
    """Everything a dc-maint decision reads: the sdc application, the cloudapi and docker
    services that exist (by name), their zones and the recorded start time."""

    app_uuid: str
    app_metadata: Mapping[str, Any]
    services: Mapping[str, MaintService]
    zones: tuple[Zone, ...] = ()
    start_time: str | None = None


def truthy(value: Any) -> bool:
    """Whether a metadata value turns read-only mode on. config-agent renders it through a
    mustache section, which takes any non-empty value as on (a string "false" included), so
    that is what `status`, `start` and `stop` all go by."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, (str, list)):
        return len(value) > 0
    return True


# -- status ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Status:
    cloudapi: bool
    docker: bool
    start_time: str | None = None
    message: str | None = None
    eta: str | None = None

    @property
    def maint(self) -> bool:
        return self.cloudapi or self.docker

    @property
    def mode(self) -> str:
        if not self.maint:
            return "off"
        if self.cloudapi and self.docker:
            return "on"
        return "cloudapi-only" if self.cloudapi else "docker-only"


def status_of(facts: MaintFacts) -> Status:
    cloudapi = "cloudapi" in facts.services and facts.services["cloudapi"].readonly
    docker = "docker" in facts.services and facts.services["docker"].readonly
    meta = facts.app_metadata
    return Status(
        cloudapi=cloudapi,
        docker=docker,
        # The start time only means something while in maintenance (a stale file is ignored).
        start_time=facts.start_time if cloudapi or docker else None,
        message=_text(meta.get(MESSAGE_KEY)),
        eta=_text(meta.get(ETA_KEY)),
    )


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def status_json(status: Status) -> dict[str, Any]:
    """The original's `-j` object. `cloudapiMaint`/`dockerMaint` are always booleans (the
    original left them out when a service or its key was missing)."""
    out: dict[str, Any] = {"maint": status.maint, "cloudapiMaint": status.cloudapi,
                           "dockerMaint": status.docker}
    if status.start_time:
        out["startTime"] = status.start_time
    if status.message:
        out["message"] = status.message
    if status.eta:
        out["eta"] = status.eta
    return out


def status_lines(status: Status) -> list[str]:
    if not status.maint:
        return ["DC maintenance: off"]
    head = f"DC maintenance: {status.mode}"
    lines = [f"{head} (since {status.start_time})" if status.start_time else head]
    if status.message:
        lines.append(f"DC maintenance message: {status.message}")
    if status.eta:
        lines.append(f"DC maintenance ETA: {status.eta}")
    return lines


def render_status_json(status: Status) -> str:
    """`JSON.stringify(status, null, 4)`: non-ASCII messages stay as written."""
    return json.dumps(status_json(status), indent=4, ensure_ascii=False)


# -- --eta ---------------------------------------------------------------------------------

class EtaError(ValueError):
    """An `--eta` that is not a date (an option error, as the original's option parser)."""


# The original's accepted forms: epoch seconds, or YYYY-MM-DD[THH:MM:SS[.sss][Z]].
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z)?)?$", re.I)


def parse_eta(text: str, option: str = "--eta", *, local: tzinfo | None = None) -> datetime:
    """An aware datetime. A date alone is UTC midnight and a time with `Z` is UTC; a time
    without `Z` is local time (`local`, default the system's), as JavaScript reads them."""
    if re.fullmatch(r"\d+", text):
        try:
            return datetime.fromtimestamp(int(text), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise EtaError(f'arg for "{option}" is an invalid date: "{text}"') from None
    m = _ISO.match(text)
    if not m:
        raise EtaError(f'arg for "{option}" is not a valid date format: "{text}"')
    year, month, day, hour, minute, second, frac, zulu = m.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                        int(second or 0), int((frac or "0")[:3].ljust(3, "0")) * 1000)
    except ValueError:
        raise EtaError(f'arg for "{option}" is an invalid date: "{text}"') from None
    if hour is None or zulu:
        return when.replace(tzinfo=timezone.utc)
    return when.replace(tzinfo=local) if local is not None else when.astimezone()


def iso(when: datetime) -> str:
    """JavaScript's `Date#toISOString()`: UTC, milliseconds, `Z`."""
    u = when.astimezone(timezone.utc)
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
            f"{u.second:02d}.{u.microsecond // 1000:03d}Z")


def check_start_options(*, eta: datetime | None, now: datetime, cloudapi_only: bool,
                        docker_only: bool) -> None:
    """The original's checks, in its order, before anything is read or changed."""
    if eta is not None and eta <= now:
        raise UsageError("--eta must be set to any time in the future")
    if cloudapi_only and docker_only:
        raise UsageError("--cloudapi-only and --docker-only are mutually exclusive")


# -- start and stop --------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceChange:
    service: MaintService
    readonly: bool
    say: str  # the progress line printed before the change

    @property
    def key(self) -> str:
        return READONLY_KEY[self.service.name]


@dataclass(frozen=True)
class Plan:
    """What `start` or `stop` does, in order: notes, service metadata, application
    metadata, config-agent refreshes, the start-time file, the wait for Workflow."""

    action: str  # start | stop
    app_uuid: str
    notes: tuple[str, ...] = ()  # "Cloudapi service already in read-only mode", ...
    services: tuple[ServiceChange, ...] = ()
    app_metadata: Mapping[str, Any] = field(default_factory=dict)  # keys to set or delete
    app_delete: bool = False  # SAPI `action: delete` on those keys
    app_say: str | None = None
    app_previous: Mapping[str, Any] = field(default_factory=dict)
    refresh: tuple[Zone, ...] = ()
    write_start_time: str | None = None
    remove_start_time: bool = False
    drain: bool = False

    def changes(self) -> list[dict[str, Any]]:
        """History's `changes`: `type(service.name)` per entry, what was set and what it was."""
        out: list[dict[str, Any]] = []
        kind = f"dc-maint-{self.action}"
        for c in self.services:
            out.append({"type": kind, "service": {"name": c.service.name, "uuid": c.service.uuid},
                        "metadata": {c.key: c.readonly},
                        "previous": {c.key: c.service.metadata.get(c.key)}})
        if self.app_metadata:
            entry: dict[str, Any] = {
                "type": kind, "service": {"name": "sdc", "uuid": self.app_uuid},
                "metadata": dict(self.app_metadata), "previous": dict(self.app_previous)}
            if self.app_delete:
                entry["action"] = "delete"
            out.append(entry)
        for name in SERVICES:
            zones = [z.uuid for z in self.refresh if z.service == name]
            if zones:
                out.append({"type": "refresh-config-agent", "service": {"name": name},
                            "instances": zones})
        return out


def scope_of(cloudapi_only: bool, docker_only: bool) -> tuple[str, ...]:
    """The services `start` is asked to put in read-only mode."""
    if cloudapi_only:
        return ("cloudapi",)
    if docker_only:
        return ("docker",)
    return SERVICES


def services_in(facts: MaintFacts, scope: tuple[str, ...]) -> list[str]:
    """The services of `scope` that exist. One that does not is skipped, as the original
    does (docker is optional), but asking for it alone, or starting with neither present,
    is refused: the original saved the message and reported success with nothing
    read-only."""
    present = [n for n in scope if n in facts.services]
    if present:
        return present
    if len(scope) == 1:
        raise ValidationError(f'no "{scope[0]}" service in SAPI: cannot put {scope[0]} in '
                              "read-only mode")
    raise ValidationError('no "cloudapi" or "docker" service in SAPI: nothing to put in '
                          "read-only mode")


def _zones_of(facts: MaintFacts, names: Iterable[str]) -> tuple[Zone, ...]:
    wanted = set(names)
    return tuple(z for z in facts.zones if z.service in wanted)


def plan_start(facts: MaintFacts, *, message: str | None, eta: str | None,
               cloudapi_only: bool = False, docker_only: bool = False,
               now: datetime) -> Plan:
    """Put the services in scope in read-only mode and save message and ETA."""
    present = services_in(facts, scope_of(cloudapi_only, docker_only))
    notes: list[str] = []
    changes: list[ServiceChange] = []
    for name in present:
        svc = facts.services[name]
        if svc.readonly:
            notes.append(f"{LABEL[name]} service already in read-only mode")
        else:
            changes.append(ServiceChange(svc, True, f"Putting {name} in read-only mode"))
    meta = facts.app_metadata
    app: dict[str, Any] = {}
    if message and meta.get(MESSAGE_KEY) != message:
        app[MESSAGE_KEY] = message
    if eta and meta.get(ETA_KEY) != eta:
        app[ETA_KEY] = eta
    # Keep the time maintenance began when it already had (adding docker after a
    # cloudapi-only start does not restart the clock).
    known = status_of(facts).start_time  # None unless in maintenance already
    start_time = iso(now) if changes and not known else None
    return Plan(
        action="start", app_uuid=facts.app_uuid, notes=tuple(notes), services=tuple(changes),
        app_metadata=app, app_say="Saving data center maintenance eta/message" if app else None,
        app_previous={k: meta.get(k) for k in app},
        # Every zone in scope, changed or not: running `start` again retries a refresh
        # that failed (an unreachable server) without anything else to change.
        refresh=_zones_of(facts, present),
        write_start_time=start_time, drain=True)


def plan_stop(facts: MaintFacts) -> Plan:
    """Take every service out of read-only mode and clear message and ETA."""
    notes: list[str] = []
    changes: list[ServiceChange] = []
    present = [n for n in SERVICES if n in facts.services]
    for name in present:
        svc = facts.services[name]
        if svc.readonly:
            changes.append(ServiceChange(svc, False, f"Taking {name} out of read-only mode"))
        else:
            notes.append(f"{LABEL[name]} service is not in read-only mode")
    meta = facts.app_metadata
    clear: dict[str, Any] = {}
    if any(truthy(meta.get(k)) for k in (MESSAGE_KEY, ETA_KEY)):
        clear = {k: None for k in (MESSAGE_KEY, ETA_KEY) if k in meta}
    else:
        notes.append("Data center is not in maintenance mode")
    return Plan(
        action="stop", app_uuid=facts.app_uuid, notes=tuple(notes), services=tuple(changes),
        app_metadata=clear, app_delete=True,
        app_say="Clearing data center maintenance information" if clear else None,
        app_previous={k: meta.get(k) for k in clear},
        refresh=_zones_of(facts, present),
        remove_start_time=True)


# -- waiting for Workflow ---------------------------------------------------------------------

def busy_summary(jobs: Iterable[Mapping[str, Any]], shown: int = 3) -> str:
    """`still running: reprovision-7.0.4 <uuid>, ...` for the drain timeout message (the
    jobs of one listing share their `execution`)."""
    listed = list(jobs)
    if not listed:
        return "no jobs left"
    parts = [f"{j.get('name') or 'job'} {j.get('uuid')}" for j in listed[:shown]]
    if len(listed) > shown:
        parts.append("...")
    return f"still {listed[0].get('execution') or 'busy'}: {', '.join(parts)}"
