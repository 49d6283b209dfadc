"""The options every list command shares (`-j -H -o -s`) and the one way they print."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import click


def list_options(
    default_columns: Sequence[str],
    default_sort: Sequence[str],
    *,
    columns: bool = True,
    sort: bool = True,
    stream: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add `-j/--json`, `-H`, `-o`, `-s` (and `-J/--jsonstream`) in the original's words."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        opts = [
            click.option("-j", "--json", "as_json", is_flag=True, help="JSON output."),
        ]
        if stream:
            opts.append(click.option("-J", "--jsonstream", "as_stream", is_flag=True,
                                     help="JSON stream output (one object per line)."))
        opts.append(click.option("-H", "no_header", is_flag=True,
                                 help="Omit table header row."))
        if columns:
            opts.append(click.option(
                "-o", "columns", multiple=True, metavar="field1,...",
                help="Specify fields (columns) to output. Default is "
                     f'"{",".join(default_columns)}".'))
        if sort:
            opts.append(click.option(
                "-s", "sort", multiple=True, metavar="field1,...",
                help=f'Sort on the given fields. Default is "{",".join(default_sort)}".'))
        for opt in reversed(opts):
            f = opt(f)
        return f

    return decorate


def emit_rows(
    app: Any,
    rows: Sequence[dict[str, Any]],
    *,
    as_json: bool = False,
    as_stream: bool = False,
    no_header: bool = False,
    columns: Iterable[str] | None = None,
    sort: Iterable[str] | None = None,
    default_columns: Sequence[str],
    default_sort: Sequence[str],
    valid_fields: Iterable[str] | None = None,
    empty: str | None = None,
    json_rows: Sequence[Any] | None = None,
) -> None:
    """Validate fields, sort (JSON output is sorted too) and print rows.

    `json_rows` (parallel to `rows`) replaces the rows in JSON output, for commands whose
    JSON is richer than their table; `empty` is printed instead of an empty table.
    """
    from sdcadm.render import tables

    cols, ordered = tables.prepare(rows, columns=columns, default_columns=default_columns,
                                   sort=sort, default_sort=default_sort,
                                   valid_fields=valid_fields)
    data: list[Any] = list(ordered)
    if json_rows is not None:
        richer = {id(r): j for r, j in zip(rows, json_rows, strict=True)}
        data = [richer[id(r)] for r in ordered]
    if as_json:
        app.out(tables.format_json(data))
    elif as_stream:
        if data:
            app.out(tables.format_json_stream(data))
    elif not ordered and empty is not None:
        app.out(empty)
    else:
        text = tables.format_table(ordered, cols, header=not no_header)
        if text:
            app.out(text)
