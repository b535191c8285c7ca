"""Request, command, limit and fault counters behind /_emu/stats."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.http_requests = 0
            self.by_status: Counter[str] = Counter()
            self.by_method: Counter[str] = Counter()
            self.limit_rejections: Counter[str] = Counter({"503": 0, "429": 0})
            self.faults: Counter[str] = Counter()
            self.fault_log: deque[dict[str, Any]] = deque(maxlen=1000)
            self.auth_failures = 0

    def request(self) -> int:
        with self._lock:
            self.http_requests += 1
            return self.http_requests

    def status(self, code: int) -> None:
        with self._lock:
            self.by_status[str(code)] += 1

    def command(self, method: str) -> None:
        with self._lock:
            self.by_method[method] += 1

    def rejected(self, code: int) -> None:
        with self._lock:
            self.limit_rejections[str(code)] += 1

    def fault(self, kind: str, method: str, seq: int, source: str) -> None:
        with self._lock:
            self.faults[kind] += 1
            self.fault_log.append({"request": seq, "method": method, "fault": kind,
                                   "source": source})

    def auth_failed(self) -> None:
        with self._lock:
            self.auth_failures += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "http_requests": self.http_requests,
                "by_status": dict(self.by_status),
                "by_method": dict(self.by_method),
                "commands": sum(v for k, v in self.by_method.items() if k != "batch"),
                "limit_rejections": dict(self.limit_rejections),
                "faults": dict(self.faults),
                "fault_log": list(self.fault_log),
                "auth_failures": self.auth_failures,
            }
