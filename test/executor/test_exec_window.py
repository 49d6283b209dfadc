"""The rolling window: slots, predecessors, exclusive keys, failures that hold their slot,
the pause after two of them, and an operator's pause and cancel."""
from __future__ import annotations

import threading
import time

import pytest
from exec_fakes import FakeApp, Recorder, empty_plan

from sdcadm.errors import Cancelled, StepFailedError
from sdcadm.executor.run import execute
from sdcadm.plan import Step


def window(spec: list[tuple[str, tuple[str, ...], tuple[str, ...]]], width: int) -> list[Step]:
    """(target, after, exclusive) per step, all in one "hold" group of `width` slots."""
    return [Step(id=f"{n}:fake:{t}", action="fake", target=t, summary=f"reboot {t}",
                 parallel="w", concurrency=width, on_failure="hold", after=after,
                 exclusive=keys) for n, (t, after, keys) in enumerate(spec)]


class Timeline(Recorder):
    """Records (target, start, end) so tests can see what overlapped."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.spans: dict[str, list[float]] = {}

    def run(self, ctx, step) -> None:
        self.spans[step.target] = [time.monotonic(), 0.0]
        try:
            super().run(ctx, step)
        finally:
            self.spans[step.target][1] = time.monotonic()

    def overlapped(self, a: str, b: str) -> bool:
        (s1, e1), (s2, e2) = self.spans[a], self.spans[b]
        return s1 < e2 and s2 < e1

    def most_at_once(self) -> int:
        edges = sorted([(s, 1) for s, _ in self.spans.values()]
                       + [(e, -1) for _, e in self.spans.values()])
        now = best = 0
        for _, d in edges:
            now += d
            best = max(best, now)
        return best


def test_a_sliding_window_not_batches(tmp_path) -> None:
    rec = Timeline(delay=0.05)
    spec = [(f"s{n}", (), ()) for n in range(6)]
    execute(FakeApp(tmp_path), empty_plan(), window(spec, 2), handlers={"fake": rec})
    assert rec.max_in_flight == 2 and rec.most_at_once() == 2
    assert sorted(rec.ran) == sorted(f"{n}:fake:s{n}" for n in range(6))


def test_keys_and_predecessors_decide_who_goes(tmp_path) -> None:
    rec = Timeline(delay=0.03)
    spec = [("async", (), ("m",)), ("plain1", (), ()), ("plain2", (), ()),
            ("sync", ("async",), ("m",)), ("primary", ("sync",), ("m",)),
            ("hn", ("async", "plain1", "plain2", "sync", "primary"), ("m",))]
    execute(FakeApp(tmp_path), empty_plan(), window(spec, 3), handlers={"fake": rec})
    order = [r.split(":")[2] for r in rec.ran]
    assert order.index("async") < order.index("sync") < order.index("primary") < \
        order.index("hn")
    for a, b in (("async", "sync"), ("sync", "primary"), ("primary", "hn")):
        assert not rec.overlapped(a, b)
    assert rec.overlapped("async", "plain1")  # the window is used where keys allow


def test_one_failure_holds_its_slot_and_its_key_two_pause(tmp_path) -> None:
    rec = Timeline(delay=0.02, fail={"0:fake:a": 1})
    spec = [("a", (), ("k",)), ("b", (), ("k",)), ("c", (), ()), ("d", (), ()),
            ("e", ("a",), ())]
    with pytest.raises(StepFailedError) as e:
        execute(FakeApp(tmp_path), empty_plan(), window(spec, 2), handlers={"fake": rec})
    ran = {r.split(":")[2] for r in rec.ran}
    # a failed: it keeps its slot (one left) and its key (b never starts), e waits for a.
    assert ran == {"a", "c", "d"}
    assert rec.max_in_flight <= 2
    assert e.value.message == "boom on 0:fake:a"

    def slow_c(ctx, step) -> None:
        if step.target == "c":
            ctx.sleep(0.3)  # still running when a and b have failed

    rec2 = Timeline(delay=0.02, fail={"0:fake:a": 1, "1:fake:b": 1}, on_run=slow_c)
    spec2 = [("a", (), ()), ("b", (), ()), ("c", (), ()), ("d", (), ())]
    app = FakeApp(tmp_path / "2")
    with pytest.raises(StepFailedError) as e2:
        execute(app, empty_plan(), window(spec2, 3), handlers={"fake": rec2})
    assert e2.value.message.startswith("update paused: 2 failed and are still out: reboot a: "
                                       "boom on 0:fake:a; reboot b: boom on 1:fake:b")
    # c had started alongside a and b; nothing new starts once two hold their slots.
    assert "3:fake:d" not in rec2.ran


def test_an_operator_pause_stops_new_starts_and_resume_lets_them_go(tmp_path, capfd) -> None:
    state: dict[str, tuple[str, str] | None] = {"c": None}
    gate = threading.Event()

    def on_run(ctx, step) -> None:
        if step.target == "s0":
            state["c"] = ("pause", "paused by test")
            threading.Timer(0.3, lambda: (state.update(c=None), gate.set())).start()

    rec = Timeline(delay=0.02, on_run=on_run)
    app = FakeApp(tmp_path)
    execute(app, empty_plan(), window([(f"s{n}", (), ()) for n in range(3)], 1),
            handlers={"fake": rec}, control=lambda: state["c"])
    assert gate.is_set()
    assert rec.spans["s1"][0] >= rec.spans["s0"][1] + 0.2  # waited for the resume
    assert "Paused: paused by test" in capfd.readouterr().err


def test_an_operator_cancel_ends_the_run_after_the_steps_in_flight(tmp_path) -> None:
    state: dict[str, tuple[str, str] | None] = {"c": None}

    def on_run(ctx, step) -> None:
        state["c"] = ("cancel", "cancelled by test")

    rec = Timeline(delay=0.05, on_run=on_run)
    with pytest.raises(Cancelled) as e:
        execute(FakeApp(tmp_path), empty_plan(),
                window([(f"s{n}", (), ()) for n in range(4)], 2), handlers={"fake": rec},
                control=lambda: state["c"])
    assert e.value.message == "update cancelled: cancelled by test"
    assert len(rec.ran) == 2 and set(rec.applied) == set(rec.ran)  # the two in flight finished
