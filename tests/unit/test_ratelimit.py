"""The client-side leaky bucket, driven by a fake clock."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identsync.bitrix24.ratelimit import LeakyBucket, reset_registry, shared_bucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def standard(clock: FakeClock, headroom: int = 2) -> LeakyBucket:
    return LeakyBucket(50, 2.0, headroom=headroom, clock=clock, sleep=clock.sleep)


def test_burst_fills_to_capacity_minus_headroom_then_paces_at_drain_rate() -> None:
    clock = FakeClock()
    bucket = standard(clock)
    waits = [bucket.acquire() for _ in range(52)]
    assert waits[:48] == [0.0] * 48
    # Each further request must wait for half a slot to drain (2 per second).
    assert waits[48:] == pytest.approx([0.5, 0.5, 0.5, 0.5])
    assert clock.now == pytest.approx(1002.0)


def test_idle_time_drains_the_bucket() -> None:
    clock = FakeClock()
    bucket = standard(clock)
    for _ in range(48):
        bucket.acquire()
    clock.now += 10.0  # 20 slots drained
    assert bucket.level == pytest.approx(28.0)
    assert [bucket.acquire() for _ in range(20)] == [0.0] * 20
    assert bucket.acquire() == pytest.approx(0.5)


def test_fill_after_a_portal_503_makes_the_next_request_wait() -> None:
    clock = FakeClock()
    bucket = standard(clock)
    bucket.fill()
    # Level 50 must drain to 47 before one more fits under 48.
    assert bucket.acquire() == pytest.approx(1.5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=3), min_size=1, max_size=300))
def test_portal_counter_never_exceeds_the_limit(gaps: list[float]) -> None:
    """Replay the portal's own bucket at each send time: it never reaches capacity."""
    clock = FakeClock()
    bucket = standard(clock)
    server_level, last = 0.0, clock.now
    for gap in gaps:
        clock.now += gap
        bucket.acquire()
        server_level = max(0.0, server_level - (clock.now - last) * 2.0) + 1
        last = clock.now
        assert server_level <= 48 + 1e-9


def test_concurrent_callers_each_get_their_own_slot() -> None:
    """400 acquisitions from 8 threads on a frozen clock: the waits are exactly the queue."""
    clock = FakeClock()
    bucket = LeakyBucket(50, 2.0, clock=clock, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            w = bucket.acquire()
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = [0.0] * 48 + [k * 0.5 for k in range(1, 400 - 48 + 1)]
    assert sorted(waits) == pytest.approx(expected)


def test_enterprise_plan_and_unlimited() -> None:
    clock = FakeClock()
    bucket = LeakyBucket.for_plan("enterprise", clock=clock, sleep=clock.sleep)
    assert bucket is not None
    assert [bucket.acquire() for _ in range(249)][-1] == pytest.approx(0.2)
    assert LeakyBucket.for_plan("unlimited") is None
    with pytest.raises(ValueError, match="unknown Bitrix24 plan"):
        LeakyBucket.for_plan("gold")


def test_shared_registry_is_per_portal_and_user() -> None:
    reset_registry()
    a = shared_bucket("Portal.bitrix24.ru", "1", "standard")
    assert a is shared_bucket("portal.bitrix24.ru", "1", "standard")
    assert a is shared_bucket("portal.bitrix24.ru", "1", "enterprise")  # one portal, one limit
    assert a is not shared_bucket("portal.bitrix24.ru", "7", "standard")
    assert a is not shared_bucket("other.bitrix24.ru", "1", "standard")
    assert shared_bucket("portal.bitrix24.ru", "1", "unlimited") is None
    reset_registry()


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        LeakyBucket(2, 1.0, headroom=2)
    with pytest.raises(ValueError):
        LeakyBucket(50, 0.0)
