"""Client-side leaky bucket mirroring the portal's own request limiter.

The portal counts +1 per HTTP request (a batch is one request), drains ``drain`` per second
and answers 503 QUERY_LIMIT_EXCEEDED above ``capacity``. We keep our own copy of that counter
and wait *before* sending, so the portal never has to refuse us. ``headroom`` slots are kept
free because our clock and the portal's are not the same clock.

One bucket per portal (host + webhook user) is shared by every client in the process via
:func:`shared_bucket`; the registry key never contains the token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["PLANS", "PlanLimits", "RateLimiter", "LeakyBucket", "shared_bucket",
           "reset_registry"]


class RateLimiter(Protocol):
    """What Bitrix24Client needs from a limiter: this module's LeakyBucket (one process) or
    identsync.state.ratelimit.PgLeakyBucket (every process sharing the sync-state database)."""

    drain_per_second: float

    def acquire(self) -> float: ...

    def fill(self) -> None: ...


@dataclass(frozen=True)
class PlanLimits:
    capacity: int
    drain_per_second: float


#: Documented limits per Bitrix24 plan; "unlimited" (our emulator's default) has no bucket.
PLANS: dict[str, PlanLimits | None] = {
    "standard": PlanLimits(capacity=50, drain_per_second=2.0),
    "enterprise": PlanLimits(capacity=250, drain_per_second=5.0),
    "unlimited": None,
}


def plan_limits(plan: str) -> PlanLimits | None:
    try:
        return PLANS[plan]
    except KeyError:
        raise ValueError(f"unknown Bitrix24 plan {plan!r}; expected one of {sorted(PLANS)}") from None


class LeakyBucket:
    """Thread-safe leaky bucket: :meth:`acquire` blocks until one more request fits.

    A caller that has to wait reserves its slot before sleeping (outside the lock), so
    concurrent callers queue up behind each other instead of all waking at the same moment.

    :param capacity: the portal's X (requests the bucket holds).
    :param drain_per_second: the portal's Y.
    :param headroom: slots we leave unused (the bucket blocks at ``capacity - headroom``).
    :param clock: monotonic seconds; injectable for tests.
    :param sleep: injectable for tests.
    """

    def __init__(
        self,
        capacity: int,
        drain_per_second: float,
        *,
        headroom: int = 2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if drain_per_second <= 0:
            raise ValueError("drain_per_second must be positive")
        if not 1 <= capacity - headroom:
            raise ValueError("capacity - headroom must be at least 1")
        self.capacity = capacity
        self.drain_per_second = drain_per_second
        self.limit = capacity - headroom
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._level = 0.0
        self._updated = clock()

    @classmethod
    def for_plan(cls, plan: str, **kwargs) -> LeakyBucket | None:
        limits = plan_limits(plan)
        if limits is None:
            return None
        return cls(limits.capacity, limits.drain_per_second, **kwargs)

    def _drain(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._level = max(0.0, self._level - elapsed * self.drain_per_second)
        self._updated = now

    def reserve(self) -> float:
        """Book one request; return how long the caller must wait before sending it."""
        with self._lock:
            self._drain(self._clock())
            # Our request may be sent once the counter (including earlier reservations) has
            # drained enough that adding 1 stays within the limit.
            excess = self._level + 1.0 - self.limit
            self._level += 1.0
            return excess / self.drain_per_second if excess > 0 else 0.0

    def acquire(self) -> float:
        """Wait until one request fits; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def fill(self) -> None:
        """The portal said 503: assume its bucket is full (others may share the portal)."""
        with self._lock:
            self._drain(self._clock())
            self._level = max(self._level, float(self.capacity))

    @property
    def level(self) -> float:
        """Current counter, reservations included."""
        with self._lock:
            self._drain(self._clock())
            return self._level

    def __repr__(self) -> str:
        return f"LeakyBucket(capacity={self.capacity}, drain_per_second={self.drain_per_second})"


_registry: dict[tuple[str, str], LeakyBucket] = {}
_registry_lock = threading.Lock()


def shared_bucket(portal: str, user_id: str, plan: str) -> LeakyBucket | None:
    """The process-wide bucket for one portal + webhook user (None for plan "unlimited").

    The first client to ask decides the plan; a later client asking with another plan gets the
    same bucket (the portal has one limit, whatever each caller believes).
    """
    if plan_limits(plan) is None:
        return None
    key = (portal.lower(), str(user_id))
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            bucket = LeakyBucket.for_plan(plan)
            assert bucket is not None
            _registry[key] = bucket
        return bucket


def reset_registry() -> None:
    """Forget all shared buckets (tests)."""
    with _registry_lock:
        _registry.clear()
