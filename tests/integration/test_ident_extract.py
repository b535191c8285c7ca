"""Extract against real databases (SQLite file and PostgreSQL) filled by the demo generator."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from identsync.config import SyncConfig
from identsync.ident import schema as s
from identsync.ident.extract import build_page_query, extract_receptions
from identsync.records import Rejection, SyncRecord
from identsync.sync.transform import transform
from tools.ident_demo.badinput import insert_bad_inputs
from tools.ident_demo.clinic import generate_clinic
from tools.ident_demo.days import advance_day

START = date(2026, 11, 20)
NOW0 = datetime(2026, 11, 21, 12, 0)
NOW1 = datetime(2026, 11, 22, 15, 30)
EVERYTHING = (datetime(2000, 1, 1), datetime(2100, 1, 1))





@pytest.fixture
def clinic(ident_engine: Engine) -> Engine:
    generate_clinic(ident_engine, seed=7, patients=60, receptions=300, start=START, days=3,
                    now=NOW0)
    return ident_engine


def ids(engine: Engine, start: datetime, end: datetime, **kw) -> list[int]:
    return [r.reception_id for r in extract_receptions(engine, start, end, **kw)]


def expected_ids(engine: Engine, start: datetime, end: datetime) -> set[int]:
    """The definition of "changed in [start, end)", evaluated in Python over raw rows."""
    R, O = s.Receptions, s.Orders
    found = set()
    with engine.connect() as conn:
        cols = [R.c[c] for c in s.RECEPTION_CHANGE_COLUMNS]
        for rid, *stamps in conn.execute(select(R.c.ID, *cols)):
            if any(t is not None and start <= t < end for t in stamps):
                found.add(rid)
        for rid, *stamps in conn.execute(select(O.c.ID_Receptions, O.c.DateTimeOrder,
                                                O.c.DateTimeBillFormed)):
            if any(t is not None and start <= t < end for t in stamps):
                found.add(rid)
    return found


def test_every_changed_reception_is_found_exactly_once_across_pages(clinic: Engine) -> None:
    seen: set[int] = set()
    biggest = 0
    t = datetime(2026, 10, 25)
    while t < datetime(2026, 11, 24):
        end = t + timedelta(hours=12)
        got = ids(clinic, t, end, page_size=7)
        assert len(got) == len(set(got)), f"duplicate across pages in [{t}, {end})"
        assert got == sorted(got)
        assert set(got) == expected_ids(clinic, t, end), f"window [{t}, {end})"
        biggest = max(biggest, len(got))
        seen |= set(got)
        t = end
    assert biggest > 3 * 7  # paging really happened
    assert len(seen) == 300  # every reception was added inside the span


def test_page_size_does_not_change_the_result(clinic: Engine) -> None:
    window = (datetime(2026, 11, 20), datetime(2026, 11, 22))
    full = list(extract_receptions(clinic, *window, page_size=1000))
    assert [r.to_dict() for r in extract_receptions(clinic, *window, page_size=1)] == \
        [r.to_dict() for r in full]
    assert len(full) > 50


def test_window_is_half_open(clinic: Engine) -> None:
    at = datetime(2030, 1, 1, 10, 0, 0)
    with clinic.begin() as conn:
        conn.execute(delete(s.Orders).where(s.Orders.c.ID_Receptions == 5))
        conn.execute(update(s.Receptions).where(s.Receptions.c.ID == 5).values(
            {**{c: None for c in s.RECEPTION_CHANGE_COLUMNS},
             "DateTimeAdded": at, "DateTimeChanged": at}))
    assert ids(clinic, at - timedelta(hours=1), at) == []
    assert ids(clinic, at, at + timedelta(seconds=1)) == [5]
    assert ids(clinic, at - timedelta(microseconds=1), at + timedelta(microseconds=1)) == [5]
    assert ids(clinic, at + timedelta(microseconds=1), at + timedelta(hours=1)) == []


def test_order_only_changes_are_noticed(clinic: Engine) -> None:
    R, O = s.Receptions, s.Orders
    at = datetime(2030, 2, 1, 9, 0)
    with clinic.begin() as conn:
        billed = conn.execute(
            select(R.c.ID).where(R.c.CheckIssued.is_not(None)).order_by(R.c.ID)).scalars().first()
        planned = conn.execute(
            select(R.c.ID).where(R.c.PatientAppeared.is_(None),
                                 R.c.ReceptionCanceled.is_(None)).order_by(R.c.ID.desc())
        ).scalars().first()
        conn.execute(update(O).where(O.c.ID_Receptions == billed).values(DateTimeBillFormed=at))
        conn.execute(O.insert(), [{"ID": 99_999, "ID_Receptions": planned, "ID_OwnCompanies": 1,
                                   "ID_Patients": None, "DateTimeOrder": at + timedelta(minutes=5),
                                   "DateTimeBillFormed": None, "IsBillFormed": False}])
    assert ids(clinic, at, at + timedelta(minutes=1)) == [billed]
    assert ids(clinic, at, at + timedelta(minutes=10)) == sorted([billed, planned])
    row = next(extract_receptions(clinic, at + timedelta(minutes=5), at + timedelta(minutes=6)))
    assert row.reception_id == planned and row.amount == Decimal("0.00")


def test_amounts_services_and_joins_match_raw_rows(clinic: Engine) -> None:
    R, O, L = s.Receptions, s.Orders, s.OrderServiceRelation
    P, I = s.ServiceItemPrices, s.ServiceItems
    with clinic.connect() as conn:
        prices = {pid: (item, price) for pid, item, price in conn.execute(
            select(P.c.ID, P.c.ID_ServiceItems, P.c.Price))}
        names = dict(conn.execute(select(I.c.ID, I.c.Name)).all())
        order_rec = dict(conn.execute(select(O.c.ID, O.c.ID_Receptions)).all())
        amounts: dict[int, Decimal] = {rid: Decimal(0) for rid in order_rec.values()}
        services: dict[int, set[str]] = {}
        for oid, pid, count, disc in conn.execute(
                select(L.c.ID_Orders, L.c.ID_ServicePrices, L.c.CountService, L.c.DiscountSum)):
            rid = order_rec[oid]
            item, price = prices[pid]
            amounts[rid] += Decimal(count) * Decimal(price) - Decimal(disc)
            services.setdefault(rid, set()).add(names[item])
        chair_branch = dict(conn.execute(select(s.Armchairs.c.ID,
                                                s.Armchairs.c.ID_OwnCompanies)).all())
        rec_chair = dict(conn.execute(select(R.c.ID, R.c.ID_Armchairs)).all())
    rows = list(extract_receptions(clinic, *EVERYTHING, page_size=50))
    assert len(rows) == 300
    with_orders = [r for r in rows if r.reception_id in amounts]
    assert with_orders
    for r in rows:
        assert r.amount == (amounts.get(r.reception_id))
        assert set(r.services) == services.get(r.reception_id, set())
        assert len(r.services) == len(set(r.services))
        assert r.branch_id == chair_branch[rec_chair[r.reception_id]]
        assert r.branch_name in ("Центральная", "Северная")
        assert r.doctor_name and r.doctor_speciality and r.chair_name.startswith("Кресло")
        assert r.surname and r.mobile_phone and r.plan_start


def test_branch_filter(clinic: Engine) -> None:
    everything = list(extract_receptions(clinic, *EVERYTHING))
    north = list(extract_receptions(clinic, *EVERYTHING, branch_id=2, page_size=9))
    assert north and all(r.branch_id == 2 for r in north)
    assert [r.reception_id for r in north] == [r.reception_id for r in everything
                                               if r.branch_id == 2]


def test_connection_is_accepted_too(clinic: Engine) -> None:
    with clinic.connect() as conn:
        assert len(list(extract_receptions(conn, *EVERYTHING, page_size=100))) == 300


def test_advance_day_changes_are_picked_up_by_the_next_window(clinic: Engine) -> None:
    before = {r.reception_id: r for r in extract_receptions(clinic, *EVERYTHING)}
    counts = advance_day(clinic, seed=7, now=NOW1, since=NOW0)
    after = {r.reception_id: r for r in extract_receptions(clinic, *EVERYTHING)}
    window = set(ids(clinic, NOW0, NOW1 + timedelta(seconds=1), page_size=7))

    changed = {rid for rid, r in after.items() if before.get(rid) != r}
    new = set(after) - set(before)
    assert len(new) == counts["booked"] > 0
    assert counts["receptions_changed"] > 0 and counts["orders_extended"] > 0
    assert len(changed) >= counts["receptions_changed"] + counts["booked"]
    assert changed <= window, f"missed: {sorted(changed - window)[:10]}"
    # Nothing was stamped after "now".
    stamps = [getattr(r, f) for r in after.values() for f in (
        "patient_appeared", "reception_started", "reception_ended", "check_issued",
        "reception_canceled", "date_added", "date_changed")]
    assert max(t for t in stamps if t is not None) <= NOW1


def test_bad_input_corpus_on_this_backend(clinic: Engine) -> None:
    start = datetime(2027, 1, 10, 8, 0)
    cases = insert_bad_inputs(clinic, start=start)
    rows = {r.reception_id: r for r in extract_receptions(clinic, start,
                                                         start + timedelta(hours=1), page_size=7)}
    assert set(rows) == {c.reception_id for c in cases}
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "Центральная"}]})
    for c in cases:
        out = transform(rows[c.reception_id], cfg)
        if c.expect == "sync":
            assert isinstance(out, SyncRecord), (c.kind, out)
        else:
            assert isinstance(out, Rejection) and out.reason == c.reason_code, (c.kind, out)


def old_query_ids(engine: Engine, start: datetime, end: datetime, **kw) -> list[int]:
    """What the former single query (one OR over the nine timestamps, the branch as a SQL
    expression) returned, paged by id: the reference the index-friendly extract must equal."""
    out: list[int] = []
    with engine.connect() as conn:
        while True:
            page = conn.execute(build_page_query(start, end, after_id=out[-1] if out else 0,
                                                 page_size=50, **kw)).scalars().all()
            out += page
            if len(page) < 50:
                return out


def test_candidates_then_rows_equal_the_former_single_query(clinic: Engine) -> None:
    insert_bad_inputs(clinic, start=datetime(2026, 11, 21, 9, 0))  # receptions of no branch
    advance_day(clinic, seed=7, now=NOW1, since=NOW0)  # patient edits, order-only changes
    with clinic.connect() as conn:
        edited = conn.execute(select(s.Patients.c.DateTimeChanged).where(
            s.Patients.c.DateTimeChanged.is_not(None))).scalars().all()
    assert edited  # the patient branch of the union is exercised
    windows = [(NOW0, NOW1 + timedelta(seconds=1)), (datetime(2026, 11, 21, 9), NOW0),
               *((t, t + timedelta(minutes=30)) for t in (
                   datetime(2026, 11, 22, 9), datetime(2026, 11, 22, 12, 30), min(edited)))]
    variants = [{}, {"branch_id": 1}, {"branch_id": 2, "unassigned_except": [1, 2]},
                {"branch_id": 1, "unassigned_except": [1]},
                {"patient_since": datetime(2026, 11, 1)},
                {"branch_id": 1, "unassigned_except": [1, 2],
                 "patient_since": datetime(2026, 11, 22)}]
    nonempty = 0
    for start, end in windows:
        for kw in variants:
            want = old_query_ids(clinic, start, end, **kw)
            got = [r.reception_id for r in extract_receptions(clinic, start, end, page_size=7,
                                                              **kw)]
            assert got == want, (start, end, kw)
            nonempty += bool(want)
    assert nonempty >= len(windows) * len(variants) // 2
