"""State store: schema, watermarks, rejections, staging of chunks, run summaries."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg2
import pytest

from identsync.records import Rejection
from identsync.state import SyncState
from identsync.state.store import StateStore

PIPE = "branch_1"


@pytest.fixture
def store(pg_dsn):
    s = StateStore(pg_dsn)
    s.ensure_schema()
    return s


@pytest.mark.parametrize("prefix", ["Bad_", "x; drop table y;", "a-b_", "1x_"])
def test_prefix_is_validated(prefix):
    with pytest.raises(ValueError):
        StateStore("postgresql://unused", prefix=prefix)


def test_every_state_table_created_twice_and_from_threads_at_once(pg_dsn):
    """Four first tasks of four runs start together on a fresh database: all succeed."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            barrier.wait()
            SyncState(pg_dsn).ensure_schema()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    state = SyncState(pg_dsn)
    state.ensure_schema()
    assert state.store.get_watermark(PIPE) is None
    assert state.ledger.stats()["rows"] == 0
    assert state.guard.current_seq() == 0


def test_custom_prefix_makes_separate_tables(pg_dsn):
    a, b = StateStore(pg_dsn, prefix="a_"), StateStore(pg_dsn, prefix="b_")
    a.ensure_schema()
    b.ensure_schema()
    a.set_watermark(PIPE, datetime(2026, 1, 1, tzinfo=timezone.utc), "r1")
    assert b.get_watermark(PIPE) is None


# --- watermarks -------------------------------------------------------------------------------

def test_watermark_only_moves_forward(store):
    t1 = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=timezone.utc)
    assert store.set_watermark(PIPE, t1, "run1") is True
    assert store.get_watermark(PIPE) == t1
    # a late backfill with an older window must not rewind it
    assert store.set_watermark(PIPE, t1 - timedelta(days=3), "backfill") is False
    assert store.set_watermark(PIPE, t1, "same") is False
    assert store.get_watermark(PIPE) == t1
    t2 = t1 + timedelta(minutes=30)
    assert store.set_watermark(PIPE, t2, "run2") is True
    assert store.get_watermark(PIPE) == t2
    assert store.get_watermark("other") is None


def test_watermark_is_utc_and_rejects_naive(store):
    moscow = datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    store.set_watermark(PIPE, moscow, "r")
    got = store.get_watermark(PIPE)
    assert got == moscow and got.utcoffset() == timedelta(0)
    assert got.hour == 9
    with pytest.raises(ValueError, match="timezone-aware"):
        store.set_watermark(PIPE, datetime(2030, 1, 1), "r")


# --- rejections -------------------------------------------------------------------------------

def _rej(ident: str | None, rid: int | None, reason: str = "invalid_phone") -> Rejection:
    return Rejection(rid, ident, reason, f"phone '12' of reception {rid} is not a number")


def test_rejections_upsert_and_resolve(store):
    store.record_rejections(PIPE, "run1", [_rej("F1_10", 10), _rej(None, 11, "no_branch")],
                            sources={10: {"mobile_phone": "12"}})
    first = {r["reception_id"]: r for r in store.open_rejections(PIPE)}
    assert set(first) == {10, 11}
    assert first[10]["source"] == {"mobile_phone": "12"} and first[10]["times_seen"] == 1
    assert first[11]["ident_id"] is None and first[11]["source"] is None

    # next run: same problems, sources keyed by str after a JSON round trip
    store.record_rejections(PIPE, "run2", [_rej("F1_10", 10, "no_name"), _rej(None, 11)],
                            sources={"11": {"mobile_phone": "x"}})
    second = {r["reception_id"]: r for r in store.open_rejections(PIPE)}
    assert second[10]["times_seen"] == 2 and second[10]["run_id"] == "run2"
    assert second[10]["reason"] == "no_name"
    assert second[10]["first_seen"] == first[10]["first_seen"]
    assert second[10]["last_seen"] >= first[10]["last_seen"]
    assert second[10]["source"] == {"mobile_phone": "12"}  # kept when not given again
    assert second[11]["source"] == {"mobile_phone": "x"}

    # both records sync in a later run; the reception-keyed one is found via its ident id
    assert store.resolve(PIPE, ["F1_10", "F1_11", "F1_99"]) == 2
    assert store.open_rejections(PIPE) == []
    assert store.resolve(PIPE, ["F1_10"]) == 0

    # rejected again later: reopened
    store.record_rejections(PIPE, "run3", [_rej("F1_10", 10)])
    again = store.open_rejections(PIPE)
    assert [r["ident_id"] for r in again] == ["F1_10"] and again[0]["times_seen"] == 3


def test_rejections_are_per_pipeline(store):
    store.record_rejections("a", "r", [_rej("F1_1", 1)])
    store.record_rejections("b", "r", [_rej("F1_1", 1)])
    assert store.resolve("a", ["F1_1"]) == 1
    assert len(store.open_rejections("b")) == 1


