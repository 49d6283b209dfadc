"""What procedures know besides the change itself: facts the planner recorded in the plan.

Procedures are pure functions of the plan, so a saved plan expands to the same steps
and the same confirmation text on any machine, without re-reading the datacenter.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sdcadm.model import Instance
from sdcadm.plan import Plan


@dataclass(frozen=True)
class Context:
    headnode: str | None = None
    topology: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    image_labels: Mapping[str, str] = field(default_factory=dict)
    downgrades: frozenset[str] = frozenset()
    concurrency: int = 5
    updates_url: str | None = None
    channel: str | None = None
    servers_option: tuple[str, ...] = ()
    force_same_image: bool = False
    service_concurrency: int = 1  # a plan without it (older, a rollback): one at a time
    core_services: tuple[str, ...] = ()

    @classmethod
    def from_plan(cls, plan: Plan) -> "Context":
        o: Mapping[str, Any] = plan.options or {}
        return cls(
            headnode=o.get("headnode"),
            topology={k: dict(v) for k, v in (o.get("topology") or {}).items()},
            image_labels=dict(o.get("image_labels") or {}),
            downgrades=frozenset(o.get("downgrades") or ()),
            concurrency=int(o.get("concurrency") or 5),
            updates_url=o.get("updates_url"),
            channel=plan.channel,
            servers_option=tuple(o.get("servers") or ()),
            force_same_image=bool(o.get("force_same_image")),
            service_concurrency=max(1, int(o.get("service_concurrency") or 1)),
            core_services=tuple(o.get("core_services") or ()),
        )

    def role(self, service: str, inst: Instance) -> str | None:
        return (self.topology.get(service) or {}).get(inst.instance)

    def image_text(self, uuid: str | None) -> str:
        """`image <uuid> (<name@version>)`, the label left out when it is not known."""
        if not uuid:
            return "an unknown image"
        label = self.image_labels.get(uuid)
        return f"image {uuid} ({label})" if label else f"image {uuid}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def inst_name(inst: Instance) -> str:
    return inst.alias or inst.instance
