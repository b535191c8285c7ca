"""What each record looked like when it was last written in full, so unchanged ones cost nothing.

A *fingerprint* is a hash of everything the sync would write for a record (contact, deal,
stage, comment text). After a record's deal and comment went through, its fingerprint is
kept here; a later run that computes the same fingerprint skips the record before the
lookup: a scheduled run every 30 minutes with a 15-minute overlap re-reads many receptions
it already wrote. Edits made on the portal side are not visible in a fingerprint, so every
``full_check_days`` (and on demand) a run ignores the fingerprints and looks everything up.

``read_at`` is the moment the run whose data was last written for the record began reading
IDENT. Any task of a finished run may be cleared and run again (staging keeps its rows for
``retention_days``); its rows are then older than what a later run wrote, and writing them
would put old data over new. So a write first *claims* the record with its run's read time
(:meth:`Fingerprints.claim`, under the phone locks): a row holding a later read time means a
newer run wrote it, and the older run's record is superseded (nothing written, no comment).
The claim also drops the fingerprint: from then on the portal holds that run's data, which
only the comment step's :meth:`Fingerprints.record` vouches for again. Rows are purged with the
staging (same ``retention_days``), so no run that can still be cleared outlives its guard.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import psycopg2.extras

from identsync.state.db import schema_lock, transaction

TABLE = "identsync_fingerprints"
CHECKS = "identsync_full_checks"


def fingerprint(record: Any) -> str:
    """Stable hash of a SyncRecord's wanted state (sha256 of its canonical JSON)."""
    data = record.to_dict() if hasattr(record, "to_dict") else record
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Fingerprints:
    def __init__(self, dsn: str, application_name: str = "identsync-fingerprints") -> None:
        self._dsn = dsn
        self._app = application_name

    def _tx(self):
        return transaction(self._dsn, self._app)

    def ensure_schema(self) -> None:
        with self._tx() as cur:
            schema_lock(cur)
            cur.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
                                pipeline text NOT NULL,
                                ident_id text NOT NULL,
                                fingerprint text,
                                written_at timestamptz NOT NULL DEFAULT now(),
                                read_at timestamptz,
                                PRIMARY KEY (pipeline, ident_id))""")
            cur.execute(f"""CREATE TABLE IF NOT EXISTS {CHECKS} (
                                pipeline text PRIMARY KEY,
                                checked_at timestamptz NOT NULL)""")

    def known(self, pipeline: str, ident_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(ident_ids))
        if not ids:
            return {}
        with self._tx() as cur:
            cur.execute(f"SELECT ident_id, fingerprint FROM {TABLE} "
                        "WHERE pipeline = %s AND ident_id = ANY(%s) "
                        "AND fingerprint IS NOT NULL", (pipeline, ids))
            return dict(cur.fetchall())

    def read_times(self, pipeline: str, ident_ids: Iterable[str]) -> dict[str, datetime]:
        """ident_id -> read time of the run whose data was last written (claimed) for it."""
        ids = sorted(set(ident_ids))
        if not ids:
            return {}
        with self._tx() as cur:
            cur.execute(f"SELECT ident_id, read_at FROM {TABLE} WHERE pipeline = %s "
                        "AND ident_id = ANY(%s) AND read_at IS NOT NULL", (pipeline, ids))
            return {i: t.astimezone(timezone.utc) for i, t in cur.fetchall()}

    def superseded(self, pipeline: str, read_at: datetime | None,
                   ident_ids: Iterable[str]) -> set[str]:
        """Of ``ident_ids``, those a run that read IDENT after ``read_at`` already wrote.
        ``read_at`` None (a chunk staged before read times were kept): none."""
        if read_at is None:
            return set()
        return {i for i, t in self.read_times(pipeline, ident_ids).items() if t > read_at}

    def claim(self, pipeline: str, read_at: datetime | None,
              ident_ids: Iterable[str]) -> set[str]:
        """Mark ``ident_ids`` as about to be written with data read at ``read_at``; returns
        the superseded ones (a later read time is stored: left as they are, not to write).

        One statement per chunk: the compare and the write are atomic per row, so two runs
        claiming the same record cannot both believe they are the newest. An equal read time
        is the same run again (a retry or a clear of this very task): it may write. The
        caller holds the records' phone locks, so no newer run writes between this claim and
        the portal write it guards.
        """
        ids = sorted(set(ident_ids))
        if read_at is None or not ids:
            return set()
        with self._tx() as cur:
            claimed = psycopg2.extras.execute_values(
                cur,
                f"""INSERT INTO {TABLE} AS t (pipeline, ident_id, fingerprint, read_at)
                    VALUES %s
                    ON CONFLICT (pipeline, ident_id) DO UPDATE
                       SET read_at = EXCLUDED.read_at, fingerprint = NULL, written_at = now()
                     WHERE t.read_at IS NULL OR t.read_at <= EXCLUDED.read_at
                    RETURNING ident_id""",
                [(pipeline, i, None, read_at) for i in ids], page_size=1000, fetch=True)
        return set(ids) - {i for (i,) in claimed}

    def record(self, pipeline: str, fingerprints: Mapping[str, str],
               read_at: datetime | None = None) -> int:
        """Keep the fingerprints of records written in full with data read at ``read_at``.
        A row claimed since by a run that read later keeps its state: the older run's
        fingerprint no longer describes the portal."""
        if not fingerprints:
            return 0
        with self._tx() as cur:
            psycopg2.extras.execute_values(
                cur,
                f"""INSERT INTO {TABLE} AS t (pipeline, ident_id, fingerprint, read_at)
                    VALUES %s
                    ON CONFLICT (pipeline, ident_id) DO UPDATE
                       SET fingerprint = EXCLUDED.fingerprint, written_at = now(),
                           read_at = greatest(t.read_at, EXCLUDED.read_at)
                     WHERE EXCLUDED.read_at IS NULL OR t.read_at IS NULL
                           OR t.read_at <= EXCLUDED.read_at""",
                [(pipeline, i, fp, read_at) for i, fp in sorted(fingerprints.items())],
                template="(%s, %s, %s, %s::timestamptz)", page_size=1000)
        return len(fingerprints)

    def forget(self, pipeline: str, ident_ids: Iterable[str] | None = None) -> int:
        """Drop fingerprints (all of the pipeline, or these): their records sync in full again.
        The read times stay: an older run cleared later must still not write over newer data."""
        with self._tx() as cur:
            if ident_ids is None:
                cur.execute(f"UPDATE {TABLE} SET fingerprint = NULL WHERE pipeline = %s "
                            "AND fingerprint IS NOT NULL", (pipeline,))
            else:
                cur.execute(f"UPDATE {TABLE} SET fingerprint = NULL WHERE pipeline = %s "
                            "AND ident_id = ANY(%s) AND fingerprint IS NOT NULL",
                            (pipeline, sorted(set(ident_ids))))
            return cur.rowcount

    def purge_older_than(self, cutoff: datetime) -> int:
        """Fingerprints written before ``cutoff``: a hash of the whole record (names, phone,
        comment) is still pseudonymous personal data. Losing one costs a lookup, nothing
        else: the record is synced in full the next time it is read."""
        with self._tx() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE written_at < %s", (cutoff,))
            return cur.rowcount

    def last_full_check(self, pipeline: str) -> datetime | None:
        with self._tx() as cur:
            cur.execute(f"SELECT checked_at FROM {CHECKS} WHERE pipeline = %s", (pipeline,))
            row = cur.fetchone()
        return row[0].astimezone(timezone.utc) if row else None

    def full_check_done(self, pipeline: str, at: datetime) -> None:
        with self._tx() as cur:
            cur.execute(f"""INSERT INTO {CHECKS} (pipeline, checked_at) VALUES (%s, %s)
                            ON CONFLICT (pipeline) DO UPDATE SET checked_at = EXCLUDED.checked_at
                             WHERE {CHECKS}.checked_at < EXCLUDED.checked_at""",
                        (pipeline, at))
