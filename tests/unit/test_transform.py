"""Transform: status rules, field mapping, deterministic comments, rejections."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identsync.config import STATUSES, SyncConfig
from identsync.records import Rejection, SourceReception, SyncRecord
from identsync.sync.transform import (
    COMMENT_MAX,
    SERVICES_MAX,
    STATUS_TEXT,
    status_of,
    transform,
    transform_all,
)

T0 = datetime(2026, 11, 20, 10, 0)


def cfg(**over) -> SyncConfig:
    return SyncConfig.from_dict({"branches": [{"id": 1, "name": "Центральная"}], **over})


def row(**over) -> SourceReception:
    base = dict(
        reception_id=1001, patient_id=10001, branch_id=1, branch_name="Центральная",
        surname="Иванова", name="Анна", patronymic="Сергеевна",
        mobile_phone="8 (916) 123-45-67", card_number="000123", guardian=None,
        doctor_name="Петров Пётр Петрович", doctor_speciality="Стоматолог-терапевт",
        chair_name="Кресло 2", plan_start=T0, plan_end=T0 + timedelta(minutes=45),
        comment="Болит зуб", date_added=T0 - timedelta(days=3),
        date_changed=T0 - timedelta(days=3),
    )
    base.update(over)
    return SourceReception(**base)


def ok(r: SourceReception, c: SyncConfig | None = None) -> SyncRecord:
    out = transform(r, c or cfg())
    assert isinstance(out, SyncRecord), out
    return out


# --- status --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, "planned"),
        ({"patient_appeared": T0}, "arrived"),
        ({"patient_appeared": T0, "reception_started": T0}, "in_progress"),
        ({"reception_started": T0, "reception_ended": T0}, "finished"),
        ({"reception_ended": T0, "check_issued": T0}, "bill_issued"),
        ({"check_issued": T0}, "bill_issued"),
        ({"check_issued": T0, "reception_canceled": T0}, "cancelled"),
        ({"patient_appeared": T0, "reception_canceled": T0}, "cancelled"),
    ],
)
def test_status_first_match_wins(fields: dict, status: str) -> None:
    assert status_of(row(**fields)) == status


def test_status_names_are_the_configured_ones() -> None:
    assert tuple(STATUS_TEXT) == STATUSES


@pytest.mark.parametrize("status", list(STATUS_TEXT))
def test_stage_follows_stage_map_and_category(status: str) -> None:
    fields = {
        "planned": {}, "arrived": {"patient_appeared": T0},
        "in_progress": {"reception_started": T0}, "finished": {"reception_ended": T0},
        "bill_issued": {"check_issued": T0}, "cancelled": {"reception_canceled": T0},
    }[status]
    rec = ok(row(**fields))
    assert rec.status == status
    assert rec.stage_id == cfg().stage_map[status]
    assert rec.deal_fields["UF_CRM_IDENT_STATUS"] == STATUS_TEXT[status]
    rec3 = ok(row(**fields), cfg(category_id=3))
    assert rec3.stage_id == f"C3:{cfg().stage_map[status]}"
    assert rec3.deal_fields["CATEGORY_ID"] == 3


# --- field mapping -------------------------------------------------------------------------
def test_field_mapping() -> None:
    rec = ok(row(guardian="  Иванов  Сергей Петрович ", services=("Осмотр", "Пломба"),
                 amount=Decimal("1234.565"), check_issued=T0 + timedelta(hours=1)))
    assert rec.ident_id == "F1_1001"
    assert rec.phone == "+79161234567"
    assert (rec.last_name, rec.name, rec.second_name) == ("Иванова", "Анна", "Сергеевна")
    assert rec.contact_fields == {
        "NAME": "Анна", "LAST_NAME": "Иванова", "SECOND_NAME": "Сергеевна",
        "TYPE_ID": "CLIENT", "OPENED": "Y", "UF_CRM_IDENT_CARD": "000123",
        "UF_CRM_IDENT_GUARDIAN": "Иванов Сергей Петрович",
    }
    d = rec.deal_fields
    assert d["UF_CRM_IDENT_ID"] == "F1_1001"
    assert d["UF_CRM_IDENT_START"] == "2026-11-20T10:00:00+03:00"
    assert d["UF_CRM_IDENT_END"] == "2026-11-20T10:45:00+03:00"
    assert d["UF_CRM_IDENT_DOCTOR"] == "Петров Пётр Петрович (Стоматолог-терапевт)"
    assert d["UF_CRM_IDENT_SERVICES"] == "Осмотр; Пломба"
    assert d["UF_CRM_IDENT_CARD"] == "000123"
    assert d["UF_CRM_IDENT_GUARDIAN"] == "Иванов Сергей Петрович"
    assert d["TITLE"] == "Иванова Анна Сергеевна, 20.11.2026 10:00"
    assert d["OPPORTUNITY"] == 1234.57
    assert d["CURRENCY_ID"] == "RUB"
    assert "CATEGORY_ID" not in d
    assert rec.stage_id == "WON"


def test_custom_field_codes_and_optional_branch_chair_fields() -> None:
    c = cfg(deal_fields={"ident_id": "UF_CRM_111", "branch": "UF_CRM_222",
                         "chair": "UF_CRM_333"},
            contact_fields={"card_number": "UF_CRM_444"}, currency="KZT")
    rec = ok(row(), c)
    assert rec.deal_fields["UF_CRM_111"] == "F1_1001"
    assert rec.deal_fields["UF_CRM_222"] == "Центральная"
    assert rec.deal_fields["UF_CRM_333"] == "Кресло 2"
    assert "UF_CRM_IDENT_START" not in rec.deal_fields
    assert rec.contact_fields["UF_CRM_444"] == "000123"
    assert "UF_CRM_IDENT_GUARDIAN" not in rec.contact_fields
    assert rec.deal_fields["CURRENCY_ID"] == "KZT"


def test_branch_name_falls_back_to_config() -> None:
    c = cfg(deal_fields={"ident_id": "UF_CRM_1", "branch": "UF_CRM_2"})
    assert ok(row(branch_name=None), c).deal_fields["UF_CRM_2"] == "Центральная"


def test_times_use_the_configured_zone_and_its_dst_offset() -> None:
    c = cfg(timezone="Europe/Berlin")
    winter = ok(row(), c).deal_fields["UF_CRM_IDENT_START"]
    summer = ok(row(plan_start=datetime(2026, 7, 1, 10), plan_end=None), c).deal_fields
    assert winter == "2026-11-20T10:00:00+01:00"
    assert summer["UF_CRM_IDENT_START"] == "2026-07-01T10:00:00+02:00"
    assert summer["UF_CRM_IDENT_END"] == ""
    assert ok(row(), cfg(timezone="Asia/Yekaterinburg")).deal_fields[
        "UF_CRM_IDENT_START"] == "2026-11-20T10:00:00+05:00"


def test_negative_amount_is_clamped_but_shown_in_comment() -> None:
    rec = ok(row(amount=Decimal("-150.5"), services=("Скидка",)))
    assert rec.deal_fields["OPPORTUNITY"] == 0.0
    assert "Сумма: -150.50 RUB" in rec.comment


def test_no_orders_means_zero_opportunity_and_no_sum_line() -> None:
    rec = ok(row(amount=None))
    assert rec.deal_fields["OPPORTUNITY"] == 0.0
    assert "Сумма" not in rec.comment


def test_services_field_is_capped_with_whole_names() -> None:
    services = tuple(f"Услуга номер {i:04d}" for i in range(1500))
    text = ok(row(services=services)).deal_fields["UF_CRM_IDENT_SERVICES"]
    assert len(text) <= SERVICES_MAX
    assert text.startswith("Услуга номер 0000; Услуга номер 0001")
    kept = text.split(" … и ещё ")[0].split("; ")
    assert all(k in services for k in kept)
    assert text.endswith(f"… и ещё {1500 - len(kept)}")


# --- text cleaning -------------------------------------------------------------------------
def test_names_are_trimmed_collapsed_nfc_and_stripped_of_controls() -> None:
    rec = ok(row(surname="  \tИва\x07нов  ", name=unicodedata.normalize("NFD", "Йосиф  Ёж"),
                 patronymic="Пётр\x1bович\n"))
    assert rec.last_name == "Иванов"
    assert rec.name == "Йосиф Ёж" and unicodedata.is_normalized("NFC", rec.name)
    assert rec.second_name == "Пётрович"


def test_emoji_and_rtl_are_kept() -> None:
    rec = ok(row(name="Анна 🦷", surname="כהן", comment="مرحبا 👋 \u200fשלום"))
    assert rec.name == "Анна 🦷" and rec.last_name == "כהן"
    assert "مرحبا 👋 \u200fשלום" in rec.comment


def test_only_surname_is_enough() -> None:
    rec = ok(row(name=None, patronymic="  "))
    assert rec.full_name == "Иванова"
    assert rec.deal_fields["TITLE"].startswith("Иванова, ")


# --- comment -------------------------------------------------------------------------------
def test_comment_says_what_happened() -> None:
    rec = ok(row(check_issued=T0 + timedelta(hours=1), reception_ended=T0 + timedelta(minutes=50),
                 services=("Осмотр", "Пломба"), amount=Decimal("7000")))
    c = rec.comment
    assert c.startswith("IDENT F1_1001: Счёт выставлен")
    for part in ("20.11.2026 10:00–10:45", "Europe/Moscow",
                 "Петров Пётр Петрович (Стоматолог-терапевт)", "Центральная, Кресло 2",
                 "Услуги: Осмотр; Пломба", "Сумма: 7 000.00 RUB", "Комментарий IDENT: Болит зуб",
                 "Приём окончен: 20.11.2026 10:50", "Счёт выставлен: 20.11.2026 11:00"):
        assert part in c, part


def test_comment_of_cancelled_reception_has_reason() -> None:
    rec = ok(row(reception_canceled=T0 - timedelta(hours=2), cancel_reason="Пациент отменил",
                 cancel_reason_comment="Заболел"))
    assert "Отменён" in rec.comment.splitlines()[0]
    assert "Причина отмены: Пациент отменил; Заболел" in rec.comment


def test_same_source_same_text() -> None:
    a, b = ok(row()), ok(row())
    assert a == b and a.comment == b.comment


@pytest.mark.parametrize(
    "change",
    [
        {"patient_appeared": T0}, {"reception_canceled": T0}, {"check_issued": T0},
        {"plan_start": T0 + timedelta(minutes=15)}, {"plan_end": T0 + timedelta(hours=2)},
        {"doctor_name": "Сидоров Иван"}, {"doctor_speciality": "Ортодонт"},
        {"chair_name": "Кресло 3"}, {"branch_name": "Северная"},
        {"services": ("Осмотр",)}, {"amount": Decimal("10")}, {"comment": "Другое"},
        {"reception_canceled": T0, "cancel_reason": "Болезнь врача"},
        {"surname": "Петрова"},
    ],
)
def test_any_relevant_change_changes_the_comment(change: dict) -> None:
    base = row(reception_canceled=T0, cancel_reason="Пациент отменил") \
        if "cancel_reason" in change else row()
    assert ok(base).comment != ok(dataclasses.replace(base, **change)).comment


def test_comment_is_capped() -> None:
    rec = ok(row(comment="очень длинно " * 1000, services=tuple(f"S{i}" for i in range(3000))))
    assert len(rec.comment) <= COMMENT_MAX
    assert "Комментарий IDENT:" in rec.comment
    assert "…" in rec.comment


# --- rejections ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "reason", "ident"),
    [
        ({"patient_id": None}, "no_patient", "F1_1001"),
        ({"branch_id": None}, "no_branch", None),
        ({"surname": " ", "name": None}, "no_name", "F1_1001"),
        ({"mobile_phone": None}, "no_phone", "F1_1001"),
        ({"mobile_phone": "тел"}, "phone_has_letters", "F1_1001"),
        ({"mobile_phone": "123"}, "phone_too_short", "F1_1001"),
        ({"plan_start": None}, "no_plan_start", "F1_1001"),
        ({"plan_end": T0 - timedelta(minutes=1)}, "end_before_start", "F1_1001"),
    ],
)
def test_rejections(fields: dict, reason: str, ident: str | None) -> None:
    out = transform(row(**fields), cfg())
    assert isinstance(out, Rejection)
    assert out.reason == reason
    assert out.reception_id == 1001 and out.ident_id == ident
    assert (ident or "reception 1001") in out.detail


def test_zero_length_and_missing_end_are_fine() -> None:
    assert ok(row(plan_end=T0)).deal_fields["UF_CRM_IDENT_END"] == "2026-11-20T10:00:00+03:00"
    assert ok(row(plan_end=None)).deal_fields["UF_CRM_IDENT_END"] == ""


# --- batches -------------------------------------------------------------------------------
def test_transform_all_keeps_the_last_duplicate_and_splits_rejections() -> None:
    rows = [row(reception_id=1, comment="old"), row(reception_id=2, mobile_phone=None),
            row(reception_id=3), row(reception_id=1, comment="new")]
    recs, rejs = transform_all(rows, cfg())
    assert [r.reception_id for r in recs] == [3, 1]
    assert "Комментарий IDENT: new" in recs[1].comment
    assert [(r.reception_id, r.reason) for r in rejs] == [(2, "no_phone")]


def test_records_survive_a_json_round_trip() -> None:
    import json

    rec = ok(row(services=("Осмотр",), amount=Decimal("100")))
    assert SyncRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec


_text = st.one_of(st.none(), st.text(max_size=60))


@settings(max_examples=200, deadline=None)
@given(surname=_text, name=_text, phone=_text, comment=st.one_of(st.none(), st.text()),
       services=st.lists(st.text(max_size=30), max_size=20),
       amount=st.one_of(st.none(), st.decimals(-10**6, 10**6, places=2)))
def test_transform_never_raises(surname, name, phone, comment, services, amount) -> None:
    out = transform(row(surname=surname, name=name, mobile_phone=phone, comment=comment,
                        services=tuple(services), amount=amount), cfg())
    if isinstance(out, SyncRecord):
        assert out.last_name or out.name
        assert len(out.comment) <= COMMENT_MAX
        assert out.deal_fields["OPPORTUNITY"] >= 0
        assert out == transform(row(surname=surname, name=name, mobile_phone=phone,
                                    comment=comment, services=tuple(services), amount=amount),
                                cfg())
    else:
        assert out.reason and out.detail
