"""A wave of services: one parallel group whose steps are chained by id per service, so a
service's steps run in order while other services run beside it."""
from __future__ import annotations

import pytest
from exec_fakes import FakeApp, empty_plan
from test_exec_window import Timeline

from sdcadm.errors import StepFailedError
from sdcadm.executor.journal import Journal
from sdcadm.executor.run import execute
from sdcadm.plan import Step


def wave(services: dict[str, int], width: int) -> list[Step]:
    """Per service: a SAPI step, then reprovision and wait steps sharing the instance as
    target, each `after` the service's previous step (by id, as `expand` chains them)."""
    out: list[Step] = []
    for name, instances in services.items():
        chain = [(name, "sapi")] + [(f"{name}-i{n}", kind) for n in range(instances)
                                    for kind in ("reprovision", "wait")]
        prev = None
        for target, kind in chain:
            sid = f"{len(out) + 1}:fake:{target}:{kind}"
            out.append(Step(id=sid, action="fake", target=target, summary=f"{kind} {target}",
                            change=name, parallel="wave:1", concurrency=width,
                            on_failure="stop", after=(prev,) if prev else ()))
            prev = sid
    return out


class Spans(Timeline):
    """Spans by step id (steps of one instance share a target)."""

    def run(self, ctx, step) -> None:
        super().run(ctx, step.__class__(**{**step.__dict__, "target": step.id}))


def test_services_overlap_and_each_service_keeps_its_order(tmp_path) -> None:
    rec = Spans(delay=0.03)
    steps = wave({"cns": 1, "papi": 2, "sdc": 1}, 2)
    execute(FakeApp(tmp_path), empty_plan(), steps, handlers={"fake": rec})
    assert sorted(rec.ran) == sorted(s.id for s in steps)
    for service in ("cns", "papi", "sdc"):
        mine = [s.id for s in steps if s.change == service]
        assert [r for r in rec.ran if r in mine] == mine
        for a, b in zip(mine, mine[1:], strict=False):
            assert not rec.overlapped(a, b)
    cns = [s.id for s in steps if s.change == "cns"]
    papi = [s.id for s in steps if s.change == "papi"]
    assert any(rec.overlapped(a, b) for a in cns for b in papi)
    assert rec.most_at_once() <= 2


def test_a_failure_starts_nothing_new_and_the_journal_says_what_ran(tmp_path) -> None:
    steps = wave({"cns": 2, "papi": 2}, 2)
    failing = next(s.id for s in steps if s.change == "papi" and "reprovision" in s.id)
    rec = Spans(delay=0.01, fail={failing: 1})
    app = FakeApp(tmp_path)
    with pytest.raises(StepFailedError):
        execute(app, empty_plan(), steps, handlers={"fake": rec})
    after = [s.id for s in steps if s.change == "papi"]
    assert not set(after[after.index(failing) + 1:]) & set(rec.ran)
    run_dir = next((tmp_path / "var" / "updates").iterdir())
    state = Journal(run_dir).state()
    assert state.steps[failing].outcome == "failed"
    assert {sid for sid, rec_ in state.steps.items() if rec_.done} == \
        {sid for sid in rec.ran if sid != failing}
