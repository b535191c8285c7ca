"""SourceReception -> SyncRecord | Rejection. Pure: no I/O, no clock, no randomness.

Decisions (documented here because other modules rely on them):

* Text cleaning: NFC normalisation, control characters removed (comments keep line breaks),
  names get whitespace collapsed and trimmed. Emoji, RTL text and format characters stay.
* Rejections, first match wins: ``no_branch``, ``no_patient``, ``no_name`` (surname and name
  both empty), phone reasons from ``phones`` (``no_phone``, ``phone_has_letters``, ...),
  ``no_plan_start``, ``end_before_start``. A missing PlanEnd is allowed (end field empty).
* OPPORTUNITY is the order amount rounded to 2 decimals, 0 without orders; a negative amount
  (discount above price) is clamped to 0 because a CRM deal cannot be worth less than nothing.
  The comment still shows the real amount so nobody is misled.
* Datetimes are IDENT's naive clinic time given the offset of ``cfg.timezone`` at that
  moment (ISO 8601, seconds), e.g. ``2026-11-20T10:00:00+03:00``.
* Caps: services field ``SERVICES_MAX`` characters, comment ``COMMENT_MAX`` characters (the
  IDENT comment inside it ``IDENT_COMMENT_MAX``); truncated text ends with "…".
* ``transform_all``: a reception id seen twice in one batch keeps its LAST occurrence (callers
  concatenate windows in time order, so the last is the freshest); earlier copies are dropped
  without a rejection because nothing is wrong with them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from identsync.config import SyncConfig
from identsync.mask import mask_row
from identsync.records import Rejection, SourceReception, SyncRecord
from identsync.sync.phones import PhoneError, normalize_phone

SERVICES_MAX = 2000
COMMENT_MAX = 4000
IDENT_COMMENT_MAX = 2000
TITLE_MAX = 255

STATUS_TEXT = {
    "planned": "Запланирован",
    "arrived": "Пациент пришёл",
    "in_progress": "Идёт приём",
    "finished": "Приём завершён",
    "bill_issued": "Счёт выставлен",
    "cancelled": "Отменён",
}

_SPACES = re.compile(r"\s+")
_CENT = Decimal("0.01")


def status_of(row: SourceReception) -> str:
    """IDENT status of a reception; the first set timestamp in this order wins."""
    if row.reception_canceled is not None:
        return "cancelled"
    if row.check_issued is not None:
        return "bill_issued"
    if row.reception_ended is not None:
        return "finished"
    if row.reception_started is not None:
        return "in_progress"
    if row.patient_appeared is not None:
        return "arrived"
    return "planned"


def clean_name(value: str | None) -> str:
    """One line: NFC, no control characters, single spaces, trimmed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value)
    # Tabs/newlines separate words; other control characters (BEL, ESC...) are just noise.
    text = "".join(
        ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc"
    )
    return _SPACES.sub(" ", text).strip()


