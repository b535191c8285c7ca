"""Parameters -> query strings the way PHP's ``http_build_query`` writes them.

Bitrix24 parses every request (and every batch command) with PHP ``parse_str``, so we write
exactly what PHP would: nested ``a[b][0][c]=v`` keys, ``+`` as ``%2B`` (a literal plus would
turn into a space: phone numbers!), spaces as ``+``.

Scalars follow PHP, not Python:

* ``True`` -> ``1``, ``False`` -> ``0`` (PHP ``http_build_query`` casts booleans to int);
* ``None`` -> the key is left out entirely, like PHP drops ``null`` members. To clear a
  field send ``""`` instead;
* an empty list or dict -> left out too (PHP writes nothing for an empty array);
* ``float`` -> the shortest text that round-trips (``1.5``), integral floats without a
  fraction (``2.0`` -> ``2``), like PHP 7.1+; NaN and infinities are refused;
* ``date``/``datetime`` -> ISO 8601 text (Bitrix24 accepts it for date fields);
* ``Decimal`` -> its plain text.

Keys that PHP cannot read back are refused with ``ValueError``: empty keys (``a[]`` would mean
"append") and keys containing ``[`` or ``]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

__all__ = ["encode_params", "encode_command", "scalar_text"]


def _quote(text: str) -> str:
    # PHP urlencode: everything but [A-Za-z0-9_.-] is %XX, space is '+'. '~' is also
    # escaped by PHP; Python leaves it alone, which PHP decodes identically.
    return quote_plus(text, safe="")


def scalar_text(value: Any) -> str:
    """The text PHP would put on the wire for one scalar value."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot encode non-finite float {value!r}")
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


def _check_key(key: Any) -> str:
    if isinstance(key, bool):
        raise TypeError("a boolean cannot be a parameter key")
    text = str(key)
    if text == "" or "[" in text or "]" in text:
        raise ValueError(f"parameter key {text!r} cannot travel through PHP parse_str")
    return text


def _pairs(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _pairs(f"{prefix}[{_check_key(k)}]", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _pairs(f"{prefix}[{i}]", v)
    else:
        yield prefix, scalar_text(value)


def iter_pairs(params: Mapping[str, Any] | None) -> Iterator[tuple[str, str]]:
    """Flatten ``params`` into (``a[b][0]``, text) pairs, unescaped, in order."""
    if not params:
        return
    if not isinstance(params, Mapping):
        raise TypeError("parameters must be a mapping")
    for k, v in params.items():
        yield from _pairs(_check_key(k), v)


def encode_params(params: Mapping[str, Any] | None) -> str:
    """``http_build_query(params)``: the query string (no leading ``?``)."""
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in iter_pairs(params))


def encode_command(method: str, params: Mapping[str, Any] | None = None) -> str:
    """One batch command: ``method?query`` as the server's parse_url + parse_str expect."""
    if not method or "?" in method:
        raise ValueError("a batch method name must be non-empty and contain no '?'")
    return f"{method}?{encode_params(params)}"
