"""`sdcadm rehearse`: run an update on a private simulated copy of the live datacenter first."""
from __future__ import annotations

from typing import Any

import click


@click.command("rehearse", short_help="Rehearse an update on a private copy of the datacenter.",
               context_settings={"ignore_unknown_options": True})
@click.argument("update_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[UPDATE ARGS | -f SPEC]")
@click.option("--plan", "plan_file", metavar="FILE",
              help="Rehearse a plan saved with `update --plan-out`.")
@click.option("--faults", "faults", multiple=True, metavar="FAULTS",
              help="Make things fail: reprovision:5%, reprovision:ALIAS[:always], "
                   "install-agent:HOST, reboot-hang:HOST, unhealthy:ALIAS, api-error:API[:N%], "
                   "or a simulator fault as JSON (comma-separated, repeatable).")
@click.option("--speed", type=click.FloatRange(min=1.0), default=1000.0, show_default=True,
              metavar="N",
              help="How much faster than real time the private copy runs.")
@click.option("-j", "--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--keep-dir", metavar="DIR",
              help="Keep the snapshot, the private simulator's state, journals and request "
                   "logs in DIR (new or empty).")
@click.pass_obj
def rehearse(app: Any, update_args: tuple[str, ...], plan_file: str | None,
             faults: tuple[str, ...], speed: float, as_json: bool, keep_dir: str | None) -> None:
    """Rehearse an update on a private simulated copy of the live datacenter.

    Takes `sdcadm update`'s arguments (or `--plan FILE`), snapshots the datacenter, starts a
    private simulator from the snapshot on loopback and runs the update there with -y at an
    accelerated clock (`--resume` after a failed step). Reports the predicted wall time per
    wave and in total, how long each service had fewer healthy instances than usual, every
    quorum loss and every failed step with its cause. The live datacenter only receives
    reads; the last line says so, from the request log. The report is kept beside the
    history, and `update --plan` of a rehearsed plan mentions it.

    \b
    sdcadm rehearse --all
    sdcadm rehearse vmapi cnapi --faults reprovision:vmapi0
    sdcadm rehearse -f procedures/all-but-data-path.yaml --faults reprovision:5%
    sdcadm rehearse --plan plan.json -j
    """
    import json

    from sdcadm.rehearse import LiveWriteError, RehearsalFailed
    from sdcadm.rehearse.record import summary
    from sdcadm.rehearse.report import render
    from sdcadm.rehearse.run import Request
    from sdcadm.rehearse.run import rehearse as run_rehearsal

    req = Request(update_args=update_args, plan_file=plan_file, faults=faults, speed=speed,
                  keep_dir=keep_dir)
    report = run_rehearsal(app, req)
    if report is None:
        app.out("Nothing to rehearse: up-to-date.")
        return
    writes = report["live"]["writes"]
    last = last_line(report["live"])
    if as_json:
        app.out(json.dumps({**report, "last_line": last}, indent=2))
    else:
        for line in render(report):
            app.out(line)
        app.out("")
        app.out(f"Report: {report.get('path')} (history entry {report['uuid']})")
        app.out(last)
    if writes:
        raise LiveWriteError(last)
    if report["status"] != "ok":
        raise RehearsalFailed(f"the rehearsed update did not complete cleanly: {summary(report)}")


def last_line(live: dict[str, Any]) -> str:
    """What the live datacenter received, from the request log: HTTP requests and the
    commands run on its servers over SSH."""
    writes = live["writes"]
    if writes:
        return (f"The live datacenter received {len(writes)} request(s) other than reads: "
                f"{writes[0]}")
    n = live.get("ssh_commands") or 0
    ssh = f", and {n} read-only SSH command{'' if n == 1 else 's'}" if n else ""
    return (f"The live datacenter received only reads: {live['requests']} requests, "
            f"{_methods(live['by_method'])}{ssh}.")


def _methods(by_method: dict[str, int]) -> str:
    if set(by_method) <= {"GET"}:
        return "all GET"
    return ", ".join(f"{n} {m}" for m, n in sorted(by_method.items()))