def clean_text(value: str | None) -> str:
    """Multi-line text: NFC, line breaks kept (as \\n), other control characters removed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc"
    ).replace("\t", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _iso(cfg: SyncConfig, value: datetime | None) -> str:
    if value is None:
        return ""
    return value.replace(tzinfo=cfg.tz).isoformat(timespec="seconds")


def _local(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return value.strftime(fmt) if value is not None else ""


def ident_id(branch_id: int, reception_id: int) -> str:
    return f"F{branch_id}_{reception_id}"


def _money(amount: Decimal) -> str:
    """1234567.5 -> '1 234 567.50' (thin groups, as people read sums)."""
    q = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    whole, frac = f"{abs(q):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{' '.join(groups)}.{frac}"


def _doctor(row: SourceReception) -> str:
    name = clean_name(row.doctor_name)
    spec = clean_name(row.doctor_speciality)
    if name and spec:
        return f"{name} ({spec})"
    return name or (f"({spec})" if spec else "")


def _services_text(services: tuple[str, ...], limit: int) -> str:
    """Names joined with "; "; when too long, whole names then " … и ещё N"."""
    names = [n for n in (clean_name(s) for s in services) if n]
    text = "; ".join(names)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for n in names:
        grown = used + (2 if kept else 0) + len(n)
        if grown + len(f" … и ещё {len(names) - len(kept) - 1}") > limit:
            break
        kept.append(n)
        used = grown
    return cap("; ".join(kept) + f" … и ещё {len(names) - len(kept)}", limit)


def _reject(row: SourceReception, iid: str | None, reason: str, why: str) -> Rejection:
    who = iid or f"reception {row.reception_id}"
    return Rejection(reception_id=row.reception_id, ident_id=iid, reason=reason,
                     detail=f"{who}: {why}")


def comment_text(
    row: SourceReception, cfg: SyncConfig, *, status: str, iid: str, full_name: str
) -> str:
    """Timeline comment: what happened to the reception, in Russian, deterministic."""
    lines = [f"IDENT {iid}: {STATUS_TEXT[status]}", f"Пациент: {full_name}"]
    when = _local(row.plan_start)
    if row.plan_end is not None:
        same_day = row.plan_start is not None and row.plan_end.date() == row.plan_start.date()
        when += "–" + (_local(row.plan_end, "%H:%M") if same_day else _local(row.plan_end))
    lines.append(f"Время приёма: {when} ({cfg.timezone})")
    doctor = _doctor(row)
    if doctor:
        lines.append(f"Врач: {doctor}")
    place = [p for p in (clean_name(row.branch_name), clean_name(row.chair_name)) if p]
    if place:
        lines.append("Филиал / кресло: " + ", ".join(place))
    events = (
        ("Пациент пришёл", row.patient_appeared), ("Приём начат", row.reception_started),
        ("Приём окончен", row.reception_ended), ("Счёт выставлен", row.check_issued),
        ("Отменён", row.reception_canceled),
    )
    for label, at in events:
        if at is not None:
            lines.append(f"{label}: {_local(at)}")
    if status == "cancelled":
        reason = "; ".join(
            p for p in (clean_name(row.cancel_reason), clean_text(row.cancel_reason_comment)) if p
        )
        if reason:
            lines.append(f"Причина отмены: {cap(reason, 500)}")
    if row.services:
        lines.append("Услуги: " + _services_text(row.services, 1000))
    if row.amount is not None:
        lines.append(f"Сумма: {_money(row.amount)} {cfg.currency}")
    note = clean_text(row.comment)
    if note:
        lines.append("Комментарий IDENT: " + cap(note, IDENT_COMMENT_MAX))
    return cap("\n".join(lines), COMMENT_MAX)


def transform(row: SourceReception, cfg: SyncConfig) -> SyncRecord | Rejection:
    """Map one IDENT reception to what Bitrix24 should hold, or say why it cannot be."""
    if row.branch_id is None:
        return _reject(row, None, "no_branch",
                       "no branch: the chair has no company and no order names one")
    iid = ident_id(row.branch_id, row.reception_id)
    if row.patient_id is None:
        return _reject(row, iid, "no_patient", "the reception has no patient (or it was deleted)")
    last_name, name, second_name = (
        clean_name(row.surname), clean_name(row.name), clean_name(row.patronymic)
    )
    if not last_name and not name:
        return _reject(row, iid, "no_name",
                       f"patient {row.patient_id} has neither surname nor name")
    try:
        phone = normalize_phone(row.mobile_phone, cfg.default_region)
    except PhoneError as exc:
        # Masked at the source: the detail travels to logs, the run summary and the page;
        # the raw phone stays only in the rejection's source row (for retention_days).
        return _reject(row, iid, exc.reason_code,
                       f"patient {row.patient_id}: {mask_row(exc.detail, row)}")
    if row.plan_start is None:
        return _reject(row, iid, "no_plan_start", "PlanStart is empty")
    if row.plan_end is not None and row.plan_end < row.plan_start:
        return _reject(row, iid, "end_before_start",
                       f"PlanEnd {row.plan_end.isoformat(sep=' ')} is before PlanStart "
                       f"{row.plan_start.isoformat(sep=' ')}")

    status = status_of(row)
    full_name = " ".join(p for p in (last_name, name, second_name) if p)
    card = clean_name(row.card_number)
    guardian = clean_name(row.guardian)
    amount = row.amount if row.amount is not None else Decimal(0)
    opportunity = float(max(amount, Decimal(0)).quantize(_CENT, rounding=ROUND_HALF_UP))

    logical: dict[str, Any] = {
        "ident_id": iid,
        "start": _iso(cfg, row.plan_start),
        "end": _iso(cfg, row.plan_end),
        "doctor": _doctor(row),
        "services": _services_text(row.services, SERVICES_MAX),
        "status": STATUS_TEXT[status],
        "card_number": card,
        "guardian": guardian,
        "branch": clean_name(row.branch_name) or _config_branch_name(cfg, row.branch_id),
        "chair": clean_name(row.chair_name),
    }
    deal_fields: dict[str, Any] = {
        "TITLE": cap(f"{full_name}, {_local(row.plan_start)}", TITLE_MAX),
        "OPPORTUNITY": opportunity,
        "CURRENCY_ID": cfg.currency,
    }
    if cfg.category_id:
        deal_fields["CATEGORY_ID"] = cfg.category_id
    for key, code in cfg.deal_fields.items():
        deal_fields[code] = logical[key]

    contact_fields: dict[str, Any] = {
        "NAME": name,
        "LAST_NAME": last_name,
        "SECOND_NAME": second_name,
        "TYPE_ID": cfg.contact_type,
        "OPENED": "Y",
    }
    contact_logical = {"card_number": card, "guardian": guardian}
    for key, code in cfg.contact_fields.items():
        contact_fields[code] = contact_logical[key]

    return SyncRecord(
        ident_id=iid,
        reception_id=row.reception_id,
        branch_id=row.branch_id,
        phone=phone,
        name=name,
        last_name=last_name,
        second_name=second_name,
        contact_fields=contact_fields,
        deal_fields=deal_fields,
        stage_id=cfg.stage_code(cfg.stage_map[status]),
        status=status,
        comment=comment_text(row, cfg, status=status, iid=iid, full_name=full_name),
        patient_id=row.patient_id,
    )


def _config_branch_name(cfg: SyncConfig, branch_id: int) -> str:
    for b in cfg.branches:
        if b.id == branch_id:
            return b.name
    return ""


def transform_all(
    rows: Iterable[SourceReception], cfg: SyncConfig
) -> tuple[list[SyncRecord], list[Rejection]]:
    """Transform a batch; a reception id seen twice keeps its last occurrence (no rejection)."""
    latest: dict[int, SourceReception] = {}
    for row in rows:
        latest.pop(row.reception_id, None)  # re-insert so order follows the last occurrence
        latest[row.reception_id] = row
    records: list[SyncRecord] = []
    rejections: list[Rejection] = []
    for row in latest.values():
        out = transform(row, cfg)
        (records if isinstance(out, SyncRecord) else rejections).append(out)
    return records, rejections
