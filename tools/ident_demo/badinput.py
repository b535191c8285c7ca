"""A corpus of broken and odd receptions, inserted into an IDENT-shaped database.

Each case is one reception (with its own patient) whose ``DateTimeAdded`` lies in
``[start, start + len(cases) seconds)``, so one extract window finds the whole corpus. The
expected outcome says whether the transform must sync it or reject it, and with which reason
code. Reference rows (branch, chair, doctor, cancel reason) are reused when the database
already has them (a demo clinic), else created.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from identsync.ident import schema as s
from tools.ident_demo.clinic import create_schema


@dataclass(frozen=True)
class BadCase:
    reception_id: int
    kind: str
    expect: str  # "sync" | "reject"
    reason_code: str | None


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


LONG_COMMENT = ("Очень длинный комментарий администратора. " * 300)[:10_000]

# kind, expected outcome, reason code, overrides. Override keys: surname, name, patronymic,
# phone, card, guardian (person/patient); comment, plan_start, plan_end, patient, staff, chair,
# cancel (reception); orders (list of order specs); no_person (patient without Persons row).
CASES: tuple[tuple[str, str, str | None, dict[str, Any]], ...] = (
    ("baseline", "sync", None, {}),
    ("phone_null", "reject", "no_phone", {"phone": None}),
    ("phone_empty", "reject", "no_phone", {"phone": ""}),
    ("phone_whitespace", "reject", "no_phone", {"phone": "  \t  "}),
    ("phone_letters_for_digits", "reject", "phone_has_letters", {"phone": "89I6I234567"}),
    ("phone_words", "reject", "phone_has_letters", {"phone": "нет телефона"}),
    ("phone_placeholder_x", "reject", "phone_has_letters", {"phone": "8 999 xxx-xx-xx"}),
    ("phone_extension_dob", "sync", None, {"phone": "+7 (495) 123-45-67 доб. 123"}),
    ("phone_extension_ext", "sync", None, {"phone": "8 495 123 45 67 ext 5"}),
    ("phone_foreign_plus", "sync", None, {"phone": "+380 44 123 4567"}),
    ("phone_foreign_810", "sync", None, {"phone": "810 49 30 12345678"}),
    ("phone_too_short", "reject", "phone_too_short", {"phone": "12-34-5"}),
    ("phone_too_long", "reject", "phone_too_long", {"phone": "+7 999 123 45 67 89 01 23"}),
    ("phone_invalid_zeros", "reject", "invalid_phone", {"phone": "+7 000 000 00 00"}),
    ("phone_toll_free", "reject", "unsupported_phone_type", {"phone": "8 800 555-35-35"}),
    ("phone_two_numbers", "sync", None, {"phone": "8 916 123-45-67, 8 495 765-43-21"}),
    ("phone_fullwidth_digits", "sync", None, {"phone": "８９１６１２３４５６７"}),
    ("phone_nbsp", "sync", None, {"phone": "8\u00a0916\u00a0123\u00a045\u00a067"}),
    ("phone_stray_quote", "reject", "invalid_phone", {"phone": "'89161234567"}),
    ("names_empty", "reject", "no_name", {"surname": "", "name": "", "patronymic": ""}),
    ("names_whitespace", "reject", "no_name", {"surname": "   ", "name": "\t", "patronymic": " "}),
    ("names_null", "reject", "no_name", {"surname": None, "name": None, "patronymic": None}),
    ("name_only_surname", "sync", None, {"name": None, "patronymic": None}),
    ("names_extra_spaces", "sync", None,
     {"surname": "  Петрова  ", "name": "Анна \u00a0 Мария", "patronymic": " Ивановна\n"}),
    ("names_control_chars", "sync", None, {"surname": "\tИва\x07нов\r\n", "name": "Пётр\x1b"}),
    ("names_unicode_nfd", "sync", None,
     {"surname": _nfd("Ёлкина"), "name": _nfd("Йоланта"), "patronymic": _nfd("Артёмовна")}),
    ("names_yo", "sync", None,
     {"surname": "Королёва", "name": "Алёна", "patronymic": "Фёдоровна"}),
    ("names_emoji_rtl", "sync", None,
     {"surname": "כהן", "name": "Анна 🦷", "comment": "مرحبا 👋 שלום \u200fтекст"}),
    ("names_sql_like", "sync", None,
     {"surname": "O'Brien'; DROP TABLE \"Receptions\"; --", "name": "Robert"}),
    ("comment_html", "sync", None,
     {"comment": "<script>alert('x')</script><b>жирный</b> &amp; <a href=\"#\">ссылка</a>"}),
    ("comment_10000_chars", "sync", None, {"comment": LONG_COMMENT}),
    ("comment_control_chars", "sync", None, {"comment": "строка 1\r\nстрока 2\x0bконец\x08"}),
    ("plan_start_null", "reject", "no_plan_start", {"plan_start": None}),
    ("plan_end_before_start", "reject", "end_before_start", {"plan_end": -30}),
    ("plan_end_null", "sync", None, {"plan_end": None}),
    ("plan_zero_length", "sync", None, {"plan_end": 0}),
    ("patient_null", "reject", "no_patient", {"patient": "null"}),
    ("patient_dangling", "reject", "no_patient", {"patient": "dangling"}),
    ("patient_without_person_row", "reject", "no_name", {"no_person": True}),
    ("duplicate_person_a", "sync", None,
     {"surname": "Двойникова", "name": "Ольга", "phone": "+7 916 765-00-11"}),
    ("duplicate_person_b", "sync", None,
     {"surname": "Двойникова", "name": "Ольга", "phone": "89167650011"}),
    ("branch_null_no_orders", "reject", "no_branch", {"chair": "null"}),
    ("chair_without_company", "reject", "no_branch", {"chair": "no_company"}),
    ("branch_from_orders", "sync", None,
     {"chair": "null", "orders": [{"lines": [(1, 1, 0)]}]}),
    ("negative_amount", "sync", None,
     {"orders": [{"lines": [(1, 1, 5000)]}], "billed": True}),
    ("thousands_of_services", "sync", None, {"orders": [{"many": 1500}], "billed": True}),
    ("order_without_lines", "sync", None, {"orders": [{"lines": []}]}),
    ("all_status_times_set", "sync", None, {"all_times": True}),
    ("cancelled_with_reason", "sync", None, {"cancel": True}),
    ("child_with_guardian", "sync", None,
     {"name": "Миша", "guardian": "Петрова Анна Сергеевна"}),
    ("guardian_whitespace", "sync", None, {"guardian": "   "}),
    ("card_number_odd", "sync", None, {"card": " №\u00a0А-12/3 "}),
    ("doctor_null", "sync", None, {"staff": "null"}),
    ("doctor_dangling", "sync", None, {"staff": "dangling"}),
)

PRICE = Decimal("1000.00")


@dataclass
class _Refs:
    branch: int
    chair: int
    chair_no_company: int
    staff: int
    cancel_reason: int
    price_id: int  # base price line (PRICE)
    many_price_from: int  # first of 1500 distinct price lines


def _next_id(conn: Connection, col: Any) -> int:
    return (conn.execute(select(func.max(col))).scalar() or 0) + 1


def _refs(conn: Connection) -> _Refs:
    oc = conn.execute(select(func.min(s.OwnCompanies.c.ID))).scalar()
    if oc is None:
        oc = 1
        conn.execute(s.OwnCompanies.insert(), [{"ID": oc, "Name": "Центральная"}])
    chair = conn.execute(
        select(func.min(s.Armchairs.c.ID)).where(s.Armchairs.c.ID_OwnCompanies == oc)
    ).scalar()
    if chair is None:
        chair = _next_id(conn, s.Armchairs.c.ID)
        conn.execute(s.Armchairs.insert(),
                     [{"ID": chair, "NameArmchair": "Кресло 1", "ID_OwnCompanies": oc}])
    orphan = _next_id(conn, s.Armchairs.c.ID)
    conn.execute(s.Armchairs.insert(),
                 [{"ID": orphan, "NameArmchair": "Кресло без филиала", "ID_OwnCompanies": None}])
    staff = conn.execute(select(func.min(s.Staffs.c.ID_Persons))).scalar()
    if staff is None:
        staff = _next_id(conn, s.Persons.c.ID)
        conn.execute(s.Persons.insert(), [{"ID": staff, "Surname": "Докторов", "Name": "Дмитрий",
                                           "Patronymic": "Дмитриевич", "MobilePhone": None}])
        conn.execute(s.Staffs.insert(), [{"ID_Persons": staff}])
    reason = conn.execute(select(func.min(s.ReceptionCancelReasons.c.ID))).scalar()
    if reason is None:
        reason = 1
        conn.execute(s.ReceptionCancelReasons.insert(), [{"ID": 1, "Name": "Пациент отменил"}])
    item = _next_id(conn, s.ServiceItems.c.ID)
    price = _next_id(conn, s.ServiceItemPrices.c.ID)
    n = 1 + 1500
    conn.execute(s.ServiceItems.insert(), [
        {"ID": item + i, "Name": "Консультация (тест)" if i == 0 else f"Услуга № {i:04d}"}
        for i in range(n)
    ])
    conn.execute(s.ServiceItemPrices.insert(), [
        {"ID": price + i, "ID_ServiceItems": item + i, "Price": PRICE if i == 0 else Decimal(10)}
        for i in range(n)
    ])
    return _Refs(oc, chair, orphan, staff, reason, price, price + 1)


def insert_bad_inputs(engine: Engine, *, start: datetime) -> list[BadCase]:
    """Insert the corpus (one reception per case) and return what each case expects."""
    create_schema(engine)
    out: list[BadCase] = []
    with engine.begin() as conn:
        refs = _refs(conn)
        rid = _next_id(conn, s.Receptions.c.ID)
        pid = _next_id(conn, s.Persons.c.ID)
        oid = _next_id(conn, s.Orders.c.ID)
        persons, patients, receptions, orders, lines = [], [], [], [], []
        for k, (kind, expect, reason, o) in enumerate(CASES):
            added = start + timedelta(seconds=k)
            plan_start = datetime(start.year, start.month, start.day, 9) + timedelta(
                days=1, minutes=15 * k)
            if o.get("no_person") is None:
                persons.append({
                    "ID": pid, "Surname": o.get("surname", "Тестова"),
                    "Name": o.get("name", "Вера"), "Patronymic": o.get("patronymic", "Павловна"),
                    "MobilePhone": o.get("phone", f"8916{5000000 + k:07d}"),
                })
            patients.append({"ID_Persons": pid, "CardNumber": o.get("card", f"B{k:04d}"),
                             "ParentSNP": o.get("guardian"), "Comment": None, "FirstVisit": None,
                             "PatientNumber": None, "Status": 0, "DateTimeChanged": added})
            patient = {"null": None, "dangling": pid + 10_000_000}.get(o.get("patient"), pid)
            pid += 1
            end_offset = o.get("plan_end", 45)
            plan_end = None if end_offset is None else plan_start + timedelta(minutes=end_offset)
            row: dict[str, Any] = {
                "ID": rid, "ID_Patients": patient,
                "ID_Staffs": {"null": None, "dangling": 9_999_999}.get(o.get("staff"), refs.staff),
                "ID_Armchairs": {"null": None, "no_company": refs.chair_no_company}.get(
                    o.get("chair"), refs.chair),
                "PlanStart": plan_start if "plan_start" not in o else o["plan_start"],
                "PlanEnd": plan_end, "Comment": o.get("comment"),
                "PatientAppeared": None, "ReceptionStarted": None, "ReceptionEnded": None,
                "CheckIssued": None, "ReceptionCanceled": None,
                "ID_ReceptionCancelReasons": None, "CancelReasonComment": None,
                "DateTimeAdded": added, "DateTimeChanged": added, "ExternalUID": None,
            }
            if o.get("billed") or o.get("all_times"):
                row.update(PatientAppeared=added, ReceptionStarted=added, ReceptionEnded=added,
                           CheckIssued=added)
            if o.get("cancel") or o.get("all_times"):
                row.update(ReceptionCanceled=added, ID_ReceptionCancelReasons=refs.cancel_reason,
                           CancelReasonComment="Перенёс по телефону")
            receptions.append(row)
            for spec in o.get("orders", ()):
                orders.append({"ID": oid, "ID_Receptions": rid,
                               "ID_OwnCompanies": refs.branch,
                               "ID_Patients": patient, "DateTimeOrder": added,
                               "DateTimeBillFormed": added if o.get("billed") else None,
                               "IsBillFormed": bool(o.get("billed"))})
                for _, count, discount in spec.get("lines", ()):
                    lines.append({"ID_Orders": oid, "ID_ServicePrices": refs.price_id,
                                  "CountService": Decimal(count),
                                  "DiscountSum": Decimal(discount)})
                for i in range(spec.get("many", 0)):
                    lines.append({"ID_Orders": oid, "ID_ServicePrices": refs.many_price_from + i,
                                  "CountService": Decimal(1), "DiscountSum": Decimal(0)})
                oid += 1
            out.append(BadCase(rid, kind, expect, reason))
            rid += 1
        for table, rows in ((s.Persons, persons), (s.Patients, patients),
                            (s.Receptions, receptions), (s.Orders, orders),
                            (s.OrderServiceRelation, lines)):
            if rows:
                conn.execute(table.insert(), rows)
    return out
