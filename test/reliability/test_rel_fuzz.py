"""Generated input: spec documents (JSON, YAML or garbled; with `-f FILE`, `-f -` or on
stdin), argument lists of every command that changes nothing (or is given `-n`), and
configuration files. Each one exits 0, 1 or 2, never with a traceback; a failure says so in
one error line on stderr; and the datacenter receives no mutating request.

The CLI runs in-process (`sdcadm.cli.main.run`) against the `small` simulator."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_runner import make_runner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_generate import DRY_RUN, argv, command, config_text, spec_text
from rel_harness import FULL, record

# Examples per kind: the full set (500 and more in all), and the reduced one.
EXAMPLES = {"specs": 260 if FULL else 30, "arguments": 180 if FULL else 30,
            "configurations": 80 if FULL else 20}
ERROR_LINE = re.compile(r"^sdcadm(?: [\w-]+){0,2}: error \([\w]+\): \S")
# Read-only commands run against a generated configuration.
CONFIG_COMMANDS = (["services"], ["instances"], ["info"], ["avail"], ["history"],
                   ["channel", "get"], ["update", "-n", "--all"])


def fuzz_settings(kind: str) -> settings:
    return settings(max_examples=EXAMPLES[kind], deadline=None, database=None,
                    derandomize=not FULL, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture
def run_cli(sim, monkeypatch, capfd, tmp_path):
    """Run `sdcadm ARGS` in-process (cwd: a scratch directory) and judge it: exit 0, 1 or
    2; no traceback; an error line on stderr when it failed; no mutating request."""
    monkeypatch.chdir(tmp_path)
    runner = make_runner(sim, monkeypatch, capfd)

    def go(kind: str, args: list[str], stdin: str | None = None) -> None:
        sim.clear_mutations()
        case = json.dumps(args)[:200]
        try:
            r = runner(*args, input=stdin)
        except BaseException:
            record(f"generated: {kind}", case, False, [])
            raise
        sent = [f"{m['method']} {m['service']} {m['path']}" for m in sim.mutations()]
        lines = [ln for ln in r.err.splitlines() if ln.strip()]
        problem = None
        if r.exit_code not in (0, 1, 2):
            problem = f"exit status {r.exit_code}"
        elif "Traceback" in r.err:
            problem = "a traceback on stderr"
        elif r.exit_code and not any(ERROR_LINE.match(ln) for ln in lines):
            problem = "failed without an error line on stderr"
        elif any(ERROR_LINE.match(ln) for ln in r.out.splitlines()):
            problem = "an error line on stdout"
        record(f"generated: {kind}", case, problem is None, sent)
        assert problem is None, (f"sdcadm {' '.join(args)}: {problem}\nstdin: {stdin!r}\n"
                                 f"exit {r.exit_code}\nstderr: {r.err[-3000:]}")
        assert not sent, f"sdcadm {' '.join(args)} sent mutating requests: {sent}"

    return go


@fuzz_settings("specs")
@given(spec=spec_text(), how=st.sampled_from(["-f FILE", "-f -", "stdin"]),
       output=st.sampled_from([["-n"], ["-n"], ["-j"], ["-n", "-j"]]))
def test_generated_specs(run_cli, tmp_path, spec, how, output) -> None:
    fmt, text = spec
    if how == "-f FILE":
        path = tmp_path / f"spec.{'yaml' if fmt == 'yaml' else 'json'}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        run_cli("specs", ["update", *output, "-f", str(path)])
    elif how == "-f -":
        run_cli("specs", ["update", *output, "-f", "-"], stdin=text)
    else:
        run_cli("specs", ["update", *output], stdin=text)


@fuzz_settings("arguments")
@given(args=argv())
def test_generated_argument_lists(run_cli, args) -> None:
    run_cli("arguments", args)


@fuzz_settings("configurations")
@given(data=st.data(), words=st.sampled_from(CONFIG_COMMANDS))
def test_generated_configuration_files(run_cli, sim, tmp_path, data, words) -> None:
    live = json.loads(Path(sim.config_path).read_text())
    path = tmp_path / "sdcadm.conf"
    path.write_text(data.draw(config_text(live)), encoding="utf-8", errors="surrogatepass")
    run_cli("configurations", ["--config", str(path), *words])


# -- the commands generated with -n all have it -------------------------------------------------
@pytest.mark.parametrize("words", DRY_RUN, ids=" ".join)
def test_every_dry_run_command_has_n(words) -> None:
    assert any("-n" in p.opts for p in command(words).params), words


# -- `-f -`: the spec on stdin -----------------------------------------------------------------
def test_a_spec_on_stdin_with_dash_f(sim, sdcadm) -> None:
    r = sdcadm("update", "-n", "-f", "-", input="- service: manatee\n")
    assert r.exit_code == 0, r.err
    assert 'update "manatee" service (3 instances)' in r.out
    assert sim.mutations() == []


def test_dash_f_with_nothing_on_stdin_is_one_line(sim, sdcadm) -> None:
    r = sdcadm("update", "-n", "-f", "-", input="  \n")
    assert r.exit_code == 2
    assert r.err.splitlines() == [
        "sdcadm update: error (Usage): -f -: nothing on stdin: give a spec (JSON or YAML)"]
    assert sim.mutations() == []
