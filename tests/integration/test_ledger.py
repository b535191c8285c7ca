"""Comment ledger: decide() table, schema, claims across sessions, crash recovery, import."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg2
import pytest

from identsync.state.ledger import (
    CommentLedger,
    LedgerBusy,
    LedgerError,
    LedgerRow,
    comment_hash,
    decide,
)

ROOT = Path(__file__).resolve().parents[2]
H1 = comment_hash("Первичный приём, 10:00")
H2 = comment_hash("Повторный приём, 12:30")


def _row(posted: str | None = None, pending: str | None = None) -> LedgerRow:
    return LedgerRow(1, posted, None, None, pending, None, None, None, None)


# --- pure logic -------------------------------------------------------------------------------

def test_comment_hash_is_md5_of_utf8_like_the_old_system():
    text = "Комментарий: пациент опоздал"
    assert comment_hash(text) == hashlib.md5(text.encode("utf-8")).hexdigest()
    assert len(comment_hash("")) == 32


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (None, "post"),
        (_row(), "post"),
        (_row(posted=H1), "skip"),
        (_row(posted=H2), "post"),
        (_row(pending=H1), "reconcile"),
        (_row(posted=H1, pending=H1), "reconcile"),
        (_row(posted=H1, pending=H2), "reconcile"),
    ],
)
def test_decide(row, expected):
    assert decide(H1, row) == expected


@pytest.mark.parametrize("name", ["Bad", "x;drop table y", "1abc", "", "a-b"])
def test_table_name_is_validated(name):
    with pytest.raises(ValueError):
        CommentLedger("postgresql://unused", table=name)


# --- PostgreSQL -------------------------------------------------------------------------------

@pytest.fixture
def ledger(pg_dsn):
    led = CommentLedger(pg_dsn)
    led.ensure_schema()
    return led


def _wait_backend_gone(dsn: str, pid: int) -> None:
    """Termination is asynchronous: wait (bounded) until the backend has really exited."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for _ in range(200):
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cur.fetchone()[0] == 0:
                    return
                time.sleep(0.05)
        raise AssertionError(f"backend {pid} still alive")
    finally:
        conn.close()


def test_claim_before_schema_is_a_clear_error(pg_dsn):
    with pytest.raises(LedgerError, match="ensure_schema"):
        with CommentLedger(pg_dsn).claim([1]):
            pass


def test_second_session_sees_busy_deals(ledger):
    with ledger.claim([1, 2, 3]) as first:
        assert first.locked == {1, 2, 3} and first.busy == set()
        with ledger.claim([2, 3, 4]) as second:
            assert second.locked == {4}
            assert second.busy == {2, 3}
            with pytest.raises(LedgerError, match="not held"):
                second.record_intent({2: (H1, None)})
            second.record_intent({4: (H1, None)})
    # both released on exit
    with ledger.claim([1, 2, 3, 4]) as again:
        assert again.locked == {1, 2, 3, 4}


def test_locks_released_when_body_raises(ledger):
    with pytest.raises(RuntimeError):
        with ledger.claim([7]) as claim:
            assert claim.locked == {7}
            raise RuntimeError("boom")
    with ledger.claim([7]) as claim:
        assert claim.locked == {7}


def test_ledgers_on_different_tables_do_not_share_locks(pg_dsn):
    a = CommentLedger(pg_dsn, table="ledger_a")
    b = CommentLedger(pg_dsn, table="ledger_b")
    a.ensure_schema()
    b.ensure_schema()
    with a.claim([1]) as ca, b.claim([1]) as cb:
        assert ca.locked == {1} and cb.locked == {1}


def test_ids_beyond_int4_can_be_claimed(ledger):
    big = 2**40 + 5
    with ledger.claim([big, 5]) as claim:
        assert claim.locked == {big, 5}
        claim.record_posted({big: (H1, 10)})
        assert claim.rows()[big].posted_hash == H1
        with ledger.claim([big]) as other:
            assert other.busy == {big}


def test_post_flow_intent_then_posted(ledger):
    with ledger.claim([10]) as claim:
        assert decide(H1, claim.rows().get(10)) == "post"
        claim.record_intent({10: (H1, 500)})
        row = claim.rows()[10]
        assert (row.pending_hash, row.pending_after_comment_id) == (H1, 500)
        assert row.pending_since is not None and row.posted_hash is None
        claim.record_posted({10: (H1, 501)})
        row = claim.rows()[10]
    assert row.pending_hash is None and row.pending_since is None
    assert (row.posted_hash, row.posted_comment_id, row.source) == (H1, 501, "posted")
    assert decide(H1, row) == "skip"
    assert decide(H2, row) == "post"


def test_second_intent_is_refused_and_writes_nothing(ledger):
    with ledger.claim([11, 12]) as claim:
        claim.record_intent({11: (H1, 100)})
        with pytest.raises(LedgerError, match="pending intent already"):
            claim.record_intent({11: (H1, 200), 12: (H2, 300)})
        rows = claim.rows()
    assert rows[11].pending_after_comment_id == 100  # not moved past a possible comment
    assert 12 not in rows  # all-or-nothing


