"""PHP ``json_encode`` quirks: empty arrays are ``[]``, arrays keyed 0..n-1 are JSON lists."""

from __future__ import annotations

import json
from typing import Any


def _is_sequential(keys: list[Any]) -> bool:
    return all(str(k) == str(i) for i, k in enumerate(keys))


def php_json(value: Any) -> Any:
    """Return ``value`` shaped the way PHP's json_encode would show it.

    A dict with no keys becomes ``[]``; a dict whose keys are exactly ``0..n-1`` in insertion
    order (as str or int) becomes a list. Everything else keeps its keys (as strings).
    """
    if isinstance(value, dict):
        keys = list(value.keys())
        if not keys or _is_sequential(keys):
            return [php_json(value[k]) for k in keys]
        return {str(k): php_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [php_json(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    """Serialise with PHP shapes; non-ASCII kept as UTF-8 like JSON_UNESCAPED_UNICODE."""
    return json.dumps(php_json(value), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
