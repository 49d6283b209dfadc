"""A rehearsal from start to end: plan live, snapshot, private simulator, run, report, record.

The live datacenter is only read, and only by child processes whose request logs are counted
at the end (`sdcadm.rehearse.processes`). The private run is `sdcadm update --plan FILE -y`
with the private simulator's configuration, in its own process: the live configuration, lock,
journals and history are never touched by it.
"""
from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdcadm.errors import UsageError
from sdcadm.executor.journal import iso_now
from sdcadm.rehearse import ForwardedError, faults, processes, record
from sdcadm.rehearse.private import PrivateSim

if TYPE_CHECKING:
    from sdcadm.config import Config
    from sdcadm.model import DatacenterState

DEFAULT_SPEED = 1000.0
RESUME_ATTEMPTS = 3
# Settings of the live configuration that change what an update does; the private one gets
# them, everything about where things are stays the simulator's.
CARRIED_KEYS = ("agentConcurrency", "vmMinPlatform", "imgNamesFromSvcName", "svcMinImages",
                "updatedSizeParameters", "mutationRetries", "retries")
# `update` options that make no sense in a rehearsal (it plans, then runs with -y itself).
REFUSED = ("-n", "--dry-run", "--plan-out", "--resume", "--plan", "-j", "--json")


@dataclass
class Request:
    update_args: tuple[str, ...] = ()
    plan_file: str | None = None
    faults: tuple[str, ...] = ()
    speed: float = DEFAULT_SPEED
    keep_dir: str | None = None


def rehearse(app: Any, req: Request) -> dict[str, Any] | None:
    """Rehearse; the report (also recorded), or None when there was nothing to rehearse."""
    wishes = faults.parse(req.faults)
    args = _update_args(req)
    say = _progress(app)
    config = app.config
    started, t0 = iso_now(), time.monotonic()
    work = _work_dir(req.keep_dir)
    live_log, private_log = work / "live-requests.log", work / "private-requests.log"
    # Absolute: the snapshot runs in the work directory.
    live_conf = str(Path(app.config_path).resolve()) if app.config_path else None
    phases: dict[str, float] = {}
    lap = _laps(phases)
    try:
        say("Planning the update against the live datacenter (reads only)")
        plan_doc, plan_path, command = _live_plan(args, req.plan_file, live_conf, work, live_log)
        if not plan_doc.get("changes") and not plan_doc.get("downloads"):
            return None
        samples = _live_samples(app, live_conf, work, live_log)
        lap("plan")
        say("Taking a snapshot of the live datacenter (reads only)")
        snap = processes.snapshot(work / "dc.yaml", config=live_conf, request_log=live_log,
                                  cwd=work, output=work / "snapshot")
        if not snap.ok:
            raise snap.error("sdcadm-sim snapshot")
        lap("snapshot")
        say(f"Starting a private simulator from it at speed x{req.speed:g}")
        with PrivateSim(work / "dc.yaml", work / "sim", 1.0 / req.speed) as sim:
            private_conf = _private_config(sim.config_path, config, work)
            state = _private_state(private_conf, plan_doc.get("channel"))
            fidelity, run_plan = _for_private(plan_doc, plan_path, state, work)
            specs = faults.resolve(wishes, state)
            sim.add_faults(specs)
            lap("start")
            say(f"Running `{command}` on the private copy"
                + (f" with faults: {', '.join(w.label for w in wishes)}" if wishes else ""))
            resume = _run_private(say, run_plan, private_conf, work, private_log)
            lap("run")
            doc, events = _journal(Path(json.loads(private_conf.read_text())["varDir"]))
            facts = _facts(sim, state, doc, events, samples, req.speed, resume)
        bases = _live_urls(config)
        # Every command the rehearsal's own children ran went to a live server; the private
        # run's only count when they reached one.
        from_private = processes.audit([private_log], bases, _live_ssh(config, state))
        live = processes.audit([live_log], bases) + from_private
        facts.extra.update({
            "uuid": app.request_id, "started": started, "finished": iso_now(),
            "command": command, "key": record.plan_key(plan_doc),
            "fingerprint": plan_doc.get("fingerprint"),
            "datacenter": _dc_summary(state), "fidelity": fidelity, "faults": specs,
            "rehearsal": {"speed": req.speed, "time_scale": 1.0 / req.speed,
                          "phases": phases},
            "live": {**live.to_json(),
                     "from_private_run": from_private.requests + from_private.ssh_commands,
                     "log": str(live_log) if req.keep_dir else None},
        })
        from sdcadm.rehearse.report import build

        report = build(facts)
        lap("report")
        report["rehearsal"]["wall_s"] = round(time.monotonic() - t0, 1)
        try:
            record.record(Path(config.var_dir), report, plan_doc)
        except OSError as e:  # the report is printed all the same
            app.warn(f"warning: could not keep the report in {config.var_dir}: "
                     f"{e.strerror or e}")
        return report
    finally:
        if not req.keep_dir:
            shutil.rmtree(work, ignore_errors=True)


