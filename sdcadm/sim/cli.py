"""`sdcadm-sim`: start, stop, inspect and reset the simulated datacenter."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from sdcadm.sim import ENDPOINTS

DEFAULT_STATE_DIR = ".sim"


def _state_dir_option(f):
    return click.option("--state-dir", "state_dir", default=DEFAULT_STATE_DIR, show_default=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Directory holding the state database, sim.json and sdcadm.conf.")(f)


def _parse_latency(values: tuple[str, ...]) -> dict[str, float]:
    from sdcadm.sim.scenario import latency_problem

    out = {}
    for v in values:
        name, sep, secs = v.partition("=")
        try:
            if not sep:
                raise ValueError
            seconds = float(secs)
        except ValueError:
            raise click.BadParameter(f"expected NAME=SECONDS, got {v!r}",
                                     param_hint="--latency") from None
        problem = latency_problem(name.strip(), seconds)
        if problem:
            raise click.BadParameter(problem, param_hint="--latency")
        out[name.strip()] = seconds
    return out


def _parse_faults(values: tuple[str, ...]) -> list[dict[str, Any]]:
    from sdcadm.sim.world import FaultError, validate_fault

    out = []
    for v in values:
        try:
            spec = json.loads(v)
        except ValueError as e:
            raise click.BadParameter(f"not JSON ({e}): {v!r}", param_hint="--fault") from None
        for f in spec if isinstance(spec, list) else [spec]:
            try:
                out.append(validate_fault(f))
            except FaultError as e:
                raise click.BadParameter(f"{e}: {json.dumps(f)}", param_hint="--fault") from None
    return out


def _time_scale(ctx: click.Context, param: click.Parameter, value: float) -> float:
    import math

    if not math.isfinite(value) or value <= 0:
        raise click.BadParameter(f"must be a number above 0 (0.001 makes a 30 s reprovision "
                                 f"take 30 ms), not {value}")
    return value


def _port_base(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    # The APIs take BASE..BASE+6, one port each (the order of ENDPOINTS).
    top = 65535 - (len(ENDPOINTS) - 1)
    if value is not None and not 1 <= value <= top:
        raise click.BadParameter(f"needs {len(ENDPOINTS)} ports from it: 1..{top}, not {value}")
    return value


def _scenario(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Load and check the scenario here, so that a bad one is one line, before anything
    starts (a detached simulator would only leave it in its log)."""
    from sdcadm.sim.scenario import ScenarioError, load_scenario

    try:
        load_scenario(value)
    except ScenarioError as e:
        raise click.BadParameter(str(e)) from None
    return value


