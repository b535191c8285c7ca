"""Exactly-once timeline comments: a PostgreSQL ledger of what was posted to which deal.

Replaces the old ``comment_hashes.json`` ({deal_id: md5}), which was lost on a new machine,
raced between two processes and posted twice after a crash between "comment added" and
"hash saved". Here:

* one row per deal holds the hash of the last comment known to be posted, plus a *pending
  intent* written before the comment is sent; a crash leaves the intent behind, so the next
  run reconciles against the portal instead of posting blindly;
* deals are claimed with session-level advisory locks on a dedicated connection; when a
  worker dies its connection ends and PostgreSQL drops the locks, so a retry can proceed.

Protocol for one deal (the caller does the Bitrix24 part)::

    with ledger.claim(deal_ids) as claim:            # skip claim.busy this run
        rows = claim.rows()
        action = decide(comment_hash(text), rows.get(deal_id))
        "skip"      -> nothing to do
        "reconcile" -> list the deal's comments with id > pending_after_comment_id; if one has
                       the pending hash: record_posted(..., source="reconciled"), else
                       clear_intent(); then decide() again on the fresh row
        "post"      -> record_intent({deal: (hash, highest comment id seen)}), add the
                       comment, record_posted({deal: (hash, new comment id)})

No Bitrix24 and no Airflow imports here: plain psycopg2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from identsync.errors import LedgerBusy, LedgerError
from identsync.state.db import lock_session, schema_lock, transaction
from identsync.state.ledger_claim import (
    BIGINT_MAX,
    COLUMNS,
    HASH_RE,
    Claim,
    LedgerRow,
    check_deal_id,
    comment_hash,
    decide,
    row_of,
)

__all__ = ["CommentLedger", "Claim", "ImportReport", "LedgerRow", "comment_hash", "decide"]

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_DEAL_KEY_RE = re.compile(r"^[1-9][0-9]{0,18}$")
_INT4_MAX = 2**31 - 1




@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0  # rows that were themselves imported earlier
    kept: int = 0  # rows the sync wrote (or an intent): never overwritten by an import
    bad: dict[str, str] = field(default_factory=dict)  # original key -> why it was rejected

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.kept


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 63:
        raise ValueError(f"invalid table name {name!r}: must match ^[a-z_][a-z0-9_]*$")
    return name


def _lock_key(deal_id: int) -> int:
    """Second half of the advisory lock key.

    Bitrix24 ids fit int4, so they are used as is: no collisions. Larger ids fold into the
    negative range, which real ids never use; a collision there only locks more than needed.
    """
    if deal_id <= _INT4_MAX:
        return deal_id
    return -1 - (deal_id % _INT4_MAX)


def _as_int4(oid: int) -> int:
    """An oid (uint32) reinterpreted as int4, the type pg_try_advisory_lock(int, int) takes."""
    return oid - 2**32 if oid > _INT4_MAX else oid


class CommentLedger:
    """Per-deal record of posted timeline comments, shared by every worker through PostgreSQL."""

    def __init__(self, dsn: str, table: str = "identsync_comment_ledger",
                 application_name: str = "identsync-ledger") -> None:
        self._dsn = dsn
        self.table = validate_name(table)
        self._app = application_name

    def _tx(self):
        return transaction(self._dsn, self._app)

    # --- schema -----------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the table if missing; safe to call from many processes at once."""
        with self._tx() as cur:
            schema_lock(cur)
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.table} (
                        deal_id bigint PRIMARY KEY CHECK (deal_id > 0),
                        posted_hash text CHECK (posted_hash ~ '^[0-9a-f]{{32}}$'),
                        posted_comment_id bigint,
                        posted_at timestamptz,
                        pending_hash text CHECK (pending_hash ~ '^[0-9a-f]{{32}}$'),
                        pending_since timestamptz,
                        pending_after_comment_id bigint,
                        source text CHECK (source IN ('posted', 'imported', 'reconciled')),
                        updated_at timestamptz NOT NULL DEFAULT now()
                    )"""
            )
            # Lets operators and reconcile jobs find stuck intents without a full scan.
            cur.execute(
                f"""CREATE INDEX IF NOT EXISTS {self.table}_pending_idx
                        ON {self.table} (pending_since) WHERE pending_hash IS NOT NULL"""
            )

    def _namespace(self, cur: psycopg2.extensions.cursor) -> int:
        """The table's oid: unique per database, so two ledgers (or two test schemas with the
        same table name) never share lock keys."""
        cur.execute("SELECT to_regclass(%s)::oid", (self.table,))
        oid = cur.fetchone()[0]
        if oid is None:
            raise LedgerError(f"table {self.table} does not exist: call ensure_schema() first")
        return int(oid)

    # --- claims -----------------------------------------------------------------------------

    @contextmanager
    def claim(self, deal_ids: Iterable[int]) -> Iterator[Claim]:
        """Try to lock the deals without waiting; yields a Claim (``.locked``, ``.busy``).

        The locks live as long as the dedicated connection: released on exit (even on
        exceptions) and by PostgreSQL itself if this process dies.
        """
        ids = sorted({check_deal_id(d) for d in deal_ids})
        conn = lock_session(self._dsn, self._app)
        try:
            with conn.cursor() as cur:
                ns = _as_int4(self._namespace(cur))
                locked: set[int] = set()
                busy: set[int] = set()
                if ids:
                    cur.execute(
                        """SELECT d.deal_id, pg_try_advisory_lock(%s, d.k)
                             FROM unnest(%s::bigint[], %s::int[]) AS d(deal_id, k)""",
                        (ns, ids, [_lock_key(d) for d in ids]),
                    )
                    for deal_id, ok in cur.fetchall():
                        (locked if ok else busy).add(int(deal_id))
            conn.autocommit = False
            yield Claim(conn, self.table, locked, busy)
        finally:
            try:
                if not conn.closed:
                    conn.rollback()
                    conn.autocommit = True
                    with conn.cursor() as cur:
                        cur.execute("SELECT pg_advisory_unlock_all()")
            except psycopg2.Error:
                pass  # closing the connection below releases the locks anyway
            finally:
                conn.close()

    def _held_locks(self, cur: psycopg2.extensions.cursor, deal_id: int | None) -> int:
        """How many deals of this ledger other sessions hold right now."""
        oid = self._namespace(cur)
        sql = """SELECT count(*) FROM pg_locks
                  WHERE locktype = 'advisory' AND objsubid = 2 AND granted
                    AND database = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())
                    AND classid = %s::oid AND pid <> pg_backend_pid()"""
        args: list[Any] = [oid]
        if deal_id is not None:
            sql += " AND objid = %s::oid"
            args.append(_lock_key(deal_id) & 0xFFFFFFFF)  # int4 key as pg_locks shows it
        cur.execute(sql, args)
        return int(cur.fetchone()[0])

    # --- operator actions -------------------------------------------------------------------

    def rows(self, deal_ids: Iterable[int]) -> dict[int, LedgerRow]:
        """Read-only view of rows (no claim): for operators and tools."""
        ids = sorted({check_deal_id(d) for d in deal_ids})
        with self._tx() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM {self.table} WHERE deal_id = ANY(%s)", (ids,))
            return {r[0]: row_of(r) for r in cur.fetchall()}

    def import_hashes(self, mapping: Mapping[str, Any]) -> ImportReport:
        """Load an old ``comment_hashes.json`` ({deal_id: md5}).

        Bad entries are reported by key and skipped; good ones are imported. Rows the sync
        wrote itself (source posted/reconciled, or a pending intent) are newer knowledge and
        are kept; only missing rows and earlier imports are written.
        """
        if not isinstance(mapping, Mapping):
            raise ValueError("comment hashes must be a JSON object {deal_id: md5}")
        report = ImportReport()
        good: dict[int, str] = {}
        for key, value in mapping.items():
            skey = str(key)
            if not _DEAL_KEY_RE.match(skey) or int(skey) > BIGINT_MAX:
                report.bad[skey] = "deal id must be a positive integer"
                continue
            if not isinstance(value, str) or not HASH_RE.match(value):
                report.bad[skey] = "hash must be 32 hex characters (md5)"
                continue
            deal_id = int(skey)
            if deal_id in good and good[deal_id] != value.lower():
                report.bad[skey] = "deal id appears twice with different hashes"
                continue
            good[deal_id] = value.lower()
        # A deal with any bad entry (e.g. 12 and "12" with different hashes in a dict built
        # by hand) is left out entirely rather than imported from whichever entry came first.
        for skey in report.bad:
            if _DEAL_KEY_RE.match(skey):
                good.pop(int(skey), None)
        if not good:
            return report
        values = sorted(good.items())
        with self._tx() as cur:
            rows = psycopg2.extras.execute_values(
                cur,
                f"""INSERT INTO {self.table} AS t (deal_id, posted_hash, source, updated_at)
                    SELECT v.deal_id, v.h, 'imported', now()
                      FROM (VALUES %s) AS v(deal_id, h)
                    ON CONFLICT (deal_id) DO UPDATE
                       SET posted_hash = EXCLUDED.posted_hash, updated_at = now()
                     WHERE t.source = 'imported' AND t.pending_hash IS NULL
                    RETURNING t.deal_id, (xmax = 0) AS inserted""",
                values,
                template="(%s::bigint, %s::text)",
                fetch=True,
                page_size=1000,
            )
        report.inserted = sum(1 for _, ins in rows if ins)
        report.updated = len(rows) - report.inserted
        report.kept = len(values) - len(rows)
        return report

    def reset(self, deal_id: int | None = None, *, force: bool = False) -> int:
        """Forget what was posted (all deals, or one): the next run posts comments again.

        Refuses (LedgerBusy) while a sync holds claims on the affected deals, because deleting
        a pending intent under a running sync is exactly how a duplicate comment happens;
        ``force=True`` skips that check.
        """
        if deal_id is not None:
            check_deal_id(deal_id)
        with self._tx() as cur:
            if not force:
                held = self._held_locks(cur, deal_id)
                if held:
                    raise LedgerBusy(
                        f"{held} deal(s) of {self.table} are claimed by a running sync; "
                        "stop it or use force"
                    )
            if deal_id is None:
                cur.execute(f"DELETE FROM {self.table}")
            else:
                cur.execute(f"DELETE FROM {self.table} WHERE deal_id = %s", (deal_id,))
            return cur.rowcount

    def stats(self) -> dict[str, Any]:
        with self._tx() as cur:
            cur.execute(
                f"""SELECT count(*),
                           count(*) FILTER (WHERE pending_hash IS NOT NULL),
                           min(pending_since),
                           count(*) FILTER (WHERE source = 'posted'),
                           count(*) FILTER (WHERE source = 'imported'),
                           count(*) FILTER (WHERE source = 'reconciled')
                      FROM {self.table}"""
            )
            total, pending, oldest, posted, imported, reconciled = cur.fetchone()
            held = self._held_locks(cur, None)
        return {
            "rows": total,
            "pending": pending,
            "oldest_pending_since": oldest,
            "by_source": {"posted": posted, "imported": imported, "reconciled": reconciled},
            "claimed_now": held,
        }
