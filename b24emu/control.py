"""The one client of the emulator's admin endpoints (``/_emu/...``), stdlib only.

Tests, tools and the benchmark drive a running emulator through it, whether it runs in
their process (``EmulatorServer``) or in another one (``python -m b24emu``)::

    emu = EmulatorControl("http://127.0.0.1:8024")
    emu.stats(); emu.reset("all"); emu.faults({"rates": {"http_503": 0.1}})
    emu.config({"plan": "standard", "latency_ms": 500}); emu.dump("deal")
    emu.settled()   # every request answered (a slow write whose client gave up has landed)
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

ENTITIES = ("deal", "contact", "comment")


class EmulatorControl:
    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, verb: str, name: str, payload: Any = None,
              params: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}/_emu/{name}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=verb,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"emulator admin {verb} /_emu/{name}: HTTP {exc.code} "
                               f"{exc.read()[:300]!r}") from None

    # -- endpoints -------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def reset(self, what: str = "all") -> list[str]:
        return self._call("POST", "reset", {"what": what})["reset"]

    def faults(self, plan: dict[str, Any] | None = None) -> dict[str, Any]:
        """Configure faults (``plan``) or, without one, describe the current ones."""
        return self._call("POST" if plan is not None else "GET", "faults", plan)

    def config(self, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("POST" if changes is not None else "GET", "config", changes)

    def dump(self, entity: str) -> Any:
        return self._call("GET", "dump", params={"entity": entity})

    # -- conveniences ----------------------------------------------------------------------
    def dump_all(self) -> dict[str, list[dict[str, Any]]]:
        return {e: self.dump(e) for e in ENTITIES}

    def up(self) -> bool:
        try:
            self._call("GET", "stats")
            return True
        except (OSError, RuntimeError):
            return False

    def settled(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until every request received has been answered or dropped; return stats."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if sum(st["by_status"].values()) >= st["http_requests"]:
                return st
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator still has requests in flight")
            time.sleep(0.05)

    def writes_since(self, before: dict[str, Any]) -> dict[str, int]:
        """add/update commands (timeline comments included) since a ``stats()`` snapshot."""
        after = self.stats()["by_method"]
        old = before.get("by_method", {})
        return {m: n - old.get(m, 0) for m, n in after.items()
                if m.rsplit(".", 1)[-1] in ("add", "update") and n - old.get(m, 0)}

    def __repr__(self) -> str:
        return f"EmulatorControl({self.base_url!r})"
