"""The state schema's versions: ordered steps that bring any earlier state database forward.

Design (the simplest that stays correct across upgrades):

* ``identsync_schema_version`` holds one row per step applied (version, name, when, by which
  identsync). The database's version is the highest row; no table means "made before
  versioning" (0.3.0, or a development build of this round), which is handled as version 0.
* :data:`STEPS` is append-only. Step 1 is the schema exactly as identsync 0.3.0 made it
  (``CREATE ... IF NOT EXISTS``, so on a 0.3.0 database it changes nothing and just
  records the baseline); every later step is one change made after 0.3.0. A fresh database
  runs every step too, so there is one path to the latest schema, never two that could drift
  apart. A step is never edited once released: a change is a new step.
* Steps that touch data are written to be harmless on a database that already has their
  result (a development build converted it in place before versioning existed): e.g. the
  phone step does nothing when the ``phone`` column is gone.
* :func:`migrate` runs every pending step in ONE transaction under the schema advisory lock
  (``db.schema_lock``, the lock every ``ensure_schema`` takes). A second runner waits for the
  lock, then reads the version the first one committed and has nothing to do; a step that
  fails rolls the whole upgrade back, leaving the database at its old version (PostgreSQL's
  DDL is transactional). It runs at each run's start (``SyncState.ensure_schema``) and from
  ``identsync migrate``.
* A database whose version is higher than :data:`LATEST` was upgraded by a newer identsync:
  this code would misread it, so :func:`migrate` refuses with :class:`StateSchemaTooNew`
  (install that version again, or restore the backup taken before the upgrade).
* Each part's own ``ensure_schema`` (store, guard, ledger, queue, ...) stays the *latest* DDL
  of that part, for tools and tests that use one part alone. tests/integration/
  test_state_upgrade.py checks that migrating a fresh database gives exactly the catalog
  those produce, so a change to one of them without a new step here fails a test.

Only the default table names are migrated (``StateStore``'s prefix ``identsync_``, the
ledger's ``identsync_comment_ledger``): those are the ones ``SyncState`` uses.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2.extensions
import psycopg2.extras

from identsync.errors import StateSchemaTooNew
from identsync.privacy import KEY_ENV, keyed_hash
from identsync.state.db import schema_lock, transaction

VERSION_TABLE = "identsync_schema_version"
APPLICATION_NAME = "identsync-migrate"

Cursor = psycopg2.extensions.cursor


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    apply: Callable[[Cursor], None]


# --- step 1: identsync 0.3.0 (frozen copy of that version's ensure_schema statements) -------

_V1_030 = """
CREATE TABLE IF NOT EXISTS identsync_watermarks (
    pipeline text PRIMARY KEY,
    value timestamptz NOT NULL,
    run_id text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS identsync_rejections (
    pipeline text NOT NULL,
    record_key text NOT NULL,
    ident_id text,
    reception_id bigint,
    reason text NOT NULL,
    detail text NOT NULL,
    source jsonb,
    run_id text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    times_seen integer NOT NULL DEFAULT 1,
    resolved_at timestamptz,
    PRIMARY KEY (pipeline, record_key)
);
CREATE INDEX IF NOT EXISTS identsync_rejections_open_idx
    ON identsync_rejections (pipeline, last_seen) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS identsync_staging (
    run_key text NOT NULL,
    chunk_no integer NOT NULL,
    rows jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, chunk_no)
);
CREATE INDEX IF NOT EXISTS identsync_staging_created_idx ON identsync_staging (created_at);
CREATE TABLE IF NOT EXISTS identsync_runs (
    pipeline text NOT NULL,
    run_id text NOT NULL,
    summary jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, run_id)
);
CREATE SEQUENCE IF NOT EXISTS identsync_phone_write_seq;
CREATE TABLE IF NOT EXISTS identsync_phone_writes (
    phone text PRIMARY KEY,
    seq bigint NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE identsync_phone_writes ADD COLUMN IF NOT EXISTS writing_since timestamptz;
CREATE TABLE IF NOT EXISTS identsync_comment_ledger (
    deal_id bigint PRIMARY KEY CHECK (deal_id > 0),
    posted_hash text CHECK (posted_hash ~ '^[0-9a-f]{32}$'),
    posted_comment_id bigint,
    posted_at timestamptz,
    pending_hash text CHECK (pending_hash ~ '^[0-9a-f]{32}$'),
    pending_since timestamptz,
    pending_after_comment_id bigint,
    source text CHECK (source IN ('posted', 'imported', 'reconciled')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS identsync_comment_ledger_pending_idx
    ON identsync_comment_ledger (pending_since) WHERE pending_hash IS NOT NULL;
CREATE TABLE IF NOT EXISTS identsync_retry_queue (
    pipeline text NOT NULL,
    ident_id text NOT NULL,
    reception_id bigint,
    step text NOT NULL,
    code text NOT NULL,
    description text NOT NULL,
    attempts integer NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'dead', 'recovered', 'gone')),
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz,
    run_id text NOT NULL,
    task_id text,
    map_index integer,
    resolved_at timestamptz,
    PRIMARY KEY (pipeline, ident_id)
);
CREATE INDEX IF NOT EXISTS identsync_retry_queue_due_idx
    ON identsync_retry_queue (pipeline, next_attempt_at) WHERE status = 'queued';
CREATE TABLE IF NOT EXISTS identsync_fingerprints (
    pipeline text NOT NULL,
    ident_id text NOT NULL,
    fingerprint text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, ident_id)
);
CREATE TABLE IF NOT EXISTS identsync_full_checks (
    pipeline text PRIMARY KEY,
    checked_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS identsync_backfill_blocks (
    pipeline text NOT NULL,
    block_start timestamptz NOT NULL,
    clear_number integer NOT NULL,
    block_end timestamptz NOT NULL,
    run_id text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, block_start, clear_number)
);
CREATE TABLE IF NOT EXISTS identsync_rate_limits (
    portal text PRIMARY KEY,
    level double precision NOT NULL,
    updated_at timestamptz NOT NULL
);
"""


def _v1_030(cur: Cursor) -> None:
    cur.execute(_V1_030)


# --- steps after 0.3.0 -----------------------------------------------------------------------

def _v2_secret(cur: Cursor) -> None:
    cur.execute("CREATE TABLE IF NOT EXISTS identsync_secret ("
                "name text PRIMARY KEY, value text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())")


def _hash_key(cur: Cursor) -> bytes:
    """The key ``SyncState.hash_key`` will use, read (or made) inside this transaction: the
    secret table may have been created by this very upgrade, invisible to other sessions."""
    override = os.environ.get(KEY_ENV, "").strip()
    if override:
        return bytes.fromhex(override)
    cur.execute("INSERT INTO identsync_secret (name, value) VALUES ('hash_key', %s) "
                "ON CONFLICT (name) DO NOTHING", (secrets.token_hex(32),))
    cur.execute("SELECT value FROM identsync_secret WHERE name = 'hash_key'")
    return bytes.fromhex(cur.fetchone()[0])


def _v3_phone_keys(cur: Cursor) -> None:
    """Phone locks keep a keyed hash (domain ``lock:``, as ``guard.PhoneGuard.phone_key``)
    instead of the raw phone; seq, written_at and writing_since are kept, so a write that
    died just before the upgrade is still waited for."""
    cur.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = 'identsync_phone_writes' "
                "AND column_name = 'phone'")
    if cur.fetchone() is None:
        return  # converted in place by a development build before versioning
    key = _hash_key(cur)
    cur.execute("SELECT phone FROM identsync_phone_writes")
    pairs = [(p, keyed_hash(key, "lock:" + p)) for (p,) in cur.fetchall()]
    cur.execute("ALTER TABLE identsync_phone_writes RENAME COLUMN phone TO phone_key")
    # A hash is hex and a stored phone starts with "+": old and new values cannot collide
    # while the rows are rewritten.
    psycopg2.extras.execute_values(
        cur, "UPDATE identsync_phone_writes t SET phone_key = v.h FROM (VALUES %s) AS v(p, h) "
             "WHERE t.phone_key = v.p", pairs, page_size=1000)


def _v4_queue_rejected(cur: Cursor) -> None:
    """The retry queue's status 'rejected' (a queued record transform now refuses)."""
    cur.execute("ALTER TABLE identsync_retry_queue "
                "DROP CONSTRAINT IF EXISTS identsync_retry_queue_status_check")
    cur.execute("ALTER TABLE identsync_retry_queue ADD CONSTRAINT "
                "identsync_retry_queue_status_check CHECK (status IN "
                "('queued', 'dead', 'recovered', 'gone', 'rejected'))")


