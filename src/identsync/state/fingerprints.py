"""What each record looked like when it was last written in full, so unchanged ones cost nothing.

A *fingerprint* is a hash of everything the sync would write for a record (contact, deal,
stage, comment text). After a record's deal and comment went through, its fingerprint is
kept here; a later run that computes the same fingerprint skips the record before the
lookup: a scheduled run every 30 minutes with a 15-minute overlap re-reads many receptions
it already wrote. Edits made on the portal side are not visible in a fingerprint, so every
``full_check_days`` (and on demand) a run ignores the fingerprints and looks everything up.
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
                                fingerprint text NOT NULL,
                                written_at timestamptz NOT NULL DEFAULT now(),
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
                        "WHERE pipeline = %s AND ident_id = ANY(%s)", (pipeline, ids))
            return dict(cur.fetchall())

    def record(self, pipeline: str, fingerprints: Mapping[str, str]) -> int:
        if not fingerprints:
            return 0
        with self._tx() as cur:
            psycopg2.extras.execute_values(
                cur,
                f"""INSERT INTO {TABLE} (pipeline, ident_id, fingerprint) VALUES %s
                    ON CONFLICT (pipeline, ident_id) DO UPDATE
                       SET fingerprint = EXCLUDED.fingerprint, written_at = now()""",
                [(pipeline, i, fp) for i, fp in sorted(fingerprints.items())], page_size=1000)
        return len(fingerprints)

    def forget(self, pipeline: str, ident_ids: Iterable[str] | None = None) -> int:
        """Drop fingerprints (all of the pipeline, or these): their records sync in full again."""
        with self._tx() as cur:
            if ident_ids is None:
                cur.execute(f"DELETE FROM {TABLE} WHERE pipeline = %s", (pipeline,))
            else:
                cur.execute(f"DELETE FROM {TABLE} WHERE pipeline = %s AND ident_id = ANY(%s)",
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
