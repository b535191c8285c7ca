"""The retry queue's `rejected` status on real PostgreSQL, including a queue table made by
an earlier version (its CHECK allowed only queued/dead/recovered/gone)."""

from __future__ import annotations

import psycopg2

from identsync.records import Failure
from identsync.state.queue import TABLE, RetryQueue

OLD_DDL = f"""CREATE TABLE {TABLE} (
    pipeline text NOT NULL, ident_id text NOT NULL, reception_id bigint, step text NOT NULL,
    code text NOT NULL, description text NOT NULL, attempts integer NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'dead', 'recovered', 'gone')),
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at timestamptz NOT NULL DEFAULT now(), next_attempt_at timestamptz,
    run_id text NOT NULL, task_id text, map_index integer, resolved_at timestamptz,
    PRIMARY KEY (pipeline, ident_id))"""


def test_an_upgraded_queue_takes_rejected_records_out_and_back(pg_dsn):
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute(OLD_DDL)
    conn.close()
    queue = RetryQueue(pg_dsn)
    queue.ensure_schema()
    queue.ensure_schema()  # idempotent: the widened check is left alone
    queue.fail("p", "run1", [Failure("F1_5", 5, "deal", "ERROR_CORE", "refused"),
                             Failure("F1_6", 6, "deal", "ERROR_CORE", "refused")],
               base_minutes=0, max_attempts=5)
    assert queue.pending("p", ["F1_5", "F1_6", "F1_7"]) == {"F1_5", "F1_6"}
    # Matched by ident id, or by reception id when the row lost its ident id (no branch).
    assert queue.rejected("p", "run2", [("F1_5", 5, "no_phone: F1_5: no phone"),
                                        (None, 6, "no_branch: reception 6: no branch"),
                                        ("F1_7", 7, "no_phone: never queued")]) == 2
    assert queue.due("p") == [] and queue.pending("p", ["F1_5", "F1_6"]) == set()
    rows = {e["ident_id"]: e for e in queue.entries("p", ("rejected",))}
    assert {i: (e["attempts"], e["step"], e["run_id"]) for i, e in rows.items()} == {
        "F1_5": (2, "transform", "run2"), "F1_6": (2, "transform", "run2")}
    assert rows["F1_6"]["description"] == "no_branch: reception 6: no branch"
    # Refused again later: a fresh set of tries; synced later: recovered.
    queue.fail("p", "run3", [Failure("F1_5", 5, "deal", "ERROR_CORE", "refused")],
               base_minutes=0, max_attempts=5)
    assert [(e["status"], e["attempts"]) for e in queue.entries("p", ("queued",))] == \
        [("queued", 1)]
    assert queue.recovered("p", ["F1_5", "F1_6"]) == 2
    assert queue.counts("p") == {"recovered": 2}


def test_rejected_rows_leave_the_queue_table_after_retention(pg_dsn):
    """A record that left the queue as a rejection is tracked by the rejections table; its
    queue row is purged with the other resolved ones (it used to stay forever)."""
    from datetime import datetime, timedelta, timezone

    queue = RetryQueue(pg_dsn)
    queue.ensure_schema()
    queue.fail("p", "run1", [Failure("F1_5", 5, "deal", "ERROR_CORE", "refused")],
               base_minutes=0, max_attempts=5)
    assert queue.rejected("p", "run2", [("F1_5", 5, "no_phone: F1_5: no phone")]) == 1
    now = datetime.now(timezone.utc)
    assert queue.purge_resolved(now - timedelta(days=1)) == 0  # young: kept
    assert queue.purge_resolved(now + timedelta(seconds=1)) == 1
    assert queue.entries("p", ("rejected",)) == []
