"""Change requests, plans and steps: the data that flows from planning to execution.

A `Plan` says *what* will change (pure result of the planner); `Step`s say *how*, in
order (pure result of the procedures). The executor only ever sees steps, and writes
both to the run's journal, so another process can read what a run intends and did.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sdcadm.model import Image, Instance, Service

# 3: an update plan carries the requests it was planned from (`requests`), so that a saved
# plan can be planned again rather than trusted.
PLAN_FORMAT_VERSION = 3


@dataclass(frozen=True)
class ChangeRequest:
    """One change the operator asked for, validated but not yet resolved against state."""

    type: str  # update-service | update-instance | update-platform
    service: str | None = None
    instance: str | None = None
    image: str | None = None  # image uuid
    version: str | None = None
    servers: tuple[str, ...] = ()  # server uuids or hostnames (agents, platforms)
    platform: str | None = None  # update-platform: platform version stamp
    max_unavailable: int | str | None = None  # update-platform: servers ("N%") down at once
    source: Mapping[str, Any] = field(default_factory=dict)  # as given, for messages

    def describe(self) -> str:
        """The change as compact JSON, the way the original quotes it in messages."""
        import json

        src = dict(self.source) or {
            k: v for k, v in (("type", self.type), ("service", self.service),
                              ("instance", self.instance), ("image", self.image),
                              ("version", self.version)) if v
        }
        return json.dumps(src, separators=(",", ":"))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "service": self.service, "instance": self.instance,
                "image": self.image, "version": self.version, "servers": list(self.servers),
                "platform": self.platform, "max_unavailable": self.max_unavailable,
                "source": dict(self.source)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "ChangeRequest":
        return cls(type=d["type"], service=d.get("service"), instance=d.get("instance"),
                   image=d.get("image"), version=d.get("version"),
                   servers=tuple(d.get("servers") or ()), platform=d.get("platform"),
                   max_unavailable=d.get("max_unavailable"),
                   source=dict(d.get("source") or {}))


@dataclass(frozen=True)
class PlannedChange:
    """A change the plan will make, resolved against the datacenter."""

    type: str  # update-service|-instance|-agent|-platform, rollback-service|-agent
    procedure: str  # stateless | imgapi | moray | sapi | manatee | binder | agent | platform
    service: Service | None = None  # as it was at plan time (params.image_uuid = old image)
    image: Image | None = None  # target image
    instances: tuple[Instance, ...] = ()  # to be changed, each with its current image
    already: tuple[Instance, ...] = ()  # already at the target image
    downgrade: bool = False
    servers: tuple[str, ...] = ()  # server uuids (agents, platforms)
    platform: str | None = None
    max_unavailable: int | None = None
    notes: tuple[str, ...] = ()  # lines the breakdown must show (e.g. brief unavailability)
    request: Mapping[str, Any] = field(default_factory=dict)
    # Rolling reboots (platform changes, reboot plans): one entry per server in reboot
    # order, `sdcadm.planner.reboots.Slot.to_json()`.
    reboots: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "procedure": self.procedure,
            "service": (dict(self.service.raw or _service_json(self.service))
                        if self.service else None),
            "image": (dict(self.image.manifest or _image_json(self.image))
                      if self.image else None),
            "insts": [i.to_json() for i in self.instances],
            "already": [i.to_json() for i in self.already],
            "downgrade": self.downgrade,
            "servers": list(self.servers),
            "platform": self.platform,
            "max_unavailable": self.max_unavailable,
            "notes": list(self.notes),
            "request": dict(self.request),
            **({"reboots": [dict(r) for r in self.reboots]} if self.reboots else {}),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "PlannedChange":
        return cls(
            type=d["type"],
            procedure=d["procedure"],
            service=Service.from_sapi(d["service"]) if d.get("service") else None,
            image=Image.from_manifest(d["image"]) if d.get("image") else None,
            instances=tuple(Instance(**i) for i in d.get("insts") or ()),
            already=tuple(Instance(**i) for i in d.get("already") or ()),
            downgrade=bool(d.get("downgrade")),
            servers=tuple(d.get("servers") or ()),
            platform=d.get("platform"),
            max_unavailable=d.get("max_unavailable"),
            notes=tuple(d.get("notes") or ()),
            request=dict(d.get("request") or {}),
            reboots=tuple(dict(r) for r in d.get("reboots") or ()),
        )


@dataclass(frozen=True)
class Plan:
    changes: tuple[PlannedChange, ...] = ()
    downloads: tuple[Image, ...] = ()  # images to import, oldest origin generation first
    channel: str | None = None
    just_images: bool = False
    fingerprint: str | None = None  # of the DatacenterState the plan was computed from
    fingerprint_facts: Mapping[str, Any] = field(default_factory=dict, compare=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    # What the operator asked for (an update plan's requests; None: not recorded, as in
    # rollbacks, reboot plans and plans of older versions): what `--plan` plans again from.
    requests: tuple[ChangeRequest, ...] | None = None

    @property
    def empty(self) -> bool:
        return not self.changes and not self.downloads

    def to_json(self) -> dict[str, Any]:
        return {
            "v": PLAN_FORMAT_VERSION,
            "channel": self.channel,
            "justImages": self.just_images,
            "fingerprint": self.fingerprint,
            "fingerprint_facts": dict(self.fingerprint_facts),
            "options": dict(self.options),
            "downloads": [dict(i.manifest or _image_json(i)) for i in self.downloads],
            "changes": [c.to_json() for c in self.changes],
            **({"requests": [r.to_json() for r in self.requests]}
               if self.requests is not None else {}),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Plan":
        requests = d.get("requests")
        return cls(
            changes=tuple(PlannedChange.from_json(c) for c in d.get("changes") or ()),
            downloads=tuple(Image.from_manifest(i) for i in d.get("downloads") or ()),
            channel=d.get("channel"),
            just_images=bool(d.get("justImages")),
            fingerprint=d.get("fingerprint"),
            fingerprint_facts=dict(d.get("fingerprint_facts") or {}),
            options=dict(d.get("options") or {}),
            requests=(tuple(ChangeRequest.from_json(r) for r in requests)
                      if requests is not None else None),
        )


@dataclass(frozen=True)
class Step:
    """One unit of execution: the executor's table of effect handlers is keyed by `action`.

    Consecutive steps with the same non-empty `parallel` key run concurrently, at most
    `concurrency` at a time. `on_failure` says what a failure does: "stop" (fail fast:
    nothing new starts, the run stops), "continue" (the rest of the parallel group still
    runs; the run stops after the group if anything in it failed) or "hold" (a rolling
    window: the failed step keeps its slot and its `exclusive` keys, since what it stands for
    may still be down; the group goes on with the slots left and pauses once two steps hold).

    Within a group, a step starts only after the steps its `after` names (by id, or by
    target) have succeeded, and never while a running or holding step shares one of its
    `exclusive` keys (members of one quorum never go down together). Among the steps that may
    start, the first in order starts first.
    """

    id: str  # unique within the plan, stable: "<index>:<action>:<target>"
    action: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    change: str | None = None  # name of the planned change it belongs to (e.g. service name)
    parallel: str | None = None
    concurrency: int = 1
    on_failure: str = "stop"
    after: tuple[str, ...] = ()  # ids (or targets) of steps of its group to succeed first
    exclusive: tuple[str, ...] = ()  # keys no two running (or holding) steps may share

    def but(self, **fields: Any) -> "Step":
        """This step with `fields` changed: `dataclasses.replace` without running the frozen
        `__init__` again (a field at a time through `object.__setattr__`), since expanding a
        thousand-server plan makes ten thousand steps. The fields are this class's own;
        nothing else is checked."""
        new = object.__new__(Step)
        new.__dict__.update(self.__dict__, **fields)
        return new

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "action": self.action,
            "target": self.target,
            "params": dict(self.params),
            "summary": self.summary,
            "change": self.change,
            "parallel": self.parallel,
            "concurrency": self.concurrency,
            "on_failure": self.on_failure,
        }
        if self.after:
            out["after"] = list(self.after)
        if self.exclusive:
            out["exclusive"] = list(self.exclusive)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Step":
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for k in ("after", "exclusive"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


def _service_json(s: Service) -> dict[str, Any]:
    return {"uuid": s.uuid, "name": s.name, "type": s.type,
            "application_uuid": s.application_uuid, "params": dict(s.params),
            "metadata": dict(s.metadata)}


def _image_json(i: Image) -> dict[str, Any]:
    return {"v": 2, "uuid": i.uuid, "name": i.name, "version": i.version,
            "published_at": i.published_at, "state": i.state, "type": i.type, "os": i.os,
            "files": [{"size": i.size, "sha1": i.sha1, "compression": "gzip"}],
            "origin": i.origin, "description": i.description, "tags": dict(i.tags)}


# -- trusting nothing a file says --------------------------------------------------------------

def digest(doc: Mapping[str, Any]) -> str:
    """A saved plan's digest: sha256 of its canonical JSON, the `digest` field left out."""
    import hashlib
    import json

    body = {k: v for k, v in doc.items() if k != "digest"}
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def step_key(step: Step) -> tuple[Any, ...]:
    """Everything about a step that decides what it does."""
    import json

    return (step.id, step.action, step.target, json.dumps(dict(step.params), sort_keys=True),
            step.parallel, step.concurrency, step.on_failure, tuple(step.after),
            tuple(step.exclusive))


