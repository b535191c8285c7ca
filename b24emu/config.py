"""Runtime-tunable emulator settings (plan, latency, operating-time limit)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

PLANS: dict[str, tuple[float, float] | None] = {
    "standard": (50.0, 2.0),      # bucket size X, drain Y per second
    "enterprise": (250.0, 5.0),
    "unlimited": None,
}


@dataclass
class Config:
    plan: str = "unlimited"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    # Operating time: 0 disables the limit. A method's accumulated time is its processing
    # time x operating_factor + operating_per_call_s per call, over operating_window_s.
    operating_limit_s: float = 0.0
    operating_factor: float = 1.0
    operating_per_call_s: float = 0.0
    operating_window_s: float = 600.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.validate()

    def validate(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"unknown plan {self.plan!r}; expected one of {sorted(PLANS)}")
        for f in fields(self):
            if f.name != "plan" and float(getattr(self, f.name)) < 0:
                raise ValueError(f"{f.name} must be >= 0")

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update atomically; unknown keys are an error."""
        known = {f.name: f for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        with self._lock:
            old = self.as_dict()
            try:
                for key, value in changes.items():
                    setattr(self, key, str(value) if key == "plan" else float(value))
                self.validate()
            except (TypeError, ValueError):
                for key, value in old.items():
                    setattr(self, key, value)
                raise

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}
