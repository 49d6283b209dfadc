"""Progress activities: how they read, and the timed plain lines off a terminal (with a
clock the test moves: no real waiting)."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from sdcadm.errors import Interrupted, StepFailedError
from sdcadm.render.progress import Activity, Progress, elapsed_text

START = datetime(2026, 11, 17, 8, 26, 40, tzinfo=timezone.utc).timestamp()
STAMP = "2026-11-17T08:26:40Z"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain(interval: float | None = 30.0) -> tuple[Progress, io.StringIO, Clock]:
    buf, clock = io.StringIO(), Clock()
    p = Progress(buf, tty=False, interval=interval, clock=clock,
                 wall=lambda: START + clock.now - 100.0, background=False)
    return p, buf, clock


def take(buf: io.StringIO) -> list[str]:
    lines = buf.getvalue().splitlines()
    buf.seek(0)
    buf.truncate()
    return lines


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.9, "0s"), (45, "45s"), (60, "1m0s"), (270, "4m30s"), (2222, "37m2s"),
    (3723, "1h2m3s"), (-1, "0s"),
])
def test_elapsed_text(seconds: float, text: str) -> None:
    assert elapsed_text(seconds) == text


@pytest.mark.parametrize("done, failed, running, final, text", [
    (0, 0, 0, False, "0/751 servers updated, 0 failed, 751 waiting"),
    (412, 3, 5, False, "412/751 servers updated, 3 failed, 5 running, 331 waiting"),
    (748, 3, 0, False, "748/751 servers updated, 3 failed"),
    (740, 3, 0, True, "740/751 servers updated, 3 failed"),  # the rest stopped: no "waiting"
])
def test_fanout_status(done: int, failed: int, running: int, final: bool, text: str) -> None:
    p, _, _ = plain()
    act = p.fanout("cn-agent", 751, noun="servers", verb="updated")
    act.completed, act.failed, act.running = done, failed, running
    assert act.status(final=final) == text


def test_one_of_a_kind_is_singular() -> None:
    p, buf, _ = plain()
    act = p.fanout("reboot", 1, noun="servers", verb="rebooted")
    assert take(buf) == [f"{STAMP} reboot: started, 1 server"]
    assert act.status() == "0/1 server rebooted, 0 failed, 1 waiting"
    act.begin_one()
    act.end_one(True)
    act.close()
    assert take(buf) == [f"{STAMP} reboot: done: 1/1 server rebooted, 0 failed (0s)"]
    two = p.fanout("cn-agent", 2, noun="servers", verb="updated")
    assert take(buf) == [f"{STAMP} cn-agent: started, 2 servers"]
    assert two.status() == "0/2 servers updated, 0 failed, 2 waiting"


@pytest.mark.parametrize("completed, total, elapsed, text", [
    (0, 512 << 20, 0, "0 B of 512.0 MiB"),
    (210 << 20, 512 << 20, 60, "210.0 MiB of 512.0 MiB, 3.5 MiB/s"),
    (1536, None, 2, "1.5 KiB, 768 B/s"),
])
def test_download_status(completed: int, total: int | None, elapsed: float, text: str) -> None:
    p, _, clock = plain()
    act = p.download("Downloading x", total)
    act.advance(completed)
    assert act.status(now=clock.now + elapsed) == text


def test_a_fanout_off_a_terminal_prints_start_every_interval_and_end() -> None:
    p, buf, clock = plain(interval=30)
    act = p.fanout("cn-agent", 4, noun="servers", verb="updated")
    assert take(buf) == [f"{STAMP} cn-agent: started, 4 servers"]
    for _ in range(3):
        act.begin_one()
    act.end_one(True)
    clock.now += 29
    p.tick()
    assert take(buf) == []  # not due yet
    clock.now += 1
    p.tick()
    assert take(buf) == [
        "2026-11-17T08:27:10Z cn-agent: 1/4 servers updated, 0 failed, 2 running, 1 waiting "
        "(30s)"]
    act.end_one(False)
    act.begin_one()
    clock.now += 30
    p.tick()
    assert take(buf) == [
        "2026-11-17T08:27:40Z cn-agent: 1/4 servers updated, 1 failed, 2 running (1m0s)"]
    act.end_one(True)
    act.end_one(None)  # stopped (Ctrl-C): neither done nor failed
    clock.now += 5
    act.close("interrupted")
    p.tick()
    assert take(buf) == [
        "2026-11-17T08:27:45Z cn-agent: interrupted: 2/4 servers updated, 1 failed (1m5s)"]


@pytest.mark.parametrize("raised, end", [
    (None, "done"), (StepFailedError("boom"), "failed"), (Interrupted("interrupted"),
                                                           "interrupted"),
])
def test_a_wait_says_what_it_waits_on_and_how_it_ended(raised: Exception | None,
                                                        end: str) -> None:
    p, buf, clock = plain(interval=10)
    with pytest.raises(type(raised)) if raised else _nothing():
        with p.wait("reprovision of VM v1 (imgapi0)") as w:
            clock.now += 10
            p.tick()
            w.detail("running, last task: machine_reprovision")
            clock.now += 10
            p.tick()
            if raised:
                raise raised
    assert take(buf) == [
        f"{STAMP} reprovision of VM v1 (imgapi0): started",
        "2026-11-17T08:26:50Z reprovision of VM v1 (imgapi0): waiting (10s)",
        "2026-11-17T08:27:00Z reprovision of VM v1 (imgapi0): running, last task: "
        "machine_reprovision (20s)",
        f"2026-11-17T08:27:00Z reprovision of VM v1 (imgapi0): {end} (20s)"]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_without_an_interval_only_the_lines_are_printed_and_echoed() -> None:
    heard: list[str] = []
    buf = io.StringIO()
    p = Progress(buf, tty=False, echo=heard.append)
    with p.wait("wait for x"):
        p.lines("Waiting for imgapi instance U to come up")
    p.fanout("cn-agent", 3).begin_one()
    assert buf.getvalue() == "Waiting for imgapi instance U to come up\n"
    assert heard == ["Waiting for imgapi instance U to come up"]


def test_an_activity_made_without_progress_does_nothing() -> None:
    act = Activity()
    act.begin_one()
    act.end_one(True)
    act.detail("x")
    act.close()
    assert (act.completed, act.running) == (0, 0)


def test_the_ticker_thread_prints_while_an_activity_lasts() -> None:
    import threading

    buf = io.StringIO()
    ticked = threading.Event()

    class Watch(io.StringIO):
        def write(self, s: str) -> int:
            if "waiting (" in s:
                ticked.set()
            return buf.write(s)

    p = Progress(Watch(), tty=False, interval=0.01)
    with p.wait("wait for x"):
        assert ticked.wait(10), buf.getvalue()
    p.close()
    lines = buf.getvalue().splitlines()
    assert lines[0].endswith(" wait for x: started")
    assert " wait for x: waiting (0s)" in lines[1]
    assert " wait for x: done (" in lines[-1]


def test_rows_on_a_terminal_have_a_spinner_and_the_elapsed_time(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    p = Progress(buf, tty=True, interval=30)
    with p.wait("reprovision of VM v1") as w:
        w.detail("running")
        fan = p.fanout("cn-agent", 4, noun="servers", verb="updated")
        fan.begin_one()
        fan.end_one(True)
        p.refresh()
        fan.close()
    p.close()
    out = buf.getvalue()
    assert "reprovision of VM v1" in out and "running" in out
    assert "1/4 servers updated, 0 failed" in out
    assert "0:00:00" in out  # the elapsed time column
    assert "started" not in out  # no plain lines on a terminal
