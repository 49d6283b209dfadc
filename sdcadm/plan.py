"""Change requests, plans and steps: the data that flows from planning to execution.

A `Plan` says *what* will change (pure result of the planner); `Step`s say *how*, in
order (pure result of the procedures). The executor only ever sees steps, and writes
both to the run's journal, so another process can read what a run intends and did.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sdcadm.model import Image, Instance, Service

PLAN_FORMAT_VERSION = 2


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
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Plan":
        return cls(
            changes=tuple(PlannedChange.from_json(c) for c in d.get("changes") or ()),
            downloads=tuple(Image.from_manifest(i) for i in d.get("downloads") or ()),
            channel=d.get("channel"),
            just_images=bool(d.get("justImages")),
            fingerprint=d.get("fingerprint"),
            fingerprint_facts=dict(d.get("fingerprint_facts") or {}),
            options=dict(d.get("options") or {}),
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
