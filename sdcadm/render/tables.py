"""Tables in the original's plain layout (node-tabula semantics), and JSON output.

- header = field names upper-cased; `-H` drops it;
- columns left aligned, two spaces apart, the last one not padded (no trailing spaces);
- `null` cells print `-`, objects and arrays as compact JSON;
- `-s a,-b`: stable multi-key sort, `-` = descending, numeric compare when both values are
  numbers, undefined first when ascending;
- `-j` = JSON with a 4-space indent; `-J` = one compact JSON object per line.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from sdcadm.errors import UsageError

Row = Mapping[str, Any]


def split_fields(values: str | Iterable[str] | None) -> list[str]:
    """`-o a,b -o c` -> [a, b, c] (click gives repeated options as a tuple)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [f.strip() for v in values for f in v.split(",") if f.strip()]


def check_fields(fields: Sequence[str], valid: Iterable[str] | None, what: str) -> None:
    if valid is None:
        return
    allowed = set(valid)
    for f in fields:
        name = f[1:] if what == "sort" and f.startswith("-") else f
        if name not in allowed:
            raise UsageError(f'invalid {what} field: "{name}"')


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            n = float(v)
        except ValueError:
            return None
        return n if n == n else None  # "nan" is not a number to sort by
    return None


def _cell_sort_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _sort_key(v: Any) -> tuple[int, float, str]:
    """Undefined first, then numbers by value, then everything else as text.

    tabula compares pairs (numerically when both are numbers, else as strings), which is
    not a total order when a column mixes both; this key agrees with it on columns of
    one kind and sorts in one pass per field, which matters for 10,000-row listings.
    """
    if v is None:
        return (0, 0.0, "")
    n = _as_number(v)
    if n is not None:
        return (1, n, "")
    return (2, 0.0, _cell_sort_text(v))


def sort_rows(rows: Sequence[Row], keys: Sequence[str]) -> list[Row]:
    """Stable multi-key sort; a key prefixed with `-` sorts descending."""
    out = list(rows)
    # Python's sort is stable (also with reverse=True): sort by the last key first.
    for key in reversed(keys):
        field, desc = (key[1:], True) if key.startswith("-") else (key, False)
        out.sort(key=_memo_key(field), reverse=desc)
    return out


def _memo_key(field: str) -> Any:
    """`_sort_key` of a row's `field`, worked out once per value: a 12,000-row listing has
    a few dozen services and versions, and a thousand hostnames."""
    memo: dict[tuple[type, Any], tuple[int, float, str]] = {}

    def key(row: Row) -> tuple[int, float, str]:
        v = row.get(field)
        try:
            return memo[(type(v), v)]  # the type too: 1, 1.0 and True are one dict key
        except KeyError:
            k = memo[(type(v), v)] = _sort_key(v)
            return k
        except TypeError:  # a list or a mapping
            return _sort_key(v)

    return key


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def format_table(rows: Sequence[Row], columns: Sequence[str], *, header: bool = True) -> str:
    """The rows as plain text (no trailing newline); empty string for no rows and no header."""
    import tabulate as tabulate_module

    body = [[cell(r.get(c)) for c in columns] for r in rows]
    if not body and not header:
        return ""
    # tabulate widens every column to its header plus 2; tabula sizes columns by content.
    saved = tabulate_module.MIN_PADDING
    tabulate_module.MIN_PADDING = 0
    try:
        text = tabulate_module.tabulate(
            body,
            headers=[c.upper() for c in columns] if header else (),
            tablefmt="plain",
            stralign="left",
            numalign="left",
            disable_numparse=True,
            missingval="-",
        )
    finally:
        tabulate_module.MIN_PADDING = saved
    if header and not body:
        # tabulate prints nothing useful for a header-only table.
        text = "  ".join(c.upper() for c in columns)
    return "\n".join(line.rstrip() for line in text.splitlines())


def format_json(data: Any) -> str:
    """`JSON.stringify(data, null, 4)`."""
    from sdcadm.render.jsontext import indented

    return indented(data)


def format_json_stream(rows: Iterable[Any]) -> str:
    return "\n".join(json.dumps(r, separators=(",", ":")) for r in rows)


def table_output(
    rows: Sequence[Row],
    *,
    columns: str | Iterable[str] | None,
    default_columns: Sequence[str],
    sort: str | Iterable[str] | None,
    default_sort: Sequence[str],
    valid_fields: Iterable[str] | None = None,
    header: bool = True,
) -> str:
    """Check `-o`/`-s`, sort and format: the usual path of a list command."""
    cols, ordered = prepare(rows, columns=columns, default_columns=default_columns, sort=sort,
                            default_sort=default_sort, valid_fields=valid_fields)
    return format_table(ordered, cols, header=header)


def prepare(
    rows: Sequence[Row],
    *,
    columns: str | Iterable[str] | None,
    default_columns: Sequence[str],
    sort: str | Iterable[str] | None,
    default_sort: Sequence[str],
    valid_fields: Iterable[str] | None = None,
) -> tuple[list[str], list[Row]]:
    """Check `-o`/`-s` against `valid_fields`: (the columns to show, the rows sorted)."""
    cols = split_fields(columns) or list(default_columns)
    keys = split_fields(sort) or list(default_sort)
    valid = list(valid_fields) if valid_fields is not None else None
    check_fields(cols, valid, "output")
    check_fields(keys, valid, "sort")
    return cols, sort_rows(rows, keys)
