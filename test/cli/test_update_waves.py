"""`sdcadm update --service-concurrency` and a spec's `service-concurrency` and
`core-services`: the schedule in the breakdown and the steps, and bad input."""
from __future__ import annotations

import json
import re

import pytest

from sdcadm.planner.rules import SERVICE_CONCURRENCY


def schedule_lines(out: str) -> list[str]:
    lines = out.splitlines()
    at = next(n for n, ln in enumerate(lines) if ln.startswith("    schedule ("))
    end = next(n for n in range(at + 1, len(lines)) if not lines[n].startswith("        "))
    return lines[at:end]


def test_the_default_is_shown_in_the_breakdown_and_in_the_help(sdcadm, sim) -> None:
    r = sdcadm("update", "--all", "-n")
    assert r.exit_code == 0, r.err
    shown = schedule_lines(r.out)
    assert shown[0] == (f"    schedule ({SERVICE_CONCURRENCY} services at a time, "
                        "--service-concurrency):")
    assert shown[1].startswith("        wave 1, ")
    assert any("each alone (the update machinery): " in ln for ln in shown)
    assert f"(default {SERVICE_CONCURRENCY})" in re.sub(r"\s+", " ",
                                                        sdcadm("update", "--help").out)
    assert sim.mutations() == []


def test_one_at_a_time_shows_no_schedule_and_chains_nothing(sdcadm, sim) -> None:
    r = sdcadm("update", "--all", "-n", "--service-concurrency", "1")
    assert r.exit_code == 0, r.err
    assert "schedule (" not in r.out
    doc = json.loads(sdcadm("update", "--all", "-j", "--service-concurrency", "1").out)
    assert doc["options"]["service_concurrency"] == 1
    assert not any((s["parallel"] or "").startswith("wave:") for s in doc["steps"])
    waved = json.loads(sdcadm("update", "--all", "-j").out)
    assert {s["concurrency"] for s in waved["steps"]
            if (s["parallel"] or "").startswith("wave:")} == {SERVICE_CONCURRENCY}


def test_a_spec_names_extra_core_services_and_the_concurrency(sdcadm, sim, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("all: true\nservice-concurrency: 2\ncore-services: [cns, docker]\n")
    r = sdcadm("update", "-f", str(spec), "-n")
    assert r.exit_code == 0, r.err
    shown = schedule_lines(r.out)
    assert shown[0] == "    schedule (2 services at a time, --service-concurrency):"
    together = next(ln for ln in shown if ln.startswith("        wave 1, "))
    assert "cns" not in together and "docker" not in together
    alone = next(ln for ln in shown if "(the update machinery)" in ln)
    assert alone.index("cns") < alone.index("docker") < alone.index("ufds")
    # the command line wins over the spec
    r = sdcadm("update", "-f", str(spec), "-n", "--service-concurrency", "3")
    assert schedule_lines(r.out)[0].startswith("    schedule (3 services at a time")
    assert sim.mutations() == []


@pytest.mark.parametrize("spec, message", [
    ("all: true\ncore-services: [nosuch]\n",
     'sdcadm update: error (Usage): unknown service "nosuch" in core-services'),
    ("all: true\nservice-concurrency: 0\n",
     'sdcadm update: error (Validation): "service-concurrency" in spec (positive integer) '
     "is required"),
    ("all: true\ncore-services: {cns: 1}\n",
     'sdcadm update: error (Validation): "core-services" in spec (array of strings) is '
     "required"),
])
def test_bad_spec_options_are_one_line_and_change_nothing(sdcadm, sim, tmp_path, spec,
                                                          message) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    r = sdcadm("update", "-f", str(path), "-n")
    assert r.exit_code == 2
    assert r.err.strip().splitlines()[-1] == message
    assert sim.mutations() == []


@pytest.mark.parametrize("args", [["--resume"], ["--plan", "p.json"]])
def test_a_saved_or_resumed_plan_keeps_its_own_concurrency(sdcadm, sim, args) -> None:
    r = sdcadm("update", *args, "--service-concurrency", "2")
    assert r.exit_code == 2
    assert "--service-concurrency cannot be given with it" in r.err
    assert sim.mutations() == []
