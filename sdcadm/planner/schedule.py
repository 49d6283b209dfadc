"""The rollout schedule: which planned changes may run at the same time.

Pure. The plan's changes form a dependency graph (`dependencies`), and the schedule is its
layering into waves (`waves`):

- a change of the update machinery (`rules.CORE_SERVICES`, plus a spec's `core-services`)
  runs alone: it waits for every change scheduled before it, everything after it waits for
  it, and the machinery keeps the plan's order (the original's);
- agent, platform and reboot changes run alone too, in plan order after the machinery:
  each already fans out over servers (`--concurrency`);
- every other service change depends on nothing but the downloads: they run together,
  `service_concurrency` at a time, before the machinery, as the operator guide's upgrade
  order has the data path last; none of them runs while the machinery is being replaced.

With one service at a time, or when no two changes could run together, the schedule is the
plan's order, change after change, as the original ran it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

from sdcadm.plan import PlannedChange
from sdcadm.planner.rules import CORE_SERVICES

# Why a change runs alone (a wave of one), in the breakdown's words.
ALONE = {
    "core": "the update machinery",
    "agent": "agents",
    "platform": "platforms",
}


@dataclass(frozen=True)
class Wave:
    """Changes (indices into the plan's changes) that run together, or, for a run of
    changes that each run alone, one after another (`together` False)."""

    changes: tuple[int, ...]
    together: bool
    kind: str  # "services" | "core" | "agent" | "platform"


def kind(change: PlannedChange, core: Collection[str] = ()) -> str:
    """"core", "agent" or "platform" (each runs alone), or "services"."""
    if change.procedure == "agent":
        return "agent"
    if change.procedure in ("platform", "reboot") or change.service is None:
        return "platform"
    name = change.service.name
    if name in CORE_SERVICES or name in core or change.procedure not in ("stateless", "ha"):
        return "core"
    return "services"


def dependencies(changes: Sequence[PlannedChange],
                 core: Collection[str] = ()) -> dict[int, frozenset[int]]:
    """Change index -> the changes it waits for. A change that runs alone waits for every
    other-service change and for the alone change before it (plan order); other-service
    changes wait for none."""
    free = frozenset(i for i, c in enumerate(changes) if kind(c, core) == "services")
    deps: dict[int, frozenset[int]] = {}
    previous: int | None = None
    for i in range(len(changes)):
        if i in free:
            deps[i] = frozenset()
            continue
        deps[i] = free | ({previous} if previous is not None else frozenset())
        previous = i
    return deps


def layers(deps: Mapping[int, Collection[int]]) -> dict[int, int]:
    """Longest-path layering of a dependency graph: a node's layer is one more than its
    deepest dependency's (0 without any)."""
    memo: dict[int, int] = {}

    def layer(node: int) -> int:
        if node not in memo:
            memo[node] = 1 + max((layer(d) for d in deps[node]), default=-1)
        return memo[node]

    return {n: layer(n) for n in deps}


def waves(changes: Sequence[PlannedChange], concurrency: int,
          core: Collection[str] = ()) -> list[Wave]:
    """The waves the changes run in. Consecutive alone changes of one kind make one wave
    run one after another; with `concurrency` 1, or when nothing could run together, every
    change is a wave of its own in plan order."""
    if not changes:
        return []
    kinds = [kind(c, core) for c in changes]
    by_layer: dict[int, list[int]] = {}
    for node, n in layers(dependencies(changes, core)).items():
        by_layer.setdefault(n, []).append(node)
    concurrent = [sorted(nodes) for _, nodes in sorted(by_layer.items())]
    if concurrency <= 1 or all(len(nodes) == 1 for nodes in concurrent):
        return [Wave((i,), False, kinds[i]) for i in range(len(changes))]
    out: list[Wave] = []
    for nodes in concurrent:
        k = kinds[nodes[0]]
        if len(nodes) > 1:
            out.append(Wave(tuple(nodes), True, k))
        elif out and not out[-1].together and out[-1].kind == k and k != "services":
            out[-1] = Wave(out[-1].changes + (nodes[0],), False, k)
        else:
            out.append(Wave((nodes[0],), False, k))
    return out


def runs_together(plan_waves: Sequence[Wave]) -> bool:
    """Whether any two changes of the schedule run at the same time."""
    return any(w.together for w in plan_waves)
