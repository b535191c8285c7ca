"""Airflow Connections -> what the sync needs: an IDENT SQLAlchemy engine, a state DSN.

Both come from Airflow connections, so operators manage every secret as a connection:
IDENT on Microsoft SQL Server from the ``mssql`` connection's fields (driver pymssql, built by
``identsync.ident.connect``: host, ``HOST\INSTANCE``, port; extras such as ``tds_version``,
``login_timeout``, ``timeout``, ``lock_timeout`` pass typed), the sync state from its
``postgres`` connection.
The demo and the tests read IDENT from SQLite (conn_type ``sqlite``, the file in ``host``) or
PostgreSQL. Errors name the connection id, never a password.
"""

from __future__ import annotations

import sqlalchemy as sa

from identsync.errors import ConnectionConfigError

ENGINE_KWARGS = {"pool_pre_ping": True}


def ident_engine(conn_id: str) -> sa.Engine:
    """A SQLAlchemy engine for the IDENT database behind an Airflow connection."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    ctype = (conn.conn_type or "").lower()
    if ctype == "mssql":
        # From the fields, not MsSqlHook's get_uri(): that URI percent-encodes HOST\INSTANCE
        # and turns numeric extras into "__extra__" (see identsync.ident.connect).
        from identsync.ident.connect import MssqlTarget, mssql_engine

        return mssql_engine(MssqlTarget(
            conn_id=conn_id, host=conn.host or "", port=conn.port or None,
            login=conn.login or None, password=conn.password or None,
            database=conn.schema or None, extra=dict(conn.extra_dejson or {})),
            **ENGINE_KWARGS)
    if ctype in ("postgres", "postgresql"):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=conn_id).get_sqlalchemy_engine(
            engine_kwargs=dict(ENGINE_KWARGS))
    if ctype == "sqlite":
        if not conn.host:
            raise ConnectionConfigError(f"connection {conn_id!r}: sqlite needs the file path "
                                        "in host")
        return sa.create_engine(f"sqlite:///{conn.host}", **ENGINE_KWARGS)
    raise ConnectionConfigError(
        f"connection {conn_id!r}: conn_type {ctype!r} is not supported for IDENT; use mssql "
        "(production), or postgres / sqlite (demo, tests)")


# libpq parameters an operator may put in the connection's extra (PostgresHook passes extras
# to the driver the same way).
_LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options", "connect_timeout",
                 "target_session_attrs", "application_name")


def state_dsn(conn_id: str) -> str:
    """libpq DSN of the PostgreSQL that keeps the sync state, from a ``postgres`` connection.

    The connection is read as Airflow reads any connection (BaseHook.get_connection, what
    PostgresHook.connection does too), so operators manage it, and its secret, like every
    other connection; importing the postgres provider for that would cost every task process
    about 0.05 s of CPU (psycopg 3 comes with it: bench/TASK_SETUP.md).
    """
    import psycopg2.extensions
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    ctype = (conn.conn_type or "").lower()
    if ctype not in ("postgres", "postgresql"):
        raise ConnectionConfigError(f"connection {conn_id!r}: the sync state needs a postgres "
                                    f"connection, got conn_type {ctype!r}")
    extra = conn.extra_dejson or {}
    args = {"host": conn.host or None, "port": conn.port or None, "user": conn.login or None,
            "password": conn.password or None, "dbname": conn.schema or None,
            **{k: extra[k] for k in _LIBPQ_EXTRAS if extra.get(k) not in (None, "")}}
    return psycopg2.extensions.make_dsn(**{k: v for k, v in args.items() if v is not None})