def _read_pid(state_dir: Path) -> int | None:
    try:
        pid = int((state_dir / "sim.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def _urls(state_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((state_dir / "sim.json").read_text())
    except (OSError, ValueError):
        return {}


def _answers(url: str | None) -> bool:
    import requests

    if not url:
        return False
    try:
        from sdcadm.sim.web import PROBE_HEADER

        return requests.get(url + "/ping", headers={PROBE_HEADER: "1"},
                            timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _all_answer(urls: dict[str, Any]) -> bool:
    return all(_answers(urls.get(name)) for name in ENDPOINTS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """A simulated Triton datacenter for sdcadm: SAPI, IMGAPI, the updates server, VMAPI,
    CNAPI and Workflow on loopback ports."""


@cli.command()
@click.option("--scenario", default="small", show_default=True, callback=_scenario,
              help="lab, small, large, or a YAML path.")
@_state_dir_option
@click.option("--time-scale", type=float, default=1.0, show_default=True, callback=_time_scale,
              help="Multiply every operation latency (0.001 makes a 30 s reprovision take 30 ms).")
@click.option("--latency", "latency", multiple=True, metavar="NAME=SECONDS",
              help="Override one operation latency, e.g. install-agent=2.0 (repeatable).")
@click.option("--fault", "fault", multiple=True, metavar="JSON",
              help="A fault to start with (repeatable).")
@click.option("--port-base", type=int, default=None, callback=_port_base,
              help="Use ports BASE..BASE+6 instead of free ones.")
@click.option("--detach", is_flag=True,
              help="Return once every service answers; keep running in the background.")
@click.option("--parent-pid", type=int, default=None, hidden=True)
def up(scenario: str, state_dir: Path, time_scale: float, latency: tuple[str, ...],
       fault: tuple[str, ...], port_base: int | None, detach: bool, parent_pid: int | None) -> None:
    """Start the simulator and write STATE_DIR/sdcadm.conf and STATE_DIR/sim.json."""
    latencies = _parse_latency(latency)
    faults = _parse_faults(fault)
    state_dir = state_dir.resolve()
    running = _read_pid(state_dir)
    if running:
        raise click.ClickException(
            f"a simulator is already running from {state_dir} (pid {running})")
    if detach:
        _detach(scenario, state_dir, time_scale, latency, fault, port_base)
        return
    from sdcadm.sim.scenario import ScenarioError
    from sdcadm.sim.server import Simulator

    sim = Simulator(scenario, state_dir, time_scale=time_scale, latencies=latencies, faults=faults,
                    port_base=port_base, parent_pid=parent_pid)
    try:
        sim.prepare()
    except ScenarioError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot prepare {state_dir}: {e.strerror or e}") from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        # What validate_scenario does not catch yet: still one line, naming the scenario.
        raise click.UsageError(f"scenario {scenario} cannot be built: {type(e).__name__}: "
                               f"{e}") from None
    import asyncio

    async def announce() -> None:
        while not (state_dir / "sim.json").exists() or _urls(state_dir).get("pid") != os.getpid():
            await asyncio.sleep(0.01)
        click.echo(f"export SDCADM_CONFIG={state_dir / 'sdcadm.conf'}")
        sys.stdout.flush()

    async def main() -> None:
        t = asyncio.create_task(announce())
        await sim.serve()
        t.cancel()

    try:
        asyncio.run(main())
    except OSError as e:  # a port taken or refused (--port-base), a full disk, ...
        ports = f" on ports {port_base}..{port_base + len(ENDPOINTS) - 1}" if port_base else ""
        raise click.ClickException(f"cannot serve{ports}: {e.strerror or e}") from None


def _detach(scenario: str, state_dir: Path, time_scale: float, latency: tuple[str, ...],
            fault: tuple[str, ...], port_base: int | None) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.ClickException(f"cannot create {state_dir}: {e.strerror or e}") from None
    cmd = [sys.executable, "-m", "sdcadm.sim.cli", "up", "--scenario", scenario, "--state-dir",
           str(state_dir), "--time-scale", str(time_scale)]
    for v in latency:
        cmd += ["--latency", v]
    for v in fault:
        cmd += ["--fault", v]
    if port_base:
        cmd += ["--port-base", str(port_base)]
    with open(state_dir / "sim.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = (state_dir / "sim.log").read_text(errors="replace").strip().splitlines()
            last = said[-1] if said else "no output"
            # The child's own one-line error, without its `sdcadm-sim up: error: `.
            last = re.sub(r"^sdcadm-sim[\w -]*: error: ", "", last)
            raise click.ClickException(f"the simulator exited with status {proc.returncode}: "
                                       f"{last} (see {state_dir / 'sim.log'})")
        urls = _urls(state_dir)
        if urls.get("pid") == proc.pid and _all_answer(urls):
            click.echo(f"sdcadm-sim: {scenario} running (pid {proc.pid}); admin at {urls['admin']}",
                       err=True)
            click.echo(f"export SDCADM_CONFIG={state_dir / 'sdcadm.conf'}")
            return
        time.sleep(0.05)
    proc.terminate()
    raise click.ClickException("the simulator did not become ready in time")


@cli.command()
@_state_dir_option
def down(state_dir: Path) -> None:
    """Stop the simulator running from STATE_DIR (its state stays for the next `up`)."""
    pid = _read_pid(state_dir)
    if pid is None:
        click.echo("sdcadm-sim: not running", err=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    (state_dir / "sim.pid").unlink(missing_ok=True)
    click.echo(f"sdcadm-sim: stopped (pid {pid})", err=True)


@cli.command()
@_state_dir_option
@click.option("-j", "--json", "as_json", is_flag=True, help="JSON output.")
def status(state_dir: Path, as_json: bool) -> None:
    """Show whether the simulator runs and where each service listens."""
    pid = _read_pid(state_dir)
    urls = _urls(state_dir)
    rows: list[dict[str, Any]] = [
        {"service": name, "url": urls.get(name), "up": bool(pid) and _answers(urls.get(name))}
        for name in ENDPOINTS]
    if as_json:
        click.echo(json.dumps({"pid": pid, "scenario": urls.get("scenario"), "services": rows},
                              indent=2))
    else:
        click.echo(f"pid: {pid or '-'}  scenario: {urls.get('scenario', '-')}")
        width = max(len(r["service"]) for r in rows)
        for r in rows:
            state = "up" if r["up"] else "down"
            click.echo(f"{r['service'].ljust(width)}  {(r['url'] or '-').ljust(24)}  {state}")
    if not pid or not all(r["up"] for r in rows):
        sys.exit(1)


@cli.command()
@_state_dir_option
def reset(state_dir: Path) -> None:
    """Put the running simulator back to its scenario (state, faults, mutation log)."""
    import requests

    urls = _urls(state_dir)
    if not _read_pid(state_dir) or "admin" not in urls:
        raise click.ClickException(f"no simulator running from {state_dir}")
    resp = requests.post(urls["admin"] + "/_sim/reset", timeout=30)
    resp.raise_for_status()
    click.echo(f"sdcadm-sim: reset ({resp.json().get('ms')} ms)", err=True)


from sdcadm.sim.snapshot import snapshot  # noqa: E402  (the command lives with its module)

cli.add_command(snapshot)


def _command_path(args: list[str]) -> str:
    """`sdcadm-sim up` for the error line, from the arguments."""
    word = next((a for a in args if not a.startswith("-")), None)
    return f"sdcadm-sim {word}" if word in cli.commands else "sdcadm-sim"


def main(argv: list[str] | None = None) -> None:
    """Run a command; every error is one line `sdcadm-sim <command>: error: <message>`,
    exit 2 for bad options and scenarios, 1 for what went wrong while doing it."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = cli.main(args=args, prog_name="sdcadm-sim", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        ctx = getattr(e, "ctx", None)  # usage errors know their command
        where = ctx.command_path if ctx is not None else _command_path(args)
        click.echo(f"{where}: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
