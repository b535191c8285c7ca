"""Type skeletons of JSON values, for comparing emulator and captured real responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REAL_DIR = Path(__file__).resolve().parents[1] / "data" / "bitrix24-real-responses"


def load_real(name: str) -> dict[str, Any]:
    """One captured file: {"source", "note", ["request"], "response"}."""
    return json.loads((REAL_DIR / name).read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """JSON -> type skeleton. Map keys are kept; a list becomes [shape of its first item]
    (or [] when empty), so list-vs-map quirks stay visible; ints and floats are "number"."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "string"


def keyless(value: Any) -> Any:
    """Like shape(), for a map keyed by caller-chosen batch command keys: one value shape."""
    if isinstance(value, dict):
        return {"<map>": shape(next(iter(value.values())))}
    return shape(value)


def batch_shape(result: dict[str, Any]) -> dict[str, Any]:
    """The five parts of a batch `result`, each collapsed over its command keys."""
    return {part: keyless(result[part]) for part in result}


def strip_operating_reset(value: Any, keys: tuple[str, ...] = ("operating_reset_at",)) -> Any:
    """Drop ``keys`` from time blocks: newer portals send `operating_reset_at`, older captures
    (2022) do not, and some captures lack `operating` too; the emulator always sends both."""
    if isinstance(value, dict):
        is_time = "date_start" in value and "processing" in value
        return {k: strip_operating_reset(v, keys) for k, v in value.items()
                if not (is_time and k in keys)}
    if isinstance(value, list):
        return [strip_operating_reset(v, keys) for v in value]
    return value


def common_types(real: dict[str, Any], emu: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys both records carry with non-null values, and their (real, emulator) shapes."""
    return {k: (shape(real[k]), shape(emu[k])) for k in real
            if k in emu and real[k] is not None and emu[k] is not None
            and real[k] != "" and emu[k] != ""}
