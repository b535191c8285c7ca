"""The PostgreSQL habits every state module shares.

``transaction``: one short connection per call, committed on success, rolled back on error,
always closed (nothing pins a connection between Airflow tasks). ``lock_session``: a
long-lived autocommit connection for advisory locks, with TCP keepalives on both ends, so
the locks of a worker host that vanished are released within about two minutes instead of
the kernel's default two hours. ``schema_lock``: every identsync ``CREATE ... IF NOT EXISTS``
and every schema upgrade (``migrations.migrate``) takes the same transaction lock, because
concurrent creators otherwise fail on the catalog's unique index instead of one winning
quietly, and two upgraders would both apply the same step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

SCHEMA_LOCK_KEY = 0x1D5E_5C4E_0001

# Client side (libpq) and server side: idle 30 s, then a probe every 10 s, 6 misses = dead.
CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                     "keepalives_count": 6}
SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; "
                     "SET tcp_keepalives_count = 6")


@contextmanager
def transaction(dsn: str, application_name: str) -> Iterator[psycopg2.extensions.cursor]:
    conn = psycopg2.connect(dsn, application_name=application_name)
    try:
        with conn:  # commit on success, rollback on error
            with conn.cursor() as cur:
                yield cur
    finally:
        conn.close()


def lock_session(dsn: str, application_name: str) -> psycopg2.extensions.connection:
    """An autocommit connection meant to hold session-level advisory locks."""
    conn = psycopg2.connect(dsn, application_name=application_name, **CLIENT_KEEPALIVES)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            # The server must notice a vanished client too: only then does it drop the locks.
            cur.execute(SERVER_KEEPALIVES)
    except BaseException:
        conn.close()
        raise
    return conn


def schema_lock(cur: psycopg2.extensions.cursor) -> None:
    """Serialise schema creation with every other identsync module (until commit)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
