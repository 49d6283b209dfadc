"""What the reliability cases share: how many cases to try, driving a run through a fault
until it converges, the "data lost" checks, and the outcome log `tools/bench/reliability`
turns into a table.

`SDCADM_RELIABILITY=full` selects the full set of cases; without it a reduced set runs with
the rest of the suite. `SDCADM_RELIABILITY_LOG=FILE` makes every case append one JSON line
(`{"kind", "case", "survived", "lost", "twice"}`) to FILE.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import requests
from e2e_runs import cli, end_state, events

T = TypeVar("T")

FULL = os.environ.get("SDCADM_RELIABILITY", "").strip().lower() == "full"
OUTCOME_LOG = os.environ.get("SDCADM_RELIABILITY_LOG")
RESUME = ("update", "--resume", "-y")
KINDS = ("updates", "rollbacks", "reboot-plans")


def pick(full: Sequence[T], reduced: Sequence[T]) -> list[T]:
    """The full set of cases under SDCADM_RELIABILITY=full, else the reduced one."""
    return list(full if FULL else reduced)


def record(kind: str, case: str, survived: bool, lost: Sequence[str],
           twice: Sequence[str] = ()) -> None:
    """One case's outcome, for the table."""
    if OUTCOME_LOG:
        line = json.dumps({"kind": kind, "case": case, "survived": bool(survived),
                           "lost": list(lost)[:5], "twice": list(twice)[:5]})
        with open(OUTCOME_LOG, "a", encoding="utf-8") as fh:  # one short line: one write
            fh.write(line + "\n")


@dataclass
class Verdicts:
    """The outcomes of the cases one test tries, each recorded for the table; the test
    fails at its end (`check`) if any case did not survive, lost data or did something
    twice, after trying them all."""

    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, case: str, survived: bool, problem: str | None,
            lost: Sequence[str] = (), twice: Sequence[str] = ()) -> None:
        record(kind, case, survived, lost, twice)
        where = f"{kind}, {case}"
        if not survived:
            self.problems.append(f"{where}: {problem}")
        if lost:
            self.problems.append(f"{where}: data lost:\n    " + "\n    ".join(lost))
        if twice:
            self.problems.append(f"{where}: done twice:\n    " + "\n    ".join(twice))

    @contextmanager
    def trying(self, kind: str, case: str) -> Iterator[None]:
        """A case that breaks down before its verdict (a wait timed out, a process hung)
        did not survive."""
        try:
            yield
        except (AssertionError, subprocess.TimeoutExpired) as e:
            self.add(kind, case, False, f"{type(e).__name__}: {e}")

    def check(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)


# -- configurations ---------------------------------------------------------------------------
def config_with(sim: Any, path: Path, **keys: Any) -> Path:
    """A copy of the simulator's sdcadm.conf with some keys changed."""
    doc = json.loads(Path(sim.config_path).read_text())
    path.write_text(json.dumps({**doc, **keys}))
    return path


def var_dir_of(config: Path) -> Path:
    return Path(json.loads(Path(config).read_text())["varDir"])


# -- running until the run converges ------------------------------------------------------
@dataclass
class Attempt:
    argv: tuple[str, ...]
    code: int
    stderr: str


@dataclass
class Converged:
    ok: bool
    attempts: list[Attempt] = field(default_factory=list)
    problem: str | None = None


def has_open_run(var: Path) -> bool:
    from sdcadm.executor.journal import open_runs

    return bool(open_runs(var))


def converge(sim: Any, config: Path, first: Sequence[str], *,
             again: Sequence[str] | None = RESUME, tries: int = 6, timeout: float = 300,
             between: Callable[[Attempt], None] | None = None,
             done: Callable[[], bool] | None = None) -> Converged:
    """Run `sdcadm FIRST` against `sim`; while it fails, `sdcadm AGAIN` when it left an
    unfinished run (else FIRST again), `tries` runs at most. A traceback ends it at once.
    `between` runs after every failed attempt (wait for a rebooting headnode, ...); `done`
    says the work is done already (a killed run may have finished it)."""
    var = var_dir_of(config)
    result = Converged(False)
    argv = tuple(first)
    for _ in range(tries):
        if done is not None and done():
            result.ok = True
            return result
        r = cli(sim, "--config", str(config), *argv, timeout=timeout)
        att = Attempt(argv, r.returncode, r.stderr)
        result.attempts.append(att)
        if "Traceback" in r.stderr:
            result.problem = f"traceback from sdcadm {' '.join(argv)}:\n{r.stderr[-3000:]}"
            return result
        if r.returncode == 0:
            result.ok = True
            return result
        if between is not None:
            between(att)
        argv = tuple(again) if again and has_open_run(var) else tuple(first)
    last = result.attempts[-1]
    result.problem = (f"no convergence after {tries} runs; the last, sdcadm "
                      f"{' '.join(last.argv)}, exited {last.code}: {last.stderr[-1500:]}")
    return result