def first_difference(stored: list[Step], derived: list[Step]) -> str | None:
    """None when `stored` are exactly the steps the plan derives; else the first that is
    not, said in a line."""
    for n, (a, b) in enumerate(zip(stored, derived, strict=False), start=1):
        if step_key(a) != step_key(b):
            what = a.summary or f"{a.action} {a.target}"
            want = b.summary or f"{b.action} {b.target}"
            if (a.id, a.action, a.target) == (b.id, b.action, b.target):
                return f"step {n} ({a.id}: {what}) has other parameters than the plan derives"
            return f"step {n} is {a.id} ({what}) where the plan derives {b.id} ({want})"
    if len(stored) != len(derived):
        return (f"it has {len(stored)} steps where the plan derives {len(derived)}")
    return None


# -- the shape of a plan document ------------------------------------------------------------

_INSTANCE_FIELDS = frozenset(Instance.__dataclass_fields__)
_ON_FAILURE = ("stop", "continue", "hold")


def doc_problem(doc: Any) -> str | None:
    """What makes `doc` no plan document (a saved plan, a run's plan.json), in a few words
    naming the field (`steps[0] is not an object`); None when its shape is sound. What the
    values mean is checked by what reads them: this keeps wrong types from code that
    trusts them."""
    if not isinstance(doc, dict):
        return f"it is {_kind(doc)}, not a JSON object"
    for key, want in (("changes", list), ("downloads", list), ("steps", list),
                      ("requests", list), ("options", dict), ("fingerprint_facts", dict),
                      ("run_options", dict)):
        if doc.get(key) is not None and not isinstance(doc[key], want):
            return f'"{key}" is {_kind(doc[key])}, not {_kind(want())}'
    for key in ("run_uuid", "command", "channel", "fingerprint", "digest", "done_message"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            return f'"{key}" is {_kind(doc[key])}, not a string'
    for key, check in (("steps", _step_problem), ("changes", _change_problem),
                       ("requests", _request_problem), ("downloads", _image_problem)):
        for n, item in enumerate(doc.get(key) or ()):
            problem = check(item)
            if problem:
                return f"{key}[{n}]{problem}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _fields(d: Mapping[str, Any], want: Mapping[str, tuple[type, ...]],
            required: tuple[str, ...] = ()) -> str | None:
    """The first of `d`'s fields whose value is not of its kinds (None always allowed, unless
    `required`), said as `.name is a number, not a string`."""
    for key, kinds in want.items():
        value = d.get(key)
        if value is None and key not in required:
            continue
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            return f".{key} is {_kind(value)}, not {_kind(kinds[0]())}"
    return None