def test_posted_for_other_text_keeps_the_pending_intent(ledger):
    with ledger.claim([13]) as claim:
        claim.record_intent({13: (H1, 1)})
        claim.record_posted({13: (H2, 2)})
        row = claim.rows()[13]
        assert row.pending_hash == H1 and row.posted_hash == H2
        assert claim.clear_intent([13]) == 1
        assert decide(H2, claim.rows()[13]) == "skip"


def test_terminated_backend_leaves_intent_and_frees_lock(ledger, pg_dsn):
    cm = ledger.claim([20, 21])
    claim = cm.__enter__()  # never exited: the "process" dies holding the claim
    claim.record_intent({20: (H1, 900)})
    pid = claim._conn.get_backend_pid()
    with ledger.claim([20]) as meanwhile:
        assert meanwhile.busy == {20}

    admin = psycopg2.connect(pg_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert cur.fetchone()[0] is True
    admin.close()
    _wait_backend_gone(pg_dsn, pid)

    with ledger.claim([20, 21]) as retry:
        assert retry.locked == {20, 21}
        row = retry.rows()[20]
        assert decide(H1, row) == "reconcile"
        assert row.pending_after_comment_id == 900
        # reconcile found the comment id 901 on the portal
        retry.record_posted({20: (H1, 901)}, source="reconciled")
        row = retry.rows()[20]
    assert row.source == "reconciled" and row.pending_hash is None
    assert decide(H1, row) == "skip"
    with pytest.raises(psycopg2.Error):
        claim.rows()  # the dead claim's connection is unusable...
    cm.__exit__(None, None, None)  # ...and cleaning it up later does not raise


def test_killed_process_leaves_intent_and_frees_lock(ledger, pg_dsn):
    script = textwrap.dedent(
        f"""
        import sys, time
        from identsync.state.ledger import CommentLedger
        led = CommentLedger(sys.argv[1])
        cm = led.claim([30])
        claim = cm.__enter__()
        claim.record_intent({{30: ({H2!r}, 77)}})
        print(claim._conn.get_backend_pid(), flush=True)
        time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script, pg_dsn], stdout=subprocess.PIPE,
                            text=True)
    try:
        pid = int(proc.stdout.readline())
        with ledger.claim([30]) as meanwhile:
            assert meanwhile.busy == {30}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    _wait_backend_gone(pg_dsn, pid)
    with ledger.claim([30]) as retry:
        assert retry.locked == {30}
        assert decide(H2, retry.rows()[30]) == "reconcile"


def test_import_good_and_bad_entries(ledger):
    with ledger.claim([2, 3]) as claim:
        claim.record_posted({2: (H2, 55)})  # the sync knows better than the old file
        claim.record_intent({3: (H2, 1)})  # intent only: also left alone
    report = ledger.import_hashes({
        "1": H1,
        "2": H1,
        "3": H1,
        "4": H1.upper(),
        "0": H1,
        "-5": H1,
        "abc": H1,
        "7": "not-a-hash",
        "8": 123,
    })
    assert (report.inserted, report.updated, report.kept) == (2, 0, 2)
    assert set(report.bad) == {"0", "-5", "abc", "7", "8"}
    rows = ledger.rows([1, 2, 3, 4])
    assert rows[1].posted_hash == H1 and rows[1].source == "imported"
    assert rows[4].posted_hash == H1  # normalised to lower case
    assert rows[2].posted_hash == H2 and rows[2].source == "posted"
    assert rows[3].posted_hash is None and rows[3].pending_hash == H2

    again = ledger.import_hashes({"1": H2})  # an earlier import may be replaced
    assert (again.inserted, again.updated, again.kept) == (0, 1, 0)
    assert ledger.rows([1])[1].posted_hash == H2


def test_import_rejects_non_object(ledger):
    with pytest.raises(ValueError):
        ledger.import_hashes(["1", H1])  # type: ignore[arg-type]


def test_reset_one_and_all(ledger):
    ledger.import_hashes({"1": H1, "2": H1, "3": H1})
    assert ledger.reset(2) == 1
    assert set(ledger.rows([1, 2, 3])) == {1, 3}
    assert ledger.reset(99) == 0
    assert ledger.reset() == 2
    assert ledger.stats()["rows"] == 0


def test_reset_refused_while_claimed(ledger):
    ledger.import_hashes({"1": H1, "2": H1})
    with ledger.claim([1]):
        with pytest.raises(LedgerBusy):
            ledger.reset()
        with pytest.raises(LedgerBusy):
            ledger.reset(1)
        assert ledger.reset(2) == 1  # a deal nobody holds
        assert ledger.reset(force=True) == 1


def test_stats(ledger):
    ledger.import_hashes({"1": H1})
    with ledger.claim([2, 3]) as claim:
        claim.record_intent({2: (H1, None)})
        claim.record_posted({3: (H1, 4)})
        s = ledger.stats()
    assert s["rows"] == 3 and s["pending"] == 1
    assert s["by_source"] == {"posted": 1, "imported": 1, "reconciled": 0}
    assert s["claimed_now"] == 2
    assert s["oldest_pending_since"] is not None


def test_import_conflicting_duplicate_keys_imports_neither(ledger):
    report = ledger.import_hashes({12: H1, "12": H2, "13": H1})
    assert set(report.bad) == {"12"} and report.inserted == 1
    assert set(ledger.rows([12, 13])) == {13}
