"""Value casts the CRM applies on write, and the portal's clock formatting."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from b24emu.phpquery import php_bool, php_int

# The emulated portal lives in Moscow time, like the captured responses (+03:00).
PORTAL_TZ = timezone(timedelta(hours=3))


def now_iso(ts: float | None = None) -> str:
    """Portal-local ISO 8601 with offset, second precision: 2022-05-21T12:00:12+03:00."""
    dt = datetime.now(PORTAL_TZ) if ts is None else datetime.fromtimestamp(ts, PORTAL_TZ)
    return dt.isoformat(timespec="seconds")


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")
_DT_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%dT%H:%M")


def parse_datetime(value: Any) -> datetime | None:
    """Parse the date spellings the REST API accepts; naive values are portal-local."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value or "").strip()
        if not text:
            return None
        dt = None
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for fmt in _DT_FORMATS + _DATE_FORMATS:
                try:
                    dt = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if dt is None:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=PORTAL_TZ)
    return dt.astimezone(PORTAL_TZ)


def cast_for_write(ftype: str, value: Any) -> Any:
    """What the portal stores for a field of ``ftype`` given a request value."""
    if value is None:
        return None
    if isinstance(value, (dict, list)) and ftype != "crm_multifield":
        # A PHP array sent to a scalar field: the CRM keeps the first element.
        items = list(value.values()) if isinstance(value, dict) else value
        value = items[0] if items else None
        if value is None:
            return None
    if ftype in ("integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_category"):
        if value == "" or value is False:
            return None
        return str(php_int(value))
    if ftype == "double":
        try:
            return f"{float(str(value).replace(',', '.') or 0):.2f}"
        except ValueError:
            return "0.00"
    if ftype == "char":
        if isinstance(value, str) and value.upper() in ("Y", "N"):
            return value.upper()
        return "Y" if php_bool(value) and value not in ("N", "n") else "N"
    if ftype in ("datetime", "date"):
        dt = parse_datetime(value)
        if dt is None:
            return ""
        if ftype == "date":
            dt = dt.replace(hour=0, minute=0, second=0)
        return dt.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)


_NUM = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def typed(ftype: str, value: Any) -> Any:
    """A comparable form of ``value`` for filters and ordering."""
    if value is None:
        return None
    if ftype in ("integer", "double", "user", "crm_company", "crm_contact", "crm_lead",
                 "crm_category"):
        try:
            return float(str(value).replace(",", "."))
        except ValueError:
            return None
    if ftype in ("date", "datetime"):
        dt = parse_datetime(value)
        return dt.timestamp() if dt else None
    return str(value)
