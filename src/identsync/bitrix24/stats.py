"""Counters of what a client did: requests, commands, limiter waits, retries, methods."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

__all__ = ["ClientStats"]


class ClientStats:
    """Thread-safe counters of what the client did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.http_requests = 0
        self.commands = 0
        self.limit_waits = 0
        self.wait_seconds = 0.0
        self.retries = 0
        self.by_method: Counter[str] = Counter()

    def request(self, methods: Mapping[str, int] | None = None, commands: int = 1) -> None:
        with self._lock:
            self.http_requests += 1
            self.commands += commands
            if methods:
                self.by_method.update(methods)

    def waited(self, seconds: float) -> None:
        with self._lock:
            self.limit_waits += 1
            self.wait_seconds += seconds

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "http_requests": self.http_requests,
                "commands": self.commands,
                "limit_waits": self.limit_waits,
                "wait_seconds": round(self.wait_seconds, 3),
                "retries": self.retries,
                "by_method": dict(self.by_method),
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.as_dict()})"
