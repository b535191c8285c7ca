"""The PostgreSQL server the demo, the benchmark, the chaos run and the tests use: one name.

``$IDENTSYNC_PG`` is the server's URL without a database, default
``postgresql://postgres@127.0.0.1:5432`` (the machine's cluster, trust auth). Everything here
derives its databases and schemas from it, so pointing the whole project at another server
is one variable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"
ENV = "IDENTSYNC_PG"


def server_url() -> str:
    return (os.environ.get(ENV) or DEFAULT_SERVER).rstrip("/")


def database_url(name: str, *, search_path: str | None = None) -> str:
    """URL of database ``name`` on the server (optionally with a search_path)."""
    url = f"{server_url()}/{name}"
    if search_path:
        url += "?options=" + quote(f"-csearch_path={search_path}")
    return url


def sqlalchemy_url(name: str) -> str:
    return database_url(name).replace("postgresql://", "postgresql+psycopg2://", 1)


def server_parts() -> dict[str, object]:
    """host, port, login for an Airflow connection to the server."""
    parts = urlsplit(server_url())
    return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
            "login": parts.username or "postgres", "password": parts.password}


def ensure_database(name: str, *, fresh: bool = False) -> bool:
    """Create database ``name`` if missing (``fresh``: drop it first). True if created.

    Connection errors propagate; callers say what to do.
    """
    import psycopg2

    conn = psycopg2.connect(database_url("postgres"), connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if fresh:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(f'CREATE DATABASE "{name}"')
            return True
    finally:
        conn.close()


def drop_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(database_url("postgres"), connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def create_schema(db: str, schema: str, *, fresh: bool = False) -> str:
    """Create ``schema`` in ``db``; returns a DSN whose search_path is that schema."""
    import psycopg2

    conn = psycopg2.connect(database_url(db), connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if fresh:
                cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        conn.close()
    return database_url(db, search_path=schema)


def drop_schema(db: str, schema: str) -> None:
    import psycopg2

    conn = psycopg2.connect(database_url(db), connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        conn.close()


@contextmanager
def scratch_schema(db: str = "test", prefix: str = "t") -> Iterator[str]:
    """A fresh schema in ``db`` for the duration of the block; yields its DSN."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    dsn = create_schema(db, schema)
    try:
        yield dsn
    finally:
        drop_schema(db, schema)


@contextmanager
def scratch_database(prefix: str = "t") -> Iterator[str]:
    """A fresh database for the duration of the block; yields its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    ensure_database(name, fresh=True)
    try:
        yield name
    finally:
        drop_database(name)


def airflow_connection(dsn: str) -> dict[str, object]:
    """An Airflow ``postgres`` connection (JSON form) for a DSN made by this module."""
    from urllib.parse import parse_qs, unquote

    parts = urlsplit(dsn)
    conn: dict[str, object] = {"conn_type": "postgres", "host": parts.hostname or "127.0.0.1",
                               "port": parts.port or 5432, "login": parts.username or "postgres",
                               "schema": parts.path.lstrip("/")}
    if parts.password:
        conn["password"] = unquote(parts.password)
    options = parse_qs(parts.query).get("options")
    if options:
        conn["extra"] = {"options": options[0]}
    return conn
