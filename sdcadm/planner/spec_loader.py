"""Read a spec's text (JSON, else YAML) into plain data, refusing what YAML would guess.

YAML 1.1 turns `version: 2024-10-01` into a date, `yes` into True, `1.10` into 1.1 and
`!!int 08` into a crash. A spec is data an operator typed, so:
- a plain scalar is kept as written where the caller wants text (`text_keys`), and
  otherwise becomes what YAML says (`all: yes` is true, `concurrency: 4` a number);
- dates are never guessed; a tag other than str, int, float, bool, null, seq and map is
  refused, and a malformed `!!int` is an error naming its line;
- a key given twice, an alias inside its own anchor, or aliases that expand past
  MAX_VALUES values are refused.
Every problem is one UsageError line naming the input and, when known, the line.

Pure: no I/O.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Collection

from sdcadm.errors import UsageError

# More values than any real spec has, few enough that an alias bomb is refused at once.
MAX_VALUES = 10_000

_YAML = "tag:yaml.org,2002:"
# Tags a plain scalar resolves to that are not text; kept with their text (_Plain).
_TYPED = tuple(_YAML + t for t in ("null", "bool", "int", "float"))
_ALLOWED = (*_TYPED, _YAML + "str", _YAML + "seq", _YAML + "map")
_PLAIN = "tag:sdcadm,plain:"


class DuplicateKey(Exception):
    def __init__(self, key: Any, line: int | None = None) -> None:
        super().__init__(key)
        self.key, self.line = key, line


@dataclass(frozen=True)
class _Plain:
    """An unquoted scalar YAML would read as a number, boolean or null: both readings."""

    text: str
    value: Any


def load_text(text: str, origin: str | None, text_keys: Collection[str] = ()) -> Any:
    """JSON, else YAML, as plain data. `origin` names the input in errors (None: stdin,
    whose syntax errors keep the original's `input is not valid JSON`)."""
    name = origin or "input"
    try:
        return _load(text, origin, text_keys)
    except DuplicateKey as dup:
        where = f" (line {dup.line})" if dup.line else ""
        raise UsageError(f'{name} has the key "{dup.key}" twice{where}: '
                         "only one would be used") from None
    except RecursionError:
        raise UsageError(f"{name} is nested too deeply") from None


def _load(text: str, origin: str | None, text_keys: Collection[str]) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except ValueError as json_err:
        import yaml

        try:
            raw = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
        except yaml.constructor.ConstructorError as e:
            raise UsageError(f"{origin or 'input'}: {e.problem}{_where(e)}") from None
        except yaml.YAMLError as e:
            if origin is None:
                raise UsageError("input is not valid JSON") from e
            raise UsageError(f"{origin} is not valid JSON or YAML{_where(e)}") from e
        data = _settle(raw, origin or "input", frozenset(text_keys))
        # Plain words parse as a YAML string; that is not a spec either.
        if not isinstance(data, (dict, list)):
            if origin is None:
                raise UsageError("input is not valid JSON") from json_err
            raise UsageError(f"{origin} is not valid JSON or YAML") from json_err
        return data


def _where(e: Any) -> str:
    mark = getattr(e, "problem_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _settle(raw: Any, name: str, text_keys: frozenset[str]) -> Any:
    """Replace every _Plain by its text or its value, walking aliases as the copies they
    stand for, and make every key a string."""
    count = 0
    open_: set[int] = set()

    def walk(node: Any, as_text: bool) -> Any:
        nonlocal count
        count += 1
        if count > MAX_VALUES:
            raise UsageError(f"{name} has more than {MAX_VALUES} values once its YAML "
                             "aliases are expanded")
        if isinstance(node, _Plain):
            return node.text if as_text else node.value
        if not isinstance(node, (dict, list)):
            return node
        if id(node) in open_:
            raise UsageError(f"{name} has a YAML alias inside its own anchor")
        open_.add(id(node))
        try:
            if isinstance(node, list):
                return [walk(v, as_text) for v in node]
            out: dict[str, Any] = {}
            for k, v in node.items():
                key = walk(k, True)
                if key in out:
                    raise DuplicateKey(key)
                out[key] = walk(v, key in text_keys)
            return out
        finally:
            open_.discard(id(node))

    return walk(raw, False)


_LOADER: Any = None


def _loader() -> Any:
    """The spec loader class, made once (yaml is imported only when a spec is YAML)."""
    global _LOADER
    if _LOADER is None:
        _LOADER = _make_loader()
    return _LOADER


def _make_loader() -> Any:
    import yaml
    from yaml.constructor import ConstructorError, SafeConstructor

    class SpecLoader(yaml.SafeLoader):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            tag = super().resolve(kind, value, implicit)
            if kind is yaml.ScalarNode and implicit[0]:
                if tag in _TYPED:
                    return _PLAIN + tag
                if tag == _YAML + "value":  # a lone `=`: just text
                    return _YAML + "str"
            return tag

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            # PyYAML keeps the last of two equal keys: a spec with two `changes:` lists
            # would silently lose the first.
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _YAML + "merge":
                    continue  # `<<: *anchor` may be overridden by the mapping's own keys
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, _Plain):
                    key = key.text
                if key in seen:
                    raise DuplicateKey(key, key_node.start_mark.line + 1)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    def checked(tag: str) -> Any:
        base = SafeConstructor.yaml_constructors[tag]

        def construct(loader: Any, node: Any) -> Any:
            try:
                return base(loader, node)
            except (ValueError, KeyError, TypeError, OverflowError):
                what = tag[len(_YAML):]
                raise ConstructorError(None, None, f"{node.value!r} is not a valid !!{what}",
                                       node.start_mark) from None
        return construct

    def plain(tag: str) -> Any:
        base = checked(tag)

        def construct(loader: Any, node: Any) -> _Plain:
            return _Plain(str(node.value), base(loader, node))
        return construct

    def unsupported(loader: Any, node: Any) -> Any:
        tag = str(node.tag)
        shown = "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag
        raise ConstructorError(None, None, f"unsupported YAML tag {shown}", node.start_mark)

    # Only these: dates, sets, binary and the rest have no place in a spec.
    SpecLoader.yaml_constructors = {
        tag: (checked(tag) if tag in _TYPED else SafeConstructor.yaml_constructors[tag])
        for tag in _ALLOWED
    }
    for tag in _TYPED:
        SpecLoader.yaml_constructors[_PLAIN + tag] = plain(tag)
    SpecLoader.yaml_constructors[None] = unsupported
    # No implicit dates: `2024-10-01` stays the text it is.
    SpecLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _YAML + "timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return SpecLoader
