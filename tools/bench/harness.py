"""What the benchmarks share: a simulator per scenario, timed `sdcadm` processes with their
HTTP request count, plain tables, and the figures `tools/bench/run` collects.

Every benchmark takes `--json` (print its figures as one JSON line instead of its table) and
`--quick` (fewer runs, smaller sizes: the same figures, noisier)."""
from __future__ import annotations

import argparse
import json
import operator
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[2]

# Commands are timed as an installed sdcadm runs: with its modules' bytecode cached (pip
# compiles it at install time), not compiled again in every timed process.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def run_sdcadm(argv: Sequence[str], config: Path, log: Path | None) -> tuple[float, int, str]:
    """Run `sdcadm ARGV` as a whole process: (wall seconds, HTTP requests, stdout).

    Requests are counted from $SDCADM_REQUEST_LOG, where the client appends one line per
    request; without `log` nothing is counted.
    """
    env = dict(os.environ, SDCADM_CONFIG=str(config), NO_COLOR="1")
    if log is not None:
        env["SDCADM_REQUEST_LOG"] = str(log)
        log.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sdcadm", *argv], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"sdcadm {' '.join(argv)} failed ({proc.returncode}): {proc.stderr}")
    count = len(log.read_text().splitlines()) if log is not None and log.exists() else 0
    return elapsed, count, proc.stdout


def scenario_sims(scenarios: Sequence[str], prefix: str) -> Iterator[tuple[str, Any, Path]]:
    """(scenario, simulator handle, scratch dir) for each scenario in turn, each simulator
    started fast-clocked and stopped before the next one starts."""
    sys.path.insert(0, str(ROOT))
    from sdcadm.sim.testing import start_sim

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for scenario in scenarios:
            t0 = time.perf_counter()
            handle = start_sim(scenario, state_dir=Path(tmp) / scenario, time_scale=0.001)
            print(f"{scenario}: simulator ready in {time.perf_counter() - t0:.1f}s",
                  file=sys.stderr)
            try:
                yield scenario, handle, Path(tmp)
            finally:
                handle.stop()


def print_table(rows: Sequence[Sequence[Any]]) -> None:
    """Columns two spaces apart, left-aligned, no trailing spaces."""
    widths = [max(len(str(x)) for x in col) for col in zip(*rows, strict=True)]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


@dataclass(frozen=True)
class Figure:
    """One measured figure. A target such as `<= 1.15` decides `met` from the value; any
    other target (`reads only`) needs `met` given; no target: nothing to meet."""

    name: str
    value: float | int | str
    unit: str = ""
    target: str = ""
    met: bool | None = None

    def verdict(self) -> bool | None:
        op, _, limit = self.target.partition(" ")
        if op in OPS and isinstance(self.value, (int, float)):
            return OPS[op](self.value, float(limit))
        return self.met


def bench_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--json", action="store_true",
                    help="print the figures as one JSON line (for tools/bench/run)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer runs and smaller sizes: the same figures, noisier")


def print_figures(figures: Sequence[Figure], quick: bool) -> None:
    """The JSON line `tools/bench/run` reads."""
    rows = [dict(asdict(f), met=f.verdict()) for f in figures]
    print(json.dumps({"quick": quick, "figures": rows}))
