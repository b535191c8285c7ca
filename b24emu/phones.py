"""Phone normalisation as crm.duplicate.findbycomm applies it (see bitrix24-wire.md)."""

from __future__ import annotations

import re

# An extension starts at one of these markers; everything after it is ignored.
_EXTENSION = re.compile(r"(#|,|;|ext\.?|доб\.?|(?<=[\d\s])x)", re.IGNORECASE)


def normalize_phone(value: object) -> str:
    """Digits of the number without extension; with 10+ digits: 00/011 stripped,
    a leading 8 becomes 7 (except 80/81/82), a leading 0 dropped."""
    text = str(value or "")
    m = _EXTENSION.search(text)
    if m:
        text = text[: m.start()]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 10:
        if digits.startswith("011"):
            digits = digits[3:]
        elif digits.startswith("00"):
            digits = digits[2:]
        if digits.startswith("8") and digits[1:2] not in ("0", "1", "2"):
            digits = "7" + digits[1:]
        elif digits.startswith("0"):
            digits = digits[1:]
    return digits


def normalize_email(value: object) -> str:
    """Emails compare case-insensitively without surrounding spaces."""
    return str(value or "").strip().lower()
