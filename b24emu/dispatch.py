"""Run one REST method: lookup, operating-time limit, portal lock, timing block."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from b24emu.config import Config
from b24emu.faults import FaultInjector
from b24emu.limits import OperatingTime
from b24emu.methods import ApiError, Ctx, Result, lookup
from b24emu.stats import Stats
from b24emu.store import Portal
from b24emu.values import now_iso

log = logging.getLogger("b24emu")

METHOD_NOT_FOUND = ("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
OPERATION_TIME_LIMIT = ("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.",
                        429)


def time_block(start: float, finish: float, processing: float, operating: float,
               reset_at: int | None) -> dict[str, Any]:
    """The `time` object every response carries, keys in the portal's order."""
    block: dict[str, Any] = {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": processing,
        "date_start": now_iso(start),
        "date_finish": now_iso(finish),
    }
    if reset_at is not None:
        block["operating_reset_at"] = reset_at
    block["operating"] = operating
    return block


@dataclass
class Outcome:
    method: str
    result: Result | None
    error: ApiError | None
    time: dict[str, Any]


class Dispatcher:
    def __init__(self, portal: Portal, config: Config, stats: Stats,
                 operating: OperatingTime, faults: FaultInjector | None = None) -> None:
        self.portal = portal
        self.config = config
        self.stats = stats
        self.operating = operating
        self.faults = faults

    def call(self, name: str, params: dict[str, Any], user_id: int) -> Outcome:
        """Execute ``name``; never raises for API-level problems (they become ``error``)."""
        name = name.lower()
        start = time.time()
        handler = lookup(name)
        if handler is None:
            self.stats.command(name)
            return self._fail(name, ApiError(*METHOD_NOT_FOUND), start)
        if self.operating.blocked(name, self.config):
            self.stats.rejected(429)
            return self._fail(name, ApiError(*OPERATION_TIME_LIMIT), start)
        self.stats.command(name)
        refusal = self.faults.refusal(name, params) if self.faults is not None else None
        if refusal is not None:
            self.stats.fault("refused", name, 0, "refuse")
            return self._fail(name, ApiError(refusal.code, refusal.description, 400), start)
        t0 = time.perf_counter()
        result: Result | None = None
        error: ApiError | None = None
        try:
            with self.portal.lock:
                result = handler(params, Ctx(self.portal, user_id))
        except ApiError as exc:
            error = exc
        except Exception:  # a bug in the emulator must look like a portal 500, not a hang
            log.exception("method %s failed inside the emulator", name)
            error = ApiError("INTERNAL_SERVER_ERROR", "Internal server error", 500)
        processing = time.perf_counter() - t0
        operating, reset_at = self.operating.account(name, processing, self.config)
        finish = time.time()
        return Outcome(name, result, error, time_block(start, finish, processing, operating,
                                                       reset_at))

    def _fail(self, name: str, error: ApiError, start: float) -> Outcome:
        operating, reset_at = self.operating.peek(name, self.config)
        return Outcome(name, None, error, time_block(start, time.time(), 0.0, operating,
                                                     reset_at))