def test_duplicate_rejection_in_one_batch(store):
    assert store.record_rejections(PIPE, "r", [_rej("F1_5", 5, "a"), _rej("F1_5", 5, "b")]) == 1
    (row,) = store.open_rejections(PIPE)
    assert row["reason"] == "b" and row["times_seen"] == 1


# --- staging ----------------------------------------------------------------------------------

def test_staging_30000_records_in_600_chunks_round_trips(store, pg_dsn):
    chunks = [
        [{"ident_id": f"F1_{c * 50 + i}", "phone": f"+7999{c * 50 + i:07d}", "n": i,
          "name": "Иванов Иван", "tags": ["a", None], "ok": True}
         for i in range(50)]
        for c in range(600)
    ]
    numbers = store.put_chunks("dag/run_1", chunks)
    assert numbers == list(range(600))
    for no in (0, 1, 299, 599):
        assert store.get_chunk("dag/run_1", no) == chunks[no]
    # every chunk, read back in one query (get_chunk opens a connection per call, as one
    # Airflow task per chunk would)
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT chunk_no, rows FROM identsync_staging WHERE run_key = %s "
                    "ORDER BY chunk_no", ("dag/run_1",))
        stored = cur.fetchall()
    conn.close()
    assert [rows for _, rows in stored] == chunks
    assert sum(len(rows) for _, rows in stored) == 30000


def test_staging_retry_replaces_and_delete(store):
    store.put_chunks("k", [[{"a": 1}], [{"a": 2}], [{"a": 3}]])
    store.put_chunks("other", [[{"b": 1}]])
    assert store.put_chunks("k", [[{"a": 9}]]) == [0]  # retried task staged fewer chunks
    assert store.get_chunk("k", 0) == [{"a": 9}]
    with pytest.raises(KeyError):
        store.get_chunk("k", 1)
    assert store.delete_run("k") == 1
    with pytest.raises(KeyError):
        store.get_chunk("k", 0)
    assert store.get_chunk("other", 0) == [{"b": 1}]
    assert store.put_chunks("empty", []) == []


def test_staging_refuses_values_that_would_not_round_trip(store):
    with pytest.raises(TypeError, match="Decimal"):
        store.put_chunks("k", [[{"amount": Decimal("1.50")}]])


def test_purge_older_than(store, pg_dsn):
    store.put_chunks("old", [[{"a": 1}], [{"a": 2}]])
    store.put_chunks("new", [[{"a": 3}]])
    store.record_run(PIPE, "old-run", {"counts": {}})
    store.record_run(PIPE, "new-run", {"counts": {}})
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE identsync_staging SET created_at = now() - interval '3 days' "
            "WHERE run_key = 'old'"
        )
        cur.execute("UPDATE identsync_runs SET updated_at = now() - interval '3 days' "
                    "WHERE run_id = 'old-run'")
    conn.close()
    assert store.purge_older_than(2) == {"identsync_staging": 2, "identsync_runs": 1,
                                         "identsync_rejections": 0}
    assert [r["run_id"] for r in store.last_runs(PIPE)] == ["new-run"]
    assert store.get_chunk("new", 0) == [{"a": 3}]
    with pytest.raises(KeyError):
        store.get_chunk("old", 0)
    with pytest.raises(ValueError):
        store.purge_older_than(-1)


# --- run summaries ----------------------------------------------------------------------------

def test_run_summaries(store):
    store.record_run(PIPE, "r1", {"created": 1})
    store.record_run(PIPE, "r2", {"created": 2})
    store.record_run(PIPE, "r3", {"created": 3})
    store.record_run(PIPE, "r2", {"created": 20, "failed": 0})  # upsert
    store.record_run("other", "x", {"created": 0})
    runs = store.last_runs(PIPE, 10)
    assert [r["run_id"] for r in runs] == ["r3", "r2", "r1"]
    assert runs[1]["summary"] == {"created": 20, "failed": 0}
    assert [r["run_id"] for r in store.last_runs(PIPE, 2)] == ["r3", "r2"]


def test_a_backfill_block_has_one_owner_per_round_of_runs(pg_dsn):
    state = SyncState(pg_dsn)
    state.ensure_schema()
    start = datetime(2026, 11, 19, 21, 0, tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    assert state.blocks.claim(PIPE, start, end, 0, "backfill__a") == "backfill__a"
    assert state.blocks.claim(PIPE, start, end, 0, "backfill__b") == "backfill__a"
    # A cleared run (clear_number 1) does not trust the earlier round's claim.
    assert state.blocks.claim(PIPE, start, end, 1, "backfill__b") == "backfill__b"
    assert state.blocks.claim("other", start, end, 0, "backfill__c") == "backfill__c"
