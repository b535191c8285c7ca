"""Two clones' demos on one PostgreSQL server keep their own state (issue 21, 9).

The demo's state database had one fixed name, and a clone with a fresh portal dropped it
(`DROP DATABASE ... WITH (FORCE)`) under another clone's feet. Each clone here is a real copy
of tools/ and b24emu/ in its own folder, running the demo's own set-up step in its own process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tools import pgserver

ROOT = Path(__file__).resolve().parents[2]
STEP = ("from tools import demo; demo.ensure_state_db(fresh=demo.fresh_portal()); "
        "print(demo.STATE_DB)")


def make_clone(where: Path) -> Path:
    for part in ("tools", "b24emu"):
        shutil.copytree(ROOT / part, where / part,
                        ignore=shutil.ignore_patterns("__pycache__", "var"))
    return where


def demo_setup(clone: Path) -> str:
    """The demo's state-database step, as `make demo` in ``clone`` runs it; the db name."""
    env = {**os.environ, "PYTHONPATH": str(clone)}
    proc = subprocess.run([sys.executable, "-c", STEP], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def exists(db: str) -> bool:
    with psycopg2.connect(pgserver.database_url("postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        return cur.fetchone() is not None


@pytest.fixture
def clones(tmp_path: Path):
    a, b = make_clone(tmp_path / "a" / "identsync"), make_clone(tmp_path / "b" / "identsync")
    names: list[str] = []
    yield a, b, names
    for db in names:
        pgserver.drop_database(db)


def test_each_clone_has_its_own_state_database_and_never_drops_anothers(clones) -> None:
    a, b, names = clones
    db_a = demo_setup(a)
    names.append(db_a)
    # Clone A's sync writes its ledger.
    with psycopg2.connect(pgserver.database_url(db_a)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ledger (deal int)")
        cur.execute("INSERT INTO ledger VALUES (7)")
    conn.close()
    # Clone B starts with a fresh portal: it (re)creates its state database...
    db_b = demo_setup(b)
    names.append(db_b)
    assert db_b != db_a and exists(db_a) and exists(db_b)
    # ...and clone A's ledger is still there.
    with psycopg2.connect(pgserver.database_url(db_a)) as conn, conn.cursor() as cur:
        cur.execute("SELECT deal FROM ledger")
        assert cur.fetchall() == [(7,)]
    conn.close()
    # A clone's name is stable (its next `make demo` finds its own database) and is a plain
    # PostgreSQL identifier named after the demo.
    assert demo_setup(b) == db_b
    for db in (db_a, db_b):
        assert db.startswith("identsync_demo_") and len(db) < 63 and db == db.lower()


def test_the_name_follows_the_clones_path(tmp_path: Path) -> None:
    from tools import demo

    assert demo.STATE_DB == demo.clone_state_db(ROOT)
    assert demo.clone_state_db(tmp_path / "x") != demo.clone_state_db(tmp_path / "y")
    assert demo.clone_state_db(tmp_path / "x") == demo.clone_state_db(tmp_path / "x" / ".")
