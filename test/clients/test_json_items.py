"""Decoding a JSON array one item at a time (`json_array_items`): the same items as
`json.loads`, and a ValueError for anything that is not one array."""
from __future__ import annotations

import json

import pytest

from sdcadm.clients.http import json_array_items


@pytest.mark.parametrize("text", [
    "", "[]", " [ ] \n", "[1]", '[1, {"a": [2, {"b": null}]}, "x,]"]',
    '\n[\n  {"uuid": "u1", "changes": []},\n  {"uuid": "u2"}\n]\n',
    "[true,false,null,1.5e3,-2,\"\\u00e9\"]",
])
def test_the_items_are_those_json_loads_gives(text: str) -> None:
    assert list(json_array_items(text)) == (json.loads(text) if text else [])


@pytest.mark.parametrize("text", ["{}", "1", "[1 2]", "[1,]", "[1] x", "[", "[1,", "[}"])
def test_anything_but_one_array_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        list(json_array_items(text))