def _strings(d: Mapping[str, Any], key: str) -> str | None:
    for n, v in enumerate(d.get(key) or ()):
        if not isinstance(v, str):
            return f".{key}[{n}] is {_kind(v)}, not a string"
    return None


def _step_problem(s: Any) -> str | None:
    if not isinstance(s, dict):
        return f" is {_kind(s)}, not an object"
    problem = _fields(s, {"id": (str,), "action": (str,), "target": (str,),
                          "params": (dict,), "summary": (str,), "change": (str,),
                          "parallel": (str,), "concurrency": (int,), "on_failure": (str,),
                          "after": (list,), "exclusive": (list,)},
                      required=("id", "action", "target"))
    if problem:
        return problem
    if "concurrency" in s and s["concurrency"] < 1:
        return ".concurrency is not a positive number"
    if "on_failure" in s and s["on_failure"] not in _ON_FAILURE:
        return f'.on_failure is "{s["on_failure"]}", not one of {", ".join(_ON_FAILURE)}'
    return _strings(s, "after") or _strings(s, "exclusive")


def _image_problem(m: Any) -> str | None:
    if not isinstance(m, dict):
        return f" is {_kind(m)}, not an image manifest"
    return _fields(m, {"uuid": (str,), "name": (str,), "version": (str,), "files": (list,),
                       "tags": (dict,)}, required=("uuid",))


