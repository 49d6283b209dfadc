"""Indented JSON through the C encoder is exactly what `json.dumps(obj, indent=N)` writes."""
from __future__ import annotations

import io
import json
import random
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdcadm.render import jsontext
from sdcadm.render.jsontext import indented, write_indented


class Text(str):
    pass


class Count(int):
    pass


SCALARS = [None, True, False, 0, -5, 10 ** 20, 1.5, -0.0, 1e-7, float("nan"), float("inf"),
           float("-inf"), "", "plain", 'q"uote\\back\nslash', "é☃😀", "\x1b[31m"]

CASES: list[Any] = [
    *SCALARS, [], {}, (), [[]], {"a": {}}, [1, [2, [3, []]]],
    {"uuid": "x", "params": {"a": 1, "b": [1, 2]}, "n": 3, "z": None},
    {"insts": [{"instance": "i", "server_ip": None}] * 3, "steps": []},
    (1, (2, 3)), OrderedDict(a=1, b=OrderedDict(c=[1])), [Text("t"), Count(3)],
    {Text("k"): Count(2)}, {2: "int key", 2.5: "float key", None: 1, True: {False: [1]}},
    {"mixed": [1, "a", None, {"deep": [{}]}]},
    # lists of mappings of scalars (table rows), with look-alike text in their strings
    [{"a": 1}], [{"a": 1, "b": "},\n    {"}, {"c": None}], [{"a": 1}, {}], [{}, {"a": 1}],
    {"rows": [{"x": "}", "y": "{"}, {"x": 1.5, "y": [1]}, {"z": True}]},
    [{1: "k", None: 2}, {True: 3}], [OrderedDict(a=1), {"b": 2}],
]


@pytest.mark.parametrize("obj", CASES, ids=range(len(CASES)))
@pytest.mark.parametrize("indent", [4, 2, 0])
def test_same_text_as_the_standard_library(obj: Any, indent: int) -> None:
    assert indented(obj, indent) == json.dumps(obj, indent=indent)


def generated(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.5:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return [generated(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.75:  # rows: mappings of scalars
        return [{f"k{i}": rng.choice(SCALARS) for i in range(rng.randint(0, 3))}
                for _ in range(rng.randint(1, 4))]
    if roll < 0.85:
        return tuple(generated(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return {rng.choice(["a", "é", "k\n", ""]) + str(i): generated(rng, depth + 1)
            for i in range(rng.randint(0, 5))}


@pytest.mark.parametrize("through", ["ujson", "ujson in slices of 2", "the walker"])
def test_same_text_for_generated_documents(monkeypatch: pytest.MonkeyPatch,
                                           through: str) -> None:
    rng = random.Random(13)
    monkeypatch.setattr(jsontext._Walker, "FLUSH", 3)  # written in many small pieces
    if through == "the walker":
        monkeypatch.setattr(jsontext, "_ujson", None)
    elif through.endswith("slices of 2"):
        monkeypatch.setattr(jsontext, "SLICE", 2)
    for _ in range(3000):
        doc = [generated(rng) for _ in range(rng.randint(1, 8))]
        assert indented(doc) == json.dumps(doc, indent=4)
        stream = io.StringIO()
        write_indented(doc, stream)
        assert stream.getvalue() == json.dumps(doc, indent=4) + "\n"


@pytest.mark.parametrize("bad", [{"a": object()}, [{1, 2}], {(1, 2): 3}])
def test_what_json_refuses_is_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(bad, indent=4)
    with pytest.raises(TypeError):
        indented(bad)


# Where ujson's own text differs from json.dumps's for JSON data; each must reach the walker.
UJSON_DIFFERS = [6.5e-05, 1e-09, -7.25e-08, "\x7f", ["a\x7fb"]]


@pytest.mark.parametrize("odd", UJSON_DIFFERS, ids=range(len(UJSON_DIFFERS)))
def test_what_ujson_writes_otherwise_is_written_by_the_walker(odd: Any) -> None:
    assert jsontext._ujson is not None  # a declared dependency
    assert jsontext._ujson.dumps(odd, indent=4) != json.dumps(odd, indent=4)
    assert jsontext.fast(odd, 4) is None
    doc = {"steps": [{"id": n, "params": {"x": odd if n == 700 else n}} for n in range(1500)],
           "odd": odd}
    stream = io.StringIO()
    write_indented(doc, stream)
    assert stream.getvalue() == json.dumps(doc, indent=4) + "\n"


def test_a_plan_sized_document_is_written_in_slices_never_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Long lists go out SLICE items at a time: no single write holds the whole text."""
    rows = [{"id": f"{n}:install-agent:cn{n}", "params": {"server_uuid": f"cn{n}", "n": n},
             "after": [f"{n - 1}"] if n else [], "size": n * 1.5} for n in range(5000)]
    doc = {"v": 3, "changes": [{"insts": rows[:2000]}], "steps": rows}
    writes: list[int] = []

    class Stream(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(len(text))
            return super().write(text)

    stream = Stream()
    write_indented(doc, stream)
    whole = json.dumps(doc, indent=4) + "\n"
    assert stream.getvalue() == whole
    assert max(writes) < len(whole) / 5


JSON_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(doc=JSON_DATA, slice_=st.sampled_from([1, 2, 512]), indent=st.sampled_from([0, 1, 2, 4]))
def test_json_data_is_written_as_the_standard_library_writes_it(doc: Any, slice_: int,
                                                                 indent: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jsontext, "SLICE", slice_)
        stream = io.StringIO()
        write_indented(doc, stream, indent)
    assert stream.getvalue() == json.dumps(doc, indent=indent) + "\n"
