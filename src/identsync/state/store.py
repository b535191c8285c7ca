"""Run state of the sync in PostgreSQL: watermarks, rejections, staged chunks, run summaries.

Airflow tasks pass only small keys through XCom; the bulky chunks wait here between tasks.
Plain psycopg2, one short connection per call, every value bound as a parameter (table names
come from a validated prefix).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from identsync.records import Rejection
from identsync.state.db import schema_lock, transaction

_PREFIX_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_IDENT_RE = re.compile(r"^F\d+_(\d+)$")  # F<branch>_<ReceptionID>, see records.SyncRecord
# What an open rejection says once its source row and detail outlived the retention period.
# (Spelled into SQL as a literal: no quote, no percent sign.)
SCRUBBED_DETAIL = "details removed after the retention period (reason and dates kept)"


def _json_default(value: Any) -> Any:
    # Staged rows must come back equal to what went in; silently stringifying a Decimal or a
    # datetime would not. Callers stage to_dict() output, which is plain JSON already.
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _utc(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError("watermark must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("watermark must be timezone-aware (naive datetimes are ambiguous)")
    return value.astimezone(timezone.utc)


def _rejection_key(rej: Rejection) -> str:
    if rej.ident_id:
        return rej.ident_id
    if rej.reception_id is not None:
        return f"reception:{rej.reception_id}"
    # The key outlives the detail's retention (it is the primary key): only a digest of it.
    return f"unknown:{rej.reason}:{hashlib.md5(rej.detail.encode('utf-8')).hexdigest()[:16]}"


class StateStore:
    """Tables ``<prefix>watermarks``, ``<prefix>rejections``, ``<prefix>staging``,
    ``<prefix>runs`` in the DSN's search_path."""

    def __init__(self, dsn: str, prefix: str = "identsync_",
                 application_name: str = "identsync-state") -> None:
        if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix) or len(prefix) > 40:
            raise ValueError(f"invalid table prefix {prefix!r}: must match ^[a-z_][a-z0-9_]*$")
        self._dsn = dsn
        self._app = application_name
        self.t_watermarks = f"{prefix}watermarks"
        self.t_rejections = f"{prefix}rejections"
        self.t_staging = f"{prefix}staging"
        self.t_runs = f"{prefix}runs"

    def _tx(self):
        return transaction(self._dsn, self._app)

    def ensure_schema(self) -> None:
        """Create the tables if missing; safe to call from many processes at once."""
        with self._tx() as cur:
            schema_lock(cur)
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.t_watermarks} (
                        pipeline text PRIMARY KEY,
                        value timestamptz NOT NULL,
                        run_id text NOT NULL,
                        updated_at timestamptz NOT NULL DEFAULT now()
                    )"""
            )
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.t_rejections} (
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
                    )"""
            )
            cur.execute(
                f"""CREATE INDEX IF NOT EXISTS {self.t_rejections}_open_idx
                        ON {self.t_rejections} (pipeline, last_seen)
                     WHERE resolved_at IS NULL"""
            )
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.t_staging} (
                        run_key text NOT NULL,
                        chunk_no integer NOT NULL,
                        rows jsonb NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (run_key, chunk_no)
                    )"""
            )
            cur.execute(
                f"""CREATE INDEX IF NOT EXISTS {self.t_staging}_created_idx
                        ON {self.t_staging} (created_at)"""
            )
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.t_runs} (
                        pipeline text NOT NULL,
                        run_id text NOT NULL,
                        summary jsonb NOT NULL,
                        recorded_at timestamptz NOT NULL DEFAULT now(),
                        updated_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (pipeline, run_id)
                    )"""
            )

    # --- watermarks -------------------------------------------------------------------------

    def get_watermark(self, pipeline: str) -> datetime | None:
        with self._tx() as cur:
            cur.execute(f"SELECT value FROM {self.t_watermarks} WHERE pipeline = %s", (pipeline,))
            row = cur.fetchone()
        return row[0].astimezone(timezone.utc) if row else None

    def set_watermark(self, pipeline: str, value: datetime, run_id: str) -> bool:
        """Move the watermark forward to ``value``; never back (a late backfill must not
        rewind it). Returns whether it moved."""
        value = _utc(value)
        with self._tx() as cur:
            cur.execute(
                f"""INSERT INTO {self.t_watermarks} AS w (pipeline, value, run_id, updated_at)
                    VALUES (%s, %s, %s, now())
                    ON CONFLICT (pipeline) DO UPDATE
                       SET value = EXCLUDED.value, run_id = EXCLUDED.run_id, updated_at = now()
                     WHERE w.value < EXCLUDED.value""",
                (pipeline, value, run_id),
            )
            return cur.rowcount == 1

    def advance_watermark(self, pipeline: str, start: datetime, end: datetime,
                          run_id: str) -> bool:
        """Move the watermark to ``end`` after a run synced [start, end), only when that
        window touches it (``start <= watermark``): a window synced out of order (a backfill
        of next week, a manual range) must not jump over changes nobody synced yet. The
        first run of a pipeline sets it. Returns whether it moved."""
        start, end = _utc(start), _utc(end)
        with self._tx() as cur:
            cur.execute(
                f"""INSERT INTO {self.t_watermarks} AS w (pipeline, value, run_id, updated_at)
                    VALUES (%s, %s, %s, now())
                    ON CONFLICT (pipeline) DO UPDATE
                       SET value = EXCLUDED.value, run_id = EXCLUDED.run_id, updated_at = now()
                     WHERE w.value < EXCLUDED.value AND w.value >= %s""",
                (pipeline, end, run_id, start),
            )
            return cur.rowcount == 1

    # --- rejections -------------------------------------------------------------------------

    def record_rejections(self, pipeline: str, run_id: str, rejections: Iterable[Rejection],
                          sources: Mapping[Any, Mapping[str, Any]] | None = None) -> int:
        """Upsert rejections by (pipeline, ident_id or reception_id); a record rejected again
        after being resolved is reopened. ``sources`` maps reception_id (int, or str after a
        JSON round trip) to the source row shown to operators."""
        latest: dict[str, tuple] = {}
        for rej in rejections:
            src = None
            if sources is not None and rej.reception_id is not None:
                src = sources.get(rej.reception_id, sources.get(str(rej.reception_id)))
            # One row per key per statement: ON CONFLICT cannot touch a row twice.
            latest[_rejection_key(rej)] = (
                pipeline, _rejection_key(rej), rej.ident_id, rej.reception_id, rej.reason,
                rej.detail, None if src is None else _dumps(src), run_id,
            )
        if not latest:
            return 0
        with self._tx() as cur:
            psycopg2.extras.execute_values(
                cur,
                f"""INSERT INTO {self.t_rejections} AS r
                        (pipeline, record_key, ident_id, reception_id, reason, detail, source,
                         run_id)
                    VALUES %s
                    ON CONFLICT (pipeline, record_key) DO UPDATE
                       SET ident_id = EXCLUDED.ident_id,
                           reception_id = EXCLUDED.reception_id,
                           reason = EXCLUDED.reason,
                           detail = EXCLUDED.detail,
                           source = CASE WHEN r.detail = '{SCRUBBED_DETAIL}'
                                         THEN EXCLUDED.source
                                         ELSE COALESCE(EXCLUDED.source, r.source) END,
                           run_id = EXCLUDED.run_id,
                           last_seen = now(),
                           times_seen = r.times_seen + 1,
                           resolved_at = NULL""",
                list(latest.values()),
                template="(%s, %s, %s, %s::bigint, %s, %s, %s::jsonb, %s)",
                page_size=1000,
            )
        return len(latest)

    def resolve(self, pipeline: str, ident_ids: Iterable[str]) -> int:
        """Mark open rejections of records that have now synced as resolved.

        A rejection recorded without an ident id (keyed by reception id) is matched through
        the reception id inside ``F<branch>_<ReceptionID>``: within one pipeline reception
        ids are unique.
        """
        ids = sorted(set(ident_ids))
        if not ids:
            return 0
        reception_ids = sorted({int(m.group(1)) for i in ids if (m := _IDENT_RE.match(i))})
        with self._tx() as cur:
            cur.execute(
                f"""UPDATE {self.t_rejections}
                       SET resolved_at = now()
                     WHERE pipeline = %s AND resolved_at IS NULL
                       AND (ident_id = ANY(%s)
                            OR (ident_id IS NULL AND reception_id = ANY(%s::bigint[])))""",
                (pipeline, ids, reception_ids),
            )
            return cur.rowcount

    def open_rejections(self, pipeline: str) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                f"""SELECT ident_id, reception_id, reason, detail, source, run_id,
                           first_seen, last_seen, times_seen
                      FROM {self.t_rejections}
                     WHERE pipeline = %s AND resolved_at IS NULL
                     ORDER BY last_seen DESC, record_key""",
                (pipeline,),
            )
            cols = [c.name for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    # --- staging ----------------------------------------------------------------------------

    def put_chunks(self, run_key: str, chunks: list[list[dict[str, Any]]]) -> list[int]:
        """Stage chunks under ``run_key`` (replacing what a failed earlier try staged);
        returns the chunk numbers 0..n-1 for XCom."""
        if not run_key:
            raise ValueError("run_key must be a non-empty string")
        values = [(run_key, no, _dumps(chunk)) for no, chunk in enumerate(chunks)]
        with self._tx() as cur:
            cur.execute(f"DELETE FROM {self.t_staging} WHERE run_key = %s", (run_key,))
            if values:
                psycopg2.extras.execute_values(
                    cur,
                    f"INSERT INTO {self.t_staging} (run_key, chunk_no, rows) VALUES %s",
                    values,
                    template="(%s, %s, %s::jsonb)",
                    page_size=200,
                )
        return list(range(len(values)))

    def get_chunk(self, run_key: str, chunk_no: int) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                f"SELECT rows FROM {self.t_staging} WHERE run_key = %s AND chunk_no = %s",
                (run_key, chunk_no),
            )
            row = cur.fetchone()
        if row is None:
            raise KeyError(f"no staged chunk {chunk_no} for run {run_key!r}")
        return row[0]

    def delete_run(self, run_key: str) -> int:
        with self._tx() as cur:
            cur.execute(f"DELETE FROM {self.t_staging} WHERE run_key = %s", (run_key,))
            return cur.rowcount

    def purge_older_than(self, days: float) -> dict[str, int]:
        """Past retention: staged chunks (personal data of runs that can no longer be
        cleared), run summaries and resolved rejections. Returns rows deleted per table."""
        if days < 0:
            raise ValueError("days must be >= 0")
        cutoff = float(days) * 86400.0
        out = {}
        with self._tx() as cur:
            for table, column, extra in ((self.t_staging, "created_at", ""),
                                         (self.t_runs, "updated_at", ""),
                                         (self.t_rejections, "resolved_at",
                                          " AND resolved_at IS NOT NULL")):
                cur.execute(f"DELETE FROM {table} WHERE {column} < now() - "
                            f"make_interval(secs => %s){extra}", (cutoff,))
                out[table] = cur.rowcount
        return out

    def scrub_open_rejections(self, cutoff: datetime) -> int:
        """Open rejections last seen before ``cutoff`` keep only their ids, reason and dates:
        the source row (names, phones, the reception's free-text comment) and the detail
        (which names the bad value) go. The row stays, so the health page still counts it;
        the record rejected again brings its details back. Returns rows scrubbed."""
        with self._tx() as cur:
            cur.execute(
                f"""UPDATE {self.t_rejections}
                       SET source = NULL, detail = %s,
                           record_key = CASE WHEN record_key LIKE 'unknown:%%'
                                             THEN 'unknown:' || reason || ':'
                                                  || left(md5(detail), 16)
                                             ELSE record_key END
                     WHERE resolved_at IS NULL AND detail <> %s AND last_seen < %s""",
                (SCRUBBED_DETAIL, SCRUBBED_DETAIL, cutoff))
            return cur.rowcount

    # --- run summaries ----------------------------------------------------------------------

    def record_run(self, pipeline: str, run_id: str, summary: Mapping[str, Any]) -> None:
        with self._tx() as cur:
            cur.execute(
                f"""INSERT INTO {self.t_runs} AS r (pipeline, run_id, summary)
                    VALUES (%s, %s, %s::jsonb)
                    ON CONFLICT (pipeline, run_id) DO UPDATE
                       SET summary = EXCLUDED.summary, updated_at = now()""",
                (pipeline, run_id, _dumps(dict(summary))),
            )

    def last_runs(self, pipeline: str, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` most recently recorded runs, newest first."""
        with self._tx() as cur:
            cur.execute(
                f"""SELECT run_id, summary, recorded_at, updated_at
                      FROM {self.t_runs}
                     WHERE pipeline = %s
                     ORDER BY recorded_at DESC, run_id DESC
                     LIMIT %s""",
                (pipeline, int(n)),
            )
            cols = [c.name for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def run_totals_since(self, pipeline: str, since: datetime) -> list[dict[str, Any]]:
        """Runs recorded since ``since``, oldest first: only when, dry run, records, rejected
        and HTTP requests (the health page's chart; a whole summary may list 200 errors)."""
        with self._tx() as cur:
            cur.execute(
                f"""SELECT recorded_at, summary->'dry_run' AS dry_run,
                           summary->'counts'->'records' AS records,
                           summary->'counts'->'rejected' AS rejected,
                           summary->'http'->'http_requests' AS http_requests
                      FROM {self.t_runs}
                     WHERE pipeline = %s AND recorded_at >= %s
                     ORDER BY recorded_at""",
                (pipeline, since),
            )
            cols = [c.name for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]