def _v5_rejection_digest_keys(cur: Cursor) -> None:
    """A rejection without ident or reception id was keyed ``unknown:<reason>:<detail>``; it is
    now ``unknown:<reason>:<16 hex of md5(detail)>`` (the key outlives the detail's
    retention). Without this, the same bad record rejected after the upgrade would open a
    second row beside the old one. A new-form row already there (a development build ran)
    absorbs the old one: earliest first_seen, counts added."""
    new_key = "'unknown:' || o.reason || ':' || left(md5(o.detail), 16)"
    old_form = "o.record_key = 'unknown:' || o.reason || ':' || o.detail"
    cur.execute(f"""
        WITH merged AS (
            UPDATE identsync_rejections n
               SET first_seen = least(n.first_seen, o.first_seen),
                   times_seen = n.times_seen + o.times_seen
              FROM identsync_rejections o
             WHERE {old_form} AND o.pipeline = n.pipeline AND n.record_key = {new_key}
                   AND n.record_key <> o.record_key
         RETURNING o.pipeline, o.record_key)
        DELETE FROM identsync_rejections d USING merged m
         WHERE d.pipeline = m.pipeline AND d.record_key = m.record_key""")
    cur.execute(f"UPDATE identsync_rejections o SET record_key = {new_key} "
                f"WHERE {old_form} AND o.record_key <> {new_key}")


