"""Plain tables with node-tabula semantics: layout, nulls, objects, sorting, field checks."""
from __future__ import annotations

import json

import pytest

from sdcadm.errors import UsageError
from sdcadm.render.tables import (
    format_json,
    format_json_stream,
    format_table,
    sort_rows,
    split_fields,
    table_output,
)

ROWS = [
    {"name": "vmapi", "n": 3, "obj": {"a": 1}, "flag": True},
    {"name": "cnapi", "n": 10, "obj": [1, "x"], "flag": False},
    {"name": "adminui", "n": None, "obj": None},
]


@pytest.mark.parametrize("rows, columns, header, expected", [
    (ROWS, ["name", "n"], True,
     "NAME     N\n"
     "vmapi    3\n"
     "cnapi    10\n"
     "adminui  -"),
    (ROWS, ["obj", "name"], True,
     'OBJ      NAME\n'
     '{"a":1}  vmapi\n'
     '[1,"x"]  cnapi\n'
     '-        adminui'),
    (ROWS, ["flag", "name"], False,
     "true   vmapi\n"
     "false  cnapi\n"
     "-      adminui"),
    ([], ["name", "n"], True, "NAME  N"),
    ([], ["name", "n"], False, ""),
    ([{"a": "x", "b": ""}], ["a", "b"], True, "A  B\nx"),  # last column never padded
])
def test_format_table(rows, columns, header, expected) -> None:
    assert format_table(rows, columns, header=header) == expected


@pytest.mark.parametrize("keys, expected", [
    (["name"], ["adminui", "cnapi", "vmapi"]),
    (["-name"], ["vmapi", "cnapi", "adminui"]),
    (["n"], ["adminui", "vmapi", "cnapi"]),  # numeric compare, undefined first
    (["-n"], ["cnapi", "vmapi", "adminui"]),
])
def test_sort_rows(keys, expected) -> None:
    assert [r["name"] for r in sort_rows(ROWS, keys)] == expected


def test_sort_is_stable_and_multi_key() -> None:
    rows = [{"t": "vm", "s": "b", "i": 1}, {"t": "agent", "s": "a", "i": 2},
            {"t": "vm", "s": "a", "i": 3}, {"t": "vm", "s": "a", "i": 4}]
    assert [r["i"] for r in sort_rows(rows, ["-t", "s"])] == [3, 4, 1, 2]


def test_numeric_strings_compare_as_numbers() -> None:
    rows = [{"v": "10"}, {"v": "9"}, {"v": "abc"}]
    assert [r["v"] for r in sort_rows(rows, ["v"])[:2]] == ["9", "10"]


@pytest.mark.parametrize("given, expected", [
    (None, []), ("a,b", ["a", "b"]), (("a,b", "c"), ["a", "b", "c"]), ("a,,b ", ["a", "b"]),
])
def test_split_fields(given, expected) -> None:
    assert split_fields(given) == expected


@pytest.mark.parametrize("columns, sort, message", [
    ("name,bogus", None, 'invalid output field: "bogus"'),
    (None, "-nope", 'invalid sort field: "nope"'),
])
def test_invalid_fields(columns, sort, message) -> None:
    with pytest.raises(UsageError) as e:
        table_output(ROWS, columns=columns, default_columns=["name"], sort=sort,
                     default_sort=["name"], valid_fields=["name", "n", "obj", "flag"])
    assert e.value.message == message


def test_json_formats() -> None:
    assert format_json([{"a": 1}]) == '[\n    {\n        "a": 1\n    }\n]'
    assert format_json_stream([{"a": 1, "b": [2]}, {"a": 2}]) == '{"a":1,"b":[2]}\n{"a":2}'
    assert json.loads(format_json(ROWS)) == ROWS
