"""PhoneGuard on real PostgreSQL: locks between sessions, staleness, writes left in flight."""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest

from identsync.state.guard import PhoneGuard

PHONES = ["+79990000001", "+79990000002"]


@pytest.fixture
def guard(pg_dsn):
    g = PhoneGuard(pg_dsn)
    g.ensure_schema()
    g.ensure_schema()  # idempotent
    return g


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
