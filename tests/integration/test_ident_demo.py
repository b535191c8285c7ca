"""The synthetic IDENT clinic: deterministic, realistic, consistent with time, on both backends."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from identsync.ident import schema as s
from identsync.ident.extract import extract_receptions
from identsync.sync.phones import normalize_phone
from identsync.sync.transform import status_of
from tools.ident_demo import __main__ as demo_cli
from tools.ident_demo import clinic as demo
from tools.ident_demo.days import advance_day
from tools.ident_demo.vocabulary import ID_PATIENTS_FROM

START = date(2026, 11, 20)
NOW0 = datetime(2026, 11, 21, 12, 0)
NOW1 = datetime(2026, 11, 22, 15, 30)
EVENTS = ("PatientAppeared", "ReceptionStarted", "ReceptionEnded", "CheckIssued",
          "ReceptionCanceled")





def sqlite_engine(tmp_path, name: str) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / name}")


def dump(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(map(repr, r)) for r in conn.execute(select(t)))
                for t in s.metadata.sorted_tables}


def receptions(engine: Engine) -> dict[int, dict]:
    with engine.connect() as conn:
        return {r["ID"]: dict(r) for r in conn.execute(select(s.Receptions)).mappings()}


def test_same_seed_same_clinic_other_seed_other_clinic(tmp_path) -> None:
    engines = [sqlite_engine(tmp_path, f"{n}.sqlite3") for n in "abc"]
    for e, seed in zip(engines, (3, 3, 4)):
        demo.generate_clinic(e, seed=seed, patients=40, receptions=150, start=START, now=NOW0)
    a, b, c = (dump(e) for e in engines)
    assert a == b
    assert a["Persons"] != c["Persons"] and a["Receptions"] != c["Receptions"]
    for e in engines[:2]:
        advance_day(e, seed=3, now=NOW1)
    assert dump(engines[0]) == dump(engines[1])


def test_the_clinic_looks_real_and_is_consistent_with_now(ident_engine: Engine) -> None:
    counts = demo.generate_clinic(ident_engine, seed=1, patients=80, receptions=400,
                                  start=START, days=3, now=NOW0)
    assert counts["receptions"] == 400 and counts["patients"] == 80
    with ident_engine.connect() as conn:
        persons = conn.execute(select(s.Persons).where(
            s.Persons.c.ID >= ID_PATIENTS_FROM)).mappings().all()
        guardians = conn.execute(select(s.Patients.c.ParentSNP).where(
            s.Patients.c.ParentSNP.is_not(None))).scalars().all()
        items = conn.execute(select(s.Items.c.ID_Staffs)).scalars().all()
        bills = {r: b for r, b in conn.execute(select(s.Orders.c.ID_Receptions,
                                                      s.Orders.c.DateTimeBillFormed))}

    # Phones: typed many ways, all valid, families share one with different names.
    shapes = {re.sub(r"\d", "9", p["MobilePhone"]) for p in persons}
    assert len(shapes) >= 8
    by_phone: dict[str, list[str]] = defaultdict(list)
    for p in persons:
        by_phone[normalize_phone(p["MobilePhone"], "RU")].append(p["Name"])
    families = [names for names in by_phone.values() if len(names) > 1]
    assert families and all(len(set(n)) == len(n) for n in families)
    assert guardians
    assert any("ё" in (p["Surname"] + p["Name"] + p["Patronymic"]).lower() for p in persons)
    # Female forms agree: a woman's patronymic ends in -вна/-чна, her surname is not -ов.
    for p in persons:
        if p["Patronymic"].endswith(("вна", "чна")):
            assert not p["Surname"].endswith(("ов", "ев", "ёв", "ин", "ский"))
    assert max(Counter(items).values()) >= 2  # a doctor with two specialities

    rows = receptions(ident_engine)
    statuses = Counter()
    for r in rows.values():
        stamps = [r[c] for c in EVENTS if r[c] is not None]
        assert all(t <= NOW0 for t in stamps + [r["DateTimeAdded"], r["DateTimeChanged"]])
        assert r["DateTimeChanged"] == max(stamps + [r["DateTimeAdded"]])
        assert all(t >= r["DateTimeAdded"] for t in stamps)
        if r["PlanStart"] > NOW0 + timedelta(hours=1):
            assert r["PatientAppeared"] is None and r["CheckIssued"] is None
        if r["CheckIssued"] is not None:
            assert bills[r["ID"]] == r["CheckIssued"]
    for sr in extract_receptions(ident_engine, datetime(2000, 1, 1), datetime(2100, 1, 1)):
        statuses[status_of(sr)] += 1
    assert {"planned", "bill_issued", "cancelled", "finished"} <= set(statuses)
    assert statuses["planned"] > 100 and statuses["bill_issued"] > 50


def test_generate_then_advance_equals_generating_later(tmp_path) -> None:
    stepped, direct = sqlite_engine(tmp_path, "s.sqlite3"), sqlite_engine(tmp_path, "d.sqlite3")
    demo.generate_clinic(stepped, seed=5, patients=50, receptions=200, start=START, now=NOW0)
    advance_day(stepped, seed=5, now=NOW1, since=NOW0)
    demo.generate_clinic(direct, seed=5, patients=50, receptions=200, start=START, now=NOW1)
    a, b = receptions(stepped), receptions(direct)
    assert set(a) > set(b)  # plus new bookings
    # Receptions booked before NOW0 have one booking time either way, hence one fate.
    same = [rid for rid in b if a[rid]["DateTimeAdded"] == b[rid]["DateTimeAdded"]]
    assert len(same) > 150
    for rid in same:
        for col in (*EVENTS, "ID_ReceptionCancelReasons", "PlanStart", "ID_Patients"):
            assert a[rid][col] == b[rid][col], (rid, col)


def test_advance_day_moves_time_forward(ident_engine: Engine) -> None:
    demo.generate_clinic(ident_engine, seed=2, patients=60, receptions=300, start=START,
                         now=NOW0)
    before = receptions(ident_engine)
    counts = advance_day(ident_engine, seed=2, now=NOW1, since=NOW0)
    after = receptions(ident_engine)
    for key in ("arrived", "started", "ended", "billed", "booked", "comments_changed",
                "orders_extended"):
        assert counts[key] > 0, key
    newly_billed = sum(1 for rid, r in before.items()
                       if r["CheckIssued"] is None and after[rid]["CheckIssued"] is not None)
    assert newly_billed == counts["billed"]
    assert counts["comments_changed"] == sum(
        1 for rid, r in before.items() if r["Comment"] != after[rid]["Comment"])
    for rid, r in after.items():
        for col in (*EVENTS, "DateTimeChanged", "DateTimeAdded"):
            if r[col] is not None and (rid not in before or before[rid][col] != r[col]):
                assert NOW0 < r[col] <= NOW1, (rid, col, r[col])
    with pytest.raises(ValueError):
        advance_day(ident_engine, seed=2, now=NOW0, since=NOW1)


def test_cli_create_and_advance(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert demo_cli.main(["create", "--url", url, "--receptions", "120", "--days", "2",
                      "--start", "2026-11-20", "--seed", "1"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["receptions"] == 120
    assert demo_cli.main(["advance", "--url", url, "--now", "2026-11-23T18:00"]) == 0
    advanced = json.loads(capsys.readouterr().out)
    assert advanced["booked"] > 0
    assert demo_cli.main(["create", "--url", url, "--receptions", "10", "--replace"]) == 0
    assert json.loads(capsys.readouterr().out)["receptions"] == 10
