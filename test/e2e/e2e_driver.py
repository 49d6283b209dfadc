"""Run an update through the Python API in its own process, as `sdcadm update` would.

    python test/e2e/e2e_driver.py update [--download-via sdcadm] [--concurrency N] [SVC...]
    python test/e2e/e2e_driver.py resume

Reads SDCADM_CONFIG. Used by the end-to-end tests that kill or interrupt a run, so they
do not depend on how the `update` command spells its options.
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from sdcadm.cli.app import App
    from sdcadm.errors import SdcAdmError

    app = App()
    cmd, rest = argv[0], argv[1:]
    options = {"yes": True, "download_via": "imgapi", "concurrency": None}
    services: list[str] = []
    while rest:
        a = rest.pop(0)
        if a == "--download-via":
            options["download_via"] = rest.pop(0)
        elif a == "--concurrency":
            options["concurrency"] = int(rest.pop(0))
        else:
            services.append(a)
    try:
        if cmd == "resume":
            from sdcadm.executor.run import resume

            resume(app, options)
            return 0
        plan, steps = make_plan(app, services, options)
        if not steps:
            print("Up-to-date.")
            return 0
        from sdcadm.executor.run import execute

        execute(app, plan, steps, command="update", options=options)
        return 0
    except SdcAdmError as e:
        print(f"sdcadm update: error ({e.code}): {e.message}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def make_plan(app, services, options):
    from sdcadm.gather import gather
    from sdcadm.plan import ChangeRequest
    from sdcadm.planner import PlanOptions, plan
    from sdcadm.procedures import expand

    state = gather(app, app.config)
    requests = [ChangeRequest(type="update-service", service=s, source={"service": s})
                for s in services]
    opts = PlanOptions(all=not services, concurrency=options.get("concurrency"),
                       force_rabbitmq=True, force_data_path=True)
    topology = None
    try:
        from sdcadm.planner.topology import read_topology  # type: ignore[import-not-found]

        topology = read_topology(app.clients, state, ["manatee", "binder"])
    except Exception:
        topology = None
    p = plan(state, requests, opts, app.config, topology=topology)
    return p, expand(p)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