def _laps(phases: dict[str, float]) -> Any:
    """`lap(name)`: the seconds since the previous lap, kept under `name`."""
    last = [time.monotonic()]

    def lap(name: str) -> None:
        now = time.monotonic()
        phases[name] = round(now - last[0], 2)
        last[0] = now

    return lap


def _progress(app: Any) -> Any:
    """Progress lines on a terminal (or with -v); elsewhere a failed rehearsal is its one
    error line and a finished one its report."""
    import sys

    if sys.stderr.isatty() or getattr(app, "verbose", False):
        return app.info
    return lambda _line: None


def _update_args(req: Request) -> list[str]:
    args = [a for a in req.update_args if a not in ("-y", "--yes")]
    bad = [a for a in args if a.split("=", 1)[0] in REFUSED]
    if bad:
        raise UsageError(f"{bad[0]} is not an option of rehearse (it plans, then runs the plan "
                         "with -y on the private copy)")
    if req.plan_file and args:
        raise UsageError("--plan FILE cannot be combined with changes, --all or -f")
    if not req.plan_file and not args:
        raise UsageError("what to rehearse: SVC..., --all, -f SPEC (update's arguments) or "
                         "--plan FILE")
    return args


def _work_dir(keep: str | None) -> Path:
    if not keep:
        return Path(tempfile.mkdtemp(prefix="sdcadm-rehearse-", dir=_memory_dir()))
    path = Path(keep).resolve()
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"--keep-dir {keep}: not empty (a rehearsal needs a fresh directory)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _memory_dir() -> str | None:
    """A memory-backed directory when there is one (Linux's /dev/shm): the private copy's
    database and journal are written and fsynced thousands of times, and worth nothing
    once the report is made. None: the usual temporary directory (tmpfs on SmartOS)."""
    import os

    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _live_plan(args: list[str], plan_file: str | None, live_conf: str | None, work: Path,
               log: Path) -> tuple[dict[str, Any], Path, str]:
    """The plan as the live datacenter gives it: `update ... --plan-out`, or a saved plan
    that `update --plan FILE -n` accepts (not tampered with, no drift)."""
    path = work / "plan.json"
    if plan_file:
        done = processes.sdcadm(["update", "--plan", plan_file, "-n"], config=live_conf,
                                request_log=log, output=work / "live-plan")
        command = f"sdcadm update --plan {plan_file}"
        if done.ok:
            shutil.copyfile(plan_file, path)
    else:
        done = processes.sdcadm(["update", *args, "--plan-out", str(path)], config=live_conf,
                                request_log=log, output=work / "live-plan")
        command = "sdcadm update " + shlex.join(args)
    if not done.ok:
        raise done.error("sdcadm update")
    try:
        return json.loads(path.read_text()), path, command
    except (OSError, ValueError) as e:
        raise UsageError(f"nothing to rehearse: `{command}` made no plan") from e


def _live_samples(app: Any, live_conf: str | None, work: Path, log: Path) -> dict[str, list[float]]:
    """Real step durations of past runs, from the live history (none when unreadable)."""
    from sdcadm.rehearse.timeline import history_samples

    done = processes.sdcadm(["history", "-j"], config=live_conf, request_log=log,
                            output=work / "live-history")
    try:
        entries = json.loads(done.stdout) if done.ok and done.stdout.strip() else []
    except ValueError:
        entries = []
    if not done.ok:
        app.warn("warning: could not read the live history; predicting from the simulator's "
                 "latencies")
    return history_samples(e for e in entries if isinstance(e, dict))


def _private_config(sim_conf: Path, live: "Config", work: Path) -> Path:
    conf = json.loads(sim_conf.read_text())
    raw = dict(live.raw or {})
    conf.update({k: raw[k] for k in CARRIED_KEYS if k in raw})
    for section, key in (("ssh", "concurrency"), ("health", "pingConcurrency")):
        value = (raw.get(section) or {}).get(key)
        if value is not None:
            conf.setdefault(section, {})[key] = value
    path = work / "private.conf"
    path.write_text(json.dumps(conf, indent=2) + "\n")
    return path


def _private_state(conf: Path, channel: str | None) -> "DatacenterState":
    from sdcadm.clients import Clients
    from sdcadm.config import load_config
    from sdcadm.gather import gather

    config = load_config(conf)
    clients = Clients(config)
    try:
        return gather(clients, config, channel=channel)
    finally:
        clients.close()


