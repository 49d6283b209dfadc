"""Bad input through the real CLI: one error line, the right exit status, no traceback,
nothing changed; `-v` means the same in any position."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdcadm.cli.main import _subcommand_path

# Formatted twice (the version here, the source in the test): braces doubled twice.
NO_IMAGE = ('sdcadm update: error (Update): no image with version "{v}" and name "vmapi" was '
            'found (update change: {{{{"service":"vmapi","version":"{v}",'
            '"type":"update-service"}}}})')


@pytest.mark.parametrize("spec, line", [
    # The reproduction: a date where a version is wanted is the version as typed.
    ("- service: vmapi\n  version: 2024-10-01\n", NO_IMAGE.format(v="2024-10-01")),
    ("- service: vmapi\n  version: 1.10\n", NO_IMAGE.format(v="1.10")),
    ("- service: vmapi\n  version: !!int 08\n",
     "sdcadm update: error (Usage): {src}: '08' is not a valid !!int (line 2, column 12)"),
    ("- service: !!binary aGVsbG8=\n",
     "sdcadm update: error (Usage): {src}: unsupported YAML tag !!binary (line 1, column 12)"),
    ("a: &a [*a]\n", "sdcadm update: error (Usage): {src} has a YAML alias inside its own "
                     "anchor"),
    ("- service: [vmapi]\n", 'sdcadm update: error (Validation): "service" in '
                             '{{"service":["vmapi"]}} (string) is required'),
])
@pytest.mark.parametrize("via", ["stdin", "file"])
def test_yaml_specs_fail_in_one_line(sdcadm: Any, sim: Any, tmp_path: Path, spec: str,
                                     line: str, via: str) -> None:
    if via == "stdin":
        r = sdcadm("update", "-n", input=spec)
        src = "input"
    else:
        path = tmp_path / "spec.yaml"
        path.write_text(spec)
        r = sdcadm("update", "-n", "-f", str(path))
        src = str(path)
    assert r.exit_code == 2, r.err
    assert r.err.splitlines()[-1] == line.format(src=src)
    assert "Traceback" not in r.err
    assert len([ln for ln in r.err.splitlines() if "error" in ln]) == 1
    assert r.out == "" and sim.mutations() == []


def _request_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("sdcadm: ") and " GET http" in ln]


@pytest.mark.parametrize("args", [
    ["services", "-v"],
    ["services", "--verbose"],
    ["svcs", "-H", "-v", "-o", "name"],
    ["services", "-Hv", "-o", "name"],
])
def test_verbose_after_the_command(sdcadm: Any, sim: Any, args: list[str]) -> None:
    quiet = sdcadm(*[a for a in args if a not in ("-v", "--verbose")]
                   if "-Hv" not in args else ["services", "-H", "-o", "name"])
    r = sdcadm(*args)
    assert r.exit_code == 0, r.err
    assert r.out == quiet.out
    assert _request_lines(r.err) and "/applications?name=sdc" in r.err
    assert quiet.err == ""


def test_verbose_after_a_group_and_its_command(sdcadm: Any, sim: Any) -> None:
    before = sdcadm("-v", "channel", "get")
    for args in (["channel", "get", "-v"], ["channel", "-v", "get"]):
        r = sdcadm(*args)
        assert (r.exit_code, r.out) == (0, before.out), r.err
        assert len(_request_lines(r.err)) == len(_request_lines(before.err))


@pytest.mark.parametrize("args, line, status", [
    (["avail", "nosuch", "-v"], 'sdcadm avail: error (Update): unknown SDC instance or service '
     '"nosuch" from {"instance":"nosuch","type":"update-instance"}', 2),
    (["services", "-Hv", "extra"], "sdcadm services: error (Usage): too many args: extra", 2),
    (["channel", "-v", "set"], "sdcadm channel set: error (Usage): must specify a channel name",
     2),
])
def test_verbose_errors_after_the_command_have_the_trace(sdcadm: Any, sim: Any, args: list[str],
                                                          line: str, status: int) -> None:
    r = sdcadm(*args)
    assert r.exit_code == status
    assert "Traceback" in r.err
    assert r.err.rstrip().splitlines()[-1] == line
    quiet = sdcadm(*[a.replace("v", "") if a == "-Hv" else a for a in args if a != "-v"])
    assert "Traceback" not in quiet.err and quiet.err == line + "\n"


def test_an_unknown_option_suggests_no_hidden_verbose(sdcadm: Any, sim: Any) -> None:
    r = sdcadm("instances", "--verbos")
    assert r.err == "sdcadm instances: error (Option): No such option '--verbos'.\n"


@pytest.mark.parametrize("argv, path", [
    (["services", "-v"], "sdcadm services"),
    (["-v", "services"], "sdcadm services"),
    (["platform", "-v", "list"], "sdcadm platform list"),
    (["--verbose", "channel", "--verbose", "set", "dev"], "sdcadm channel set"),
    (["--config", "x.conf", "-v", "up", "-n"], "sdcadm update"),
    (["reboot-plan", "create", "-v", "--all"], "sdcadm reboot-plan create"),
    (["channel", "--", "-v"], "sdcadm channel"),
])
def test_subcommand_path_skips_verbose(argv: list[str], path: str) -> None:
    assert _subcommand_path(argv) == path
