"""`json.dumps(obj, indent=N)`, byte for byte, at the speed of a C encoder.

The standard library encodes indented JSON in Python, one token at a time: a thousand-
server plan (14 MB) takes half a second and holds a million small strings at once.

Where `ujson` is installed, `write_indented` (a plan: JSON data, from JSON or from the
`to_json` methods, whose keys are strings) goes through it: it writes the same text as
`json.dumps` but in two places, each seen in its output and then left to the walker below.
A plan is written a slice of a list at a time, so its text is never held whole.

The walker: the structure is walked in Python only down to the containers whose values are
all scalars; each of those is encoded in one call of the standard library's C encoder,
whose item separator carries the newline and the indentation of its depth.
"""
from __future__ import annotations

import json
import json.encoder
import re
from typing import IO, Any, Callable

_ujson: Any
try:
    import ujson as _ujson
except ImportError:  # pragma: no cover - a declared dependency; the walker does it all then
    _ujson = None

# The C accelerator's encoder (None where it is missing: then the standard library does it).
c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
encode_basestring_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii

_SCALARS = frozenset({str, int, float, bool, type(None)})
_INF = float("inf")


# Where ujson's text differs from json.dumps's for JSON data (string keys): a float with a
# one-digit negative exponent (`6.5e-5` for `6.5e-05`) and DEL, which it leaves unescaped.
# A string may hold such text too: it is then written by the walker.
_SHORT_EXPONENT = re.compile(r"e-[5-9](?:[,\n\]}]|\Z)")
SLICE = 512  # items of a long list encoded at once by ujson
SPLIT_LEVELS = 3  # levels of a written document whose containers go out an item at a time


def fast(obj: Any, indent: int) -> str | None:
    """`json.dumps(obj, indent=indent)` through ujson, for JSON data (string keys: ujson
    writes any other key as its `str`, where json.dumps writes `NaN` for a NaN key and
    refuses a tuple); None where ujson is missing, refuses `obj`, or its text could
    differ."""
    if _ujson is None or indent < 1:
        return None
    try:
        text = _ujson.dumps(obj, indent=indent, ensure_ascii=True,
                            escape_forward_slashes=False, default=_refuse)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if "\x7f" in text or _SHORT_EXPONENT.search(text) else text


def indented(obj: Any, indent: int = 4) -> str:
    """What `json.dumps(obj, indent=indent)` returns (ASCII, keys in order, no sorting)."""
    if c_make_encoder is None:
        return json.dumps(obj, indent=indent)
    out: list[str] = []
    _Walker(indent).value(obj, 0, out)
    return "".join(out)


def write_indented(obj: Any, stream: IO[str], indent: int = 4) -> None:
    """Write `json.dumps(obj, indent=indent)` and a newline to `stream` a piece at a time,
    never holding the whole text (a thousand-server plan is 14 MB of it): the containers of
    containers of the first `SPLIT_LEVELS` levels an item at a time, a long list `SLICE`
    items at a time.

    For JSON data, as a plan is: keys are strings (see `fast`). A value json.dumps cannot
    encode is refused as it refuses it."""
    if c_make_encoder is None:
        stream.write(json.dumps(obj, indent=indent) + "\n")
        return
    _write_value(_Walker(indent, stream.write), obj, 0, stream)
    stream.write("\n")


def _write_value(walker: "_Walker", value: Any, level: int, stream: IO[str]) -> None:
    """`value` as the walker writes it at `level`, through ujson where it may."""
    indent = walker.indent
    kind = type(value)
    if indent > 0 and value and (kind is dict or kind is list) and (
            (kind is list and len(value) > SLICE) or (level < SPLIT_LEVELS and not
            _SCALARS.issuperset(map(type, value.values() if kind is dict else value)))):
        pad = "\n" + " " * (indent * level)
        inner = pad + " " * indent
        if kind is list and len(value) > SLICE:
            sep = "[" + inner
            for n in range(0, len(value), SLICE):
                text = fast(value[n:n + SLICE], indent)
                if text is None:
                    for v in value[n:n + SLICE]:
                        stream.write(sep)
                        _write_value(walker, v, level + 1, stream)
                        sep = "," + inner
                    continue
                # "[<nl><indent>A,<nl><indent>B<nl>]": its items, one level deeper than ujson
                # put them
                stream.write(sep + text[2 + indent:-2].replace("\n", pad))
                sep = "," + inner
            stream.write(pad + "]")
            return
        sep = ("{" if kind is dict else "[") + inner
        for key, v in (value.items() if kind is dict else ((None, v) for v in value)):
            stream.write(sep + (_key(key) + ": " if kind is dict else ""))
            _write_value(walker, v, level + 1, stream)
            sep = "," + inner
        stream.write(pad + ("}" if kind is dict else "]"))
        return
    text = fast(value, indent)
    if text is not None:
        stream.write(text.replace("\n", "\n" + " " * (indent * level)) if level else text)
        return
    out: list[str] = []
    walker.value(value, level, out)
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
