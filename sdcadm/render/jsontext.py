"""`json.dumps(obj, indent=N)`, byte for byte, at the speed of the C encoder.

The standard library encodes indented JSON in Python, one token at a time: a thousand-
server plan (14 MB) takes half a second and holds a million small strings at once. Here the
structure is walked in Python only down to the containers whose values are all scalars;
each of those is encoded in one call of the C encoder, whose item separator carries the
newline and the indentation of its depth.
"""
from __future__ import annotations

import json
import json.encoder
from typing import IO, Any, Callable

# The C accelerator's encoder (None where it is missing: then the standard library does it).
c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
encode_basestring_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii

_SCALARS = frozenset({str, int, float, bool, type(None)})
_INF = float("inf")


def indented(obj: Any, indent: int = 4) -> str:
    """What `json.dumps(obj, indent=indent)` returns (ASCII, keys in order, no sorting)."""
    if c_make_encoder is None:
        return json.dumps(obj, indent=indent)
    out: list[str] = []
    _Walker(indent).value(obj, 0, out)
    return "".join(out)


def write_indented(obj: Any, stream: IO[str], indent: int = 4) -> None:
    """Write `json.dumps(obj, indent=indent)` and a newline to `stream` a piece at a time,
    never holding the whole text (a thousand-server plan is 14 MB of it)."""
    if c_make_encoder is None:
        stream.write(json.dumps(obj, indent=indent) + "\n")
        return
    out: list[str] = []
    _Walker(indent, stream.write).value(obj, 0, out)
    out.append("\n")
    stream.write("".join(out))


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _scalar(o: Any) -> str:
    """As the standard encoder: subclasses of str, int and float are what they extend."""
    if isinstance(o, str):
        return encode_basestring_ascii(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _float(o)
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _key(k: Any) -> str:
    if isinstance(k, str):
        return encode_basestring_ascii(k)
    if k is True or k is False or k is None or isinstance(k, (int, float)):
        return encode_basestring_ascii(_scalar(k))
    raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")


def _refuse(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


class _Walker:
    FLUSH = 4096  # pieces held before they are written (with a `write`)

    def __init__(self, indent: int, write: Callable[[str], Any] | None = None) -> None:
        self.indent = indent
        self.write = write
        # per depth: (C encoder of a container of scalars, its items one per line; the
        # newline and indentation of its items; of its closing bracket)
        self.levels: list[tuple[Callable[..., Any], str, str]] = []

    def _level(self, level: int) -> tuple[Callable[..., Any], str, str]:
        while len(self.levels) <= level:
            n = len(self.levels)
            inner = "\n" + " " * (self.indent * (n + 1))
            outer = "\n" + " " * (self.indent * n)
            flat = c_make_encoder(None, _refuse, encode_basestring_ascii, None, ": ",
                                   "," + inner, False, False, True)
            self.levels.append((flat, inner, outer))
        return self.levels[level]

    def value(self, o: Any, level: int, out: list[str]) -> None:
        t = type(o)
        if t is dict:
            self.obj(o, level, out)
        elif t is list or t is tuple:
            self.seq(o, level, out)
        elif t in _SCALARS or not isinstance(o, (dict, list, tuple)):
            out.append(_scalar(o))
        elif isinstance(o, dict):
            self.obj(o, level, out)
        else:
            self.seq(o, level, out)

    def obj(self, o: dict, level: int, out: list[str]) -> None:
        if not o:
            out.append("{}")
            return
        flat, inner, outer = self._level(level)
        if _SCALARS.issuperset(map(type, o.values())):
            out.append("{" + inner + "".join(flat(o, 0))[1:-1] + outer + "}")
            return
        # Runs of scalar items go through the C encoder too; only the containers between
        # them are walked here.
        items = list(o.items())
        sep = "{" + inner
        after = "," + inner
        start = 0
        for i, t in enumerate(map(type, o.values())):
            if t in _SCALARS:
                continue
            if i > start:
                out.append(sep + "".join(flat(dict(items[start:i]), 0))[1:-1])
                sep = after
            key, value = items[i]
            out.append(sep + _key(key) + ": ")
            sep = after
            self.value(value, level + 1, out)
            start = i + 1
        if start < len(items):
            out.append(sep + "".join(flat(dict(items[start:]), 0))[1:-1])
        out.append(outer + "}")
        if self.write is not None and len(out) > self.FLUSH:
            self.flush(out)

    def seq(self, o: Any, level: int, out: list[str]) -> None:
        if not o:
            out.append("[]")
            return
        flat, inner, outer = self._level(level)
        if _SCALARS.issuperset(map(type, o)):
            out.append("[" + inner + "".join(flat(o, 0))[1:-1] + outer + "]")
            return
        if all(type(d) is dict and d and _SCALARS.issuperset(map(type, d.values()))
               for d in o):
            self.records(o, level, out)
            return
        sep = "[" + inner
        after = "," + inner
        value = self.value
        for v in o:
            out.append(sep)
            sep = after
            value(v, level + 1, out)
        out.append(outer + "]")
        if self.write is not None and len(out) > self.FLUSH:
            self.flush(out)

    def records(self, o: Any, level: int, out: list[str]) -> None:
        """A list of non-empty mappings of scalars (table rows, instances) in one call of
        the C encoder, with the separators of the mappings' items; the boundaries between
        the mappings are then indented as their own depth wants. An encoded string never
        holds a raw newline, so `},<newline>` can only be such a boundary."""
        _flat, inner, outer = self._level(level)
        items_flat, items_pad, _ = self._level(level + 1)
        text = "".join(items_flat(o, 0))  # [{...},<items_pad>{...}]
        body = text.replace("}," + items_pad + "{", inner + "}," + inner + "{" + items_pad)
        del text
        out.append("[" + inner + "{" + items_pad)
        out.append(body[2:-2])
        out.append(inner + "}" + outer + "]")
        if self.write is not None:
            self.flush(out)  # the rows are one large piece: out at once

    def flush(self, out: list[str]) -> None:
        assert self.write is not None
        self.write("".join(out))
        out.clear()
