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

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from identsync.sync.pg import schema_lock, transaction

Decision = Literal["skip", "post", "reconcile"]
SOURCES = ("posted", "imported", "reconciled")

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_HASH_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_DEAL_KEY_RE = re.compile(r"^[1-9][0-9]{0,18}$")
_INT4_MAX = 2**31 - 1
_BIGINT_MAX = 2**63 - 1


class LedgerError(RuntimeError):
    """Misuse of the ledger (deal not claimed, schema missing, pending intent exists...)."""


class LedgerBusy(LedgerError):
    """Another session holds a claim on the deal(s) the operation would touch."""


@dataclass(frozen=True)
class LedgerRow:
    deal_id: int
    posted_hash: str | None
    posted_comment_id: int | None
    posted_at: datetime | None
    pending_hash: str | None
    pending_since: datetime | None
    pending_after_comment_id: int | None
    source: str | None  # None while the deal only has an intent, nothing known posted
    updated_at: datetime | None


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0  # rows that were themselves imported earlier
    kept: int = 0  # rows the sync wrote (or an intent): never overwritten by an import
    bad: dict[str, str] = field(default_factory=dict)  # original key -> why it was rejected

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.kept


def comment_hash(text: str) -> str:
    """md5 hex of the UTF-8 text: the old system's scheme, so imported hashes compare equal."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def decide(text_hash: str, row: LedgerRow | None) -> Decision:
    """What to do with a comment whose hash is ``text_hash`` for the deal in ``row``."""
    if row is None:
        return "post"
    if row.pending_hash is not None:
        # An earlier attempt may have reached the portal: look before posting anything.
        return "reconcile"
    if row.posted_hash == text_hash:
        return "skip"
    return "post"


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 63:
        raise ValueError(f"invalid table name {name!r}: must match ^[a-z_][a-z0-9_]*$")
    return name


def _check_deal_id(deal_id: Any) -> int:
    if isinstance(deal_id, bool) or not isinstance(deal_id, int):
        raise ValueError(f"deal id must be an int, got {type(deal_id).__name__}")
    if not 0 < deal_id <= _BIGINT_MAX:
        raise ValueError(f"deal id out of range: {deal_id}")
    return deal_id


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


_COLUMNS = (
    "deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, "
    "pending_after_comment_id, source, updated_at"
)


def _row(rec: tuple) -> LedgerRow:
    return LedgerRow(*rec)


class Claim:
    """Deals this session has locked; all writes go through the claiming connection."""

    def __init__(self, conn: psycopg2.extensions.connection, table: str,
                 locked: set[int], busy: set[int]) -> None:
        self._conn = conn
        self._table = table
        self.locked = frozenset(locked)
        self.busy = frozenset(busy)

    def _check(self, deal_ids: Iterable[int]) -> list[int]:
        ids = sorted({_check_deal_id(d) for d in deal_ids})
        foreign = [d for d in ids if d not in self.locked]
        if foreign:
            raise LedgerError(f"deals not held by this claim: {foreign[:20]}")
        return ids

    @contextmanager
    def _tx(self) -> Iterator[psycopg2.extensions.cursor]:
        # One transaction per call, committed before returning: the claim connection then
        # idles outside any transaction while the caller talks to Bitrix24.
        try:
            with self._conn.cursor() as cur:
                yield cur
            self._conn.commit()
        except BaseException:
            if not self._conn.closed:
                self._conn.rollback()
            raise

    def rows(self) -> dict[int, LedgerRow]:
        """Ledger rows of the locked deals (deals without a row are absent)."""
        if not self.locked:
            return {}
        with self._tx() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {self._table} WHERE deal_id = ANY(%s)",
                (sorted(self.locked),),
            )
            return {r[0]: _row(r) for r in cur.fetchall()}

    def record_intent(self, intents: Mapping[int, tuple[str, int | None]]) -> None:
        """Write "about to post" for each deal, before the comment is sent.

        ``after_comment_id`` is the highest comment id known on the deal (None: unknown, the
        reconcile step must then consider every comment). Refuses, writing nothing, if a deal
        already has a pending intent: overwriting it would raise its after-id past a comment
        the crashed attempt may have posted, and reconcile would miss it.
        """
        ids = self._check(intents)
        if not ids:
            return
        values = []
        for d in ids:
            h, after = intents[d]
            values.append((d, _check_hash(h), None if after is None else int(after)))
        with self._tx() as cur:
            written = psycopg2.extras.execute_values(
                cur,
                f"""INSERT INTO {self._table} AS t
                        (deal_id, pending_hash, pending_since, pending_after_comment_id,
                         updated_at)
                    SELECT v.deal_id, v.h, now(), v.after_id, now()
                      FROM (VALUES %s) AS v(deal_id, h, after_id)
                    ON CONFLICT (deal_id) DO UPDATE
                       SET pending_hash = EXCLUDED.pending_hash,
                           pending_since = EXCLUDED.pending_since,
                           pending_after_comment_id = EXCLUDED.pending_after_comment_id,
                           updated_at = now()
                     WHERE t.pending_hash IS NULL
                    RETURNING t.deal_id""",
                values,
                template="(%s::bigint, %s::text, %s::bigint)",
                fetch=True,
            )
            missing = sorted(set(ids) - {r[0] for r in written})
            if missing:
                raise LedgerError(
                    f"pending intent already recorded for deals {missing[:20]}: "
                    "reconcile or clear_intent() first"
                )

    def record_posted(self, posted: Mapping[int, tuple[str, int | None]],
                      source: str = "posted") -> None:
        """The comment with this hash is on the deal (``comment_id`` from Bitrix24).

        The pending intent is cleared only when it is for the same hash: an intent for other
        text is still unresolved and must keep forcing a reconcile.
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        ids = self._check(posted)
        if not ids:
            return
        values = []
        for d in ids:
            h, cid = posted[d]
            values.append((d, _check_hash(h), None if cid is None else int(cid), source))
        with self._tx() as cur:
            psycopg2.extras.execute_values(
                cur,
                f"""INSERT INTO {self._table} AS t
                        (deal_id, posted_hash, posted_comment_id, posted_at, source, updated_at)
                    SELECT v.deal_id, v.h, v.cid, now(), v.source, now()
                      FROM (VALUES %s) AS v(deal_id, h, cid, source)
                    ON CONFLICT (deal_id) DO UPDATE
                       SET posted_hash = EXCLUDED.posted_hash,
                           posted_comment_id = EXCLUDED.posted_comment_id,
                           posted_at = EXCLUDED.posted_at,
                           source = EXCLUDED.source,
                           pending_hash = CASE WHEN t.pending_hash = EXCLUDED.posted_hash
                                               THEN NULL ELSE t.pending_hash END,
                           pending_since = CASE WHEN t.pending_hash = EXCLUDED.posted_hash
                                                THEN NULL ELSE t.pending_since END,
                           pending_after_comment_id =
                               CASE WHEN t.pending_hash = EXCLUDED.posted_hash
                                    THEN NULL ELSE t.pending_after_comment_id END,
                           updated_at = now()""",
                values,
                template="(%s::bigint, %s::text, %s::bigint, %s::text)",
            )

    def clear_intent(self, deal_ids: Iterable[int]) -> int:
        """Drop pending intents (reconcile found the comment was never posted)."""
        ids = self._check(deal_ids)
        if not ids:
            return 0
        with self._tx() as cur:
            cur.execute(
                f"""UPDATE {self._table}
                       SET pending_hash = NULL, pending_since = NULL,
                           pending_after_comment_id = NULL, updated_at = now()
                     WHERE deal_id = ANY(%s) AND pending_hash IS NOT NULL""",
                (ids,),
            )
            return cur.rowcount


