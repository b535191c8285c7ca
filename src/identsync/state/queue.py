"""The retry queue: records whose write the portal refused, tried again by later runs.

A record goes in when Bitrix24 refused its contact, deal or comment (a per-command error);
each later run of the same pipeline takes the due ones first (by reception id, fresh from
IDENT) and syncs them like any record: look again, then write. Tries are spaced
exponentially (``base * 2^(attempt-1)``, at most a day); after ``max_attempts`` the record is
*dead*, with its last reason, until an operator fixes the cause (a later successful sync of
the record, or ``requeue()``, brings it back). A queued record is never skipped as unchanged
(``pending``); one that transform now rejects leaves the queue as ``rejected``, one more try
counted, and waits as an open rejection (``rejected``). Rows: one per (pipeline, ident id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg2.extras

from identsync.records import Failure
from identsync.state.db import schema_lock, transaction

TABLE = "identsync_retry_queue"
MAX_SPACING_MINUTES = 24 * 60
# 'rejected': transform now refuses the record (phone erased, patient deleted): it left the
# queue and waits as an open rejection instead.
STATUSES = "('queued', 'dead', 'recovered', 'gone', 'rejected')"


def _allow_every_status(cur: Any) -> None:
    """A table made by an earlier version checks a shorter status list: widen it once."""
    cur.execute("SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "WHERE c.conrelid = to_regclass(%s) AND c.contype = 'c' "
                "AND pg_get_constraintdef(c.oid) LIKE %s", (TABLE, "%status%"))
    defs = [r[0] for r in cur.fetchall()]
    if defs and all("rejected" in d for d in defs):
        return
    cur.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {TABLE}_status_check")
    cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_status_check "
                f"CHECK (status IN {STATUSES})")


# What a dead record's description says once it outlived the retention period.
SCRUBBED_DESCRIPTION = "details removed after the retention period (step, code and dates kept)"


class RetryQueue:
    def __init__(self, dsn: str, application_name: str = "identsync-queue") -> None:
        self._dsn = dsn
        self._app = application_name

    def _tx(self):
        return transaction(self._dsn, self._app)

    def ensure_schema(self) -> None:
        with self._tx() as cur:
            schema_lock(cur)
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {TABLE} (
                        pipeline text NOT NULL,
                        ident_id text NOT NULL,
                        reception_id bigint,
                        step text NOT NULL,
                        code text NOT NULL,
                        description text NOT NULL,
                        attempts integer NOT NULL,
                        status text NOT NULL CONSTRAINT {TABLE}_status_check
                            CHECK (status IN {STATUSES}),
                        first_failed_at timestamptz NOT NULL DEFAULT now(),
                        last_failed_at timestamptz NOT NULL DEFAULT now(),
                        next_attempt_at timestamptz,
                        run_id text NOT NULL,
                        task_id text,
                        map_index integer,
                        resolved_at timestamptz,
                        PRIMARY KEY (pipeline, ident_id)
                    )""")
            _allow_every_status(cur)
            cur.execute(f"""CREATE INDEX IF NOT EXISTS {TABLE}_due_idx
                                ON {TABLE} (pipeline, next_attempt_at)
                             WHERE status = 'queued'""")

    def fail(self, pipeline: str, run_id: str, failures: Sequence[Failure], *,
             base_minutes: int, max_attempts: int, task_id: str | None = None,
             map_index: int | None = None) -> dict[str, int]:
        """Queue (or re-queue) refused records; returns how many are queued and dead now."""
        latest = {f.ident_id: f for f in failures}  # one row per record per statement
        if not latest:
            return {"queued": 0, "dead": 0}
        rows = [(pipeline, f.ident_id, f.reception_id, f.step, f.code, f.description[:2000],
                 run_id, task_id, map_index) for f in latest.values()]
        # The three numbers are ints we own (validated config), spelled into the statement
        # because execute_values takes one parameter list: the rows.
        top, base, cap = int(max_attempts), int(base_minutes), MAX_SPACING_MINUTES
        sql = f"""
            INSERT INTO {TABLE} AS q (pipeline, ident_id, reception_id, step, code,
                                     description, attempts, status, next_attempt_at, run_id,
                                     task_id, map_index)
            SELECT v.p, v.i, v.r, v.s, v.c, v.d, 1,
                   CASE WHEN {top} <= 1 THEN 'dead' ELSE 'queued' END,
                   now() + make_interval(mins => {base}), v.run, v.t, v.m
              FROM (VALUES %s) AS v(p, i, r, s, c, d, run, t, m)
            ON CONFLICT (pipeline, ident_id) DO UPDATE SET
                reception_id = EXCLUDED.reception_id, step = EXCLUDED.step,
                code = EXCLUDED.code, description = EXCLUDED.description,
                attempts = CASE WHEN q.status IN ('recovered', 'rejected') THEN 1
                                ELSE q.attempts + 1 END,
                status = CASE WHEN q.status NOT IN ('recovered', 'rejected')
                                   AND q.attempts + 1 >= {top}
                              THEN 'dead' ELSE 'queued' END,
                first_failed_at = CASE WHEN q.status IN ('recovered', 'rejected') THEN now()
                                       ELSE q.first_failed_at END,
                last_failed_at = now(),
                next_attempt_at = now() + make_interval(mins => least({cap},
                    {base} * power(2, CASE WHEN q.status IN ('recovered', 'rejected') THEN 0
                                           ELSE q.attempts END))::int),
                run_id = EXCLUDED.run_id, task_id = EXCLUDED.task_id,
                map_index = EXCLUDED.map_index, resolved_at = NULL
            RETURNING q.status"""
        with self._tx() as cur:
            out = psycopg2.extras.execute_values(
                cur, sql, rows, template="(%s, %s, %s::bigint, %s, %s, %s, %s, %s, %s::int)",
                fetch=True)
        statuses = [r[0] for r in out]
        return {"queued": statuses.count("queued"), "dead": statuses.count("dead")}

    def due(self, pipeline: str, limit: int = 5000) -> list[tuple[str, int | None]]:
        """(ident id, reception id) of queued records whose next try has come."""
        with self._tx() as cur:
            cur.execute(
                f"""SELECT ident_id, reception_id FROM {TABLE}
                     WHERE pipeline = %s AND status = 'queued' AND next_attempt_at <= now()
                     ORDER BY next_attempt_at LIMIT %s""", (pipeline, int(limit)))
            return [(r[0], r[1]) for r in cur.fetchall()]

    def recovered(self, pipeline: str, ident_ids: Iterable[str]) -> int:
        """Records that synced fully: out of the queue (dead and rejected ones too).
        Returns how many."""
        ids = sorted(set(ident_ids))
        if not ids:
            return 0
        with self._tx() as cur:
            cur.execute(
                f"""UPDATE {TABLE} SET status = 'recovered', resolved_at = now(),
                                       next_attempt_at = NULL
                     WHERE pipeline = %s AND ident_id = ANY(%s)
                       AND status IN ('queued', 'dead', 'rejected')""", (pipeline, ids))
            return cur.rowcount

    def pending(self, pipeline: str, ident_ids: Iterable[str]) -> set[str]:
        """Which of these records wait in the queue (queued, due or not)."""
        ids = sorted(set(ident_ids))
        if not ids:
            return set()
        with self._tx() as cur:
            cur.execute(f"SELECT ident_id FROM {TABLE} WHERE pipeline = %s "
                        "AND ident_id = ANY(%s) AND status = 'queued'", (pipeline, ids))
            return {r[0] for r in cur.fetchall()}

    def rejected(self, pipeline: str, run_id: str,
                 rejections: Sequence[tuple[str | None, int | None, str]]) -> int:
        """Queued or dead records that transform now refuses, as (ident id, reception id,
        reason): they leave the queue, counted as one more try, and wait as open rejections
        (the rejections table has the detail). Matched by ident id, or by reception id
        (unique within a pipeline) when the row has no ident id any more (its branch is
        gone). Returns how many left."""
        rows = [(pipeline, i, r, d[:2000], run_id) for i, r, d in rejections
                if i is not None or r is not None]
        if not rows:
            return 0
        with self._tx() as cur:
            out = psycopg2.extras.execute_values(
                cur,
                f"""UPDATE {TABLE} AS q SET status = 'rejected', step = 'transform',
                           code = 'REJECTED', description = v.d,
                           attempts = q.attempts + 1, last_failed_at = now(),
                           next_attempt_at = NULL, resolved_at = now(), run_id = v.run,
                           task_id = NULL, map_index = NULL
                      FROM (VALUES %s) AS v(p, i, r, d, run)
                     WHERE q.pipeline = v.p
                       AND (q.ident_id = v.i OR q.reception_id = v.r)
                       AND q.status IN ('queued', 'dead')
                 RETURNING q.ident_id""", rows,
                template="(%s, %s::text, %s::bigint, %s, %s)", fetch=True)
        return len({r[0] for r in out})

    def requeue(self, pipeline: str, ident_ids: Iterable[str] | None = None) -> int:
        """Operator: give dead records (all, or these) a fresh set of tries, due now."""
        with self._tx() as cur:
            sql = (f"UPDATE {TABLE} SET status = 'queued', attempts = 0, "
                   f"next_attempt_at = now() WHERE pipeline = %s AND status = 'dead'")
            args: list[Any] = [pipeline]
            if ident_ids is not None:
                sql += " AND ident_id = ANY(%s)"
                args.append(sorted(set(ident_ids)))
            cur.execute(sql, args)
            return cur.rowcount

    def entries(self, pipeline: str, statuses: Sequence[str] = ("queued", "dead"),
                limit: int = 500) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                f"""SELECT ident_id, reception_id, step, code, description, attempts, status,
                           first_failed_at, last_failed_at, next_attempt_at, run_id, task_id,
                           map_index, resolved_at
                      FROM {TABLE} WHERE pipeline = %s AND status = ANY(%s)
                     ORDER BY last_failed_at DESC LIMIT %s""",
                (pipeline, list(statuses), int(limit)))
            cols = [c.name for c in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def counts(self, pipeline: str) -> dict[str, int]:
        with self._tx() as cur:
            cur.execute(f"SELECT status, count(*) FROM {TABLE} WHERE pipeline = %s "
                        "GROUP BY status", (pipeline,))
            return {s: int(n) for s, n in cur.fetchall()}

    def purge_resolved(self, older_than: datetime) -> int:
        with self._tx() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE status IN ('recovered', 'gone', 'rejected') "
                        "AND resolved_at < %s",
                        (older_than,))
            return cur.rowcount

    def scrub_unresolved(self, older_than: datetime) -> int:
        """Dead, rejected (or long-stalled queued) records whose last failure is older than
        the retention period keep only their ids, step, code and dates: the portal's error
        text, or the rejection's detail, may quote the patient's data. The row stays (the
        health page counts it, an operator may requeue it: a retry reads the record fresh
        from IDENT). Returns rows scrubbed."""
        with self._tx() as cur:
            cur.execute(f"UPDATE {TABLE} SET description = %s "
                        "WHERE status IN ('queued', 'dead', 'rejected')"
                        " AND last_failed_at < %s AND description <> %s",
                        (SCRUBBED_DESCRIPTION, older_than, SCRUBBED_DESCRIPTION))
            return cur.rowcount