# -- "data lost" -----------------------------------------------------------------------------
def target_state(before: dict[str, Any], plan_doc: dict[str, Any]) -> dict[str, Any]:
    """What the plan's steps leave: `before` with every image its steps set."""
    after = {k: dict(v) for k, v in before.items()}
    for s in plan_doc.get("steps") or []:
        p = s.get("params") or {}
        if s["action"] == "reprovision":
            after["vms"][p["instance"]] = p["image_uuid"]
        elif s["action"] == "sapi-update-service":
            after["services"][p["service"]] = p["image_uuid"]
        elif s["action"] == "install-agent":
            after["agents"][(p["server_uuid"], p["agent"])] = p["image_uuid"]
    return after


def image_problems(now: dict[str, Any], before: dict[str, Any], target: dict[str, Any],
                   finished: bool) -> list[str]:
    """Every service, VM and agent on the target image (a run that finished) or on either
    the original or the target (one that did not); none appeared or vanished."""
    out = []
    for part in ("services", "vms", "agents"):
        if set(now[part]) != set(before[part]):
            gone = sorted(map(str, set(before[part]) - set(now[part])))
            new = sorted(map(str, set(now[part]) - set(before[part])))
            out.append(f"{part}: vanished {gone[:3]}, appeared {new[:3]}")
        for key, image in now[part].items():
            allowed = {target[part].get(key)}
            if not finished:
                allowed.add(before[part].get(key))
            if image not in allowed:
                out.append(f"{part} {key}: on image {image}, expected one of "
                           f"{sorted(map(str, allowed))}")
    return out


def server_problems(sim: Any, *, on_boot_platform: bool = False) -> list[str]:
    out = []
    servers = requests.get(sim.urls["cnapi"] + "/servers", params={"extras": "sysinfo"},
                           timeout=30).json()
    for s in servers:
        if s.get("status") != "running":
            out.append(f"server {s['hostname']}: {s.get('status')}")
        elif on_boot_platform and s.get("current_platform") != s.get("boot_platform"):
            out.append(f"server {s['hostname']}: runs {s.get('current_platform')}, boots "
                       f"{s.get('boot_platform')}")
    vms = requests.get(sim.urls["vmapi"] + "/vms", params={"state": "active"}, timeout=30)
    for vm in vms.json():
        if vm.get("state") != "running":
            out.append(f"vm {vm.get('alias')}: {vm.get('state')}")
    return out


def journal_problems(var: Path, *, finished: bool) -> list[str]:
    """Every work dir's plan and journal readable; every step end preceded by its intent
    or start in the same run; an update's steps all its plan's; a finished run done with
    every step done."""
    from sdcadm.errors import SdcAdmError
    from sdcadm.executor.journal import RunState

    out = []
    for kind in KINDS:
        root = var / kind
        for d in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
            try:
                plan = json.loads((d / "plan.json").read_text())
                evs = events(d)
            except (OSError, ValueError, SdcAdmError) as e:
                out.append(f"{d}: {getattr(e, 'message', e)}")
                continue
            out += [f"{d}: {p}" for p in event_order(evs)]
            ids = {s.get("id") for s in plan.get("steps") or []}
            if kind != "reboot-plans":
                stray = sorted({e["step"] for e in evs if e.get("step")} - ids)
                if stray:
                    out.append(f"{d}: events of steps its plan does not have: {stray[:3]}")
            if not finished:
                continue
            state = RunState.from_events(evs)
            if not state.finished and state.status != "abandoned":
                out.append(f"{d}: the run is {state.status or 'unfinished'}")
            undone = sorted(i for i in ids if i not in state.steps or not state.steps[i].done)
            if kind != "reboot-plans" and state.finished and undone:
                out.append(f"{d}: done, yet steps not done: {undone[:3]}")
    return out


