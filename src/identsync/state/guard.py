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

Nothing here stores or locks on a phone itself: the table and the advisory lock keys hold a
keyed hash of it (``identsync.privacy.keyed_hash`` under the state database's key), so the
table is no list of every synced patient's phone. Rows outlive no write by more than the
retention period (``purge_older_than``); an earlier version kept raw phones, which
``ensure_schema`` converts in place (keeping every "writing" mark).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from identsync.privacy import keyed_hash
from identsync.state.db import lock_session, schema_lock, transaction

LOCK_NAMESPACE = 0x1D5B  # first key of the two-int advisory lock; the ledger uses its own

TABLE = "identsync_phone_writes"
_SCHEMA = f"""
CREATE SEQUENCE IF NOT EXISTS identsync_phone_write_seq;
CREATE TABLE IF NOT EXISTS {TABLE} (
    phone_key text PRIMARY KEY,
    seq bigint NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS writing_since timestamptz;
"""


# Keeps these hashes apart from other keyed hashes of the same phone (lookup maps in XCom):
# a lock row cannot be matched to an XCom value without the key.
_DOMAIN = "lock:"


def _lock_key(phone_key: str) -> int:
    return zlib.crc32(phone_key.encode("utf-8")) - 2**31  # fits int4


class PhoneGuard:
    """``key``: the keyed-hash key, or a function returning it (read when first needed, so
    building the guard does no I/O)."""

    def __init__(self, dsn: str, key: bytes | Callable[[], bytes], *,
                 lock_timeout_s: int = 600) -> None:
        self._dsn = dsn
        self._key_source = key
        self._key: bytes | None = key if isinstance(key, bytes) else None
        self._lock_timeout_s = int(lock_timeout_s)

    def _hash_key(self) -> bytes:
        if self._key is None:
            self._key = self._key_source()  # type: ignore[operator]
        if not self._key:
            raise ValueError("the phone guard needs a non-empty hash key")
        return self._key

    def phone_key(self, phone: str) -> str:
        """What the table and the locks hold for ``phone``."""
        return keyed_hash(self._hash_key(), _DOMAIN + phone)

    def ensure_schema(self) -> None:
        key = self._hash_key()  # before the schema lock: it may need its own transaction
        with transaction(self._dsn, "identsync-guard") as cur:
            schema_lock(cur)
            _convert_raw_phones(cur, key)
            cur.execute(_SCHEMA)

    def purge_older_than(self, cutoff: datetime) -> int:
        """Forget phones nobody wrote since ``cutoff``. A lookup is minutes old, so a write
        that long ago cannot make one stale; a "writing" mark that old belongs to a write
        that has long landed or failed (the settle wait is seconds), so it goes too."""
        with transaction(self._dsn, "identsync-guard") as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE written_at < %s "
                        "AND (writing_since IS NULL OR writing_since < %s)", (cutoff, cutoff))
            return cur.rowcount

    def current_seq(self) -> int:
        """Take this before a lookup; pass it to ``Held.stale_since`` when writing."""
        try:
            return self._current_seq()
        except psycopg2.errors.UndefinedColumn:
            # A run that started before the upgrade: its first task made the old table, so
            # its lookups convert it (every chunk starts with one) before anything writes.
            self.ensure_schema()
            return self._current_seq()

    def _current_seq(self) -> int:
        with transaction(self._dsn, "identsync-guard") as cur:
            # Naming phone_key (never NULL: the key) fails on the old table's layout.
            cur.execute(f"SELECT coalesce(max(seq), 0) FROM {TABLE} WHERE phone_key IS NOT NULL")
            return int(cur.fetchone()[0])

    @contextmanager
    def hold(self, phones: Iterable[str]) -> Iterator[Held]:
        phones = sorted(set(phones))  # may be a generator: it is read twice below
        keys = sorted({self.phone_key(p) for p in phones})
        conn = lock_session(self._dsn, "identsync-guard")
        try:
            with conn.cursor() as cur:
                cur.execute("SET lock_timeout = %s", (f"{self._lock_timeout_s}s",))
                for lock in sorted({_lock_key(k) for k in keys}):
                    cur.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, lock))
            yield Held(conn, phones, keys)
        finally:
            conn.close()  # closing the session releases every advisory lock it held


def _convert_raw_phones(cur: psycopg2.extensions.cursor, key: bytes) -> None:
    """The previous version's table (column ``phone``, raw E.164 numbers): rename the column
    and hash every value in place, keeping seq, written_at and writing_since, so a write
    that died just before the upgrade is still waited for."""
    cur.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = %s AND column_name = 'phone'", (TABLE,))
    if cur.fetchone() is None:
        return
    cur.execute(f"SELECT phone FROM {TABLE}")
    pairs = [(p, keyed_hash(key, _DOMAIN + p)) for (p,) in cur.fetchall()]
    cur.execute(f"ALTER TABLE {TABLE} RENAME COLUMN phone TO phone_key")
    # A hash is 32 hex digits and a stored phone starts with "+": no value can collide with
    # another row's old or new one while the rows are rewritten.
    psycopg2.extras.execute_values(
        cur, f"UPDATE {TABLE} t SET phone_key = v.h FROM (VALUES %s) AS v(p, h) "
             "WHERE t.phone_key = v.p", pairs, page_size=1000)


class Held:
    def __init__(self, conn: psycopg2.extensions.connection, phones: list[str],
                 keys: list[str]) -> None:
        self._conn = conn
        self.phones = phones  # in memory only, for the caller
        self._keys = keys

    def stale_since(self, seq: int) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {TABLE} WHERE phone_key = ANY(%s) AND seq > %s"
                        " LIMIT 1", (self._keys, seq))
            return cur.fetchone() is not None

    def unfinished_write_age(self) -> float | None:
        """Seconds since a write to these phones started and never reported back, if any."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM now() - max(writing_since)) "
                        f"FROM {TABLE} WHERE phone_key = ANY(%s)", (self._keys,))
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
                f"INSERT INTO {TABLE} (phone_key, seq, writing_since) "
                "SELECT p, 0, now() FROM unnest(%s::text[]) AS p "
                "ON CONFLICT (phone_key) DO UPDATE SET writing_since = now()",
                (self._keys,),
            )

    def touch(self) -> None:
        """Mark the phones as written (after a write batch returned, whatever its outcome)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO {TABLE} (phone_key, seq) "
                "SELECT p, nextval('identsync_phone_write_seq') FROM unnest(%s::text[]) AS p "
                "ON CONFLICT (phone_key) DO UPDATE SET seq = EXCLUDED.seq, written_at = now(), "
                "writing_since = NULL",
                (self._keys,),
            )
