"""The rollout schedule: the dependency graph of a plan's changes and its waves."""
from __future__ import annotations

import pytest

from sdcadm.model import Service
from sdcadm.plan import PlannedChange
from sdcadm.planner.rules import procedure_for
from sdcadm.planner.schedule import Wave, dependencies, kind, layers, runs_together, waves


def change(name: str) -> PlannedChange:
    """A planned change of `name` (a service), or `platform` (a platform change)."""
    if name == "platform":
        return PlannedChange(type="update-platform", procedure="platform",
                             platform="20250101T000000Z")
    agent = name.endswith("-agent")
    proc = procedure_for(name, "agent" if agent else "vm")
    assert proc is not None, name
    return PlannedChange(type="update-service", procedure=proc,
                         service=Service(uuid=f"uuid-{name}", name=name,
                                         type="agent" if agent else "vm"))


def shown(ws: list[Wave], names: list[str]) -> list[tuple[str, ...]]:
    """Each wave as its service names, `+` before a wave that runs together."""
    return [(("+",) if w.together else ()) + tuple(names[i] for i in w.changes) for w in ws]


@pytest.mark.parametrize("names, concurrency, core, expected", [
    # other services run together before the machinery, which goes one at a time, in order
    (["cns", "ufds", "docker", "workflow", "papi", "moray"], 4, (),
     [("+", "cns", "docker", "papi"), ("ufds", "workflow", "moray")]),
    # one service at a time: the plan's order, each change a wave of its own
    (["cns", "ufds", "docker"], 1, (), [("cns",), ("ufds",), ("docker",)]),
    # nothing could run together: the plan's order even with concurrency
    (["vmapi", "papi"], 4, (), [("vmapi",), ("papi",)]),
    (["papi"], 4, (), [("papi",)]),
    # agents and platforms come after the machinery, each alone, in plan order
    (["cns", "sapi", "docker", "cn-agent", "vm-agent", "platform"], 3, (),
     [("+", "cns", "docker"), ("sapi",), ("cn-agent", "vm-agent"), ("platform",)]),
    (["cns", "docker", "cn-agent"], 2, (), [("+", "cns", "docker"), ("cn-agent",)]),
    # a spec's core-services run alone like the machinery
    (["cns", "docker", "papi", "sapi"], 4, ("docker",),
     [("+", "cns", "papi"), ("docker", "sapi")]),
    (["cns", "docker"], 4, ("docker",), [("cns",), ("docker",)]),
    # rabbitmq is machinery (CNAPI depends on it); a wave wider than the concurrency
    (["amon", "rabbitmq", "cns", "cloudapi", "adminui", "mahi", "redis"], 2, (),
     [("+", "amon", "cns", "cloudapi", "adminui", "mahi", "redis"), ("rabbitmq",)]),
    ([], 4, (), []),
])
def test_waves(names, concurrency, core, expected) -> None:
    ws = waves([change(n) for n in names], concurrency, core)
    assert shown(ws, names) == expected
    assert runs_together(ws) == any(w.together for w in ws)
    # every change is in exactly one wave
    assert sorted(i for w in ws for i in w.changes) == list(range(len(names)))


@pytest.mark.parametrize("name, core, expected", [
    ("cns", (), "services"), ("cloudapi", (), "services"), ("papi", (), "services"),
    ("vmapi", (), "core"), ("cnapi", (), "core"), ("napi", (), "core"), ("ufds", (), "core"),
    ("workflow", (), "core"), ("sapi", (), "core"), ("imgapi", (), "core"),
    ("moray", (), "core"), ("manatee", (), "core"), ("binder", (), "core"),
    ("cns", ("cns",), "core"), ("cn-agent", (), "agent"), ("platform", (), "platform"),
])
def test_kind(name, core, expected) -> None:
    assert kind(change(name), core) == expected


def test_dependencies_and_layers() -> None:
    names = ["cns", "ufds", "docker", "workflow"]
    deps = dependencies([change(n) for n in names])
    # ufds waits for both other services; workflow for them and for ufds; they for nothing
    assert deps == {0: frozenset(), 1: frozenset({0, 2}), 2: frozenset(),
                    3: frozenset({0, 1, 2})}
    assert layers(deps) == {0: 0, 1: 1, 2: 0, 3: 2}