def _for_private(plan_doc: dict[str, Any], plan_path: Path, state: "DatacenterState",
                 work: Path) -> tuple[dict[str, Any], Path]:
    """The plan file the private run executes, and how faithful the copy is. A copy that
    differs (facts a scenario cannot hold: agent uuids, image states) gets the same plan
    rebased on its own fingerprint, and the report names the differences."""
    if state.fingerprint() == plan_doc.get("fingerprint"):
        return {"same": True, "differences": []}, plan_path
    from sdcadm.planner.drift import drift_lines

    aliases = {i.instance: i.alias for i in state.instances if i.alias}
    hostnames = {s.uuid: s.hostname for s in state.servers.values()}
    lines = drift_lines(plan_doc.get("fingerprint_facts") or {}, state.fingerprint_facts(),
                        aliases, hostnames)
    doc = dict(plan_doc, fingerprint=state.fingerprint(),
               fingerprint_facts=state.fingerprint_facts())
    if "digest" in doc:
        from sdcadm import plan as planlib

        doc["digest"] = planlib.digest(doc)  # type: ignore[attr-defined]
    path = work / "plan-private.json"
    path.write_text(json.dumps(doc, indent=4) + "\n")
    return {"same": False, "differences": lines}, path


def _run_private(say: Any, plan: Path, conf: Path, work: Path,
                 log: Path) -> dict[str, Any] | None:
    """Run the plan there; after a failed step, `update --resume` until it converges (at
    most RESUME_ATTEMPTS times). None when the first run succeeded."""
    first = processes.sdcadm(["update", "--plan", str(plan), "-y"], config=str(conf),
                             request_log=log, cwd=work, output=work / "run-1")
    if first.ok:
        return None
    var_dir = Path(json.loads(conf.read_text())["varDir"])
    if not (var_dir / "updates").is_dir() or not any((var_dir / "updates").iterdir()):
        e = first.error("sdcadm update")
        raise ForwardedError(e.code, f"the private copy refused the plan: {e.message}",
                             e.exit_status)
    say("A step failed: running `sdcadm update --resume` on the private copy")
    error: str | None = first.error("sdcadm update").message.splitlines()[0]
    for n in range(1, RESUME_ATTEMPTS + 1):
        again = processes.sdcadm(["update", "--resume", "-y"], config=str(conf),
                                 request_log=log, cwd=work, output=work / f"resume-{n}")
        if again.ok:
            return {"attempts": n, "converged": True, "error": None}
        error = again.error("sdcadm update --resume").message.splitlines()[0]
    return {"attempts": RESUME_ATTEMPTS, "converged": False, "error": error}


def _journal(var_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The private run's plan document and events (its resumes append to the same
    journal)."""
    from sdcadm.executor.journal import read_events, update_dirs

    dirs = update_dirs(var_dir)
    if not dirs:
        return {}, []
    doc = json.loads((dirs[0] / "plan.json").read_text())
    return doc, read_events(dirs[0] / "events.jsonl")


def _facts(sim: PrivateSim, state: "DatacenterState", doc: dict[str, Any],
           events: list[dict[str, Any]], samples: dict[str, list[float]], speed: float,
           resume: dict[str, Any] | None) -> Any:
    from sdcadm.rehearse.report import Facts
    from sdcadm.rehearse.timeline import Basis

    members: dict[str, list[tuple[str, str | None]]] = {}
    for i in state.instances:
        members.setdefault(i.service, []).append((i.instance, i.server))
    streamed = (doc.get("run_options") or {}).get("download_via") == "sdcadm"
    basis = Basis(latencies=sim.latencies(), time_scale=1.0 / speed, samples=samples,
                  streamed_downloads=streamed)
    return Facts(steps=list(doc.get("steps") or []), events=events, members=members, basis=basis,
                 faults=sim.faults(), quorum_losses=sim.quorum_losses(), resume=resume)


def _live_urls(config: "Config") -> list[str]:
    return [u for u in (config.sapi_url, config.imgapi_url, config.vmapi_url, config.cnapi_url,
                        config.wfapi_url, config.updates_url) if u]


def _live_ssh(config: "Config", state: "DatacenterState") -> set[str]:
    """Where SSH reaches the live servers (HOST:PORT, the live addressMap applied); the
    copy's servers have the live ones' admin addresses."""
    from sdcadm.clients.remote import SshSettings, map_address

    port = SshSettings.from_config(config).port
    amap = dict(getattr(config, "address_map", None) or {})
    return {"%s:%d" % map_address(amap, s.admin_ip, port) for s in state.servers.values()
            if s.admin_ip}


def _dc_summary(state: "DatacenterState") -> dict[str, Any]:
    return {"name": state.app.metadata.get("datacenter_name"), "servers": len(state.servers),
            "vms": sum(1 for i in state.instances if i.type == "vm"),
            "agents": sum(1 for i in state.instances if i.type == "agent")}
