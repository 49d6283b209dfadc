"""HA rolls leave and rejoin their group: moray and binder instances go out of DNS before
they are reprovisioned and are back (binder: in its ZooKeeper ensemble too) before the next
one leaves."""
from __future__ import annotations

import shutil

from e2e_runs import cli, events, run_dirs, var_dir


def _vm(sim, alias):
    import requests

    (vm,) = requests.get(sim.urls["vmapi"] + "/vms", params={"alias": alias}, timeout=10).json()
    return vm


def test_a_moray_roll_takes_each_instance_out_of_dns_and_back(sim_factory) -> None:
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    dry = cli(sim, "update", "moray", "-n")
    assert "each instance leaves DNS before it is reprovisioned and is back in DNS before " \
           "the next one leaves" in " ".join(dry.stdout.split())
    r = cli(sim, "update", "moray", "-y")
    assert r.returncode == 0, r.stderr
    m0, m2 = _vm(sim, "moray0"), _vm(sim, "moray2")
    for vm in (m2, m0):  # the headnode's instance last
        assert f"Disabling registrar on VM {vm['uuid']}" in r.stderr
        assert f"Wait until VM {vm['uuid']} is out of DNS" in r.stderr
        assert f"Waiting until {vm['uuid']} instance is in DNS" in r.stderr
    disabled = [m["path"] for m in sim.mutations() if m["service"] == "ssh"]
    assert disabled == [f"cn02: svcadm -z {m2['uuid']} disable -s registrar",
                        f"headnode: svcadm -z {m0['uuid']} disable -s registrar"]
    order = [(e["step"].split(":")[1], e["step"].split(":")[2]) for e in
             events(run_dirs(sim)[-1]) if e.get("event") == "step-start"
             and e["step"].split(":")[2] in (m0["uuid"], m2["uuid"])]
    assert order == [("dns-leave", m2["uuid"]), ("reprovision", m2["uuid"]),
                     ("wait-instance", m2["uuid"]), ("dns-join", m2["uuid"]),
                     ("dns-leave", m0["uuid"]), ("reprovision", m0["uuid"]),
                     ("wait-instance", m0["uuid"]), ("dns-join", m0["uuid"])]


def test_an_instance_that_does_not_come_back_into_dns_stops_the_roll(sim_factory) -> None:
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    m2, m0 = _vm(sim, "moray2"), _vm(sim, "moray0")
    fault = sim.add_fault({"type": "dns-missing", "target": m2["uuid"]})
    r = cli(sim, "update", "moray", "-y")
    assert r.returncode == 1
    assert (f"sdcadm update: error (InternalError): New moray2 ({m2['uuid']}) zone's IP "
            f"{m2['nics'][0]['ip']} did not enter DNS (waited 5m)") in r.stderr
    # moray0 never left: one instance out at a time.
    assert not any(m0["uuid"] in m["path"] for m in sim.mutations() if m["service"] == "ssh")
    sim.remove_fault(fault)
    again = cli(sim, "update", "--resume", "-y")
    assert again.returncode == 0, again.stderr
    assert f"Disabling registrar on VM {m0['uuid']}" in again.stderr
    ends = {e["step"]: e["outcome"] for e in events(run_dirs(sim)[-1])
            if e.get("event") == "step-end"}
    assert ends[next(k for k in ends if k.endswith(f"dns-join:{m0['uuid']}"))] in (
        "done", "verified")


def test_a_binder_roll_rejoins_zookeeper_before_the_next(sim_factory) -> None:
    sim = sim_factory("small", 0.002)
    sim.reset()
    shutil.rmtree(var_dir(sim), ignore_errors=True)
    r = cli(sim, "update", "binder", "--force-same-image", "-y")
    assert r.returncode == 0, r.stderr
    for alias in ("binder0", "binder1", "binder2"):
        vm = _vm(sim, alias)
        assert f"Waiting for binder instance {vm['uuid']} to rejoin the ZooKeeper cluster" \
            in r.stderr
        assert f"Waiting until {vm['uuid']} instance is in DNS" in r.stderr
    assert sim.quorum_losses() == []
