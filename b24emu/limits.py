"""The portal's two limits: a leaky bucket per webhook and per-method operating time."""

from __future__ import annotations

import threading
import time
from typing import Callable

from b24emu.config import PLANS, Config


class LeakyBucket:
    """+1 per HTTP request, drains ``rate`` per second, refuses above ``capacity``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (level, at)

    def try_acquire(self, key: str, plan: str) -> bool:
        params = PLANS.get(plan)
        if params is None:
            return True
        capacity, rate = params
        with self._lock:
            now = self._clock()
            level, at = self._levels.get(key, (0.0, now))
            level = max(0.0, level - (now - at) * rate)
            if level + 1.0 > capacity:
                self._levels[key] = (level, now)
                return False
            self._levels[key] = (level + 1.0, now)
            return True

    def level(self, key: str, plan: str) -> float:
        params = PLANS.get(plan)
        with self._lock:
            if params is None or key not in self._levels:
                return 0.0
            level, at = self._levels[key]
            return max(0.0, level - (self._clock() - at) * params[1])

    def reset(self) -> None:
        with self._lock:
            self._levels.clear()


class OperatingTime:
    """Accumulated execution time per method inside a window (time.operating)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._spent: dict[str, tuple[float, float]] = {}  # method -> (window start, seconds)

    def _current(self, method: str, window: float) -> tuple[float, float]:
        now = self._clock()
        start, spent = self._spent.get(method, (now, 0.0))
        if now - start >= window:
            start, spent = now, 0.0
        return start, spent

    def blocked(self, method: str, config: Config) -> bool:
        if config.operating_limit_s <= 0:
            return False
        with self._lock:
            _start, spent = self._current(method, config.operating_window_s)
            return spent >= config.operating_limit_s

    def account(self, method: str, seconds: float, config: Config) -> tuple[float, int]:
        """Add one call's cost; returns (operating, operating_reset_at) for the time block."""
        cost = seconds * config.operating_factor + config.operating_per_call_s
        with self._lock:
            start, spent = self._current(method, config.operating_window_s)
            spent += cost
            self._spent[method] = (start, spent)
            return spent, int(start + config.operating_window_s)

    def peek(self, method: str, config: Config) -> tuple[float, int]:
        with self._lock:
            start, spent = self._current(method, config.operating_window_s)
            return spent, int(start + config.operating_window_s)

    def reset(self) -> None:
        with self._lock:
            self._spent.clear()
