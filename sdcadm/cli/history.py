"""`sdcadm history [UUID]`: what mutating sdcadm commands did, from SAPI or local files."""
from __future__ import annotations

from typing import Any, Mapping

import click

from sdcadm.render.listing import list_options

DEFAULT_COLUMNS = ("uuid", "user", "started", "finished", "changes", "error")
DEFAULT_SORT = ("-started", "finished")
VALID_FIELDS = DEFAULT_COLUMNS
TRUNCATE = 40


@click.command("history", short_help="History of sdcadm commands.")
@list_options(DEFAULT_COLUMNS, DEFAULT_SORT)
@click.option("--since", metavar="ISO-DATE", help="Only entries started at or after this time "
              "(ISO date, UTC unless it has an offset; or seconds or ms since the epoch).")
@click.option("--until", metavar="ISO-DATE", help="Only entries started at or before this time.")
@click.option("-f", "--follow", is_flag=True,
              help="Follow a run as its journal grows (RUN, else the newest unfinished run).")
@click.argument("args", nargs=-1, metavar="[HISTORY-ITEM-UUID]")
@click.pass_obj
def history(app: Any, as_json: bool, no_header: bool, columns: tuple[str, ...],
            sort: tuple[str, ...], since: str | None, until: str | None, follow: bool,
            args: tuple[str, ...]) -> None:
    """History of sdcadm commands.

    Lists the updates, rollbacks and other changes sdcadm made (newest first), or shows
    one entry in full when given its UUID. Entries come from SAPI; when SAPI cannot be
    read, from the local copies kept while it was down.
    """
    import json

    from sdcadm.errors import UsageError
    from sdcadm.executor.history import store_for
    from sdcadm.model import is_uuid
    from sdcadm.render.tables import table_output

    if len(args) > 1:
        raise UsageError(f"too many args: {' '.join(args)}")
    if follow:
        _follow(app, args[0] if args else None)
        return
    store = store_for(app)
    if args:
        uuid = args[0]
        if not is_uuid(uuid):
            raise UsageError(f"Invalid UUID: {uuid}")
        entry = store.get(uuid)
        if entry is None:
            from sdcadm.errors import SDCClientError

            raise SDCClientError("sapi", "ResourceNotFound", f"history item {uuid} not found",
                                 status=404)
        from pathlib import Path

        from sdcadm.executor.follow import live_steps

        if isinstance(entry.get("steps"), list):
            # While a run runs, its entry only knows the steps it planned: the journal here
            # knows how far each one got.
            entry["steps"] = live_steps(Path(app.config.var_dir), uuid, entry["steps"])
        app.out(json.dumps(entry, indent=4))
        return
    since_iso = normalize_date(since) if since else None
    until_iso = normalize_date(until) if until else None
    if since_iso and until_iso and since_iso > until_iso:
        # Swapped bounds list nothing, which reads as "no runs in that window".
        raise UsageError(f"--since ({since_iso}) is after --until ({until_iso})")
    if not as_json:
        # A row of each entry is all the table needs: the entries are not kept.
        rows = store.list(since=since_iso, until=until_iso, shape=history_row)
        if not rows:
            return  # as the original: an empty history prints nothing at all
        app.out(table_output(rows, columns=columns, default_columns=DEFAULT_COLUMNS,
                             sort=sort, default_sort=DEFAULT_SORT, valid_fields=VALID_FIELDS,
                             header=not no_header))
        return
    from sdcadm.render.tables import check_fields, sort_rows, split_fields

    entries = store.list(since=since_iso, until=until_iso)
    rows = [history_row(e) for e in entries]
    keys = split_fields(sort) or list(DEFAULT_SORT)
    check_fields(keys, VALID_FIELDS, "sort")
    by_id = {id(r): e for r, e in zip(rows, entries, strict=True)}
    app.out(json.dumps([by_id[id(r)] for r in sort_rows(rows, keys)], indent=4))


