"""A synthetic IDENT clinic for tests, demos and benchmarks. Deterministic by seed.

``generate_clinic`` fills an empty IDENT-shaped database: branches, chairs, doctors with
specialities, a price list, patients (families share a phone, children have a guardian,
phones typed every way people type them) and receptions spread over some days, each in the
state it would be in at ``now``. ``advance_day`` moves the same clinic forward to a later
``now``.

How time works: every reception has a *fate* derived from ``(seed, reception id)`` alone —
arrives/starts/ends/gets billed at given times, is cancelled ahead, or is a no-show. A
database at time ``now`` holds exactly the fate events at or before ``now``; advancing applies
the events that have come due since, so generating at T1 then advancing to T2 gives the
same status timestamps as generating at T2. Extra changes in ``advance_day`` (comment edits,
new bookings, a service added to a closed order) happen in ``(since, now]``.

CLI::

    python -m identsync.ident.demo create --url sqlite:///var/ident_demo.sqlite3 \\
        --receptions 1000 --days 3 --start 2026-11-20 --seed 1
    python -m identsync.ident.demo advance --url ... --now 2026-11-23T18:00
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from sqlalchemy import bindparam, create_engine, func, select, update
from sqlalchemy.engine import Connection, Engine

from identsync.ident import schema as s

DEFAULT_BRANCHES: tuple[tuple[int, str], ...] = ((1, "Центральная"), (2, "Северная"))
CHAIRS_PER_BRANCH = 4
DOCTORS_PER_BRANCH = 5

# --- names ---------------------------------------------------------------------------------
MALE_NAMES = (
    "Александр", "Алексей", "Андрей", "Артём", "Борис", "Вадим", "Василий", "Виктор",
    "Владимир", "Дмитрий", "Евгений", "Егор", "Иван", "Игорь", "Кирилл", "Константин",
    "Максим", "Михаил", "Никита", "Николай", "Олег", "Павел", "Пётр", "Роман", "Сергей",
    "Семён", "Степан", "Фёдор", "Юрий", "Ярослав",
)
FEMALE_NAMES = (
    "Алёна", "Алина", "Анастасия", "Анна", "Валентина", "Вера", "Виктория", "Галина",
    "Дарья", "Евгения", "Екатерина", "Елена", "Ирина", "Ксения", "Лариса", "Любовь",
    "Мария", "Надежда", "Наталья", "Ольга", "Полина", "Светлана", "Софья", "Татьяна",
    "Юлия", "Ульяна", "Фёкла",
)
# (male, female) patronymics.
PATRONYMICS = (
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"),
    ("Андреевич", "Андреевна"), ("Артёмович", "Артёмовна"), ("Борисович", "Борисовна"),
    ("Викторович", "Викторовна"), ("Владимирович", "Владимировна"),
    ("Дмитриевич", "Дмитриевна"), ("Евгеньевич", "Евгеньевна"), ("Иванович", "Ивановна"),
    ("Игоревич", "Игоревна"), ("Михайлович", "Михайловна"), ("Николаевич", "Николаевна"),
    ("Олегович", "Олеговна"), ("Павлович", "Павловна"), ("Петрович", "Петровна"),
    ("Сергеевич", "Сергеевна"), ("Семёнович", "Семёновна"), ("Фёдорович", "Фёдоровна"),
    ("Юрьевич", "Юрьевна"), ("Ильич", "Ильинична"), ("Кузьмич", "Кузьминична"),
)
# Male forms; the female form is derived (-ов/-ев/-ёв/-ин/-ын + а, -ий -> -ая, else same).
SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов",
    "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв",
    "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв",
    "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров",
    "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов",
    "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов",
    "Вишневский", "Покровский", "Троицкий", "Ким", "Шевченко", "Бондаренко", "Черных",
    "Седых", "Пугачёв", "Щербаков", "Лёвкин", "Муравьёв",
)

SPECIALITIES = (
    (1, "Стоматолог-терапевт"), (2, "Стоматолог-хирург"), (3, "Стоматолог-ортопед"),
    (4, "Ортодонт"), (5, "Пародонтолог"), (6, "Детский стоматолог"),
    (7, "Гигиенист стоматологический"), (8, "Имплантолог"),
)
# (name, price in roubles)
SERVICES = (
    ("Консультация стоматолога", "1000"), ("Осмотр полости рта", "500"),
    ("Профессиональная гигиена полости рта", "5500"),
    ("Лечение кариеса (пломба светового отверждения)", "6500"),
    ("Анестезия инфильтрационная", "600"), ("Анестезия проводниковая", "800"),
    ("Прицельный рентгеновский снимок", "450"), ("Удаление зуба простое", "3500"),
    ("Удаление зуба мудрости", "8000"), ("Лечение пульпита (1 канал)", "7000"),
    ("Коронка металлокерамическая", "18000"), ("Коронка из диоксида циркония", "32000"),
    ("Имплантация (имплант Osstem)", "45000"), ("Отбеливание Zoom 4", "25000"),
    ("Брекет-система, установка на 1 челюсть", "60000"),
    ("Коррекция брекет-системы", "3000"), ("Фторирование зубов", "1200"),
    ("Герметизация фиссур", "1500"), ("КТ челюсти", "3500"), ("Снятие слепка", "1500"),
    ("Временная пломба", "800"), ("Снятие зубных отложений (1 зуб)", "150"),
    ("Шинирование", "4000"), ("Вкладка культевая", "9000"), ("Чистка Air Flow", "2500"),
)
CANCEL_REASONS = (
    (1, "Пациент отменил"), (2, "Пациент не пришёл"), (3, "Болезнь врача"),
    (4, "Перенос на другую дату"), (5, "Ошибка записи"),
)
RECEPTION_COMMENTS = (
    "Первичный приём", "Болит зуб 36, просит как можно раньше", "Повторный приём",
    "Позвонить накануне для подтверждения", "Пациент просит утреннее время",
    "Ребёнок боится, нужен спокойный подход", "Аллергия на лидокаин!",
    "Записан через сайт", "Контроль через месяц", "Гарантийный случай",
    "Оплата по ДМС (Согаз)", "Принести снимки из другой клиники",
)
CANCEL_COMMENTS = (
    "Перенесли на следующую неделю", "Заболел", "Уехал в командировку",
    "Не дозвонились", "",
)
EDITED_COMMENTS = (
    "Подтвердил запись по телефону", "Просит перенести на вечер, если будет окно",
    "Опоздает на 10 минут", "Придёт с мамой", "Нужен детский стул",
)

ID_PATIENTS_FROM = 10001  # Persons ids below this are staff
PRICE_ID_OFFSET = 500  # ServiceItemPrices.ID != ServiceItems.ID, so a wrong join shows


def female_surname(male: str) -> str:
    if male.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return male + "а"
    if male.endswith("ий"):
        return male[:-2] + "ая"
    return male


# --- phones --------------------------------------------------------------------------------
def _mobile_digits(rng: random.Random) -> str:
    """10 national digits of a valid Russian mobile number."""
    while True:
        digits = "9" + "".join(str(rng.randrange(10)) for _ in range(9))
        if phonenumbers.is_valid_number(phonenumbers.parse("+7" + digits)):
            return digits


def _landline_digits(rng: random.Random) -> str:
    area = rng.choice(("495", "499", "812", "343", "383"))
    while True:
        digits = area + "".join(str(rng.randrange(10)) for _ in range(7))
        if phonenumbers.is_valid_number(phonenumbers.parse("+7" + digits)):
            return digits


def spell_phone(digits: str, style: int) -> str:
    """The 10 national digits of a Russian number written one of the ways people write it."""
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    styles = (
        f"+7 ({a}) {b}-{c}-{d}",
        f"8{digits}",
        digits,
        f"8-{a}-{b}-{c}-{d}",
        f"+7{digits}",
        f"8 ({a}) {b} {c} {d}",
        f"7 {a} {b}-{c}-{d}",
        f" +7 {a} {b} {c} {d} ",
        f"8({a}){b}{c}{d}",
        f"8 {a} {b}{c}{d}",
        f"+7-{a}-{b}-{c}-{d}",
        f"8\u00a0{a}\u00a0{b}\u00a0{c}\u00a0{d}",
    )
    return styles[style % len(styles)]


PHONE_STYLES = 12


# --- people --------------------------------------------------------------------------------
@dataclass
class _Person:
    id: int
    surname: str
    name: str
    patronymic: str
    phone: str | None
    card: str | None = None
    guardian: str | None = None
    weight: float = 1.0

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


def _person(rng: random.Random, pid: int, surname_m: str, male: bool) -> _Person:
    patr = rng.choice(PATRONYMICS)
    if male:
        return _Person(pid, surname_m, rng.choice(MALE_NAMES), patr[0], None)
    return _Person(pid, female_surname(surname_m), rng.choice(FEMALE_NAMES), patr[1], None)


def _patients(rng: random.Random, count: int) -> list[_Person]:
    """Households: singles, couples, parents with children; a household shares one phone."""
    people: list[_Person] = []
    pid = ID_PATIENTS_FROM
    while len(people) < count:
        surname = rng.choice(SURNAMES)
        kind = rng.random()
        size = 1 if kind < 0.65 else 2 if kind < 0.8 else rng.randint(3, 4)
        size = min(size, count - len(people))
        digits = _landline_digits(rng) if rng.random() < 0.05 else _mobile_digits(rng)
        first_male = rng.random() < 0.45
        household: list[_Person] = []
        for i in range(size):
            child = False
            if i == 0:
                male = first_male
            elif i == 1 and size == 2 and rng.random() < 0.6:
                male = not first_male  # spouse
            else:
                male, child = rng.random() < 0.5, True
            p = _person(rng, pid, surname, male)
            # A family shares a phone but never a first name: names tell contacts apart.
            while any(h.name == p.name for h in household):
                p = _person(rng, pid, surname, male)
            if child:
                p.guardian = household[0].full_name
                p.weight = 0.6
            # The same number is often typed differently on each family member's card.
            p.phone = spell_phone(digits, rng.randrange(PHONE_STYLES))
            p.card = f"{pid - ID_PATIENTS_FROM + 1:06d}"
            household.append(p)
            pid += 1
        if rng.random() < 0.1:
            household[0].weight = 4.0  # a regular (orthodontics, implants)
        people.extend(household)
    return people


# --- fates ---------------------------------------------------------------------------------
@dataclass
class Fate:
    """What will happen to one reception, independent of when we look."""

    events: dict[str, datetime] = field(default_factory=dict)  # column -> time
    cancel_reason: int | None = None
    cancel_comment: str | None = None
    order_at: datetime | None = None
    lines: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)  # item, n, discount


_MIN = timedelta(minutes=1)


def fate_of(seed: int, rid: int, plan_start: datetime, plan_end: datetime,
            added: datetime) -> Fate:
    """The fate of reception ``rid``: a function of the seed and the row, never of "now"."""
    r = random.Random(f"{seed}:fate:{rid}")
    roll = r.random()
    fate = Fate()
    if roll < 0.08:  # cancelled ahead of time
        lo, hi = added + _MIN, plan_start - timedelta(minutes=30)
        at = lo + (hi - lo) * r.random() if hi > lo else lo
        fate.events["ReceptionCanceled"] = at.replace(microsecond=0)
        fate.cancel_reason = r.choice((1, 1, 4, 4, 3, 5))
        fate.cancel_comment = r.choice(CANCEL_COMMENTS) or None
        return fate
    if roll < 0.12:  # no-show, marked after the slot
        fate.events["ReceptionCanceled"] = plan_end + timedelta(minutes=r.randint(5, 40))
        fate.cancel_reason = 2
        return fate
    if roll < 0.14:  # nobody ever marked it: stays planned
        return fate
    appeared = max(plan_start - timedelta(minutes=r.randint(0, 20)), added + _MIN)
    started = max(plan_start + timedelta(minutes=r.randint(0, 10)), appeared + _MIN)
    ended = max(plan_end + timedelta(minutes=r.randint(-10, 15)), started + 10 * _MIN)
    fate.events.update(
        PatientAppeared=appeared, ReceptionStarted=started, ReceptionEnded=ended
    )
    fate.order_at = min(started + timedelta(minutes=r.randint(2, 10)), ended)
    if roll >= 0.2:  # else finished but the bill is never issued
        fate.events["CheckIssued"] = ended + timedelta(minutes=r.randint(1, 20))
    for item in r.sample(range(1, len(SERVICES) + 1), r.choice((1, 1, 2, 2, 3, 4))):
        count = Decimal(r.choice((1, 1, 1, 2, 3)))
        discount = Decimal(r.choice((0, 0, 0, 100, 250, 500)))
        fate.lines.append((item, count, discount))
    return fate


# --- schema --------------------------------------------------------------------------------
def create_schema(engine: Engine) -> None:
    """Create the IDENT tables we model (no-op for tables that exist)."""
    s.metadata.create_all(engine)


def drop_schema(engine: Engine) -> None:
    s.metadata.drop_all(engine)


def _insert(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), list(rows))


def _reference_data(
    conn: Connection, rng: random.Random, branches: Sequence[tuple[int, str]]
) -> tuple[dict[int, list[int]], list[tuple[int, int]]]:
    """Branches, chairs, doctors, specialities, price list. Returns chairs per branch, doctors."""
    _insert(conn, s.OwnCompanies, [{"ID": b, "Name": n} for b, n in branches])
    chairs: dict[int, list[int]] = {}
    chair_rows = []
    for b, _ in branches:
        for k in range(1, CHAIRS_PER_BRANCH + 1):
            cid = b * 100 + k
            chairs.setdefault(b, []).append(cid)
            chair_rows.append({"ID": cid, "NameArmchair": f"Кресло {k}", "ID_OwnCompanies": b})
    _insert(conn, s.Armchairs, chair_rows)
    _insert(conn, s.ProfessionNames, [{"ID": i, "NameProfession": n} for i, n in SPECIALITIES])
    _insert(conn, s.ReceptionCancelReasons, [{"ID": i, "Name": n} for i, n in CANCEL_REASONS])
    _insert(conn, s.ServiceItems, [{"ID": i, "Name": n} for i, (n, _) in enumerate(SERVICES, 1)])
    _insert(conn, s.ServiceItemPrices, [
        {"ID": i + PRICE_ID_OFFSET, "ID_ServiceItems": i, "Price": Decimal(p)}
        for i, (_, p) in enumerate(SERVICES, 1)
    ])
    doctors: list[tuple[int, int]] = []  # (staff id, branch)
    persons, items = [], []
    sid = 1
    for b, _ in branches:
        for _k in range(DOCTORS_PER_BRANCH):
            p = _person(rng, sid, rng.choice(SURNAMES), rng.random() < 0.5)
            persons.append({"ID": sid, "Surname": p.surname, "Name": p.name,
                            "Patronymic": p.patronymic,
                            "MobilePhone": spell_phone(_mobile_digits(rng), 0)})
            specs = rng.sample([i for i, _ in SPECIALITIES], rng.choice((1, 1, 2)))
            items.extend({"ID_Staffs": sid, "ID_ProfessionNames": sp} for sp in specs)
            doctors.append((sid, b))
            sid += 1
    _insert(conn, s.Persons, persons)
    _insert(conn, s.Staffs, [{"ID_Persons": d} for d, _ in doctors])
    _insert(conn, s.Items, items)
    return chairs, doctors


def _reception_state(fate: Fate, now: datetime) -> dict[str, Any]:
    """Receptions columns as they are at ``now`` according to ``fate``."""
    cols: dict[str, Any] = {c: None for c in s.RECEPTION_CHANGE_COLUMNS[2:]}
    for col, at in fate.events.items():
        if at <= now:
            cols[col] = at
    cancelled = cols["ReceptionCanceled"] is not None
    cols["ID_ReceptionCancelReasons"] = fate.cancel_reason if cancelled else None
    cols["CancelReasonComment"] = fate.cancel_comment if cancelled else None
    return cols


def _order_rows(
    fate: Fate, rid: int, oid: int, patient: int, branch: int, now: datetime
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if fate.order_at is None or fate.order_at > now:
        return None, []
    bill = fate.events.get("CheckIssued")
    billed = bill is not None and bill <= now
    order = {"ID": oid, "ID_Receptions": rid, "ID_OwnCompanies": branch, "ID_Patients": patient,
             "DateTimeOrder": fate.order_at, "DateTimeBillFormed": bill if billed else None,
             "IsBillFormed": billed}
    lines = [{"ID_Orders": oid, "ID_ServicePrices": item + PRICE_ID_OFFSET,
              "CountService": n, "DiscountSum": disc} for item, n, disc in fate.lines]
    return order, lines


def default_now(start: date, days: int) -> datetime:
    return datetime.combine(start, time(12, 0)) + timedelta(days=days // 2)


def generate_clinic(
    engine: Engine,
    *,
    seed: int = 1,
    patients: int = 200,
    receptions: int = 1000,
    start: date = date(2026, 11, 20),
    days: int = 3,
    branches: Sequence[tuple[int, str]] = DEFAULT_BRANCHES,
    now: datetime | None = None,
) -> dict[str, int]:
    """Fill an empty database with a clinic as it is at ``now``. Returns row counts."""
    if patients < 1 or receptions < 0 or days < 1 or not branches:
        raise ValueError("need patients >= 1, receptions >= 0, days >= 1 and a branch")
    now = now or default_now(start, days)
    rng = random.Random(f"{seed}:clinic")
    create_schema(engine)
    with engine.begin() as conn:
        chairs, doctors = _reference_data(conn, rng, branches)
        people = _patients(rng, patients)
        _insert(conn, s.Persons, [
            {"ID": p.id, "Surname": p.surname, "Name": p.name, "Patronymic": p.patronymic,
             "MobilePhone": p.phone} for p in people
        ])
        first_day = datetime.combine(start, time(0, 0))
        _insert(conn, s.Patients, [
            {"ID_Persons": p.id, "CardNumber": p.card, "ParentSNP": p.guardian,
             "Comment": None, "FirstVisit": first_day - timedelta(days=rng.randint(0, 2000)),
             "PatientNumber": p.card, "Status": 0, "DateTimeChanged": first_day}
            for p in people
        ])
        weights = [p.weight for p in people]
        rec_rows, order_rows, line_rows = [], [], []
        oid = 1
        for rid in range(1, receptions + 1):
            patient = rng.choices(people, weights)[0]
            staff, branch = rng.choice(doctors)
            slot = first_day + timedelta(days=rng.randrange(days), hours=9,
                                         minutes=15 * rng.randrange(44))
            plan_end = slot + timedelta(minutes=rng.choice((30, 45, 60, 60, 90, 120)))
            added = slot - timedelta(minutes=rng.randint(30, 21 * 24 * 60),
                                     seconds=rng.randint(0, 59))
            # Drawn even when unused, so the random stream does not depend on ``now``.
            recent = timedelta(minutes=rng.randint(1, 600), seconds=rng.randint(0, 59))
            if added > now:  # would be booked after now: say it was booked recently instead
                added = now - recent
            fate = fate_of(seed, rid, slot, plan_end, added)
            state = _reception_state(fate, now)
            changed = max([added] + [v for k, v in state.items()
                                     if isinstance(v, datetime)])
            rec_rows.append({
                "ID": rid, "ID_Patients": patient.id, "ID_Staffs": staff,
                "ID_Armchairs": rng.choice(chairs[branch]), "PlanStart": slot,
                "PlanEnd": plan_end,
                "Comment": rng.choice(RECEPTION_COMMENTS) if rng.random() < 0.3 else None,
                "DateTimeAdded": added, "DateTimeChanged": changed, "ExternalUID": None,
                **state,
            })
            order, lines = _order_rows(fate, rid, oid, patient.id, branch, now)
            if order:
                order_rows.append(order)
                line_rows.extend(lines)
                oid += 1
        _insert(conn, s.Receptions, rec_rows)
        _insert(conn, s.Orders, order_rows)
        _insert(conn, s.OrderServiceRelation, line_rows)
    return {"patients": len(people), "receptions": len(rec_rows), "orders": len(order_rows),
            "order_lines": len(line_rows), "doctors": len(doctors),
            "branches": len(branches)}


# --- advance -------------------------------------------------------------------------------
def clinic_clock(conn: Connection) -> datetime | None:
    """The latest timestamp anywhere in the clinic's receptions and orders."""
    r, o = s.Receptions.c, s.Orders.c
    cols = [r[c] for c in s.RECEPTION_CHANGE_COLUMNS] + [o[c] for c in s.ORDER_CHANGE_COLUMNS]
    latest = [conn.execute(select(func.max(c))).scalar() for c in cols]
    found = [v for v in latest if v is not None]
    return max(found) if found else None


