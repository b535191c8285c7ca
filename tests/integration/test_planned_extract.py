"""``ident/planned.py`` against real SQLite and PostgreSQL IDENT databases: every reception
planned in the range, whatever its change time, of the branch as the change-time extract
decides it (chair's company, else its orders')."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from identsync.ident import schema as s
from identsync.ident.extract import extract_by_ids, extract_receptions
from identsync.ident.planned import extract_planned, planned_ids
from tools.ident_demo.clinic import generate_clinic

START = date(2026, 11, 20)
FROM, TO = datetime(2026, 11, 21), datetime(2026, 11, 23)  # days 2 and 3 of the clinic


@pytest.fixture
def clinic(ident_engine: Engine) -> Engine:
    generate_clinic(ident_engine, seed=9, patients=60, receptions=240, start=START, days=3,
                    now=datetime(2026, 11, 20, 8, 0))
    with ident_engine.begin() as conn:  # a few without a chair: their orders say the branch
        conn.execute(update(s.Receptions).where(s.Receptions.c.ID % 7 == 0)
                     .values(ID_Armchairs=None))
    return ident_engine


def test_every_reception_planned_in_the_range_of_the_branch(clinic):
    with clinic.connect() as conn:
        all_ids = list(conn.execute(select(s.Receptions.c.ID)).scalars())
    rows = extract_by_ids(clinic, all_ids)  # the extract's own branch rule, in SQL
    in_range = [r for r in rows if FROM <= r.plan_start < TO]
    assert {r.branch_id for r in in_range} >= {1, 2}
    # Booked before "now" (08:00 of day 1): nothing in the range changed in it.
    assert not list(extract_receptions(clinic, FROM, TO))

    assert planned_ids(clinic, FROM, TO) == sorted(r.reception_id for r in in_range)
    for branch in (1, 2):
        want = sorted(r.reception_id for r in in_range if r.branch_id == branch)
        assert planned_ids(clinic, FROM, TO, branch_id=branch) == want
        got = extract_planned(clinic, FROM, TO, branch_id=branch)
        assert [r.reception_id for r in got] == want
        assert got == [r for r in in_range if r.branch_id == branch]  # the same full rows
    # The first branch's pipeline also reports receptions no configured branch syncs.
    only_1 = planned_ids(clinic, FROM, TO, branch_id=1, unassigned_except=[1])
    assert only_1 == sorted(r.reception_id for r in in_range)


def test_naive_local_bounds_are_required(clinic):
    from datetime import timezone

    with pytest.raises(ValueError, match="plan_from: naive clinic-local time"):
        planned_ids(clinic, FROM.replace(tzinfo=timezone.utc), TO.replace(tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="plan_to .* must be after plan_from"):
        planned_ids(clinic, TO, FROM)
