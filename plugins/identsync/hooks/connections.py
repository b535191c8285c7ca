"""Airflow Connections -> what the engine needs: an IDENT SQLAlchemy engine, a state DSN.

IDENT runs on Microsoft SQL Server in production (conn_type ``mssql``, driver pymssql);
the demo and the tests use SQLite or PostgreSQL. Any connection may instead carry a full
SQLAlchemy URL in ``extra.sqlalchemy_url``. Errors name the connection id, never a password.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

_DRIVERS = {
    "mssql": "mssql+pymssql",
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
}


class ConnectionConfigError(ValueError):
    pass


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


def postgres_dsn(conn: Any, conn_id: str) -> str:
    extra = conn.extra_dejson or {}
    if extra.get("dsn"):
        return str(extra["dsn"])
    ctype = (conn.conn_type or "").lower()
    if ctype not in ("postgres", "postgresql"):
        raise ConnectionConfigError(f"connection {conn_id!r}: the sync state needs a postgres "
                                    f"connection, got conn_type {ctype!r}")
    query = {k: str(extra[k]) for k in ("sslmode", "options") if extra.get(k)}
    url = URL.create("postgresql", username=conn.login or None, password=conn.password or None,
                     host=conn.host or None, port=int(conn.port) if conn.port else None,
                     database=conn.schema or None, query=query)
    return url.render_as_string(hide_password=False)


def state_dsn(conn_id: str) -> str:
    """DSN of the PostgreSQL that keeps the sync state (Airflow's own, in a deployment)."""
    return postgres_dsn(_get_connection(conn_id), conn_id)