def _between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A whole-second time in (lo, hi]."""
    span = int((hi - lo).total_seconds())
    return lo + timedelta(seconds=rng.randint(1, max(span, 1)))


def advance_day(
    engine: Engine, *, seed: int, now: datetime, since: datetime | None = None
) -> dict[str, int]:
    """Move the clinic forward to ``now``; returns counts of what changed.

    Fate events due by ``now`` are applied (arrivals, starts, ends, bills, cancellations,
    orders). A few extra changes — comment edits on future receptions, new bookings and a
    service added to an already-billed order (an Orders-only change) — happen at times in
    ``(since, now]``; ``since`` defaults to the clinic's latest timestamp. Every timestamp
    written is <= ``now``.
    """
    R, O = s.Receptions, s.Orders
    counts = {"arrived": 0, "started": 0, "ended": 0, "billed": 0, "cancelled": 0,
              "orders_created": 0, "comments_changed": 0, "booked": 0,
              "orders_extended": 0, "receptions_changed": 0}
    rng = random.Random(f"{seed}:advance:{now.isoformat()}")
    with engine.begin() as conn:
        since = since or clinic_clock(conn) or now - timedelta(days=1)
        if since >= now:
            raise ValueError("now must be later than since (the clinic's latest change)")
        branch_of_chair = dict(conn.execute(select(s.Armchairs.c.ID,
                                                   s.Armchairs.c.ID_OwnCompanies)).all())
        has_order = set(conn.execute(select(O.c.ID_Receptions)).scalars())
        next_oid = (conn.execute(select(func.max(O.c.ID))).scalar() or 0) + 1
        open_rows = conn.execute(
            select(R).where(R.c.ReceptionCanceled.is_(None), R.c.CheckIssued.is_(None),
                            R.c.PlanStart.is_not(None), R.c.PlanEnd.is_not(None),
                            R.c.DateTimeAdded.is_not(None))
            .order_by(R.c.ID)
        ).mappings().all()

        rec_updates: list[dict[str, Any]] = []
        new_orders, new_lines, bill_updates = [], [], []
        event_cols = list(s.RECEPTION_CHANGE_COLUMNS[2:])
        for row in open_rows:
            fate = fate_of(seed, row["ID"], row["PlanStart"], row["PlanEnd"],
                           row["DateTimeAdded"])
            state = _reception_state(fate, now)
            newly = [c for c in event_cols if row[c] is None and state[c] is not None]
            branch = branch_of_chair.get(row["ID_Armchairs"])
            order, lines = _order_rows(fate, row["ID"], next_oid, row["ID_Patients"],
                                       branch, now)
            if order and row["ID"] not in has_order:
                new_orders.append(order)
                new_lines.extend(lines)
                next_oid += 1
                counts["orders_created"] += 1
            elif order and "CheckIssued" in newly:
                bill_updates.append({"rid": row["ID"], "bill": state["CheckIssued"]})
            if not newly:
                continue
            for col, key in (("PatientAppeared", "arrived"), ("ReceptionStarted", "started"),
                             ("ReceptionEnded", "ended"), ("CheckIssued", "billed"),
                             ("ReceptionCanceled", "cancelled")):
                counts[key] += col in newly
            upd = {c: row[c] if row[c] is not None else state[c] for c in event_cols}
            upd.update(
                rid=row["ID"],
                ID_ReceptionCancelReasons=state["ID_ReceptionCancelReasons"],
                CancelReasonComment=state["CancelReasonComment"],
                DateTimeChanged=max([state[c] for c in newly] + [row["DateTimeChanged"]
                                                                  or row["DateTimeAdded"]]),
                Comment=row["Comment"],
            )
            rec_updates.append(upd)

        # Comment edits on receptions still planned after now.
        touched = {u["rid"] for u in rec_updates}
        planned_future = [r for r in open_rows if r["PlanStart"] > now
                          and r["ID"] not in touched and r["PatientAppeared"] is None]
        for row in rng.sample(planned_future, min(len(planned_future), rng.randint(2, 6))):
            upd = {c: row[c] for c in event_cols}
            upd.update(rid=row["ID"], ID_ReceptionCancelReasons=None, CancelReasonComment=None,
                       DateTimeChanged=max(_between(rng, since, now),
                                           row["DateTimeChanged"] or since),
                       Comment=rng.choice(EDITED_COMMENTS))
            rec_updates.append(upd)
            counts["comments_changed"] += 1

        if rec_updates:
            stmt = update(R).where(R.c.ID == bindparam("rid")).values(
                {c: bindparam(c) for c in [*event_cols, "ID_ReceptionCancelReasons",
                                           "CancelReasonComment", "DateTimeChanged", "Comment"]}
            )
            conn.execute(stmt, rec_updates)
        if bill_updates:
            conn.execute(
                update(O).where(O.c.ID_Receptions == bindparam("rid"))
                .values(DateTimeBillFormed=bindparam("bill"), IsBillFormed=True),
                bill_updates,
            )
        _insert(conn, O, new_orders)
        _insert(conn, s.OrderServiceRelation, new_lines)

        # Orders-only change: a service added to a billed reception as a new order.
        billed = conn.execute(
            select(R.c.ID, R.c.ID_Patients, R.c.ID_Armchairs).where(R.c.CheckIssued.is_not(None))
            .order_by(R.c.ID)
        ).all()
        extra_orders, extra_lines = [], []
        for rid, patient, chair in rng.sample(billed, min(len(billed), rng.randint(1, 3))):
            at = _between(rng, since, now)
            extra_orders.append({"ID": next_oid, "ID_Receptions": rid,
                                 "ID_OwnCompanies": branch_of_chair.get(chair),
                                 "ID_Patients": patient, "DateTimeOrder": at,
                                 "DateTimeBillFormed": at, "IsBillFormed": True})
            extra_lines.append({"ID_Orders": next_oid,
                                "ID_ServicePrices": rng.randint(1, len(SERVICES)) + PRICE_ID_OFFSET,
                                "CountService": Decimal(1), "DiscountSum": Decimal(0)})
            next_oid += 1
            counts["orders_extended"] += 1
        _insert(conn, O, extra_orders)
        _insert(conn, s.OrderServiceRelation, extra_lines)

        counts["booked"] = _book(conn, rng, since, now, seed)
        counts["receptions_changed"] = len(rec_updates)
    return counts


def _book(conn: Connection, rng: random.Random, since: datetime, now: datetime,
          seed: int) -> int:
    """A few new receptions booked in (since, now] for the next days.

    Each one is stored as it stands at ``now`` (e.g. already cancelled), like generate_clinic
    does: leaving its early events for the next advance would back-date them before this
    ``now``, outside the window that the next sync reads.
    """
    R = s.Receptions
    rid = (conn.execute(select(func.max(R.c.ID))).scalar() or 0) + 1
    patients = conn.execute(select(s.Patients.c.ID_Persons).order_by(
        s.Patients.c.ID_Persons)).scalars().all()
    doctors = conn.execute(
        select(s.Staffs.c.ID_Persons).order_by(s.Staffs.c.ID_Persons)).scalars().all()
    chairs = conn.execute(select(s.Armchairs.c.ID).order_by(s.Armchairs.c.ID)).scalars().all()
    if not (patients and doctors and chairs):
        return 0
    rows = []
    for _ in range(rng.randint(2, 5)):
        added = _between(rng, since, now)
        day = datetime.combine(now.date(), time(9, 0)) + timedelta(days=rng.randint(1, 3))
        slot = day + timedelta(minutes=15 * rng.randrange(44))
        plan_end = slot + timedelta(minutes=rng.choice((30, 60, 90)))
        state = _reception_state(fate_of(seed, rid, slot, plan_end, added), now)
        events = [v for k, v in state.items() if k in s.RECEPTION_CHANGE_COLUMNS and v]
        rows.append({
            "ID": rid, "ID_Patients": rng.choice(patients), "ID_Staffs": rng.choice(doctors),
            "ID_Armchairs": rng.choice(chairs), "PlanStart": slot, "PlanEnd": plan_end,
            "Comment": rng.choice(RECEPTION_COMMENTS) if rng.random() < 0.5 else None,
            "DateTimeAdded": added, "DateTimeChanged": max([added, *events]),
            "ExternalUID": None, **state,
        })
        rid += 1
    _insert(conn, R, rows)
    return len(rows)


# --- CLI -----------------------------------------------------------------------------------
def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m identsync.ident.demo",
                                description="Synthetic IDENT clinic database")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="create tables and generate a clinic")
    c.add_argument("--url", required=True, help="SQLAlchemy URL (sqlite:///..., postgresql://)")
    c.add_argument("--receptions", type=int, default=1000)
    c.add_argument("--patients", type=int, default=None, help="default: receptions / 5")
    c.add_argument("--days", type=int, default=3)
    c.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20))
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--now", type=datetime.fromisoformat, default=None,
                   help="clinic-local time the data reflects (default: midday, middle day)")
    c.add_argument("--replace", action="store_true", help="drop the IDENT tables first")
    a = sub.add_parser("advance", help="move the clinic forward to --now")
    a.add_argument("--url", required=True)
    a.add_argument("--now", type=datetime.fromisoformat, required=True)
    a.add_argument("--since", type=datetime.fromisoformat, default=None)
    a.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    engine = create_engine(args.url)
    try:
        if args.cmd == "create":
            if args.replace:
                drop_schema(engine)
            counts = generate_clinic(
                engine, seed=args.seed, receptions=args.receptions,
                patients=args.patients or max(20, args.receptions // 5),
                start=args.start, days=args.days, now=args.now,
            )
        else:
            counts = advance_day(engine, seed=args.seed, now=args.now, since=args.since)
    finally:
        engine.dispose()
    print(json.dumps(counts, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
