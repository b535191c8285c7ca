"""IDENT and the sync state are reached through Airflow connections and Airflow's providers.

Connections are given as users give them (AIRFLOW_CONN_* JSON). IDENT on SQL Server goes
from the connection's fields (no SQL Server here: the exact keyword arguments the real
mssql+pymssql dialect hands to ``pymssql.connect`` are recorded; a closed port gives the real
driver's error); IDENT on
PostgreSQL goes through PostgresHook against the real server and extracts a demo clinic; the
state DSN comes from a postgres connection (read as Airflow reads any) and opens a real session.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import psycopg2
import pytest
from sqlalchemy import event

from identsync.dag.connections import ident_engine, state_dsn
from identsync.errors import ConnectionConfigError, IdentUnreachable, Retry, retry_class
from identsync.ident.extract import extract_receptions
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic


def use(monkeypatch, conn_id: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


class _Stop(Exception):
    """Raised where pymssql.connect would be called: no SQL Server runs here."""


def driver_args(engine) -> dict:
    """The keyword arguments the real mssql+pymssql dialect hands to ``pymssql.connect``."""
    seen: dict = {}

    @event.listens_for(engine, "do_connect")
    def record(dialect, conn_rec, cargs, cparams):
        assert cargs == [] and dialect.driver == "pymssql"
        seen.update(cparams)
        raise _Stop

    with pytest.raises(_Stop):
        engine.connect()
    return seen


PASSWORD = "p@ss:w/o%rd#Пароль?"
COMMON = {"conn_type": "mssql", "login": "readonly", "password": PASSWORD, "schema": "IDENT"}


@pytest.mark.parametrize("given, server, port", [
    ({"host": "ident-server"}, "ident-server", "1433"),
    ({"host": "ident-server", "port": 14330}, "ident-server", "14330"),
    # A named instance without a port: FreeTDS asks SQL Browser (UDP 1434) for its port.
    ({"host": "ident-server\\SQLEXPRESS"}, "ident-server\\SQLEXPRESS", None),
    # A named instance on a static port: the bare host and that port.
    ({"host": "ident-server\\SQLEXPRESS", "port": 49172}, "ident-server", "49172"),
    ({"host": "10.0.0.5,1444"}, "10.0.0.5", "1444"),
], ids=["host", "host+port", "instance", "instance+port", "host,port"])
def test_each_connection_form_reaches_pymssql_as_given(monkeypatch, given, server, port):
    use(monkeypatch, "ident_db", {**COMMON, **given})
    engine = ident_engine("ident_db")
    args = driver_args(engine)
    assert args["server"] == server and args.get("port") == port
    assert (args["user"], args["password"], args["database"]) == ("readonly", PASSWORD, "IDENT")
    assert "host" not in args  # pymssql's host= would override server=
    assert PASSWORD not in repr(engine) and PASSWORD not in str(engine.url)


def test_driver_options_in_the_extra_arrive_typed(monkeypatch):
    use(monkeypatch, "ident_db", {**COMMON, "host": "ident-server\\SQLEXPRESS", "extra": {
        "login_timeout": 5, "timeout": "120", "lock_timeout": 7, "tds_version": "7.4",
        "charset": "UTF-8", "sqlalchemy_scheme": "mssql+pymssql"}})
    args = driver_args(ident_engine("ident_db"))
    assert (args["login_timeout"], args["timeout"], args["tds_version"], args["charset"]) == \
        (5, 120, "7.4", "UTF-8")
    assert args["conn_properties"].endswith("SET LOCK_TIMEOUT 7000;")
    assert "SET QUOTED_IDENTIFIER ON" in args["conn_properties"]  # pymssql's defaults kept
    assert "__extra__" not in args and "sqlalchemy_scheme" not in args


def test_waits_are_bounded_by_default(monkeypatch):
    use(monkeypatch, "ident_db", {**COMMON, "host": "ident-server"})
    args = driver_args(ident_engine("ident_db"))
    assert args["login_timeout"] == 15 and args["timeout"] == 300  # pymssql's: 60 and none
    assert "SET LOCK_TIMEOUT 30000;" in args["conn_properties"]
    assert args["appname"] == "identsync"


@pytest.mark.parametrize("extra, match", [
    ({"port": 1433}, "'port' is not a pymssql option"),
    ({"timeout": "soon"}, "'timeout' must be a whole number"),
    ({"tds_version": 7.4}, "'tds_version' must be a string"),
])
def test_a_bad_extra_names_the_key(monkeypatch, extra, match):
    use(monkeypatch, "ident_db", {**COMMON, "host": "ident-server", "extra": extra})
    with pytest.raises(ConnectionConfigError, match=f"'ident_db'.*{match}"):
        ident_engine("ident_db")


def test_an_unreachable_server_names_the_connection_and_the_fix(monkeypatch):
    # A real pymssql/FreeTDS connection attempt to a closed port: the driver's own error.
    use(monkeypatch, "ident_db", {**COMMON, "host": "127.0.0.1", "port": 1,
                                  "extra": {"login_timeout": 3}})
    with pytest.raises(IdentUnreachable) as info:
        with ident_engine("ident_db").connect():
            pass
    text = str(info.value)
    assert text.startswith("IDENT connection 'ident_db' (127.0.0.1:1): nothing listens")
    assert "TCP/IP" in text and "\n" not in text and PASSWORD not in text
    assert retry_class(info.value) is Retry.TASK
    assert "20009" in str(info.value.__cause__)  # the driver's error stays attached


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



def test_an_unknown_host_says_what_to_check(monkeypatch):
    use(monkeypatch, "ident_db", {**COMMON, "host": "ident-server.invalid",
                                  "extra": {"login_timeout": 3}})
    with pytest.raises(IdentUnreachable, match=r"^IDENT connection 'ident_db' "
                       r"\(ident-server\.invalid\): server unknown or unreachable\. What to do: "
                       r"check the host name"):
        with ident_engine("ident_db").connect():
            pass


def test_the_index_check_command_reports_a_connection_failure(monkeypatch, capsys):
    from identsync.ident.check import main

    use(monkeypatch, "ident_db", {**COMMON, "host": "127.0.0.1", "port": 1})
    assert main(["--conn", "ident_db"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("ERROR: IDENT connection 'ident_db' (127.0.0.1:1): nothing listens")
    assert PASSWORD not in out
