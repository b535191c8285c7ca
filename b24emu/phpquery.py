"""PHP ``parse_str`` semantics, and the PHP casts the REST server applies to parameters.

PHP arrays are represented as ``dict`` with ``str`` keys (``"0"``, ``"1"`` for list-like
arrays), scalar leaves as ``str``. JSON request bodies may also put ``list``/``int``/``bool``
values in the tree; :func:`php_list` and :func:`php_bool` accept both forms.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")


def _next_index(arr: dict[str, Any]) -> str:
    """PHP's ``$a[] = x``: one past the largest integer key, or 0."""
    ints = [int(k) for k in arr if _INT_KEY.match(k)]
    return str(max(ints) + 1 if ints and max(ints) >= 0 else 0)


def _split_key(raw: str) -> tuple[str, list[str | None]] | None:
    """Split ``a[b][][c]`` into ``("a", ["b", None, "c"])``; None means append."""
    raw = raw.lstrip(" ")
    open_at = raw.find("[")
    if open_at <= 0 and raw[:1] != "[":
        base, rest = raw, ""
    elif open_at == 0:
        return None  # PHP drops a key that has no name before the first '['
    else:
        base, rest = raw[:open_at], raw[open_at:]
    parts: list[str | None] = []
    while rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            if not parts:  # an unmatched '[' in the name becomes '_' and the rest is kept
                base = base + "_" + rest[1:]
            break
        inner = rest[1:close]
        parts.append(inner if inner != "" else None)
        rest = rest[close + 1 :]
    # PHP turns ' ' and '.' in the top-level name into '_'
    base = base.replace(" ", "_").replace(".", "_")
    if not base:
        return None
    return base, parts


def set_path(target: dict[str, Any], base: str, parts: list[str | None], value: Any) -> None:
    """Assign ``value`` at ``target[base][parts...]`` creating arrays like PHP does."""
    if not parts:
        target[base] = value
        return
    node = target.get(base)
    if not isinstance(node, dict):
        node = {}
        target[base] = node
    for i, part in enumerate(parts):
        key = _next_index(node) if part is None else part
        if i == len(parts) - 1:
            node[key] = value
        else:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child


def parse_str(query: str) -> dict[str, Any]:
    """Parse a query string exactly like PHP ``parse_str`` (last value wins, ``[]`` appends)."""
    result: dict[str, Any] = {}
    if not query:
        return result
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, sep, raw_val = pair.partition("=")
        key = unquote_plus(raw_key)
        value = unquote_plus(raw_val) if sep else ""
        split = _split_key(key)
        if split is None:
            continue
        set_path(result, split[0], split[1], value)
    return result


def php_bool(value: Any) -> bool:
    """PHP ``(bool)`` cast: "", "0", 0, 0.0, [], null are false; the string "false" is true."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (list, dict)):
        return len(value) > 0
    return bool(value)


def php_list(value: Any) -> list[Any]:
    """Values of a PHP array in order; a scalar becomes a one-element list, null empty."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def php_int(value: Any) -> int:
    """PHP ``(int)`` cast of a parameter: leading digits, else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        m = re.match(r"^\s*([+-]?\d+)", value)
        return int(m.group(1)) if m else 0
    return 0


def from_json(value: Any) -> Any:
    """Turn a decoded JSON body into the PHP-array form parse_str produces (lists -> dicts)."""
    if isinstance(value, list):
        return {str(i): from_json(v) for i, v in enumerate(value)}
    if isinstance(value, dict):
        return {str(k): from_json(v) for k, v in value.items()}
    return value