def _follow(app: Any, run: str | None) -> None:
    """Print a run's steps as they start and end, until the run ends."""
    from pathlib import Path

    from sdcadm.errors import UsageError
    from sdcadm.executor.follow import (
        describe_event,
        events_as_they_come,
        pick_run,
        summaries_of,
    )
    from sdcadm.executor.journal import run_uuid_of
    from sdcadm.executor.lock import read_holder

    run_dir = pick_run(Path(app.config.var_dir), run)
    if run_dir is None:
        raise UsageError(f'no run "{run}" here' if run else "no run to follow here")
    uuid = run_uuid_of(run_dir)

    def running() -> bool:
        return read_holder(app.config.lock_path).get("run_uuid") == uuid

    app.out(f"Following run {uuid} ({run_dir})")
    summaries = summaries_of(run_dir)
    for ev in events_as_they_come(run_dir, running=running):
        line = describe_event(ev, summaries)
        if line:
            app.out(line)
    if not running():
        from sdcadm.executor.journal import Journal

        state = Journal(run_dir).state()
        if state.open and state.status is None:
            app.out("The run is not running and never ended: resume it or abandon it.")


def history_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    changes = entry.get("changes") or []
    if isinstance(changes, Mapping):
        changes = [changes]
    labels = []
    for c in changes:
        svc = c.get("service") if isinstance(c, Mapping) else None
        name = svc.get("name") if isinstance(svc, Mapping) else None
        ctype = c.get("type") if isinstance(c, Mapping) else None
        if name is None and ctype == "update-platform":
            name = "platform"  # platform changes have no service; the original named it so
        elif name is None and ctype == "reboot-servers":
            name = "servers"
        labels.append(f"{ctype}({name})" if ctype and name else (ctype or ""))
    err = entry.get("error")
    if isinstance(err, Mapping):
        err_text = str(err.get("message") or json_compact(err)).splitlines()[0] if err else None
    else:
        err_text = str(err).splitlines()[0] if err else None
    return {
        "uuid": entry.get("uuid"),
        "user": entry.get("username"),
        "started": iso_time(entry.get("started")),
        # A run that never recorded its end is running, or died: resume or abandon it.
        "finished": iso_time(entry.get("finished")) or "unfinished",
        "changes": truncate(",".join(labels)),
        "error": truncate(err_text) if err_text else None,
    }


def truncate(text: str | None, width: int = TRUNCATE) -> str | None:
    if text is None:
        return None
    return text if len(text) <= width else text[:width] + "..."


def iso_time(value: Any) -> str | None:
    """ms since the epoch (or a date string) -> `2014-12-03T18:01:19.385Z`."""
    from datetime import datetime, timezone

    from sdcadm.executor.history import to_ms

    ms = to_ms(value)
    if ms is None:
        return None if value is None else str(value)
    dt = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _mail_date(value: str) -> Any:
    """`date` and `date -R` output (`Sat Nov 21 14:30:54 UTC 2026`), as the original's
    JavaScript Date read them; only with a zone it knows, never guessing UTC for CET."""
    from email.utils import parsedate_to_datetime

    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return dt if dt.tzinfo is not None else None


def normalize_date(text: str) -> str:
    """Parse a date the way an operator writes one; UsageError `Invalid Date: X` otherwise."""
    from datetime import datetime, timezone

    from sdcadm.errors import UsageError

    value = text.strip()
    dt = None
    if value.isdigit():
        # `date +%s` prints seconds; ms since the epoch (what history stores) has 13
        # digits today. Read as ms, a seconds value meant 1970 and matched everything.
        scale = 1 if len(value) <= 11 else 1000
        dt = datetime.fromtimestamp(int(value) / scale, timezone.utc)
    else:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            dt = _mail_date(value)
    if dt is None:
        raise UsageError(f"Invalid Date: {text}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    ms = int(dt.timestamp() * 1000)
    return iso_time(ms) or ""


def json_compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))
