"""Personal data as operators may see it: the one masking function for text that leaves us.

Every log line, exception message, alert and page of ours that may carry a patient's phone,
name or IDENT free text (a reception comment: clinics write medical notes there), or a
portal's error text (which may quote any of them), goes through :func:`mask`. Phones are
found by shape as well as by value: a portal echoes a phone in its own formatting. Names and
free text have no shape, so callers pass the values they know (the record's own row).

Neutral module: imports nothing of ours, so every room may use it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

__all__ = ["mask", "mask_row", "mask_phone", "mask_text", "mask_name", "STAR"]

STAR = "*"

# A date or time is kept as it is; a run of digits and phone punctuation with enough digits
# is a phone. The date alternative comes first so "2026-11-21 06:00" is never a phone.
_DATE = (r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
         r"|\d{1,2}\.\d{1,2}\.\d{4}(?:,? \d{1,2}:\d{2}(?::\d{2})?)?|\d{1,2}:\d{2}(?::\d{2})?")
_PHONEISH = r"\+?\(?\d[\d\s().\-/]{4,}\d"
_TEXT_RE = re.compile(rf"(?<![\w])(?:(?P<date>{_DATE})|(?P<phone>{_PHONEISH}))(?![\w])")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_FREE_MIN = 6  # shorter fragments of a comment ("да", "ok") would mask ordinary words


def _star_digits(text: str, keep_last: int = 2) -> str:
    """Every digit but the last ``keep_last`` becomes ``*``; punctuation and letters stay."""
    total = len(_DIGIT.findall(text))
    seen = 0
    out = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep_last else STAR)
        else:
            out.append(ch)
    return "".join(out)


def mask_phone(raw: str | None, region: str = "RU") -> str | None:
    """A phone as operators may see it: country and area code, then only the last two digits.

    ``+7 999 123-45-67`` -> ``+7 999 ***-**-67``. Whatever does not parse as a phone keeps
    its letters and punctuation but loses every digit except the last two.
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not _DIGIT.search(text):
        return text
    parsed = None
    if not _LETTER.search(text):  # phonenumbers reads letters as keypad digits: x -> 9
        try:
            parsed = phonenumbers.parse(text, region)
        except NumberParseException:
            pass
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        groups = phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL).split(" ")
        if len(groups) >= 3:  # "+7", "999", "123-45-67": hide all after the area code
            return " ".join(groups[:2] + [_star_digits(" ".join(groups[2:]))])
        return _star_digits(" ".join(groups))
    return _star_digits(text)


def mask_name(name: str) -> str:
    """``Иванова`` -> ``И.``: enough to tell two records apart, not to name the patient."""
    return name[:1] + "." if name else name


def _phone_in_text(match: re.Match[str], region: str) -> str:
    if match.group("date"):
        return match.group(0)
    found = match.group("phone")
    digits = len(_DIGIT.findall(found))
    # Ids are bare digit runs (reception 1234567); phones are longer or punctuated.
    punctuated = bool(re.search(r"[\s().\-/+]", found))
    if digits >= 10 or (digits >= 7 and punctuated):
        return mask_phone(found, region) or ""
    return found


def _shown_forms(raw: str) -> set[str]:
    """How a raw phone may appear inside a message (as typed, trimmed, shortened, bare)."""
    printable = "".join(ch if ch.isprintable() else " " for ch in raw).strip()
    normal = unicodedata.normalize("NFKC", printable)
    digits = "".join(_DIGIT.findall(normal))
    forms = {raw, raw.strip(), printable, normal, digits}
    if len(printable) > 40:  # identsync.sync.phones shortens long values for messages
        forms.add(printable[:40] + "…")
    if len(digits) >= 10:  # the national number, as a portal may echo it
        forms.add(digits[-10:])
    # A bare "123" would also hit ids and counts; no phone has fewer than five digits.
    return {f for f in forms if len(_DIGIT.findall(f)) >= 5}


def _free_forms(value: str) -> list[str]:
    """A free text as it may appear in a message: whole, trimmed, line by line, shortened."""
    text = unicodedata.normalize("NFKC", value).strip()
    forms = {value, value.strip(), text, " ".join(text.split())}
    forms.update(line.strip() for line in text.splitlines())
    forms.update(f[:40] for f in list(forms) if len(f) > 40)
    return sorted((f for f in forms if len(f) >= _FREE_MIN), key=len, reverse=True)


def mask(text: object, *, phones: Iterable[str | None] = (), names: Iterable[str | None] = (),
         free: Iterable[str | None] = (), region: str = "RU") -> str:
    """``text`` fit to leave us: known and phone-shaped phones, known names, free text masked.

    ``phones``, ``names`` and ``free`` are the values the caller knows to be personal (the
    record's IDENT row: phones as typed, surname/name/patronymic, the reception comment);
    phones not among them are still masked by their shape.
    """
    out = "" if text is None else str(text)
    for value in free:
        if value and value.strip():
            hidden = f"[free text, {len(value.strip())} chars]"
            for form in _free_forms(str(value)):
                out = out.replace(form, hidden)
    for raw in phones:
        if raw:
            masked = mask_phone(raw, region) or ""
            for form in sorted(_shown_forms(str(raw)), key=len, reverse=True):
                out = out.replace(form, masked)
    for name in names:
        for word in unicodedata.normalize("NFKC", str(name or "")).split():
            if len(word) >= 2:
                out = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", mask_name(word), out,
                             flags=re.IGNORECASE)
    return _TEXT_RE.sub(lambda m: _phone_in_text(m, region), out)


# What of an IDENT reception row (``SourceReception`` or its dict) or a ``SyncRecord`` is a
# patient's own (a record's ``comment`` is the timeline text, which quotes IDENT's comment).
_ROW_PHONES = ("mobile_phone", "phone")
_ROW_NAMES = ("surname", "name", "patronymic", "guardian", "card_number", "last_name",
              "second_name")
_ROW_FREE = ("comment", "cancel_reason_comment")


def mask_row(text: object, row: object, region: str = "RU") -> str:
    """:func:`mask` with the personal values of ``row`` (an IDENT reception or a sync record,
    or None)."""
    def values(keys: tuple[str, ...]) -> list[str | None]:
        get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k, None))
        return [get(k) for k in keys] if row is not None else []

    return mask(text, phones=values(_ROW_PHONES), names=values(_ROW_NAMES),
                free=values(_ROW_FREE), region=region)


def mask_text(text: str | None, phones: Iterable[str | None] = (), region: str = "RU"
              ) -> str | None:
    """:func:`mask` that keeps ``None`` (the health page's optional fields)."""
    return None if text is None else mask(text, phones=phones, region=region)
