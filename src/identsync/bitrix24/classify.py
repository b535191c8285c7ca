"""What a method and an answer mean: read or write, which typed error, sent or not.

Pure functions over the method name, the HTTP status, the decoded body and the transport
exception; the client's retry policy is built on them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from identsync.bitrix24.redact import portal_text
from identsync.errors import (
    AUTH_CODES,
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24MethodNotFound,
    Bitrix24OperationTimeLimit,
    Bitrix24Overloaded,
    Bitrix24RateLimited,
    Bitrix24ServerError,
)

__all__ = ["classify", "is_read_method", "never_sent", "root_cause"]

_READ_SUFFIXES = frozenset({"list", "get", "fields", "findbycomm"})
_READ_METHODS = frozenset({"profile", "user.current", "server.time", "methods", "scope"})


def is_read_method(method: str) -> bool:
    """True for methods that change nothing (safe to repeat): *.list, *.get, *.fields, ..."""
    m = method.lower().removesuffix(".json")
    return m in _READ_METHODS or m.rsplit(".", 1)[-1] in _READ_SUFFIXES


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its wrapped reasons (urllib3 reason / args[0] / __cause__)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        nxt = getattr(cur, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = next((a for a in cur.args if isinstance(a, BaseException)), None)
        cur = nxt if isinstance(nxt, BaseException) else cur.__cause__


def root_cause(exc: BaseException) -> BaseException:
    *_, last = _chain(exc)
    return last


def never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request left (refused, DNS)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    return any(isinstance(e, (NewConnectionError, ConnectTimeoutError)) for e in _chain(exc))


def _reset_at(body: Any) -> float | None:
    if not isinstance(body, Mapping):
        return None
    for block in (body.get("time"), body):
        if isinstance(block, Mapping) and block.get("operating_reset_at") is not None:
            try:
                return float(block["operating_reset_at"])
            except (TypeError, ValueError):
                return None
    return None


def classify(method: str, status: int, body: Any, *, is_read: bool) -> Bitrix24Error:
    """The typed error for a non-success answer (``body`` is the decoded JSON or None)."""
    if isinstance(body, Mapping):
        code = str(body.get("error") or "")
        description = portal_text(str(body.get("error_description") or ""))
    else:
        code, description = "", f"HTTP {status} with a body that is not JSON"
    upper = code.upper()
    kw: dict[str, Any] = {"method": method, "http_status": status}
    if upper == "QUERY_LIMIT_EXCEEDED":
        return Bitrix24RateLimited(code, description, **kw)
    if upper == "OPERATION_TIME_LIMIT" or status == 429:
        return Bitrix24OperationTimeLimit(code, description, reset_at=_reset_at(body), **kw)
    if upper == "OVERLOAD_LIMIT":
        return Bitrix24Overloaded(code, description, **kw)
    if status in (401, 403) or upper in AUTH_CODES:
        return Bitrix24AuthError(code, description, **kw)
    if upper == "ERROR_METHOD_NOT_FOUND":
        return Bitrix24MethodNotFound(code, description, **kw)
    if status >= 500 or (status == 200 and not isinstance(body, Mapping)):
        # The method may have run before the failure: unknown outcome for writes.
        return Bitrix24ServerError(code, description, maybe_applied=not is_read, **kw)
    return Bitrix24Error(code, description, **kw)
