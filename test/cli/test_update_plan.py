"""`sdcadm update` planning against the simulated datacenter: -n, -j, --plan-out/--plan,
spec files, and bad input. Every path that must not change anything is checked against
the simulator's mutation log."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


# -- raw reads of the simulator (plain requests, not sdcadm's clients) ---------------------

def get(sim: Any, service: str, path: str, **params: Any) -> Any:
    version = {"sapi": "~2", "imgapi": "*", "updates": "*"}.get(service)
    r = requests.get(sim.urls[service] + path, params=params, timeout=10,
                     headers={"Accept-Version": version} if version else {})
    r.raise_for_status()
    return r.json()


def sdc_services(sim: Any) -> dict[str, dict[str, Any]]:
    app = get(sim, "sapi", "/applications", name="sdc")[0]
    return {s["name"]: s for s in get(sim, "sapi", "/services", application_uuid=app["uuid"])}


def vms_of(sim: Any, role: str) -> list[dict[str, Any]]:
    vms = get(sim, "vmapi", "/vms", state="active", owner_uuid=ADMIN, limit=1000)
    return sorted((v for v in vms if (v.get("tags") or {}).get("smartdc_role") == role),
                  key=lambda v: v.get("alias") or "")


def catalog(sim: Any, name: str) -> list[dict[str, Any]]:
    """Updates-server images of `name` in the default channel, oldest first."""
    imgs = get(sim, "updates", "/images", name=name, channel="dev", limit=1000)
    return sorted(imgs, key=lambda i: i["published_at"])


def error_line(r: Any) -> str:
    lines = [ln for ln in r.err.splitlines() if ln.startswith("sdcadm update: error")]
    assert len(lines) == 1, r.err
    return lines[0]


# -- dry run and JSON ----------------------------------------------------------------------

def test_dry_run_all_shows_the_breakdown_and_changes_nothing(sim, sdcadm) -> None:
    r = sdcadm("update", "--all", "-n")
    assert r.exit_code == 0, r.err
    out = r.out.splitlines()
    assert out[0] == "" and out[1] == "This update will make the following changes:"
    assert out[-1] == "Dry run: nothing was changed."
    assert "Updated successfully" not in r.out + r.err
    assert 'update "manatee" service (3 instances) to image' in r.out
    assert "Using channel dev" in r.err and "Finding candidate update images for" in r.err
    assert sim.mutations() == []


def test_json_plan_has_changes_steps_and_fingerprint(sim, sdcadm) -> None:
    r = sdcadm("update", "--all", "-j")
    assert r.exit_code == 0, r.err
    doc = json.loads(r.out)
    assert doc["fingerprint"].startswith("sha256:")
    assert {c["service"]["name"] for c in doc["changes"]} >= {"manatee", "moray", "cn-agent"}
    actions = [s["action"] for s in doc["steps"]]
    assert actions[0] == "import-image" and "install-agent" in actions
    assert actions.index("check-shard") < actions.index("install-agent")
    assert sim.mutations() == []


def test_up_to_date_service_and_just_images(sim, sdcadm) -> None:
    # binder runs the newest nameservice image in the small datacenter.
    binders = vms_of(sim, "binder")
    newest = catalog(sim, "mantav2-nameservice")[-1]["uuid"]
    assert {v["image_uuid"] for v in binders} == {newest}
    r = sdcadm("update", "binder")
    assert (r.exit_code, r.out) == (0, "Up-to-date.\n")
    r = sdcadm("update", "-I", "binder")
    assert (r.exit_code, r.out) == (0, "Up-to-date (all images are imported).\n")
    assert sim.mutations() == []


def test_no_terminal_and_no_yes_exits_2_asking_for_yes(sim, sdcadm, monkeypatch) -> None:
    monkeypatch.setattr("os.isatty", lambda fd: False)
    r = sdcadm("update", "manatee")
    assert r.exit_code == 2
    assert "-y" in error_line(r)
    assert sim.mutations() == []


def test_answer_no_aborts(sim, sdcadm, monkeypatch) -> None:
    from sdcadm.cli.app import App

    monkeypatch.setattr(App, "confirm", lambda self, *a, **k: False)
    r = sdcadm("update", "manatee")
    assert r.exit_code == 0
    assert r.out.endswith("\nAborting update\n")
    assert sim.mutations() == []


def test_no_args_on_a_terminal_needs_all(sim, sdcadm, monkeypatch) -> None:
    import sys

    real = sys.stdin
    monkeypatch.setattr("sdcadm.cli.update.sys.stdin", type("T", (), {
        "isatty": staticmethod(lambda: True), "read": real.read})())
    r = sdcadm("update")
    assert r.exit_code == 2
    assert error_line(r) == ("sdcadm update: error (Usage): If updating all instances, --all "
                             "is a required option.")


def test_stdin_spec(sim, sdcadm) -> None:
    r = sdcadm("update", "-n", input='[{"service": "manatee"}]')
    assert r.exit_code == 0, r.err
    assert 'update "manatee" service (3 instances)' in r.out
    assert sim.mutations() == []


# -- saved plans ---------------------------------------------------------------------------

def test_plan_out_then_drift_is_refused(sim, sdcadm, tmp_path) -> None:
    path = tmp_path / "plan.json"
    r = sdcadm("update", "workflow", "manatee", "--plan-out", str(path))
    assert r.exit_code == 0, r.err
    saved = json.loads(path.read_text())
    assert saved["fingerprint"].startswith("sha256:") and saved["steps"]
    assert f"sdcadm update --plan {path}" in r.err
    assert sim.mutations() == []

    # Someone changes the datacenter behind our back: a SAPI PUT of the service image.
    svc = sdc_services(sim)["workflow"]
    other = next(i["uuid"] for i in catalog(sim, "workflow")
                 if i["uuid"] != svc["params"]["image_uuid"])
    requests.put(sim.urls["sapi"] + f"/services/{svc['uuid']}",
                 json={"params": {"image_uuid": other}}, timeout=10).raise_for_status()
    sim.clear_mutations()

    r = sdcadm("update", "--plan", str(path), "-y")
    assert r.exit_code == 2
    assert f"    service workflow: image {svc['params']['image_uuid']} -> {other}" in r.err
    assert error_line(r) == (f"sdcadm update: error (PlanDrift): the plan in {path} no longer "
                             "matches the datacenter (1 changed fact): make a new plan")
    assert sim.mutations() == []


def test_drift_names_the_instance(sim, sdcadm, tmp_path) -> None:
    pytest.importorskip("sdcadm.executor.run")
    path = tmp_path / "plan.json"
    assert sdcadm("update", "-n", "--all", "--plan-out", str(path)).exit_code == 0
    (vm,) = vms_of(sim, "workflow")
    # Another operator updates workflow in between.
    assert sdcadm("update", "-y", "workflow").exit_code == 0
    (after,) = vms_of(sim, "workflow")
    assert after["image_uuid"] != vm["image_uuid"]
    sim.clear_mutations()
    r = sdcadm("update", "--plan", str(path), "-y")
    assert r.exit_code == 2
    lines = r.err.splitlines()
    assert f"    instance {vm['uuid']} ({vm['alias']}): image {vm['image_uuid']} -> " \
           f"{after['image_uuid']}" in lines
    assert f"    local image {after['image_uuid']}: added (state active)" in lines
    assert sim.mutations() == []


def test_saved_plan_executes_when_nothing_changed(sim, sdcadm, tmp_path) -> None:
    pytest.importorskip("sdcadm.executor.run")
    path = tmp_path / "plan.json"
    assert sdcadm("update", "workflow", "--plan-out", str(path)).exit_code == 0
    target = json.loads(path.read_text())["changes"][0]["image"]["uuid"]
    r = sdcadm("update", "--plan", str(path), "-y")
    assert r.exit_code == 0, r.err
    assert "Updated successfully" in r.out + r.err
    assert {v["image_uuid"] for v in vms_of(sim, "workflow")} == {target}


def newest_run(sim) -> str:
    """The run uuid of the newest update run in the simulator's varDir."""
    newest = sorted((sim.state_dir / "var" / "updates").iterdir())[-1]
    return json.loads((newest / "plan.json").read_text())["run_uuid"]


