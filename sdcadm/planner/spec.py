"""Turn what the operator typed into `ChangeRequest`s: arguments, stdin, or a spec file.

Pure: no HTTP. Validation follows the original's change-object rules (behaviour spec
2.3): a fixed set of keys per kind, `type` defaulted, every problem reported, several
problems combined into one MultiError.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sdcadm.errors import MultiError, SdcAdmError, UsageError, ValidationError
from sdcadm.model import is_uuid
from sdcadm.plan import ChangeRequest
from sdcadm.planner.spec_loader import load_text

# kind -> allowed keys (original validateChanges), plus our update-platform.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "create-instances": ("type", "service", "servers", "image"),
    "agent-delete": ("type", "server", "service", "image"),
    "delete": ("type", "instance", "image"),
    "delete-service": ("type", "service"),
    "agent-update-instance": ("type", "server", "service", "image", "version"),
    "update-instance": ("type", "instance", "image", "version"),
    "update-service": ("type", "service", "image", "version"),
    "update-platform": ("type", "platform", "servers", "selector", "max_unavailable"),
}

# Keys of a spec document besides `changes` and `channel`: the long option names.
DOC_OPTIONS: dict[str, str] = {
    "all": "all",
    "exclude": "exclude",
    "just-images": "just_images",
    "force-same-image": "force_same_image",
    "force-rabbitmq": "force_rabbitmq",
    "force-data-path": "force_data_path",
    "force-bypass-min-image": "force_bypass_min_image",
    "allow-downgrade": "allow_downgrade",
    "servers": "servers",
    "concurrency": "concurrency",
    "service-concurrency": "service_concurrency",
    "core-services": "core_services",
}


@dataclass(frozen=True)
class SpecDocument:
    """A parsed spec: the changes, plus options and channel when it was a document."""

    changes: tuple[ChangeRequest, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)  # PlanOptions field names
    channel: str | None = None


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# -- command-line arguments -------------------------------------------------------------

def requests_from_args(args: Sequence[str], service_names: Iterable[str]) -> list[ChangeRequest]:
    """`SVC`, `SVC@IMAGE`, `SVC@VERSION`, `INSTANCE[@...]`, `SERVER/AGENT[@...]`."""
    known = set(service_names) | {"sdcadm"}  # the pseudo-service `avail` shows
    out: list[ChangeRequest] = []
    for arg in args:
        left, at, right = arg.partition("@")
        if at and left and not right:
            raise UsageError(f'"{arg}": nothing after "@" (give an image uuid or a version)')
        target: dict[str, Any] = {}
        if "/" in left:
            # Fixes the original's quirk: SERVER/AGENT addresses the agent on that server.
            server, _, svc = left.partition("/")
            if svc not in known:
                raise UsageError(f"unknown service: {svc}")
            target = {"service": svc, "server": server}
        elif left in known:
            target = {"service": left}
        else:
            target = {"instance": left}
        if right:
            target["image" if is_uuid(right) else "version"] = right
        out.append(validate_change(target))
    return out


# -- change objects (stdin, spec files) -----------------------------------------------

def _kind(ch: Mapping[str, Any]) -> str | None:
    t = ch.get("type")
    if t == "update-platform":
        return "update-platform"
    if t == "create-instances":
        return "create-instances"
    if t == "delete" and "service" in ch and "server" in ch:
        return "agent-delete"
    if t == "delete":
        return "delete"
    if t == "delete-service":
        return "delete-service"
    if "service" in ch and "server" in ch:
        return "agent-update-instance"
    if "instance" in ch:
        return "update-instance"
    if "service" in ch:
        return "update-service"
    return None


_DEFAULT_TYPE = {
    "agent-update-instance": "update-instance",
    "update-instance": "update-instance",
    "update-service": "update-service",
}


def validate_change(ch: Any) -> ChangeRequest:
    """One change object -> ChangeRequest, or a ValidationError (MultiError for several)."""
    if not isinstance(ch, dict):
        raise ValidationError(f"invalid change: {_compact(ch)}")
    text = _compact(ch)
    kind = _kind(ch)
    if kind is None:
        raise ValidationError(f"invalid change: {text}")
    errors: list[SdcAdmError] = []
    extra = [k for k in ch if k not in KIND_KEYS[kind]]
    if extra:
        names = ", ".join(f'"{k}"' for k in extra)
        errors.append(ValidationError(f"invalid extra fields {names} in {text}"))
    default = _DEFAULT_TYPE.get(kind)
    if default and "type" in ch and ch["type"] != default:
        errors.append(ValidationError(f'invalid type "{default}" change in {text}'))
    for key in ("service", "instance", "image", "version", "server", "platform", "selector"):
        if key in ch and not isinstance(ch[key], str):
            errors.append(ValidationError(f'"{key}" in {text} (string) is required'))
    servers = ch.get("servers")
    if servers is not None and not (
        isinstance(servers, list) and all(isinstance(s, str) for s in servers)
    ):
        errors.append(ValidationError(f'"servers" in {text} (array of strings) is required'))
    if kind == "update-platform":
        if not isinstance(ch.get("platform"), str):
            errors.append(ValidationError(f'"platform" in {text} (string) is required'))
        mu = ch.get("max_unavailable", 1)
        if not _max_unavailable_ok(mu):
            errors.append(ValidationError(
                f'"max_unavailable" in {text} (positive integer, or percentage "N%") is '
                "required"))
        if ("servers" in ch) == ("selector" in ch):
            errors.append(ValidationError(
                f'exactly one of "servers" or "selector" is required in {text}'))
    if errors:
        raise errors[0] if len(errors) == 1 else MultiError(errors)

    source = dict(ch)
    if default and "type" not in source:
        source["type"] = default
    ctype = source.get("type") or kind
    server_list: tuple[str, ...] = tuple(servers or ())
    if kind in ("agent-update-instance", "agent-delete"):
        server_list = (ch["server"],)
    return ChangeRequest(
        type=ctype,
        service=ch.get("service"),
        instance=ch.get("instance"),
        image=ch.get("image"),
        version=ch.get("version"),
        servers=server_list,
        platform=ch.get("platform"),
        max_unavailable=ch.get("max_unavailable", 1) if kind == "update-platform" else None,
        source=source,
    )


def _max_unavailable_ok(mu: Any) -> bool:
    if isinstance(mu, int) and not isinstance(mu, bool):
        return mu >= 1
    if isinstance(mu, str) and mu.endswith("%") and mu[:-1].isdigit():
        return 1 <= int(mu[:-1]) <= 100
    return False


def validate_changes(items: Sequence[Any]) -> list[ChangeRequest]:
    out: list[ChangeRequest] = []
    errors: list[SdcAdmError] = []
    for ch in items:
        try:
            out.append(validate_change(ch))
        except MultiError as e:
            errors.extend(e.errors)
        except SdcAdmError as e:
            errors.append(e)
    if errors:
        raise errors[0] if len(errors) == 1 else MultiError(errors)
    return out


# -- documents ------------------------------------------------------------------------

# Keys whose values are names or versions: a plain YAML scalar there is kept as written
# (`version: 2024-10-01`, `service: yes`, `image: 1e10` are text, not a date, a boolean
# or a number).
TEXT_KEYS = frozenset({"type", "service", "instance", "image", "version", "server",
                       "platform", "selector", "servers", "channel", "exclude",
                       "core-services", "core_services"})


def parse_spec(text: str, origin: str | None = None) -> SpecDocument:
    """A spec from stdin (`origin=None`) or a file: a change, a list, or a document.

    A document is a mapping with `changes` and/or option keys (`all`, `exclude`,
    `force-data-path`, ...) and `channel`; a mapping that looks like a change object
    (has `service`, `instance` or `type`) is one change, as on the original's stdin.
    """
    data = load_text(text, origin, TEXT_KEYS)
    if isinstance(data, list):
        return SpecDocument(changes=tuple(validate_changes(data)))
    if not isinstance(data, dict):
        raise UsageError(f"{origin or 'input'} is not a change, a list of changes or a spec")
    doc_keys = ({"changes", "channel"} | set(DOC_OPTIONS)
                | {k.replace("-", "_") for k in DOC_OPTIONS})
    if not doc_keys & set(data) or {"service", "instance", "type"} & set(data):
        return SpecDocument(changes=tuple(validate_changes([data])))
    return _document(data)


def _document(data: Mapping[str, Any]) -> SpecDocument:
    opts: dict[str, Any] = {}
    errors: list[SdcAdmError] = []
    text = _compact(data)
    extra = []
    for key, value in data.items():
        if key in ("changes", "channel"):
            continue
        norm = key.replace("_", "-")
        if norm not in DOC_OPTIONS:
            extra.append(key)
            continue
        field_name = DOC_OPTIONS[norm]
        if field_name in ("exclude", "servers", "core_services"):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors.append(ValidationError(f'"{key}" in spec (array of strings) is required'))
                continue
            names = tuple(p.strip() for v in value for p in v.split(",") if p.strip())
            if field_name == "servers" and not names:
                # An empty list must not widen an agent update to every server.
                errors.append(ValidationError(
                    f'"{key}" in spec needs at least one server (uuid or hostname)'))
                continue
            opts[field_name] = names
        elif field_name in ("concurrency", "service_concurrency"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                errors.append(ValidationError(f'"{key}" in spec (positive integer) is required'))
                continue
            opts[field_name] = value
        else:
            if not isinstance(value, bool):
                errors.append(ValidationError(f'"{key}" in spec (boolean) is required'))
                continue
            opts[field_name] = value
    if extra:
        listed = ", ".join(f'"{k}"' for k in extra)
        errors.insert(0, ValidationError(f"invalid extra fields {listed} in {text}"))
    channel = data.get("channel")
    if channel is not None and not isinstance(channel, str):
        errors.append(ValidationError('"channel" in spec (string) is required'))
    changes = data.get("changes", [])
    if not isinstance(changes, list):
        errors.append(ValidationError('"changes" in spec (array) is required'))
        changes = []
    try:
        reqs = validate_changes(changes)
    except MultiError as e:
        errors.extend(e.errors)
        reqs = []
    except SdcAdmError as e:
        errors.append(e)
        reqs = []
    if errors:
        raise errors[0] if len(errors) == 1 else MultiError(errors)
    if not reqs and not opts.get("all"):
        raise UsageError("the spec has no changes (give \"changes\" or \"all: true\")")
    return SpecDocument(changes=tuple(reqs), options=opts, channel=channel)
