"""The extract reads the right naive range across DST: a change stamped in the repeated hour of
the fall-back night is read by both windows it may fall in, and the SQL's bounds are the
window's naive hull, not an empty wall-clock range. Real SQLite and PostgreSQL IDENT
databases, the run's own ``extract_for_run``."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import event, update
from sqlalchemy.engine import Engine

from identsync.config import SyncConfig
from identsync.ident import schema as s
from identsync.sync.run import extract_for_run
from identsync.sync.window import Window
from tools.ident_demo.clinic import generate_clinic

UTC = timezone.utc
CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}], "timezone": "Europe/Berlin",
                            "patient_receptions_days": 0})
STAMP = datetime(2026, 10, 25, 2, 50)  # 00:50 UTC (summer time) or 01:50 UTC (winter time)


@pytest.fixture
def clinic(ident_engine: Engine) -> Engine:
    generate_clinic(ident_engine, seed=5, patients=10, receptions=20, start=date(2026, 11, 20),
                    days=1, branches=((1, "A"),), now=datetime(2026, 11, 21, 8, 0))
    with ident_engine.begin() as conn:
        conn.execute(update(s.Receptions).where(s.Receptions.c.ID == 7)
                     .values(DateTimeChanged=STAMP))
    return ident_engine


def window(h0: int, m0: int, h1: int, m1: int) -> Window:
    return Window(datetime(2026, 10, 25, h0, m0, tzinfo=UTC),
                  datetime(2026, 10, 25, h1, m1, tzinfo=UTC), "interval")


def extract(engine: Engine, state, w: Window) -> tuple[set[int], set[datetime]]:
    """Reception ids read in the window, and every datetime the statements bound."""
    bound: set[datetime] = set()

    def note(conn, clause, multiparams, params, execution_options):
        if hasattr(clause, "compile"):  # the values as bound, before the dialect's encoding
            bound.update(v for v in clause.compile().params.values()
                         if isinstance(v, datetime))

    event.listen(engine, "before_execute", note)
    try:
        rows, _ = extract_for_run(engine, state, CFG, "dst_pipeline", w, 1)
    finally:
        event.remove(engine, "before_execute", note)
    return {r.reception_id for r in rows}, bound


def test_a_change_in_the_repeated_hour_is_read_by_both_windows_it_may_fall_in(clinic, state):
    state.ensure_schema()
    # The */30 runs with 15 minutes of overlap around 01:00 UTC, when 03:00 CEST became
    # 02:00 CET. The first window was [02:15, 02:00) local before: empty, nothing read.
    summer_ids, summer_sql = extract(clinic, state, window(0, 15, 1, 0))
    assert summer_ids == {7}
    assert summer_sql == {datetime(2026, 10, 25, 2, 15), datetime(2026, 10, 25, 3, 0)}
    across_ids, across_sql = extract(clinic, state, window(0, 45, 1, 30))
    assert across_ids == {7}
    assert across_sql == {datetime(2026, 10, 25, 2, 0), datetime(2026, 10, 25, 3, 0)}
    winter_ids, _ = extract(clinic, state, window(1, 45, 2, 30))  # 02:45 .. 03:30 CET
    assert winter_ids == {7}
    later_ids, later_sql = extract(clinic, state, window(2, 15, 3, 0))  # 03:15 .. 04:00 CET
    assert later_ids == set()
    assert later_sql == {datetime(2026, 10, 25, 3, 15), datetime(2026, 10, 25, 4, 0)}
