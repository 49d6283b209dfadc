"""The up-check after a reprovision is check-health's verdict: SMF, then the service's ping."""
from __future__ import annotations

import shutil

import requests
from e2e_runs import cli, var_dir


def test_an_instance_whose_ping_fails_stops_the_update_and_resume_finishes_it(sim_factory):
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    (wf,) = requests.get(sim.urls["vmapi"] + "/vms", params={"alias": "workflow0"},
                         timeout=10).json()
    fault = sim.add_fault({"type": "ping-fail", "target": wf["uuid"]})
    r = cli(sim, "update", "workflow", "-y")
    assert r.returncode == 2, r.stderr
    ip = wf["nics"][0]["ip"]
    assert (f"sdcadm update: error (InstanceIsDown): Timeout (5m) waiting for workflow instance "
            f"{wf['uuid']} to come up\n    last seen: ping check to {ip} failed with HTTP code "
            "500") in r.stderr
    sim.remove_fault(fault)
    again = cli(sim, "update", "--resume", "-y")
    assert again.returncode == 0, again.stderr
    assert "Updated successfully" in again.stdout


def test_a_service_in_maintenance_fails_at_once(sim_factory):
    sim = sim_factory("small", 0.02)  # a 5-minute wait would take 6 s: failing must be quick
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    (wf,) = requests.get(sim.urls["vmapi"] + "/vms", params={"alias": "workflow0"},
                         timeout=10).json()
    sim.add_fault({"type": "unhealthy", "target": wf["uuid"]})
    r = cli(sim, "update", "workflow", "-y")
    assert r.returncode == 2
    assert (f"error (InstanceIsDown): workflow instance {wf['uuid']} is not healthy: SMF "
            "service svc:/smartdc/application/workflow:default is in maintenance") in r.stderr
