"""State of the simulated datacenter: documents in SQLite with an in-memory mirror.

Every service runs in one asyncio loop, so handlers never interleave between a read and
the write that follows it; SQLite (WAL) makes every write durable, and the mirror keeps
reads of a thousand servers cheap. Documents returned by `get`/`all` are shared: copy
before changing (`edit` does that).
"""
from __future__ import annotations

import copy
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS mutations (n INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Rows = list[tuple[str, str, int, str]]


class Store:
    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.docs: dict[str, dict[str, Any]] = {}
        self.seqs: dict[str, dict[str, int]] = {}
        self.seq = 0
        self._load()

    def _load(self) -> None:
        self.docs.clear()
        self.seqs.clear()
        self.seq = 0
        rows = self.db.execute("SELECT kind, id, seq, body FROM docs ORDER BY seq")
        for kind, id_, seq, body in rows:
            self.docs.setdefault(kind, {})[id_] = json.loads(body)
            self.seqs.setdefault(kind, {})[id_] = seq
            self.seq = max(self.seq, seq)

    def is_empty(self) -> bool:
        return self.db.execute("SELECT COUNT(*) FROM docs").fetchone()[0] == 0

    # -- documents ---------------------------------------------------------------------
    def get(self, kind: str, id_: str) -> Any | None:
        return self.docs.get(kind, {}).get(id_)

    def all(self, kind: str) -> list[Any]:
        return list(self.docs.get(kind, {}).values())

    def put(self, kind: str, id_: str, doc: Any) -> Any:
        seqs = self.seqs.setdefault(kind, {})
        if id_ not in seqs:
            self.seq += 1
            seqs[id_] = self.seq
        self.docs.setdefault(kind, {})[id_] = doc
        self.db.execute("INSERT OR REPLACE INTO docs (kind, id, seq, body) VALUES (?, ?, ?, ?)",
                        (kind, id_, seqs[id_], json.dumps(doc)))
        return doc

    def edit(self, kind: str, id_: str, fn: Callable[[Any], object]) -> Any:
        """Apply `fn` to a copy of the document and store it; None when absent."""
        current = self.get(kind, id_)
        if current is None:
            return None
        doc = copy.deepcopy(current)
        fn(doc)
        return self.put(kind, id_, doc)

    def delete(self, kind: str, id_: str) -> bool:
        found = self.docs.get(kind, {}).pop(id_, None) is not None
        self.seqs.get(kind, {}).pop(id_, None)
        self.db.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, id_))
        return found

    # -- whole-state operations ----------------------------------------------------------
    def replace_all(self, rows: Rows) -> None:
        """Make the state exactly `rows` (kind, id, seq, json body): a scenario reset."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM docs")
            self.db.execute("DELETE FROM mutations")
            self.db.executemany("INSERT INTO docs (kind, id, seq, body) VALUES (?, ?, ?, ?)", rows)
        self.docs.clear()
        self.seqs.clear()
        for kind, id_, seq, body in rows:
            self.docs.setdefault(kind, {})[id_] = json.loads(body)
            self.seqs.setdefault(kind, {})[id_] = seq
        self.seq = max((r[2] for r in rows), default=0)

    # -- meta and the mutation log -------------------------------------------------------
    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        (key, json.dumps(value)))

    def log_mutation(self, entry: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO mutations (body) VALUES (?)", (json.dumps(entry),))

    def mutations(self) -> list[dict[str, Any]]:
        return [json.loads(b) for (b,) in self.db.execute("SELECT body FROM mutations ORDER BY n")]

    def clear_mutations(self) -> None:
        self.db.execute("DELETE FROM mutations")

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass


def rows_from(docs: Iterable[tuple[str, str, Any]]) -> Rows:
    return [(kind, id_, n, json.dumps(doc)) for n, (kind, id_, doc) in enumerate(docs, start=1)]


def now_iso(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"