def _instance_problem(i: Any) -> str | None:
    if not isinstance(i, dict):
        return f" is {_kind(i)}, not an object"
    unknown = sorted(set(i) - _INSTANCE_FIELDS)
    if unknown:
        return f' has an unknown field "{unknown[0]}"'
    return _fields(i, {k: (str,) for k in _INSTANCE_FIELDS},
                   required=("instance", "service"))


def _change_problem(c: Any) -> str | None:
    if not isinstance(c, dict):
        return f" is {_kind(c)}, not an object"
    problem = _fields(c, {"type": (str,), "procedure": (str,), "service": (dict,),
                          "image": (dict,), "insts": (list,), "already": (list,),
                          "servers": (list,), "platform": (str,),
                          "max_unavailable": (int, str), "notes": (list,),
                          "request": (dict,), "reboots": (list,)},
                      required=("type", "procedure"))
    if problem:
        return problem
    service = c.get("service")
    if service is not None:
        problem = _fields(service, {"uuid": (str,), "name": (str,), "params": (dict,),
                                    "metadata": (dict,)}, required=("uuid", "name"))
        if problem:
            return f".service{problem}"
    if c.get("image") is not None:
        problem = _image_problem(c["image"])
        if problem:
            return f".image{problem}"
    for key in ("insts", "already"):
        for n, inst in enumerate(c.get(key) or ()):
            problem = _instance_problem(inst)
            if problem:
                return f".{key}[{n}]{problem}"
    for n, r in enumerate(c.get("reboots") or ()):
        if not isinstance(r, dict):
            return f".reboots[{n}] is {_kind(r)}, not an object"
    return _strings(c, "servers") or _strings(c, "notes")


def _request_problem(r: Any) -> str | None:
    if not isinstance(r, dict):
        return f" is {_kind(r)}, not an object"
    problem = _fields(r, {"type": (str,), "service": (str,), "instance": (str,),
                          "image": (str,), "version": (str,), "servers": (list,),
                          "platform": (str,), "max_unavailable": (int, str),
                          "source": (dict,)}, required=("type",))
    return problem or _strings(r, "servers")


