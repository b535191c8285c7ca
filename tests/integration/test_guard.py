"""PhoneGuard on real PostgreSQL: locks between sessions, staleness, writes left in flight."""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest

from identsync.privacy import keyed_hash
from identsync.state.guard import PhoneGuard
from tests.fixtures.pg import snapshot

PHONES = ["+79990000001", "+79990000002"]
KEY = bytes.fromhex("11" * 32)


@pytest.fixture
def guard(pg_dsn):
    g = PhoneGuard(pg_dsn, KEY)
    g.ensure_schema()
    g.ensure_schema()  # idempotent
    return g


def _rows(dsn: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT phone_key, seq, writing_since IS NOT NULL "
                        "FROM identsync_phone_writes ORDER BY phone_key")
            return cur.fetchall()
    finally:
        conn.close()


def test_generator_of_phones_is_held_in_full(guard):
    with guard.hold(p for p in PHONES) as held:
        assert held.phones == sorted(PHONES)


def test_a_write_by_another_holder_makes_the_lookup_stale(guard):
    seq = guard.current_seq()
    with guard.hold(PHONES[:1]) as held:
        assert not held.stale_since(seq)
        held.touch()
    with guard.hold(PHONES) as held:
        assert held.stale_since(seq)
        assert not held.stale_since(guard.current_seq())
    with guard.hold(["+79990000003"]) as other:
        assert not other.stale_since(seq)  # other phones are not affected


def test_second_holder_waits_for_the_first(guard):
    order: list[str] = []
    release = threading.Event()

    def first() -> None:
        with guard.hold(PHONES):
            order.append("first in")
            release.wait(5)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    while not order:
        time.sleep(0.01)
    threading.Timer(0.3, release.set).start()
    with guard.hold(reversed(PHONES)):
        order.append("second in")
    t.join()
    assert order == ["first in", "first out", "second in"]


def test_a_write_left_in_flight_is_seen_by_the_next_holder(guard, pg_dsn):
    with guard.hold(PHONES) as held:
        assert held.unfinished_write_age() is None
        held.begin_write()
        held.touch()  # came back: nothing left in flight
        assert held.unfinished_write_age() is None
    # A holder that dies mid-write: its session ends without touch().
    with guard.hold(PHONES) as held:
        held.begin_write()
        backend = held._conn.get_backend_pid()
        killer = psycopg2.connect(pg_dsn)
        killer.autocommit = True
        killer.cursor().execute("SELECT pg_terminate_backend(%s)", (backend,))
        killer.close()
    with guard.hold(PHONES[1:]) as held:  # the lock was released with the dead session
        age = held.unfinished_write_age()
        assert age is not None and 0 <= age < 30
        held.touch()
        assert held.unfinished_write_age() is None


def test_the_table_holds_keyed_hashes_never_a_phone(guard, pg_dsn):
    with guard.hold(PHONES) as held:
        held.begin_write()
        held.touch()
    with guard.hold(PHONES[:1]) as held:
        held.begin_write()  # left in flight
    rows = _rows(pg_dsn)
    assert sorted(r[0] for r in rows) == sorted(keyed_hash(KEY, "lock:" + p) for p in PHONES)
    assert [r[2] for r in rows if r[0] == keyed_hash(KEY, "lock:" + PHONES[0])] == [True]
    dump = repr(snapshot(pg_dsn))
    for p in PHONES:
        assert p.lstrip("+") not in dump


def test_another_key_is_another_lock_space(guard, pg_dsn):
    """The hash depends on the key: without it the table cannot be matched to phones."""
    other = PhoneGuard(pg_dsn, bytes.fromhex("22" * 32))
    assert other.phone_key(PHONES[0]) != guard.phone_key(PHONES[0])
    assert guard.phone_key(PHONES[0]) == keyed_hash(KEY, "lock:" + PHONES[0])
    with pytest.raises(ValueError, match="hash key"):
        PhoneGuard(pg_dsn, b"").phone_key(PHONES[0])