def _v6_fingerprint_read_at(cur: Cursor) -> None:
    """Fingerprint rows keep the IDENT read time of the data last written for the record
    (``read_at``), so a cleared task of an older run cannot write its older data over it. A
    write claims the row before it starts, with no fingerprint until it went through in full:
    the fingerprint may be NULL. Existing rows get no read time (any run may write them, as
    before); the next write sets one."""
    cur.execute("ALTER TABLE identsync_fingerprints ALTER COLUMN fingerprint DROP NOT NULL")
    cur.execute("ALTER TABLE identsync_fingerprints ADD COLUMN IF NOT EXISTS read_at timestamptz")


STEPS: tuple[Step, ...] = (
    Step(1, "identsync 0.3.0 schema", _v1_030),
    Step(2, "identsync_secret: the key of keyed hashes", _v2_secret),
    Step(3, "identsync_phone_writes: keyed hash instead of the raw phone", _v3_phone_keys),
    Step(4, "identsync_retry_queue: status 'rejected'", _v4_queue_rejected),
    Step(5, "identsync_rejections: digest keys for records without ids",
         _v5_rejection_digest_keys),
    Step(6, "identsync_fingerprints: read time of the data last written", _v6_fingerprint_read_at),
)
LATEST = STEPS[-1].version

_VERSION_DDL = f"""CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL
)"""


def _code_version() -> str:
    try:
        from importlib.metadata import version

        return f"identsync {version('identsync')}"
    except Exception:  # running from a source tree without metadata
        return "identsync (unknown version)"


def _database_version(cur: Cursor) -> tuple[int, str]:
    cur.execute(f"SELECT version, applied_by FROM {VERSION_TABLE} "
                "ORDER BY version DESC LIMIT 1")
    row = cur.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "")


def current_version(dsn: str) -> int:
    """The state database's schema version (0: never versioned, or empty)."""
    with transaction(dsn, APPLICATION_NAME) as cur:
        cur.execute("SELECT to_regclass(%s)", (VERSION_TABLE,))
        if cur.fetchone()[0] is None:
            return 0
        return _database_version(cur)[0]


def migrate(dsn: str) -> list[int]:
    """Bring the state database at ``dsn`` to :data:`LATEST`; returns the versions applied
    (empty when it was current). Safe to call from many processes at once.

    :raises StateSchemaTooNew: the database was upgraded by a newer identsync.
    """
    with transaction(dsn, APPLICATION_NAME) as cur:
        schema_lock(cur)
        cur.execute(_VERSION_DDL)
        have, by = _database_version(cur)
        if have > LATEST:
            raise StateSchemaTooNew(
                f"the state database's schema is at version {have} (written by {by}); this "
                f"{_code_version()} knows versions up to {LATEST}, so it was upgraded by a "
                "newer identsync and this one would misread it",
                fix="run the newer identsync again (pin its wheel), or, to go back to this "
                    "version, restore the state database backup taken before the upgrade "
                    "(README: Upgrading)")
        pending = [s for s in STEPS if s.version > have]
        by = _code_version()
        for step in pending:
            step.apply(cur)
            cur.execute(f"INSERT INTO {VERSION_TABLE} (version, name, applied_by) "
                        "VALUES (%s, %s, %s)", (step.version, step.name, by))
        return [s.version for s in pending]