def test_saved_plan_after_its_own_run_stopped_points_to_resume(sim, sdcadm, tmp_path):
    path = tmp_path / "plan.json"
    assert sdcadm("update", "workflow", "cloudapi", "--plan-out", str(path)).exit_code == 0
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert sdcadm("update", "--plan", str(path), "-y").exit_code == 1
    sim.clear_mutations()
    r = sdcadm("update", "--plan", str(path), "-y")
    assert r.exit_code == 2, r.err
    last = r.err.splitlines()[-1]
    assert last.startswith("sdcadm update: error (PlanDrift): the plan in "), last
    assert last.endswith(' and stopped: continue it with "sdcadm update --resume", or make '
                         "a new plan"), last
    assert sim.mutations() == []
    # When the newest stopped run is another one, the advice stays "make a new plan" (also
    # for another plan made from the same datacenter state, so with the same fingerprint).
    # Another run can only start once the stopped one is given up.
    assert sdcadm("update", "--abandon", newest_run(sim)).exit_code == 0
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert sdcadm("update", "moray", "-y").exit_code == 1
    r = sdcadm("update", "--plan", str(path), "-y")
    assert r.exit_code == 2 and r.err.endswith("): make a new plan\n"), r.err
    assert sdcadm("update", "--abandon", newest_run(sim)).exit_code == 0
    sim.reset()
    other = tmp_path / "other.json"
    assert sdcadm("update", "workflow", "--plan-out", str(other)).exit_code == 0
    sim.add_fault({"type": "fail-job", "target": "*", "action": "reprovision", "count": 1})
    assert sdcadm("update", "cloudapi", "-y").exit_code == 1
    r = sdcadm("update", "--plan", str(other), "-y")
    assert r.exit_code == 2 and r.err.endswith("): make a new plan\n"), r.err


