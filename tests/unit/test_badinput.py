"""The broken-input corpus: extracted from a (SQLite) IDENT copy, every case lands as expected."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine

from identsync.config import SyncConfig
from identsync.ident.extract import extract_receptions
from identsync.records import Rejection, SyncRecord
from identsync.sync.phones import REASON_CODES as PHONE_REASONS
from identsync.sync.transform import COMMENT_MAX, SERVICES_MAX, transform
from tools.ident_demo.badinput import CASES, insert_bad_inputs
from tools.ident_demo.clinic import generate_clinic

START = datetime(2027, 1, 10, 8, 0)
REASONS = set(PHONE_REASONS) | {"no_patient", "no_branch", "no_name", "no_plan_start",
                                "end_before_start"}


@pytest.fixture(scope="module")
def outcomes():
    engine = create_engine("sqlite://")
    generate_clinic(engine, patients=20, receptions=60, start=START.date() - timedelta(days=3))
    cases = insert_bad_inputs(engine, start=START)
    rows = list(extract_receptions(engine, START, START + timedelta(hours=1), page_size=7))
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "Центральная"}]})
    by_id = {r.reception_id: r for r in rows}
    yield cases, {c.kind: (c, by_id.get(c.reception_id), transform(by_id[c.reception_id], cfg))
                  for c in cases if c.reception_id in by_id}
    engine.dispose()


def test_corpus_is_broad_and_fully_extracted(outcomes) -> None:
    cases, by_kind = outcomes
    assert len(cases) >= 30
    assert len({c.kind for c in cases}) == len(cases) == len(CASES)
    assert set(by_kind) == {c.kind for c in cases}  # the window found every case
    assert {c.reason_code for c in cases if c.expect == "reject"} <= REASONS


@pytest.mark.parametrize("kind", [k for k, *_ in CASES])
def test_case_outcome(outcomes, kind: str) -> None:
    case, _, out = outcomes[1][kind]
    if case.expect == "sync":
        assert isinstance(out, SyncRecord), f"{kind}: {out}"
        assert len(out.comment) <= COMMENT_MAX
        assert out.phone.startswith("+")
    else:
        assert isinstance(out, Rejection), kind
        assert out.reason == case.reason_code
        assert str(case.reception_id) in out.detail  # names the record


def rec_of(outcomes, kind: str) -> SyncRecord:
    out = outcomes[1][kind][2]
    assert isinstance(out, SyncRecord)
    return out


@pytest.mark.parametrize(("kind", "phone"), [
    ("phone_extension_dob", "+74951234567"), ("phone_extension_ext", "+74951234567"),
    ("phone_foreign_plus", "+380441234567"), ("phone_foreign_810", "+493012345678"),
    ("phone_two_numbers", "+79161234567"), ("phone_fullwidth_digits", "+79161234567"),
    ("phone_nbsp", "+79161234567"),
])
def test_odd_phones_normalise(outcomes, kind: str, phone: str) -> None:
    assert rec_of(outcomes, kind).phone == phone


def test_text_oddities(outcomes) -> None:
    r = rec_of(outcomes, "names_extra_spaces")
    assert (r.last_name, r.name, r.second_name) == ("Петрова", "Анна Мария", "Ивановна")
    r = rec_of(outcomes, "names_control_chars")
    assert (r.last_name, r.name) == ("Иванов", "Пётр")
    r = rec_of(outcomes, "names_unicode_nfd")
    assert r.full_name == "Ёлкина Йоланта Артёмовна"
    assert unicodedata.is_normalized("NFC", r.full_name)
    r = rec_of(outcomes, "names_emoji_rtl")
    assert r.name == "Анна 🦷" and r.last_name == "כהן" and "👋" in r.comment
    r = rec_of(outcomes, "names_sql_like")
    assert r.last_name == "O'Brien'; DROP TABLE \"Receptions\"; --"
    assert "<script>alert('x')</script>" in rec_of(outcomes, "comment_html").comment
    long = rec_of(outcomes, "comment_10000_chars").comment
    assert "Комментарий IDENT: Очень длинный" in long and long.endswith("…")
    ctrl = rec_of(outcomes, "comment_control_chars").comment
    assert "строка 1\nстрока 2" in ctrl and "\x0b" not in ctrl and "\x08" not in ctrl
    assert rec_of(outcomes, "card_number_odd").contact_fields["UF_CRM_IDENT_CARD"] == "№ А-12/3"
    assert rec_of(outcomes, "guardian_whitespace").deal_fields["UF_CRM_IDENT_GUARDIAN"] == ""
    assert rec_of(outcomes, "child_with_guardian").contact_fields[
        "UF_CRM_IDENT_GUARDIAN"] == "Петрова Анна Сергеевна"


def test_money_and_services_oddities(outcomes) -> None:
    neg = rec_of(outcomes, "negative_amount")
    assert neg.deal_fields["OPPORTUNITY"] == 0.0 and "Сумма: -4 000.00 RUB" in neg.comment
    many_row = outcomes[1]["thousands_of_services"][1]
    assert len(many_row.services) == 1500
    many = rec_of(outcomes, "thousands_of_services")
    assert len(many.deal_fields["UF_CRM_IDENT_SERVICES"]) <= SERVICES_MAX
    assert many.deal_fields["OPPORTUNITY"] == 15000.0
    empty = outcomes[1]["order_without_lines"][1]
    assert empty.amount == 0 and empty.services == ()
    fallback = rec_of(outcomes, "branch_from_orders")
    assert fallback.branch_id == 1 and fallback.deal_fields["OPPORTUNITY"] == 1000.0


def test_status_and_people_oddities(outcomes) -> None:
    assert rec_of(outcomes, "all_status_times_set").status == "cancelled"
    assert "Причина отмены:" in rec_of(outcomes, "cancelled_with_reason").comment
    a, b = rec_of(outcomes, "duplicate_person_a"), rec_of(outcomes, "duplicate_person_b")
    assert a.phone == b.phone and a.full_name == b.full_name and a.ident_id != b.ident_id
    for kind in ("doctor_null", "doctor_dangling"):
        assert rec_of(outcomes, kind).deal_fields["UF_CRM_IDENT_DOCTOR"] == ""
    assert rec_of(outcomes, "plan_end_null").deal_fields["UF_CRM_IDENT_END"] == ""
