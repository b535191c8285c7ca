"""The two PostgreSQL habits every state module shares.

``transaction``: one short connection per call, committed on success, rolled back on error,
always closed (nothing pins a connection between Airflow tasks). ``schema_lock``: every
identsync ``CREATE ... IF NOT EXISTS`` takes the same transaction lock, because concurrent
creators otherwise fail on the catalog's unique index instead of one winning quietly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

SCHEMA_LOCK_KEY = 0x1D5E_5C4E_0001


@contextmanager
def transaction(dsn: str, application_name: str) -> Iterator[psycopg2.extensions.cursor]:
    conn = psycopg2.connect(dsn, application_name=application_name)
    try:
        with conn:  # commit on success, rollback on error
            with conn.cursor() as cur:
                yield cur
    finally:
        conn.close()


def schema_lock(cur: psycopg2.extensions.cursor) -> None:
    """Serialise schema creation with every other identsync module (until commit)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