def test_saved_plan_run_reads_roles_and_drops_the_not_read_note(sim, sdcadm, tmp_path):
    path = tmp_path / "plan.json"
    saved = sdcadm("update", "manatee", "--plan-out", str(path))
    assert "roles and shard health were not read" in saved.out
    r = sdcadm("update", "--plan", str(path), "-y")
    assert r.exit_code == 0, r.err
    assert "(primary)" in r.out  # the roles were read...
    assert "were not read" not in r.out + r.err  # ...so the breakdown no longer says otherwise


def test_saved_plan_dry_run(sim, sdcadm, tmp_path) -> None:
    path = tmp_path / "plan.json"
    first = sdcadm("update", "-n", "manatee", "--plan-out", str(path))
    r = sdcadm("update", "--plan", str(path), "-n")
    assert r.exit_code == 0, r.err
    assert r.out == first.out + "Dry run: nothing was changed.\n"
    assert sim.mutations() == []


@pytest.mark.parametrize("opt", [["-I"], ["-C", "release"], ["-x", "sapi"], ["-s", "cn01"],
                                 ["--allow-downgrade"], ["--force-data-path"]])
@pytest.mark.parametrize("how", ["--plan", "--resume"])
def test_planning_options_with_a_saved_plan_are_refused(sim, sdcadm, tmp_path, opt, how):
    # They used to be ignored: `--plan p.json -I` ran the whole update, not only imports.
    path = tmp_path / "plan.json"
    assert sdcadm("update", "workflow", "--plan-out", str(path)).exit_code == 0
    sim.clear_mutations()
    args = ["--plan", str(path)] if how == "--plan" else ["--resume"]
    r = sdcadm("update", *args, *opt, "-y")
    what = "--plan FILE" if how == "--plan" else "--resume"
    assert (r.exit_code, r.err) == (2, f"sdcadm update: error (Usage): {what} runs the plan as "
                                       f"it was made: {opt[0]} cannot be given with it (plan "
                                       "again with them instead)\n")
    assert sim.mutations() == []


# -- spec files ----------------------------------------------------------------------------

@pytest.mark.parametrize("spec", sorted(p.name for p in (ROOT / "procedures").glob("*.yaml")))
def test_shipped_procedures_dry_run(sim, sdcadm, spec) -> None:
    r = sdcadm("update", "-n", "-f", str(ROOT / "procedures" / spec))
    assert r.exit_code == 0, r.err
    assert r.out.endswith("Dry run: nothing was changed.\n") or r.out.startswith("Up-to-date")
    assert sim.mutations() == []


def test_all_but_data_path_leaves_the_data_path_alone(sim, sdcadm) -> None:
    r = sdcadm("update", "-n", "-f", str(ROOT / "procedures" / "all-but-data-path.yaml"))
    assert r.exit_code == 0, r.err
    for svc in ("sapi", "moray", "binder", "manatee"):
        assert f'update "{svc}" service' not in r.out
    assert 'update "workflow" service' in r.out


def test_spec_file_list_and_document(sim, sdcadm, tmp_path) -> None:
    lst = tmp_path / "list.json"
    lst.write_text('[{"service": "workflow"}]')
    doc = tmp_path / "doc.yaml"
    doc.write_text("channel: dev\nchanges:\n  - service: workflow\n")
    a, b = sdcadm("update", "-n", "-f", str(lst)), sdcadm("update", "-n", "-f", str(doc))
    assert a.exit_code == b.exit_code == 0
    assert a.out == b.out and 'update "workflow" service' in a.out
    assert sim.mutations() == []


# -- bad input: one error line, exit 2, nothing changed --------------------------------------

