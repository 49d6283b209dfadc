"""The options that shape a plan, whether they came from flags or from a spec document."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping


@dataclass(frozen=True)
class PlanOptions:
    all: bool = False
    exclude: tuple[str, ...] = ()
    just_images: bool = False
    force_same_image: bool = False
    force_rabbitmq: bool = False
    force_data_path: bool = False
    force_bypass_min_image: bool = False
    allow_downgrade: bool = False
    servers: tuple[str, ...] = ()  # -s: restricts agent updates (uuids or hostnames)
    concurrency: int | None = None  # agents at a time; None = config default
    channel: str | None = None
    # services updated at a time outside the update machinery; None = one at a time
    service_concurrency: int | None = None
    core_services: tuple[str, ...] = ()  # run alone like the update machinery (a spec's)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["exclude"] = list(self.exclude)
        d["servers"] = list(self.servers)
        # Left out unless set, so plans made without them read as before.
        if self.core_services:
            d["core_services"] = list(self.core_services)
        else:
            del d["core_services"]
        if self.service_concurrency is None:
            del d["service_concurrency"]
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "PlanOptions":
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for k in ("exclude", "servers", "core_services"):
            if k in kw:
                kw[k] = tuple(kw[k] or ())
        return cls(**kw)

    def merged(self, other: Mapping[str, Any]) -> "PlanOptions":
        """Flags given on the command line win; a spec document fills in the rest.

        Booleans are OR-ed (a flag can only turn a safety switch on), lists are joined,
        scalars from the command line take precedence when set.
        """
        kw: dict[str, Any] = {}
        for f in fields(self):
            mine = getattr(self, f.name)
            theirs = other.get(f.name)
            if theirs is None:
                continue
            if isinstance(mine, bool):
                kw[f.name] = mine or bool(theirs)
            elif isinstance(mine, tuple):
                kw[f.name] = tuple(dict.fromkeys((*mine, *theirs)))
            elif mine is None:
                kw[f.name] = theirs
        return replace(self, **kw)
