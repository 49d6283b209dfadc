"""YAML specs as an operator types them: scalars kept as text where a name or version is
wanted, tags and aliases that could crash or explode refused in one line."""
from __future__ import annotations

import pytest

from sdcadm.errors import UsageError, ValidationError
from sdcadm.planner import parse_spec
from sdcadm.planner.spec_loader import MAX_VALUES, load_text


@pytest.mark.parametrize("text, version", [
    ("- service: vmapi\n  version: 2024-10-01\n", "2024-10-01"),
    ("- service: vmapi\n  version: 2024-10-01T10:00:00Z\n", "2024-10-01T10:00:00Z"),
    ("- service: vmapi\n  version: 1.10\n", "1.10"),
    ("- service: vmapi\n  version: 20241010\n", "20241010"),
    ("- service: vmapi\n  version: 0x1F\n", "0x1F"),
    ("- service: vmapi\n  version: 1_000\n", "1_000"),
    ("- service: vmapi\n  version: 1:30\n", "1:30"),
    ("- service: vmapi\n  version: 1e3\n", "1e3"),
    ("- service: vmapi\n  version: 08\n", "08"),
    ("- service: vmapi\n  version: '2024-10-01'\n", "2024-10-01"),
    ("- {service: vmapi, version: !!str 1.0}\n", "1.0"),
])
def test_versions_stay_as_typed(text: str, version: str) -> None:
    [change] = parse_spec(text, origin="s.yaml").changes
    assert (change.service, change.version) == ("vmapi", version)
    assert change.source["version"] == version


@pytest.mark.parametrize("text, service", [
    ("- service: yes\n", "yes"),
    ("- service: null\n", "null"),
    ("- service: ~\n", "~"),
    ("- service: 2024-01-01\n", "2024-01-01"),
    ("- service: =\n", "="),
])
def test_names_stay_as_typed(text: str, service: str) -> None:
    [change] = parse_spec(text, origin="s.yaml").changes
    assert change.service == service


def test_options_still_read_as_yaml_values() -> None:
    doc = parse_spec("all: yes\nconcurrency: 4\nexclude: [2024-01-01, 'x']\n"
                     "servers: [00001]\n", origin="s.yaml")
    assert doc.options == {"all": True, "concurrency": 4, "exclude": ("2024-01-01", "x"),
                           "servers": ("00001",)}


@pytest.mark.parametrize("text, message", [
    ("- service: vmapi\n  version: !!int 08\n",
     "s.yaml: '08' is not a valid !!int (line 2, column 12)"),
    ("all: !!bool maybe\n", "s.yaml: 'maybe' is not a valid !!bool (line 1, column 6)"),
    ("concurrency: !!float abc\nall: true\n",
     "s.yaml: 'abc' is not a valid !!float (line 1, column 14)"),
    ("- service: !!binary aGVsbG8=\n", "s.yaml: unsupported YAML tag !!binary (line 1, column 12)"),
    ("- service: vmapi\n  version: !!timestamp 2024-01-01\n",
     "s.yaml: unsupported YAML tag !!timestamp (line 2, column 12)"),
    ("- service: !!set {a, b}\n", "s.yaml: unsupported YAML tag !!set (line 1, column 12)"),
    ("- service: !!python/object:os.system x\n",
     "s.yaml: unsupported YAML tag !!python/object:os.system (line 1, column 12)"),
    ("- service: !local vmapi\n", "s.yaml: unsupported YAML tag !local (line 1, column 12)"),
    ("a: &a [*a]\n", "s.yaml has a YAML alias inside its own anchor"),
    ("1: x\n'1': y\n", 's.yaml has the key "1" twice (line 2): only one would be used'),
    ("[" * 5000 + "]" * 5000 + "\n", "s.yaml is nested too deeply"),
])
def test_bad_yaml_is_one_line(text: str, message: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_spec(text, origin="s.yaml")
    assert e.value.message == message
    assert "\n" not in e.value.message


def test_stdin_names_itself_input() -> None:
    with pytest.raises(UsageError) as e:
        parse_spec("- service: vmapi\n  version: !!int 08\n")
    assert e.value.message == "input: '08' is not a valid !!int (line 2, column 12)"


def test_an_alias_bomb_is_refused_at_once() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 9):  # 10**9 values once expanded
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    lines.append("changes: [*a8]")
    with pytest.raises(UsageError) as e:
        parse_spec("\n".join(lines) + "\n", origin="bomb.yaml")
    assert e.value.message == (f"bomb.yaml has more than {MAX_VALUES} values once its YAML "
                               "aliases are expanded")


def test_aliases_within_bounds_still_work() -> None:
    text = "base: &b {service: vmapi}\nchanges: [*b, {<<: *b, service: cnapi}]\n"
    assert load_text(text, "s.yaml", {"service"})["changes"] == [
        {"service": "vmapi"}, {"service": "cnapi"}]


@pytest.mark.parametrize("text, message", [
    ("- service: [vmapi]\n", '"service" in {"service":["vmapi"]} (string) is required'),
    ("- service: vmapi\n  image: {a: 1}\n",
     '"image" in {"service":"vmapi","image":{"a":1}} (string) is required'),
    ("concurrency: 1.5\nall: true\n", '"concurrency" in spec (positive integer) is required'),
    ("all: 1\n", '"all" in spec (boolean) is required'),
])
def test_type_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_spec(text, origin="s.yaml")
    assert e.value.message == message