def _bad_cases(sim: Any, tmp_path: Path) -> list[tuple[list[str], str | None, str]]:
    rabbit = catalog(sim, "rabbitmq")[0]["uuid"]
    wf_vms = vms_of(sim, "workflow")
    wf_imgs = catalog(sim, "workflow")
    older = wf_imgs[0]["uuid"]
    assert older != wf_vms[0]["image_uuid"]
    papi = catalog(sim, "papi")[-1]["uuid"]

    def f(name: str, text: str) -> str:
        p = tmp_path / name
        p.write_text(text)
        return str(p)

    return [
        ([], "{nope", "(Usage): input is not valid JSON"),
        (["-f", f("bad.yaml", "changes: [service: {")], None,
         "(Usage): " + str(tmp_path / "bad.yaml") + " is not valid JSON or YAML (line "),
        (["-f", str(tmp_path / "missing.yaml")], None,
         f'(Usage): cannot read spec file "{tmp_path / "missing.yaml"}": '
         "No such file or directory"),
        (["-f", f("keys.json", '[{"service": "workflow", "colour": "red"}]')], None,
         '(Validation): invalid extra fields "colour" in {"service":"workflow","colour":"red"}'),
        (["-f", f("doc.yaml", "all: true\nforce-all-the-things: true\n")], None,
         '(Validation): invalid extra fields "force-all-the-things"'),
        (["nosuchsvc0"], None, '(Update): unknown SDC instance or service "nosuchsvc0" from '),
        (["@"], None, '(Update): unknown SDC instance or service "" from '),
        ([], '{"instance": ""}', '(Update): unknown SDC instance or service "" from '),
        ([], '{"service": "nosuch"}', '(Update): unknown service "nosuch" from '),
        (["workflow@00000000-0000-4000-8000-000000000000"], None,
         '(Update): unknown image "00000000-0000-4000-8000-000000000000" from '),
        ([f"workflow@{papi}"], None, f"(Update): image {papi} (papi@"),
        (["cn-agent", "-s", "nosuchserver"], None, '(Update): unknown servers "nosuchserver"'),
        (["-f", f("plat.json", json.dumps({"changes": [{
            "type": "update-platform", "platform": "20241010T000000Z",
            "servers": ["ghost"]}]}))], None, '(Update): unknown SDC server "ghost" from '),
        (["workflow", "workflow"], None,
         "(Update): conflict: cannot make multiple changes to the same service: "),
        (["--allow-downgrade", f"rabbitmq@{rabbit}"], None,
         "(Update): rabbitmq updates are locked: "),
        ([f"workflow@{older}"], None, f"(Update): image {older} (workflow@"),
        (["manatee0"], None, "(Update): Individual update of manatee instances is not allowed"),
        (["-x", "sapi", "workflow"], None, "(Usage): -x/--exclude is only valid with --all"),
        (["--all", "-x", "manate"], None, '(Usage): unknown service "manate" in -x/--exclude'),
        (["--all", "-x", "sapi,manate"], None,
         '(Usage): unknown service "manate" in -x/--exclude'),
        (["cn-agent", "-s", ""], None,
         "(Usage): -s/--servers needs at least one server (uuid or hostname)"),
        (["cn-agent", "-s", ",", "-s", ""], None,
         "(Usage): -s/--servers needs at least one server (uuid or hostname)"),
        # -s restricts agents only: cloudapi0 runs on the headnode, not on cn01.
        (["workflow", "-s", "cn01"], None, "(Usage): -s/--servers restricts agent updates, "
         "and this update has none: workflow would be updated wherever its instances run"),
    ]


def test_bad_input_is_refused_and_changes_nothing(sim, sdcadm, tmp_path) -> None:
    for args, stdin, expected in _bad_cases(sim, tmp_path):
        r = sdcadm("update", "-y", *args, input=stdin)
        assert r.exit_code == 2, (args, r.out, r.err)
        line = error_line(r)
        assert line.startswith("sdcadm update: error " + expected), (args, line)
        assert r.out == "", (args, r.out)
        assert sim.mutations() == [], args


def test_a_typo_in_exclude_is_refused_before_any_progress_line(sim, sdcadm) -> None:
    for cmd in (("update", "--all", "-y"), ("avail",)):
        r = sdcadm(*cmd, "-x", "manate")
        assert (r.exit_code, r.out) == (2, ""), (cmd, r.err)
        assert r.err == f'sdcadm {cmd[0]}: error (Usage): unknown service "manate" in ' \
                        "-x/--exclude\n", cmd
    assert sim.mutations() == []


def test_downgrade_with_allow_downgrade_is_planned(sim, sdcadm) -> None:
    older = catalog(sim, "workflow")[0]["uuid"]
    r = sdcadm("update", "-n", "--allow-downgrade", f"workflow@{older}")
    assert r.exit_code == 0, r.err
    assert "forced downgrade from image" in r.out
    assert sim.mutations() == []


