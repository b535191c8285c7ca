"""The sync's state in PostgreSQL (Airflow's own database in a deployment).

:class:`SyncState` gathers every part for one DSN; each part is its own module with one job:
``store`` (watermarks, rejections, staged chunks, run summaries), ``guard`` (phone locks
between concurrent runs), ``ledger`` (exactly-once timeline comments), ``queue`` (records the
portal refused, retried by later runs), ``fingerprints`` (what was last written, so
unchanged records skip the lookup), ``blocks`` (backfill blocks already claimed),
``ratelimit`` (the portal's leaky bucket, shared by every
task process).
"""

from __future__ import annotations

import psycopg2.errors

from identsync.state.coverage import BackfillBlocks
from identsync.state.fingerprints import Fingerprints
from identsync.state.guard import PhoneGuard
from identsync.state.ledger import CommentLedger
from identsync.state.migrations import migrate
from identsync.state.queue import RetryQueue
from identsync.state.secret import HashKey
from identsync.state.store import StateStore

__all__ = ["SyncState", "PhoneGuard", "CommentLedger", "StateStore", "RetryQueue",
           "Fingerprints"]


class SyncState:
    """Every PostgreSQL part of the sync state behind one DSN (keeps the ChunkState contract)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.store = StateStore(dsn)
        # Read lazily: building the state does no I/O, and the key's table may not exist yet.
        self.guard = PhoneGuard(dsn, key=self._guard_key)
        self.ledger = CommentLedger(dsn)
        self.queue = RetryQueue(dsn)
        self.fingerprints = Fingerprints(dsn)
        self.blocks = BackfillBlocks(dsn)
        self.secret = HashKey(dsn)

    def ensure_schema(self) -> None:
        """Bring the state database to the code's schema version (a run does it in its first
        task, not in every chunk): creates it when empty, upgrades one made by an earlier
        version, refuses one made by a newer version (``state/migrations.py``)."""
        migrate(self.dsn)

    @property
    def hash_key(self) -> bytes:
        """The key of every keyed hash of personal data (``identsync.privacy``)."""
        return self.secret.get()

    def _guard_key(self) -> bytes:
        try:
            return self.hash_key
        except psycopg2.errors.UndefinedTable:
            # A run that started before the upgrade never ran the new ensure_schema: its
            # first lookup converts the phone locks, which needs the key (and its table).
            self.secret.ensure_schema()
            return self.hash_key

    def purge_expired(self, retention_days: float) -> dict[str, int]:
        """Apply docs/privacy.md's retention rules: what outlived ``retention_days`` is
        deleted (staged data, run details, resolved entries, phone locks, fingerprints,
        backfill claims), or scrubbed down to id, reason and dates where the row itself is
        still counted (open rejections, dead records; keys ending in ``:scrubbed``).
        The comment ledger is kept: it is what keeps comments exactly-once, and holds
        only deal ids and hashes. Returns rows affected per table (non-zero only)."""
        from datetime import datetime, timedelta, timezone

        out = self.store.purge_older_than(retention_days)
        cutoff = datetime.now(timezone.utc) - timedelta(days=retention_days)
        out[f"{self.store.t_rejections}:scrubbed"] = self.store.scrub_open_rejections(cutoff)
        out["identsync_retry_queue"] = self.queue.purge_resolved(cutoff)
        out["identsync_retry_queue:scrubbed"] = self.queue.scrub_unresolved(cutoff)
        out["identsync_phone_writes"] = self.guard.purge_older_than(cutoff)
        out["identsync_fingerprints"] = self.fingerprints.purge_older_than(cutoff)
        out["identsync_backfill_blocks"] = self.blocks.purge_older_than(cutoff)
        return {k: v for k, v in out.items() if v}

    def __repr__(self) -> str:  # the DSN may carry a password
        return "SyncState(...)"
