"""Airflow Connections -> what the engine needs: an IDENT SQLAlchemy engine, a state DSN.

IDENT runs on Microsoft SQL Server in production (conn_type ``mssql``, driver pymssql);
the demo and the tests use SQLite or PostgreSQL. Any connection may instead carry a full
SQLAlchemy URL in ``extra.sqlalchemy_url``. Errors name the connection id, never a password.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from identsync.errors import ConnectionConfigError

_DRIVERS = {
    "mssql": "mssql+pymssql",
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
}



def _get_connection(conn_id: str) -> Any:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def sqlalchemy_url(conn: Any, conn_id: str) -> URL | str:
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    ctype = (conn.conn_type or "").lower()
    if ctype == "sqlite":
        if not conn.host:
            raise ConnectionConfigError(f"connection {conn_id!r}: sqlite needs the file path "
                                        "in host")
        return f"sqlite:///{conn.host}"
    if ctype not in _DRIVERS:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: conn_type {ctype!r} is not supported for IDENT; use "
            "mssql, postgres or sqlite, or put a SQLAlchemy URL in extra.sqlalchemy_url")
    query = {}
    if ctype == "mssql":
        query["charset"] = "utf8"
    for key in ("tds_version", "sslmode"):
        if extra.get(key):
            query[key] = str(extra[key])
    return URL.create(_DRIVERS[ctype], username=conn.login or None,
                      password=conn.password or None, host=conn.host or None,
                      port=int(conn.port) if conn.port else None,
                      database=conn.schema or None, query=query)


def ident_engine(conn_id: str) -> sa.Engine:
    """A SQLAlchemy engine for the IDENT database behind an Airflow connection."""
    return sa.create_engine(sqlalchemy_url(_get_connection(conn_id), conn_id),
                            pool_pre_ping=True)


# libpq parameters an operator may put in the connection's extra (PostgresHook passes extras
# to the driver the same way).
_LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options", "connect_timeout",
                 "target_session_attrs", "application_name")


def state_dsn(conn_id: str) -> str:
    """libpq DSN of the PostgreSQL that keeps the sync state, from a ``postgres`` connection.

    The connection is read through PostgresHook (Airflow's own postgres provider), so
    operators manage it, and its secret, like every other connection.
    """
    import psycopg2.extensions
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).connection
    ctype = (conn.conn_type or "").lower()
    if ctype not in ("postgres", "postgresql"):
        raise ConnectionConfigError(f"connection {conn_id!r}: the sync state needs a postgres "
                                    f"connection, got conn_type {ctype!r}")
    extra = conn.extra_dejson or {}
    args = {"host": conn.host or None, "port": conn.port or None, "user": conn.login or None,
            "password": conn.password or None, "dbname": conn.schema or None,
            **{k: extra[k] for k in _LIBPQ_EXTRAS if extra.get(k) not in (None, "")}}
    return psycopg2.extensions.make_dsn(**{k: v for k, v in args.items() if v is not None})