def test_channel_option(sim, sdcadm) -> None:
    # The small datacenter already runs the newest release builds; dev has newer ones.
    r = sdcadm("update", "-n", "-C", "release", "--all")
    assert (r.exit_code, r.out) == (0, "Up-to-date.\n"), r.err
    assert "Using channel release" in r.err.splitlines()
    r = sdcadm("update", "-j", "-C", "dev", "--all")
    assert r.exit_code == 0, r.err
    doc = json.loads(r.out)
    dev = {i["uuid"] for i in get(sim, "updates", "/images", channel="dev", limit=1000)}
    targets = {c["image"]["uuid"] for c in doc["changes"]}
    assert doc["channel"] == "dev" and targets and targets <= dev
    assert sim.mutations() == []


def test_platform_spec_dry_run(sim, sdcadm, tmp_path) -> None:
    spec = tmp_path / "platform.yaml"
    spec.write_text("changes:\n  - type: update-platform\n    platform: 20241010T000000Z\n"
                    "    selector: all\n    max_unavailable: 2\n")
    r = sdcadm("update", "-n", "-f", str(spec))
    assert r.exit_code == 0, r.err
    assert "    update platform to 20241010T000000Z on " in r.out
    assert "(at most 2 unavailable at once):" in r.out
    assert " servers will reboot from platform " in r.out
    assert sim.mutations() == []


def test_servers_option_next_to_a_vm_service_says_it_restricts_agents_only(sim, sdcadm):
    r = sdcadm("update", "workflow", "cn-agent", "-s", "cn01", "-n")
    assert r.exit_code == 0, r.err
    assert ("note: -s/--servers restricts agent updates only: workflow updated wherever the "
            "instances run") in r.err.splitlines()
    r = sdcadm("update", "cn-agent", "-s", "cn01", "-n")
    assert r.exit_code == 0 and "-s/--servers restricts" not in r.err, r.err


def test_one_agent_on_one_server(sim, sdcadm) -> None:
    servers = get(sim, "cnapi", "/servers", extras="agents")
    cn = next(s for s in servers if not s.get("headnode"))
    r = sdcadm("update", "-j", f"{cn['hostname']}/cn-agent", "--force-same-image")
    assert r.exit_code == 0, r.err
    doc = json.loads(r.out)
    installs = [s for s in doc["steps"] if s["action"] == "install-agent"]
    assert [s["params"]["server_uuid"] for s in installs] == [cn["uuid"]]
    assert not [s for s in doc["steps"] if s["action"] == "sapi-update-service"]
    assert sim.mutations() == []


def test_roles_are_not_read_while_another_run_holds_the_lock(sim, sdcadm) -> None:
    from sdcadm.config import load_config
    from sdcadm.executor.lock import RunLock

    cfg = load_config(str(sim.config_path))
    with RunLock(cfg.lock_path, command="rollback", run_uuid="other"):
        r = sdcadm("update", "-y", "manatee", env={"SDCADM_LOCK_WAIT": "0.2"})
    assert r.exit_code == 1
    assert "Waiting for sdcadm lock" in r.err
    assert error_line(r).startswith("sdcadm update: error (Lock): another sdcadm is running")
    assert sim.mutations() == []


def test_a_named_service_with_nothing_to_do_is_said_to_be_up_to_date(sim, sdcadm) -> None:
    avail = {row["service"] for row in json.loads(sdcadm("avail", "-j").out)}
    assert "cloudapi" in avail and "vmapi" not in avail
    r = sdcadm("update", "-n", "vmapi", "cloudapi")
    assert r.exit_code == 0, r.err
    assert 'update "cloudapi" service' in r.out and '"vmapi"' not in r.out
    assert "note: already up-to-date: vmapi\n" in r.err
    alone = sdcadm("update", "-n", "vmapi")
    assert (alone.out, "note:" in alone.err) == ("Up-to-date.\n", False)


def test_dry_run_says_the_shard_and_roles_were_not_read(sim, sdcadm) -> None:
    r = sdcadm("update", "manatee", "-n")
    assert r.exit_code == 0, r.err
    assert ("note: roles and shard health were not read (dry run): the update checks the shard"
            " and orders instances by role when it runs") in " ".join(r.out.split())
    r = sdcadm("update", "binder", "--force-same-image", "-n")
    assert r.exit_code == 0, r.err
    assert "note: roles were not read (dry run): the update orders instances by role" in r.out
    assert sim.mutations() == []
