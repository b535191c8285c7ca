"""Canonical text of portal values, and their keyed hashes.

The lookup map travels through XCom, so it keeps a keyed hash of each value the plan compares
instead of the value. Two values the plan counts as equal (numbers by value, datetimes by
instant, a one-item list as its item, every kind of empty as empty) must give the same hash:
both sides go through :func:`canon` first, the portal's value at lookup time and the wanted
value at plan time, under the same key.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from identsync.privacy import keyed_hash

_NUMBER = re.compile(r"\s*-?\d+(\.\d+)?\s*")
_SPACES = re.compile(r"\s+")


def as_number(v: Any) -> Decimal | None:
    """A number however the portal spells it (int, float, "12.50"), else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, Decimal)):
        return Decimal(str(v))
    if isinstance(v, str) and _NUMBER.fullmatch(v):
        try:
            return Decimal(v.strip())
        except InvalidOperation:
            return None
    return None


def as_instant(v: Any) -> datetime | None:
    """An ISO datetime with a zone, as UTC, else None (a naive one is no instant)."""
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and "T" in v:
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            return None
        return dt.astimezone(timezone.utc) if dt.tzinfo else None
    return None


def canon(value: Any) -> str:
    """One spelling per value: what :func:`identsync.sync.plan.same_value` treats as equal."""
    # Not ``value in (None, "", [], False)``: 0 == False, and a zero is a value.
    if value is None or value is False or (isinstance(value, (str, list, tuple))
                                           and len(value) == 0):
        return ""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return canon(value[0])
        return json.dumps([canon(v) for v in value], ensure_ascii=False)
    num = as_number(value)
    if num is not None:
        return format(num.normalize(), "f")
    dt = as_instant(value)
    if dt is not None:
        return dt.isoformat()
    return str(value).strip()


def value_hash(key: bytes, value: Any) -> str:
    return keyed_hash(key, "v:" + canon(value))


def phone_hash(key: bytes, e164: str) -> str:
    return keyed_hash(key, "p:" + e164)


def name_hash(key: bytes, comparable_name: str) -> str:
    return keyed_hash(key, "n:" + comparable_name)


def name_key(last_name: str | None, name: str | None, second_name: str | None) -> str:
    """Comparable form of a full name: casefolded, ё->е, single spaces."""
    joined = " ".join(p for p in (last_name, name, second_name) if p and p.strip())
    return _SPACES.sub(" ", joined).strip().casefold().replace("ё", "е")
