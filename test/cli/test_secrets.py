"""Secrets in SAPI metadata stay out of the journal, history and request log of an update;
what sdcadm writes under its var directory is its owner's only, whatever the umask."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

PASSWORD = "hunter2-in-metadata"
TOKEN = "tok-6d1e2f-in-metadata"
SITE = "site-credential-in-metadata"
PEM = ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIPem-body-in-metadata\n"
       "-----END EC PRIVATE KEY-----\n")
SECRETS = (PASSWORD, TOKEN, SITE, "MHcCAQEEIPem-body-in-metadata")


def _service(sim: Any, name: str) -> dict[str, Any]:
    found = requests.get(f"{sim.urls['sapi']}/services", params={"name": name},
                         timeout=10).json()
    assert len(found) == 1
    return found[0]


@pytest.fixture
def open_umask():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_secrets_in_metadata_stay_out_of_journal_history_and_log(
        sdcadm: Any, sim: Any, tmp_path: Path, open_umask: None) -> None:
    svc = _service(sim, "workflow")
    r = requests.put(f"{sim.urls['sapi']}/services/{svc['uuid']}", timeout=10, json={
        "action": "update", "metadata": {"WORKFLOW_ADMIN_PASSWORD": PASSWORD,
                                         "moray_api_token": TOKEN, "site_credential": SITE,
                                         "signing_material": PEM}})
    assert r.status_code == 200, r.text
    assert _service(sim, "workflow")["metadata"]["site_credential"] == SITE
    var = tmp_path / "var"
    conf = json.loads(Path(sim.config_path).read_text())
    conf.update(varDir=str(var), redact={"keys": ["site_credential"]})
    conf_path = tmp_path / "sdcadm.conf"
    conf_path.write_text(json.dumps(conf))
    log = tmp_path / "requests.log"
    # The run's end cannot reach SAPI: its history entry is kept in a local file too.
    sim.add_fault({"type": "error", "service": "sapi", "method": "PUT", "path": "^/history/",
                   "status": 503})

    r = sdcadm("update", "workflow", "-y", "--no-verify",
               env={"SDCADM_CONFIG": str(conf_path), "SDCADM_REQUEST_LOG": str(log)})

    assert r.exit_code == 0, r.err
    assert "Updated successfully" in r.out
    [work] = list((var / "updates").iterdir())
    plan_text = (work / "plan.json").read_text()
    events_text = (work / "events.jsonl").read_text()
    [local] = list((var / "history").glob("*.json"))
    run_uuid = json.loads(plan_text)["run_uuid"]
    sapi_entry = requests.get(f"{sim.urls['sapi']}/history/{run_uuid}", timeout=10).json()
    written = {"plan.json": plan_text, "events.jsonl": events_text,
               "local history": local.read_text(), "SAPI history": json.dumps(sapi_entry),
               "request log": log.read_text()}
    for what, text in written.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {what}"
    # The keys are there, their values are not: the metadata was written, redacted.
    for doc in (json.loads(plan_text), sapi_entry, json.loads(local.read_text())):
        [change] = [c for c in doc["changes"] if c["service"]["name"] == "workflow"]
        meta = change["service"]["metadata"]
        assert {k: meta[k] for k in ("WORKFLOW_ADMIN_PASSWORD", "moray_api_token",
                                     "site_credential", "signing_material")} == dict.fromkeys(
            ("WORKFLOW_ADMIN_PASSWORD", "moray_api_token", "site_credential",
             "signing_material"), "[REDACTED]")
        assert meta["SERVICE_NAME"].startswith("workflow.")
    # SAPI itself still has the values: only what sdcadm writes down is redacted.
    assert _service(sim, "workflow")["metadata"]["moray_api_token"] == TOKEN

    # Under umask 000, everything sdcadm made is 0600 (files) and 0700 (directories).
    made = [var, *var.rglob("*")]
    assert {str(p.relative_to(tmp_path)) for p in made} >= {
        "var", "var/updates", f"var/updates/{work.name}", f"var/updates/{work.name}/plan.json",
        f"var/updates/{work.name}/events.jsonl", "var/history", f"var/history/{local.name}",
        "var/sdcadm.lock"}
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in made}
    assert modes == {p: (0o700 if (tmp_path / p).is_dir() else 0o600) for p in modes}
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
