"""Phone normalisation: whatever a receptionist typed -> E.164 (``+79991234567``).

Rules, in order (each failure raises ``PhoneError`` with a reason code):

1. ``None``/empty/whitespace -> ``no_phone``.
2. Unicode is NFKC-normalised (full-width digits become ASCII), no-break spaces and other
   Unicode spaces become plain spaces.
3. Several numbers in one field (separated by ``,`` ``;`` or ``|``): the first non-empty one is
   used. IDENT has one MobilePhone field and people put two numbers in it.
4. A trailing extension is cut off: a marker ``доб``, ``доп``, ``вн``, ``ext``, ``x``/``х`` or
   ``#`` followed by 1-6 digits at the end. The extension is dropped (a CRM contact phone is
   dialled directly); a marker followed by anything else counts as letters (rule 5).
5. Any other letter -> ``phone_has_letters``. Characters other than digits, ``+``, spaces and
   ``( ) - . /`` -> ``invalid_phone``.
6. Fewer than 7 digits -> ``phone_too_short``; more than 15 -> ``phone_too_long`` (E.164 max).
7. Parsed with ``phonenumbers`` in ``default_region`` (so Russian ``8 9xx ...``, ``9xx...`` and
   ``7 9xx...`` without a plus all become ``+7 9xx...``; ``810`` and ``00`` international
   prefixes work). The number must be valid and of type mobile, fixed line or either
   (toll-free 8-800, premium, shared-cost numbers are not a person's phone) ->
   ``invalid_phone`` / ``unsupported_phone_type``. Valid foreign numbers pass as their own
   E.164 (``+380...``).
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

NO_PHONE = "no_phone"
HAS_LETTERS = "phone_has_letters"
TOO_SHORT = "phone_too_short"
TOO_LONG = "phone_too_long"
INVALID = "invalid_phone"
UNSUPPORTED_TYPE = "unsupported_phone_type"

REASON_CODES = (NO_PHONE, HAS_LETTERS, TOO_SHORT, TOO_LONG, INVALID, UNSUPPORTED_TYPE)

_PERSONAL_TYPES = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
# A marker followed by 1..6 digits at the end. "x"/"х" (Latin/Cyrillic) only after a digit or
# space ("8495...x12"), so placeholders such as "8 999 xxx-xx-xx" stay letters.
_EXTENSION = re.compile(
    r"(?:\b(?:доб|доп|вн|ext|extension)\b\.?|(?<=[\d\s])[xх]|#)\s*\.?\s*\d{1,6}\s*$",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[,;|]")
_ALLOWED = re.compile(r"^[\d+\s().\-/]*$")


class PhoneError(ValueError):
    """A phone that cannot become E.164; ``reason_code`` is one of REASON_CODES."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.detail = detail


def _show(raw: str) -> str:
    """The raw value for an error message: printable and short."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in raw).strip()
    return cleaned if len(cleaned) <= 40 else cleaned[:40] + "…"


def normalize_phone(raw: str | None, default_region: str) -> str:
    """E.164 form of ``raw`` or ``PhoneError`` (see the module docstring for the rules)."""
    if raw is None or not raw.strip():
        raise PhoneError(NO_PHONE, "no phone number")
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(" " if ch.isspace() else ch for ch in text)
    first = next((p for p in _SEPARATORS.split(text) if p.strip()), "")
    if not first:
        raise PhoneError(NO_PHONE, f"no phone number in {_show(raw)!r}")
    number_part = _EXTENSION.sub("", first).strip()
    if any(ch.isalpha() for ch in number_part):
        raise PhoneError(HAS_LETTERS, f"phone {_show(raw)!r} contains letters")
    if not _ALLOWED.match(number_part):
        raise PhoneError(INVALID, f"phone {_show(raw)!r} contains unexpected characters")
    digits = re.sub(r"\D", "", number_part)
    if not digits:
        raise PhoneError(NO_PHONE, f"no digits in phone {_show(raw)!r}")
    if len(digits) < 7:
        raise PhoneError(TOO_SHORT, f"phone {_show(raw)!r} is too short ({len(digits)} digits)")
    if len(digits) > 15:
        raise PhoneError(TOO_LONG, f"phone {_show(raw)!r} is too long ({len(digits)} digits)")
    try:
        parsed = phonenumbers.parse(number_part, default_region)
    except NumberParseException:
        raise PhoneError(INVALID, f"phone {_show(raw)!r} is not a phone number") from None
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible == phonenumbers.ValidationResult.TOO_SHORT:
        raise PhoneError(TOO_SHORT, f"phone {_show(raw)!r} is too short")
    if possible == phonenumbers.ValidationResult.TOO_LONG:
        raise PhoneError(TOO_LONG, f"phone {_show(raw)!r} is too long")
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError(INVALID, f"phone {_show(raw)!r} is not a valid number")
    if phonenumbers.number_type(parsed) not in _PERSONAL_TYPES:
        raise PhoneError(
            UNSUPPORTED_TYPE,
            f"phone {_show(raw)!r} is not a personal mobile or landline number",
        )
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
