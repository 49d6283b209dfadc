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


STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
TOOK = r" \((?:\d+m)?\d+s\)"


def _config(sim, tmp_path: Path, **changes) -> str:
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps({**json.loads(Path(sim.config_path).read_text()), **changes}))
    return str(path)


def test_a_dns_rejoin_through_a_pipe_says_how_long_it_has_waited(slow_sim, tmp_path):
    import shutil

    import requests
    from e2e_runs import var_dir

    shutil.rmtree(var_dir(slow_sim), ignore_errors=True)
    conf = _config(slow_sim, tmp_path, progressInterval=0.2)
    (m2,) = requests.get(slow_sim.urls["vmapi"] + "/vms", params={"alias": "moray2"},
                         timeout=10).json()
    ip = m2["nics"][0]["ip"]
    # moray2 does not register in DNS until the fault goes: the join waits (6 s at most at
    # this clock), and says so every 0.2 s.
    fault = slow_sim.add_fault({"type": "dns-missing", "target": m2["uuid"]})
    proc = cli(slow_sim, "--config", conf, "update", "moray", "-y", wait=False)
    label = re.escape(f"wait for moray instance {m2['uuid']} (moray2) to be back in DNS")
    tick = re.compile(rf"^{STAMP} {label}: (waiting|{re.escape(ip)} is not yet in \S+){TOOK}$")
    seen: list[tuple[str, bool]] = []
    removed = False
    for line in proc.stderr:
        seen.append((line.rstrip("\n"), proc.poll() is None))
        if not removed and sum(1 for text, _ in seen if tick.match(text)) >= 3:
            slow_sim.remove_fault(fault)
            removed = True
    proc.stdout.read()
    lines = [text for text, _ in seen]
    assert proc.wait(timeout=60) == 0, "\n".join(lines)
    assert removed, "\n".join(lines)

    start = next(n for n, text in enumerate(lines)
                 if re.fullmatch(rf"{STAMP} {label}: started", text))
    end = next(n for n, text in enumerate(lines)
               if re.fullmatch(rf"{STAMP} {label}: done{TOOK}", text))
    ticks = [(tick.match(text), running) for text, running in seen[start + 1:end]]
    assert len(ticks) >= 3 and all(m is not None and running for m, running in ticks), \
        lines[start:end + 1]
    assert any(m.group(1) != "waiting" for m, _ in ticks if m)
    # The other waits around a rejoin are shown too: moray2 left DNS, moray0 left and came
    # back.
    for alias, what in (("moray2", "to leave DNS"), ("moray0", "to leave DNS"),
                        ("moray0", "to be back in DNS")):
        assert any(re.fullmatch(rf"{STAMP} wait for moray instance \S+ \({alias}\) {what}: "
                                rf"done{TOOK}", text) for text in lines), (alias, what)


def test_one_server_is_one_server(sim):
    """`reboot: started, 1 server`, not `1 servers`."""
    assert cli(sim, "reboot-plan", "create", "cn03").returncode == 0
    r = cli(sim, "reboot-plan", "run", "-y")
    assert r.returncode == 0, r.stderr
    progress = [ln.split(" ", 1)[1] for ln in r.stderr.splitlines()
                if re.match(rf"{STAMP} ", ln)]
    assert "reboot: started, 1 server" in progress, r.stderr
    assert any(re.fullmatch(rf"reboot: done: 1/1 server rebooted, 0 failed{TOOK}", ln)
               for ln in progress), r.stderr
    assert not re.search(r"\b1 servers\b", r.stderr)