OLD_SCHEMA = """
CREATE SEQUENCE identsync_phone_write_seq;
CREATE TABLE identsync_phone_writes (phone text PRIMARY KEY, seq bigint NOT NULL,
                                     written_at timestamptz NOT NULL DEFAULT now(),
                                     writing_since timestamptz);
INSERT INTO identsync_phone_writes (phone, seq, writing_since)
     VALUES ('+79990000001', nextval('identsync_phone_write_seq'), NULL),
            ('+79990000002', 0, now() - interval '5 seconds');
"""


def test_raw_phones_of_the_previous_version_are_hashed_and_marks_survive(pg_dsn):
    conn = psycopg2.connect(pg_dsn)
    conn.autocommit = True
    conn.cursor().execute(OLD_SCHEMA)
    conn.close()
    guard = PhoneGuard(pg_dsn, KEY)
    guard.ensure_schema()
    guard.ensure_schema()  # converted once; the second call finds nothing to convert
    assert _rows(pg_dsn) == sorted([(keyed_hash(KEY, "lock:" + PHONES[0]), 1, False),
                                    (keyed_hash(KEY, "lock:" + PHONES[1]), 0, True)])
    assert "7999000000" not in repr(snapshot(pg_dsn))
    # Crash recovery still works across the upgrade: the write that died before it is
    # waited for, and the write before it still makes an older lookup stale.
    with guard.hold(PHONES[1:]) as held:
        age = held.unfinished_write_age()
        assert age is not None and 5 <= age < 60
    with guard.hold(PHONES[:1]) as held:
        assert held.unfinished_write_age() is None
        assert held.stale_since(0) and not held.stale_since(1)
    assert guard.current_seq() == 1


def test_purge_forgets_old_phones_and_keeps_young_marks(guard, pg_dsn):
    from datetime import datetime, timedelta, timezone

    with guard.hold(PHONES) as held:
        held.touch()
    with guard.hold(["+79990000003"]) as held:
        held.begin_write()  # a write that died: its mark is young
    conn = psycopg2.connect(pg_dsn)
    conn.autocommit = True
    conn.cursor().execute("UPDATE identsync_phone_writes SET written_at = now() - "
                          "interval '10 days'")  # every row written long ago
    conn.close()
    cutoff = datetime.now(timezone.utc) - timedelta(days=7)
    assert guard.purge_older_than(cutoff) == 2
    assert [r[0] for r in _rows(pg_dsn)] == [keyed_hash(KEY, "lock:+79990000003")]
    with guard.hold(["+79990000003"]) as held:
        assert held.unfinished_write_age() is not None


def test_a_run_in_flight_across_the_upgrade_converts_the_table_at_its_next_lookup(pg_dsn):
    """Its first task ran the old ensure_schema; its next lookup must not fail on it."""
    conn = psycopg2.connect(pg_dsn)
    conn.autocommit = True
    conn.cursor().execute(OLD_SCHEMA)
    conn.close()
    guard = PhoneGuard(pg_dsn, KEY)  # no ensure_schema: a chunk task
    assert guard.current_seq() == 1
    assert "7999000000" not in repr(snapshot(pg_dsn))
    with guard.hold(PHONES[1:]) as held:
        assert held.unfinished_write_age() is not None


def test_the_same_through_the_sync_state_without_its_key_table(pg_dsn):
    from identsync.state import SyncState

    conn = psycopg2.connect(pg_dsn)
    conn.autocommit = True
    conn.cursor().execute(OLD_SCHEMA)
    conn.close()
    state = SyncState(pg_dsn)  # the old version made neither the key nor phone_key
    assert state.guard.current_seq() == 1
    assert "7999000000" not in repr(snapshot(pg_dsn))
    assert state.guard.phone_key(PHONES[0]) == keyed_hash(state.hash_key, "lock:" + PHONES[0])
