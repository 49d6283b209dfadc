"""Progress output: plain lines off a terminal, rich bars (with the lines above) on one."""
from __future__ import annotations

import io
import threading

from sdcadm.render.progress import Progress


def test_plain_lines_and_no_bars_off_a_terminal():
    buf = io.StringIO()
    p = Progress(buf, tty=False)
    with p.download("Downloading x", 100) as bar:
        bar.advance(50)
        p.lines("Downloading image U", "    (x@1)")
    p.counter("Updating cn-agent", 3).advance()
    assert buf.getvalue() == "Downloading image U\n    (x@1)\n"


def test_bars_on_a_terminal_are_thread_safe_and_transient(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    p = Progress(buf, tty=True)
    bar = p.download("Downloading x", 4 << 20)
    count = p.counter("Updating vm-agent", 40)

    def work():
        for _ in range(10):
            bar.advance(1 << 16)
            count.advance()
            p.line("Imported image U")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    count.close()
    p.close()
    out = buf.getvalue()
    assert out.count("Imported image U") == 40
    assert "\x1b[" in out  # drawn with terminal control sequences