# -- a plan against the one the planner makes now ----------------------------------------------

# Options a plan takes from the configuration of the sdcadm that runs it, not from what was
# asked: the plan planned again (what runs) has this configuration's.
FROM_CONFIGURATION = frozenset({"updates_url"})


def first_change_difference(stored: Plan, derived: Plan) -> str | None:
    """None when `stored` holds what `derived` (the same request planned again) holds: its
    changes, downloads and options (but `FROM_CONFIGURATION`); else the first difference,
    said in a line."""
    import json

    def canon(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)

    for n, (a, b) in enumerate(zip(stored.changes, derived.changes, strict=False), start=1):
        ja, jb = a.to_json(), b.to_json()
        if canon(ja) != canon(jb):
            key = next(k for k in (*jb, *ja) if canon(ja.get(k)) != canon(jb.get(k)))
            return f"change {n} ({change_label(a)}) {_difference(key, ja.get(key), jb.get(key))}"
    if len(stored.changes) != len(derived.changes):
        return (f"it has {len(stored.changes)} changes where the planner makes "
                f"{len(derived.changes)} now")
    mine, theirs = [i.uuid for i in stored.downloads], [i.uuid for i in derived.downloads]
    if mine != theirs:
        extra = [u for u in mine if u not in theirs]
        return (f"it downloads image {extra[0]}, which the planner does not" if extra else
                "its downloads are not the images the planner downloads now")
    for key, a2, b2 in (("channel", stored.channel, derived.channel),
                        ("justImages", stored.just_images, derived.just_images)):
        if a2 != b2:
            return f'its "{key}" is {canon(a2)} where the planner makes {canon(b2)}'
    opts = dict(stored.options), dict(derived.options)
    key2 = next((k for k in (*opts[1], *opts[0]) if k not in FROM_CONFIGURATION
                 and canon(opts[0].get(k)) != canon(opts[1].get(k))), None)
    if key2 is not None:
        return (f'its option "{key2}" is {canon(opts[0].get(key2))[:60]} where the planner '
                f"makes {canon(opts[1].get(key2))[:60]}")
    return None


def change_label(c: PlannedChange) -> str:
    """`update-service workflow`: a change in a message."""
    name = (c.service.name if c.service else None) or c.request.get("service") or c.platform
    return f"{c.type} {name}" if name else c.type


def _instance_label(i: Any) -> str:
    if not isinstance(i, Mapping):
        return str(i)
    alias = i.get("alias")
    return f"{alias} ({i.get('instance')})" if alias else str(i.get("instance"))


def _difference(key: str, mine: Any, theirs: Any) -> str:
    """How a change's field differs from the planner's, in a few words."""
    if key in ("insts", "already"):
        what = "instance" if key == "insts" else "instance already updated"
        mine, theirs = list(mine or ()), list(theirs or ())
        for n, (a, b) in enumerate(zip(mine, theirs, strict=False), start=1):
            if a == b:
                continue
            if a.get("instance") != b.get("instance"):
                return (f"has {what} {n} {_instance_label(a)} where the planner has "
                        f"{_instance_label(b)}")
            field_ = next(k for k in (*b, *a) if a.get(k) != b.get(k))
            return (f'has {what} {_instance_label(a)} with "{field_}" {a.get(field_)} where '
                    f"the planner has {b.get(field_)}")
        return f"has {len(mine)} {key} where the planner has {len(theirs)}"
    if key in ("service", "image"):
        a, b = mine or {}, theirs or {}
        if (a.get("uuid"), a.get("name")) != (b.get("uuid"), b.get("name")):
            return (f"names {key} {a.get('name')} ({a.get('uuid')}) where the planner has "
                    f"{b.get('name')} ({b.get('uuid')})")
        return f"has another record of {key} {b.get('name')} ({b.get('uuid')}) than the planner"
    return f'has another "{key}" than the planner makes'
