"""Admin endpoints outside /rest/: stats, reset, faults, config, dump."""

from __future__ import annotations

import json
from typing import Any, Protocol

from b24emu.phpquery import parse_str


class Administered(Protocol):
    """What the admin endpoints need of the emulator (the server keeps this contract)."""

    faults: Any  # .configure(payload), .describe()
    config: Any  # .update(payload), .as_dict()

    def stats_snapshot(self) -> dict[str, Any]: ...

    def reset(self, what: str = "all") -> list[str]: ...

    def dump(self, entity: str) -> Any: ...

RESET_PARTS = ("entities", "stats", "faults", "limits", "config")


def handle(emu: Administered, verb: str, path: str, query: str,
           body: bytes) -> tuple[int, Any]:
    """(HTTP status, JSON-able body) for one admin request."""
    args = {k: v for k, v in parse_str(query).items() if isinstance(v, str)}
    name = path[len("/_emu/"):].strip("/")
    try:
        payload = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return 400, {"error": "body must be JSON"}
    try:
        if name == "stats" and verb == "GET":
            return 200, emu.stats_snapshot()
        if name == "reset" and verb == "POST":
            what = args.get("what") or (payload.get("what") if isinstance(payload, dict)
                                        else None) or "all"
            return 200, {"reset": emu.reset(what)}
        if name == "faults":
            if verb == "POST":
                emu.faults.configure(payload)
            return 200, emu.faults.describe()
        if name == "config":
            if verb == "POST":
                if not isinstance(payload, dict):
                    return 400, {"error": "config must be a JSON object"}
                emu.config.update(payload)
            return 200, emu.config.as_dict()
        if name == "dump" and verb == "GET":
            entity = args.get("entity", "")
            return 200, emu.dump(entity)
    except (KeyError, ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}
    return 404, {"error": f"unknown admin endpoint {verb} /_emu/{name}"}
