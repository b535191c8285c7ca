"""Portal state: entity tables with indexes, user fields, optional SQLite write-through."""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
from typing import Any, Iterable, Iterator

from b24emu.phones import normalize_email, normalize_phone
from b24emu.schema import MULTI_FIELDS

_COMM_NORMALIZERS = {"PHONE": normalize_phone, "EMAIL": normalize_email}


def index_keys(row: dict[str, Any], field: str) -> list[str]:
    """Keys a row has in an equality index on ``field`` ("" stands for empty)."""
    value = row.get(field)
    if field in MULTI_FIELDS:
        vals = [item.get("VALUE") for item in (value or [])]
        return [str(v) for v in vals] or [""]
    if isinstance(value, list):
        return [str(v) for v in value] or [""]
    if value is None or value is False:
        return [""]
    return [str(value)]


class EntityTable:
    """Rows of one entity kind: a dict by ID, ascending ID list, lazy equality indexes."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.rows: dict[int, dict[str, Any]] = {}
        self.ids: list[int] = []
        self.next_id = 1
        self._eq: dict[str, dict[str, set[int]]] = {}
        self._comm: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        self.rows.clear()
        self.ids.clear()
        self.next_id = 1
        self._eq.clear()
        self._comm.clear()

    def get(self, entity_id: int) -> dict[str, Any] | None:
        return self.rows.get(entity_id)

    def insert(self, row: dict[str, Any]) -> int:
        """Store a new row; assigns ``ID`` unless the row brings one (loading)."""
        if row.get("ID") in (None, ""):
            entity_id = self.next_id
            row["ID"] = str(entity_id)
        else:
            entity_id = int(row["ID"])
        self.next_id = max(self.next_id, entity_id + 1)
        self.put(entity_id, row)
        return entity_id

    def put(self, entity_id: int, row: dict[str, Any]) -> None:
        """Insert or replace a row, keeping every built index current."""
        old = self.rows.get(entity_id)
        if old is not None:
            self._unindex(entity_id, old)
        else:
            if self.ids and entity_id < self.ids[-1]:
                bisect.insort(self.ids, entity_id)
            else:
                self.ids.append(entity_id)
        self.rows[entity_id] = row
        self._index(entity_id, row)

    def remove(self, entity_id: int) -> dict[str, Any] | None:
        """Forget a row (a manager deleted it); its id is never given out again."""
        row = self.rows.pop(entity_id, None)
        if row is not None:
            self._unindex(entity_id, row)
            pos = bisect.bisect_left(self.ids, entity_id)
            if pos < len(self.ids) and self.ids[pos] == entity_id:
                del self.ids[pos]
        return row

    def _index(self, entity_id: int, row: dict[str, Any]) -> None:
        for field, idx in self._eq.items():
            for key in index_keys(row, field):
                idx.setdefault(key, set()).add(entity_id)
        for key in self._comm_keys(row):
            self._comm.setdefault(key, set()).add(entity_id)

    def _unindex(self, entity_id: int, row: dict[str, Any]) -> None:
        for field, idx in self._eq.items():
            for key in index_keys(row, field):
                bucket = idx.get(key)
                if bucket is not None:
                    bucket.discard(entity_id)
                    if not bucket:
                        del idx[key]
        for key in self._comm_keys(row):
            bucket = self._comm.get(key)
            if bucket is not None:
                bucket.discard(entity_id)
                if not bucket:
                    del self._comm[key]

    @staticmethod
    def _comm_keys(row: dict[str, Any]) -> set[str]:
        keys: set[str] = set()
        for ctype, norm in _COMM_NORMALIZERS.items():
            for item in row.get(ctype) or []:
                n = norm(item.get("VALUE"))
                if n:
                    keys.add(f"{ctype}:{n}")
        return keys

    def eq_lookup(self, field: str, values: Iterable[Any]) -> set[int]:
        """IDs whose ``field`` equals one of ``values`` (built on first use, then maintained)."""
        if field == "ID":
            out: set[int] = set()
            for v in values:
                try:
                    i = int(str(v).strip())
                except ValueError:
                    continue
                if i in self.rows:
                    out.add(i)
            return out
        idx = self._eq.get(field)
        if idx is None:
            idx = {}
            for entity_id, row in self.rows.items():
                for key in index_keys(row, field):
                    idx.setdefault(key, set()).add(entity_id)
            self._eq[field] = idx
        out = set()
        for v in values:
            out |= idx.get("" if v is None else str(v), set())
        return out

    def comm_lookup(self, ctype: str, normalized: str) -> set[int]:
        return set(self._comm.get(f"{ctype}:{normalized}", ()))

    def iter_ids(self, min_id: int | None = None, descending: bool = False) -> Iterator[int]:
        """IDs in order, optionally starting above ``min_id`` (fast >ID paging)."""
        if descending:
            yield from reversed(self.ids)
            return
        start = 0 if min_id is None else bisect.bisect_right(self.ids, min_id)
        # Copy-free iteration; the caller holds the portal lock.
        for pos in range(start, len(self.ids)):
            yield self.ids[pos]


class SqliteStore:
    """Write-through persistence: every committed write is one row upsert."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS entity (kind TEXT NOT NULL, id INTEGER NOT NULL,"
            " data TEXT NOT NULL, PRIMARY KEY (kind, id))"
        )
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")

    def save_entity(self, kind: str, entity_id: int, row: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO entity (kind, id, data) VALUES (?, ?, ?)",
            (kind, entity_id, json.dumps(row, ensure_ascii=False)),
        )

    def delete_entity(self, kind: str, entity_id: int) -> None:
        self.conn.execute("DELETE FROM entity WHERE kind = ? AND id = ?", (kind, entity_id))

    def save_meta(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def load(self) -> tuple[list[tuple[str, int, dict[str, Any]]], dict[str, Any]]:
        rows = [
            (kind, entity_id, json.loads(data))
            for kind, entity_id, data in self.conn.execute(
                "SELECT kind, id, data FROM entity ORDER BY kind, id"
            )
        ]
        meta = {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        return rows, meta

    def clear(self) -> None:
        self.conn.execute("DELETE FROM entity")
        self.conn.execute("DELETE FROM meta")

    def close(self) -> None:
        self.conn.close()


ENTITY_KINDS = ("contact", "deal", "comment")


class Portal:
    """All entity state of one emulated portal. Callers hold ``lock`` while using it."""

    def __init__(self, state_path: str | None = None) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, EntityTable] = {k: EntityTable(k) for k in ENTITY_KINDS}
        self.userfields: dict[str, dict[str, dict[str, Any]]] = {"deal": {}, "contact": {}}
        self.next_multifield_id = 1
        self.next_userfield_id = 1
        self.sqlite: SqliteStore | None = SqliteStore(state_path) if state_path else None
        if self.sqlite is not None:
            self._load()

    @property
    def contacts(self) -> EntityTable:
        return self.tables["contact"]

    @property
    def deals(self) -> EntityTable:
        return self.tables["deal"]

    @property
    def comments(self) -> EntityTable:
        return self.tables["comment"]

    def _load(self) -> None:
        assert self.sqlite is not None
        rows, meta = self.sqlite.load()
        for kind, _entity_id, row in rows:
            if kind in self.tables:
                self.tables[kind].insert(row)
        counters = meta.get("counters", {})
        for kind, table in self.tables.items():
            table.next_id = max(table.next_id, int(counters.get(kind, 1)))
        self.next_multifield_id = int(counters.get("multifield", 1))
        self.next_userfield_id = int(counters.get("userfield", 1))
        self.userfields = meta.get("userfields", self.userfields)

    def new_multifield_id(self) -> str:
        value = self.next_multifield_id
        self.next_multifield_id += 1
        return str(value)

    def new_userfield_id(self) -> str:
        value = self.next_userfield_id
        self.next_userfield_id += 1
        return str(value)

    def commit(self, kind: str | None = None, entity_id: int | None = None) -> None:
        """Write one changed entity (and the counters) through to SQLite, if configured."""
        if self.sqlite is None:
            return
        if kind is not None and entity_id is not None:
            row = self.tables[kind].rows[entity_id]
            self.sqlite.save_entity(kind, entity_id, row)
        self.sqlite.save_meta("counters", self.counters())
        if kind is None:
            self.sqlite.save_meta("userfields", self.userfields)

    def delete(self, kind: str, entity_id: int) -> dict[str, Any] | None:
        """Remove one entity (and its persisted copy); returns the row it was."""
        row = self.tables[kind].remove(entity_id)
        if row is not None and self.sqlite is not None:
            self.sqlite.delete_entity(kind, entity_id)
        return row

    def counters(self) -> dict[str, int]:
        out = {k: t.next_id for k, t in self.tables.items()}
        out["multifield"] = self.next_multifield_id
        out["userfield"] = self.next_userfield_id
        return out

    def reset(self) -> None:
        """Forget every entity and user field (and the persisted copy)."""
        with self.lock:
            for table in self.tables.values():
                table.clear()
            self.userfields = {"deal": {}, "contact": {}}
            self.next_multifield_id = 1
            self.next_userfield_id = 1
            if self.sqlite is not None:
                self.sqlite.clear()

    def close(self) -> None:
        if self.sqlite is not None:
            with self.lock:
                self.sqlite.close()
                self.sqlite = None
