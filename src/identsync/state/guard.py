"""Keep concurrent runs from racing to create the same contact.

Within one run, chunks never share a phone. Across runs they can: two branch DAGs may see
the same patient, and a manual run may overlap a scheduled one. Before writing, an upsert
holds a PostgreSQL advisory lock per phone (taken in sorted order, so no deadlocks; released
by PostgreSQL itself if the task process dies), then asks whether any of its phones was
written by someone else since its lookup was taken. If so it looks again before writing.

Staleness is tracked with a sequence rather than timestamps, so worker clocks do not matter.
A write in progress is marked before it is sent and cleared when it returns; a mark found by
the next holder means the previous one died mid-write, so its write may still land on the
portal: the next holder waits for that before looking again (all on the database's clock).
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from typing import Iterable, Iterator

import psycopg2.extensions

from identsync.state.db import lock_session, schema_lock, transaction

LOCK_NAMESPACE = 0x1D5B  # first key of the two-int advisory lock; the ledger uses its own

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS identsync_phone_write_seq;
CREATE TABLE IF NOT EXISTS identsync_phone_writes (
    phone text PRIMARY KEY,
    seq bigint NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE identsync_phone_writes ADD COLUMN IF NOT EXISTS writing_since timestamptz;
"""


def _key(phone: str) -> int:
    return zlib.crc32(phone.encode("utf-8")) - 2**31  # fits int4


class PhoneGuard:
    def __init__(self, dsn: str, *, lock_timeout_s: int = 600) -> None:
        self._dsn = dsn
        self._lock_timeout_s = int(lock_timeout_s)

    def ensure_schema(self) -> None:
        with transaction(self._dsn, "identsync-guard") as cur:
            schema_lock(cur)
            cur.execute(_SCHEMA)

    def current_seq(self) -> int:
        """Take this before a lookup; pass it to ``Held.stale_since`` when writing."""
        with transaction(self._dsn, "identsync-guard") as cur:
            cur.execute("SELECT coalesce(max(seq), 0) FROM identsync_phone_writes")
            return int(cur.fetchone()[0])

    @contextmanager
    def hold(self, phones: Iterable[str]) -> Iterator[Held]:
        phones = sorted(set(phones))  # may be a generator: it is read twice below
        conn = lock_session(self._dsn, "identsync-guard")
        try:
            with conn.cursor() as cur:
                cur.execute("SET lock_timeout = %s", (f"{self._lock_timeout_s}s",))
                for key in sorted({_key(p) for p in phones}):
                    cur.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, key))
            yield Held(conn, phones)
        finally:
            conn.close()  # closing the session releases every advisory lock it held


class Held:
    def __init__(self, conn: psycopg2.extensions.connection, phones: list[str]) -> None:
        self._conn = conn
        self.phones = phones

    def stale_since(self, seq: int) -> bool:
        with self._conn.cursor() as cur:
            cur.execute("SELECT 1 FROM identsync_phone_writes WHERE phone = ANY(%s) AND seq > %s"
                        " LIMIT 1", (self.phones, seq))
            return cur.fetchone() is not None

    def unfinished_write_age(self) -> float | None:
        """Seconds since a write to these phones started and never reported back, if any."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM now() - max(writing_since)) "
                        "FROM identsync_phone_writes WHERE phone = ANY(%s)", (self.phones,))
            age = cur.fetchone()[0]
            return None if age is None else float(age)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around one write request: marked in flight before it is sent, written after it
        returned (whatever its outcome). A process killed in between leaves the mark."""
        self.begin_write()
        try:
            yield
        finally:
            self.touch()

    def begin_write(self) -> None:
        """Mark a write as in flight (before sending it)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO identsync_phone_writes (phone, seq, writing_since) "
                "SELECT p, 0, now() FROM unnest(%s::text[]) AS p "
                "ON CONFLICT (phone) DO UPDATE SET writing_since = now()",
                (self.phones,),
            )

    def touch(self) -> None:
        """Mark the phones as written (after a write batch returned, whatever its outcome)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO identsync_phone_writes (phone, seq) "
                "SELECT p, nextval('identsync_phone_write_seq') FROM unnest(%s::text[]) AS p "
                "ON CONFLICT (phone) DO UPDATE SET seq = EXCLUDED.seq, written_at = now(), "
                "writing_since = NULL",
                (self.phones,),
            )
