"""docs/privacy.md lists every state table and column, and nothing that does not exist.

The schema is created in a scratch PostgreSQL schema by the code a run uses
(``SyncState.ensure_schema``) and read back from ``information_schema``: a column added to a
state table without a line in the inventory (what it holds, whether it is personal, how long
it is kept) fails here. Like tests/unit/test_config_schema.py for the configuration table.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg2

from identsync.state import SyncState

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
PERSONAL = {"yes", "pseudonymous", "no"}


def documented() -> dict[str, dict[str, str]]:
    """table -> column -> its *personal* cell, from the doc's "State database" section."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## State database\n", 1)[1].split("\n## ", 1)[0]
    out: dict[str, dict[str, str]] = {}
    table = None
    for line in section.splitlines():
        if m := re.match(r"^### `([a-z_]+)`\s*$", line):
            table = m.group(1)
            out[table] = {}
        elif table and (m := re.match(r"^\| `([a-z_]+)` \|.*\| ([^|]+) \|\s*$", line)):
            out[table][m.group(1)] = m.group(2).strip().strip("*")
    return out


def actual(dsn: str) -> dict[str, set[str]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema()")
            out: dict[str, set[str]] = {}
            for t, c in cur.fetchall():
                out.setdefault(t, set()).add(c)
            return out
    finally:
        conn.close()


def test_every_state_table_and_column_is_in_the_inventory(pg_dsn):
    SyncState(pg_dsn).ensure_schema()
    have = actual(pg_dsn)
    doc = documented()
    assert len(have) >= 12  # the parse and the schema both found something
    missing = {f"{t}.{c}" for t, cols in have.items() for c in cols
               if c not in doc.get(t, {})}
    stale = {f"{t}.{c}" for t, cols in doc.items() for c in cols
             if c not in have.get(t, set())}
    assert not missing, f"add to docs/privacy.md: {sorted(missing)}"
    assert not stale, f"docs/privacy.md lists what no longer exists: {sorted(stale)}"


def test_every_column_says_whether_it_is_personal():
    bad = {f"{t}.{c}": v for t, cols in documented().items() for c, v in cols.items()
           if v not in PERSONAL}
    assert not bad


def test_every_table_with_personal_data_says_how_long_it_is_kept():
    text = DOC.read_text(encoding="utf-8")
    for table, cols in documented().items():
        if set(cols.values()) - {"no"}:
            block = text.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0]
            assert "Kept" in block, f"{table}: no retention rule in docs/privacy.md"