def _check_hash(value: Any) -> str:
    if not isinstance(value, str) or not _HASH_RE.match(value):
        raise ValueError("hash must be 32 hex characters (md5)")
    return value.lower()


class CommentLedger:
    """Per-deal record of posted timeline comments, shared by every worker through PostgreSQL."""

    def __init__(self, dsn: str, table: str = "identsync_comment_ledger",
                 application_name: str = "identsync-ledger") -> None:
        self._dsn = dsn
        self.table = validate_name(table)
        self._app = application_name

    def _connect(self) -> psycopg2.extensions.connection:
        return psycopg2.connect(self._dsn, application_name=self._app)

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
        ids = sorted({_check_deal_id(d) for d in deal_ids})
        conn = self._connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                # A vanished worker host (not just a killed process) must not pin the locks
                # until the kernel's default two-hour keepalive: probe the client sooner.
                cur.execute(
                    "SET tcp_keepalives_idle = 60; SET tcp_keepalives_interval = 10; "
                    "SET tcp_keepalives_count = 6"
                )
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
        ids = sorted({_check_deal_id(d) for d in deal_ids})
        with self._tx() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM {self.table} WHERE deal_id = ANY(%s)", (ids,))
            return {r[0]: _row(r) for r in cur.fetchall()}

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
            if not _DEAL_KEY_RE.match(skey) or int(skey) > _BIGINT_MAX:
                report.bad[skey] = "deal id must be a positive integer"
                continue
            if not isinstance(value, str) or not _HASH_RE.match(value):
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
            _check_deal_id(deal_id)
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
