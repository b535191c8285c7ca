"""What one claim on the comment ledger may read and write, and the posting decision.

A :class:`Claim` holds session advisory locks on some deals (taken by
``CommentLedger.claim``); every write goes through its connection, one committed transaction
per call, so the claim idles outside any transaction while the caller talks to Bitrix24.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg2.extensions
import psycopg2.extras

from identsync.errors import LedgerError

Decision = Literal["skip", "post", "reconcile"]
SOURCES = ("posted", "imported", "reconciled")

HASH_RE = re.compile(r"^[0-9a-fA-F]{32}$")
BIGINT_MAX = 2**63 - 1


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


def check_deal_id(deal_id: Any) -> int:
    if isinstance(deal_id, bool) or not isinstance(deal_id, int):
        raise ValueError(f"deal id must be an int, got {type(deal_id).__name__}")
    if not 0 < deal_id <= BIGINT_MAX:
        raise ValueError(f"deal id out of range: {deal_id}")
    return deal_id


COLUMNS = (
    "deal_id, posted_hash, posted_comment_id, posted_at, pending_hash, pending_since, "
    "pending_after_comment_id, source, updated_at"
)


def row_of(rec: tuple) -> LedgerRow:
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
        ids = sorted({check_deal_id(d) for d in deal_ids})
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
                f"SELECT {COLUMNS} FROM {self._table} WHERE deal_id = ANY(%s)",
                (sorted(self.locked),),
            )
            return {r[0]: row_of(r) for r in cur.fetchall()}

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
            values.append((d, check_hash(h), None if after is None else int(after)))
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
            values.append((d, check_hash(h), None if cid is None else int(cid), source))
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


def check_hash(value: Any) -> str:
    if not isinstance(value, str) or not HASH_RE.match(value):
        raise ValueError("hash must be 32 hex characters (md5)")
    return value.lower()
