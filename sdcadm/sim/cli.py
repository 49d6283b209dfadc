"""`sdcadm-sim`: start, stop, inspect and reset the simulated datacenter."""
from __future__ import annotations

import json
import os
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
    out = {}
    for v in values:
        name, sep, secs = v.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(secs)
        except ValueError:
            raise click.BadParameter(f"expected NAME=SECONDS, got {v!r}", param_hint="--latency")
    return out


def _parse_faults(values: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for v in values:
        try:
            spec = json.loads(v)
        except ValueError:
            raise click.BadParameter(f"not JSON: {v!r}", param_hint="--fault")
        out.extend(spec if isinstance(spec, list) else [spec])
    return out


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
        return requests.get(url + "/ping", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _all_answer(urls: dict[str, Any]) -> bool:
    return all(_answers(urls.get(name)) for name in ENDPOINTS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """A simulated Triton datacenter for sdcadm: SAPI, IMGAPI, the updates server, VMAPI,
    CNAPI and Workflow on loopback ports."""


@cli.command()
@click.option("--scenario", default="small", show_default=True,
              help="lab, small, large, or a YAML path.")
@_state_dir_option
@click.option("--time-scale", type=float, default=1.0, show_default=True,
              help="Multiply every operation latency (0.001 makes a 30 s reprovision take 30 ms).")
@click.option("--latency", "latency", multiple=True, metavar="NAME=SECONDS",
              help="Override one operation latency, e.g. install-agent=2.0 (repeatable).")
@click.option("--fault", "fault", multiple=True, metavar="JSON",
              help="A fault to start with (repeatable).")
@click.option("--port-base", type=int, default=None,
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
    from sdcadm.sim.server import Simulator

    sim = Simulator(scenario, state_dir, time_scale=time_scale, latencies=latencies, faults=faults,
                    port_base=port_base, parent_pid=parent_pid)
    try:
        sim.prepare()
    except FileNotFoundError as e:
        raise click.ClickException(str(e))
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

    asyncio.run(main())


def _detach(scenario: str, state_dir: Path, time_scale: float, latency: tuple[str, ...],
            fault: tuple[str, ...], port_base: int | None) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
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
            tail = (state_dir / "sim.log").read_text(errors="replace")[-2000:]
            raise click.ClickException(
                f"the simulator exited with status {proc.returncode}:\n{tail}")
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
    rows = [{"service": name, "url": urls.get(name), "up": bool(pid) and _answers(urls.get(name))}
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


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="sdcadm-sim")


if __name__ == "__main__":
    main()
