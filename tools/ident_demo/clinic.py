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

CLI (tools/ident_demo/__main__.py)::

    python -m tools.ident_demo create --url sqlite:///var/ident_demo.sqlite3 \\
        --receptions 1000 --days 3 --start 2026-11-20 --seed 1
    python -m tools.ident_demo advance --url ... --now 2026-11-23T18:00
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection, Engine

from identsync.ident import schema as s
from tools.ident_demo.people import _mobile_digits, _patients, _person, spell_phone
from tools.ident_demo.vocabulary import (
    CANCEL_COMMENTS,
    CANCEL_REASONS,
    PRICE_ID_OFFSET,
    RECEPTION_COMMENTS,
    SERVICES,
    SPECIALITIES,
    SURNAMES,
)

DEFAULT_BRANCHES: tuple[tuple[int, str], ...] = ((1, "Центральная"), (2, "Северная"))
CHAIRS_PER_BRANCH = 4
DOCTORS_PER_BRANCH = 5
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


def insert_rows(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), list(rows))


def _reference_data(
    conn: Connection, rng: random.Random, branches: Sequence[tuple[int, str]]
) -> tuple[dict[int, list[int]], list[tuple[int, int]]]:
    """Branches, chairs, doctors, specialities, price list. Returns chairs per branch, doctors."""
    insert_rows(conn, s.OwnCompanies, [{"ID": b, "Name": n} for b, n in branches])
    chairs: dict[int, list[int]] = {}
    chair_rows = []
    for b, _ in branches:
        for k in range(1, CHAIRS_PER_BRANCH + 1):
            cid = b * 100 + k
            chairs.setdefault(b, []).append(cid)
            chair_rows.append({"ID": cid, "NameArmchair": f"Кресло {k}", "ID_OwnCompanies": b})
    insert_rows(conn, s.Armchairs, chair_rows)
    insert_rows(conn, s.ProfessionNames, [{"ID": i, "NameProfession": n} for i, n in SPECIALITIES])
    insert_rows(conn, s.ReceptionCancelReasons, [{"ID": i, "Name": n} for i, n in CANCEL_REASONS])
    insert_rows(conn, s.ServiceItems, [{"ID": i, "Name": n} for i, (n, _) in enumerate(SERVICES, 1)])
    insert_rows(conn, s.ServiceItemPrices, [
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
    insert_rows(conn, s.Persons, persons)
    insert_rows(conn, s.Staffs, [{"ID_Persons": d} for d, _ in doctors])
    insert_rows(conn, s.Items, items)
    return chairs, doctors


def reception_state(fate: Fate, now: datetime) -> dict[str, Any]:
    """Receptions columns as they are at ``now`` according to ``fate``."""
    cols: dict[str, Any] = {c: None for c in s.RECEPTION_CHANGE_COLUMNS[2:]}
    for col, at in fate.events.items():
        if at <= now:
            cols[col] = at
    cancelled = cols["ReceptionCanceled"] is not None
    cols["ID_ReceptionCancelReasons"] = fate.cancel_reason if cancelled else None
    cols["CancelReasonComment"] = fate.cancel_comment if cancelled else None
    return cols


def orders_of(
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
        insert_rows(conn, s.Persons, [
            {"ID": p.id, "Surname": p.surname, "Name": p.name, "Patronymic": p.patronymic,
             "MobilePhone": p.phone} for p in people
        ])
        first_day = datetime.combine(start, time(0, 0))
        # A card is last edited at the patient's first visit, long before these days: only
        # advance_day and the tests edit cards inside the generated period.
        first_visits = [first_day - timedelta(days=rng.randint(0, 2000)) for _ in people]
        insert_rows(conn, s.Patients, [
            {"ID_Persons": p.id, "CardNumber": p.card, "ParentSNP": p.guardian,
             "Comment": None, "FirstVisit": visit, "PatientNumber": p.card, "Status": 0,
             "DateTimeChanged": visit}
            for p, visit in zip(people, first_visits)
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
            state = reception_state(fate, now)
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
            order, lines = orders_of(fate, rid, oid, patient.id, branch, now)
            if order:
                order_rows.append(order)
                line_rows.extend(lines)
                oid += 1
        insert_rows(conn, s.Receptions, rec_rows)
        insert_rows(conn, s.Orders, order_rows)
        insert_rows(conn, s.OrderServiceRelation, line_rows)
    return {"patients": len(people), "receptions": len(rec_rows), "orders": len(order_rows),
            "order_lines": len(line_rows), "doctors": len(doctors),
            "branches": len(branches)}
