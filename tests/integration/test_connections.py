"""IDENT and the sync state are reached through Airflow connections and Airflow's providers.

Connections are given as users give them (AIRFLOW_CONN_* JSON). IDENT on SQL Server goes
through MsSqlHook (no SQL Server here: its engine's URL is checked, not used); IDENT on
PostgreSQL goes through PostgresHook against the real server and extracts a demo clinic; the
state DSN comes from a postgres connection via PostgresHook and opens a real session.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import psycopg2
import pytest

from identsync.dag.connections import ident_engine, state_dsn
from identsync.errors import ConnectionConfigError
from identsync.ident.extract import extract_receptions
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic


def use(monkeypatch, conn_id: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_mssql_connection_gives_a_pymssql_engine_through_mssqlhook(monkeypatch):
    use(monkeypatch, "ident_db", {"conn_type": "mssql", "host": "ident-server", "port": 1433,
                                  "login": "readonly", "password": "s3cret!", "schema": "IDENT"})
    engine = ident_engine("ident_db")
    url = engine.url
    assert (url.drivername, url.host, url.port, url.database, url.username) == \
        ("mssql+pymssql", "ident-server", 1433, "IDENT", "readonly")
    assert url.password == "s3cret!" and "s3cret!" not in repr(engine)


def test_postgres_ident_is_read_through_postgreshook(monkeypatch, pg_dsn):
    conn = pgserver.airflow_connection(pg_dsn)
    # PostgresHook's engine takes URL query parameters from extra.sqlalchemy_query.
    conn["extra"] = {"sqlalchemy_query": conn.pop("extra")}
    use(monkeypatch, "ident_db", conn)
    engine = ident_engine("ident_db")
    with engine.connect() as c:  # the test's own schema, not public
        assert c.exec_driver_sql("SELECT current_schema()").scalar() == \
            pg_dsn.rsplit("%3D", 1)[-1]
    create_schema(engine)
    generate_clinic(engine, seed=2, receptions=30, patients=15, start=date(2026, 11, 20),
                    days=1, now=datetime(2026, 11, 21, 12, 0))
    rows = list(extract_receptions(engine, datetime(2026, 11, 1), datetime(2027, 1, 1)))
    assert len(rows) == 30
    engine.dispose()


def test_sqlite_demo_and_unsupported_types(monkeypatch, tmp_path):
    use(monkeypatch, "ident_db", {"conn_type": "sqlite", "host": str(tmp_path / "i.sqlite3")})
    assert ident_engine("ident_db").url.drivername == "sqlite"
    use(monkeypatch, "ident_db", {"conn_type": "mysql", "host": "x"})
    with pytest.raises(ConnectionConfigError, match="'ident_db'.*mysql"):
        ident_engine("ident_db")


def test_state_dsn_from_a_postgres_connection_opens_the_schema(monkeypatch, pg_dsn):
    use(monkeypatch, "identsync_state", pgserver.airflow_connection(pg_dsn))
    dsn = state_dsn("identsync_state")
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_schema()")
            assert cur.fetchone()[0] == pg_dsn.rsplit("%3D", 1)[-1]
    finally:
        conn.close()
    use(monkeypatch, "identsync_state", {"conn_type": "http", "host": "x"})
    with pytest.raises(ConnectionConfigError, match="needs a postgres connection"):
        state_dsn("identsync_state")