def event_order(evs: Iterable[dict[str, Any]]) -> list[str]:
    out = []
    begun: set[str] = set()
    for e in evs:
        kind, step = e.get("event"), e.get("step")
        if kind in ("run-start", "run-resume"):
            begun = set()
        elif kind in ("step-intent", "step-start") and step:
            begun.add(step)
        elif kind == "step-end" and step and e.get("outcome") != "skipped" \
                and step not in begun:
            out.append(f"step {step} ended ({e.get('outcome')}) without beginning")
    return out


def run_uuids(var: Path) -> list[str]:
    """The run uuid of every update, rollback and reboot plan under `var`."""
    from sdcadm.executor.journal import run_uuid_of

    out = []
    for kind in KINDS:
        root = var / kind
        for d in sorted(root.iterdir()) if root.is_dir() else []:
            uuid = run_uuid_of(d) if kind != "reboot-plans" else d.name
            started = any(e.get("event") in ("run-start", "run-resume") for e in _safe(d))
            if uuid and started:
                out.append(uuid)
    return out


def _safe(d: Path) -> list[dict[str, Any]]:
    try:
        return events(d)
    except Exception:
        return []


def history_problems(config: Path, *, finished: bool) -> list[str]:
    """Every run has its history entry; a finished run's entry has ended without error."""
    from sdcadm.cli.app import App
    from sdcadm.executor.history import store_for

    app = App(config_path=str(config))
    try:
        store = store_for(app)
        out = []
        for uuid in run_uuids(var_dir_of(config)):
            entry = store.get(uuid)
            if entry is None:
                out.append(f"history: no entry for run {uuid}")
            elif finished and (not entry.get("finished") or entry.get("error")):
                out.append(f"history: run {uuid} is not recorded as done: "
                           f"finished={entry.get('finished')} error={entry.get('error')}")
        return out
    finally:
        app.close()


def data_lost(sim: Any, config: Path, *, before: dict[str, Any] | None = None,
              target: dict[str, Any] | None = None, finished: bool = True,
              quorums: bool = False, on_boot_platform: bool = False) -> list[str]:
    """Everything "data lost" means, as a list of what is wrong (empty: nothing lost)."""
    out: list[str] = []
    if before is not None and target is not None:
        out += image_problems(end_state(sim), before, target, finished)
    out += server_problems(sim, on_boot_platform=on_boot_platform)
    var = var_dir_of(config)
    out += journal_problems(var, finished=finished)
    out += history_problems(config, finished=finished)
    if quorums:
        out += [f"quorum lost: {q.get('group')} {q.get('reason')}" for q in sim.quorum_losses()]
    return out


def done_twice(sim: Any) -> list[str]:
    """Effects the datacenter saw twice: a VM reprovisioned to one image by two jobs, an
    agent image installed on one server by two tasks."""
    out = []
    vms = requests.get(sim.urls["vmapi"] + "/vms", params={"state": "active"}, timeout=30)
    for vm in vms.json():
        jobs = requests.get(f"{sim.urls['vmapi']}/vms/{vm['uuid']}/jobs", timeout=30).json()
        seen = Counter((j.get("params") or {}).get("image_uuid") for j in jobs
                       if str(j.get("name", "")).startswith("reprovision"))
        out += [f"vm {vm.get('alias')}: {n} reprovision jobs to {image}"
                for image, n in seen.items() if n > 1]
    servers = requests.get(sim.urls["cnapi"] + "/servers", timeout=30).json()
    for s in servers:
        tasks = requests.get(f"{sim.urls['cnapi']}/servers/{s['uuid']}/task-history",
                             timeout=30).json()
        seen = Counter((t.get("params") or {}).get("image_uuid") for t in tasks
                       if t.get("task") == "agent_install")
        out += [f"server {s['hostname']}: {n} installs of agent image {image}"
                for image, n in seen.items() if n > 1]
    return out


def lease(sim: Any) -> dict[str, Any] | None:
    """The datacenter lease as it stands in the `sdc` application's metadata."""
    apps = requests.get(sim.urls["sapi"] + "/applications", params={"name": "sdc"},
                        timeout=10).json()
    return (apps[0].get("metadata") or {}).get("sdcadm_lease")


def plan_of_newest_update(var: Path) -> dict[str, Any]:
    roots = sorted((var / "updates").iterdir())
    return json.loads((roots[-1] / "plan.json").read_text())


def wait_until(predicate: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass  # the APIs live on the headnode: they do not answer while it reboots
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or 'a condition'}")
