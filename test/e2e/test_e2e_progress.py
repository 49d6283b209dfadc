"""Progress through a pipe (no terminal): an agent fan-out prints a timestamped line with its
counts every `progressInterval` while it runs, not only once it is over."""
from __future__ import annotations

import json
import re
from pathlib import Path

from e2e_runs import cli

TICK = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ cn-agent: (\d+)/4 servers updated, "
                  r"(\d+) failed(?:, (\d+) running)?(?:, (\d+) waiting)? \((\d+m)?\d+s\)$")


def test_an_agent_update_through_a_pipe_says_how_far_it_is_while_it_runs(sim, tmp_path):
    conf = json.loads(Path(sim.config_path).read_text())
    conf["progressInterval"] = 0.2
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(conf))
    # 0.8 s per server at the tests' time scale; one server at a time: about 3 s in all.
    sim.set_latencies({"install-agent": 800})

    proc = cli(sim, "--config", str(path), "update", "cn-agent", "-y", "--no-verify",
               "--concurrency", "1", wait=False)
    seen: list[tuple[str, bool]] = []  # each stderr line, and whether sdcadm still ran
    for line in proc.stderr:
        seen.append((line.rstrip("\n"), proc.poll() is None))
    out = proc.stdout.read()
    assert proc.wait(timeout=60) == 0, "\n".join(text for text, _ in seen)
    assert "Updated successfully" in out

    lines = [text for text, _ in seen]
    start = next(n for n, text in enumerate(lines)
                 if text.endswith(" cn-agent: started, 4 servers"))
    end = next(n for n, text in enumerate(lines)
               if re.search(r" cn-agent: done: 4/4 servers updated, 0 failed \(\d+s\)$", text))
    assert lines[end + 1] == "Updated cn-agent on 4/4 servers (0 failures)"
    ticks = [(TICK.match(text), running) for text, running in seen[start + 1:end]]
    assert ticks and all(m is not None for m, _ in ticks), lines[start:end]
    # Lines while it ran, each with its counts, and the counts moving.
    assert len(ticks) >= 4 and all(running for _, running in ticks)
    assert len({m.group(1) for m, _ in ticks if m}) >= 2
    assert all(m.group(3) == "1" for m, _ in ticks if m)  # --concurrency 1
    assert all(m.group(2) == "0" for m, _ in ticks if m)
