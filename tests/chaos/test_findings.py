"""Bugs the chaos work found, each shown by a deterministic test; all fixed since.

Each test failed before its fix (they were strict xfails) and now guards it:
a write slower than the client timeout (settle before looking again), a comment post slower
than the client timeout (settle before reconciling), and demo bookings back-dated.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from identsync.errors import Bitrix24Error
from identsync.ident import schema as s
from identsync.sync.engine import sync_window
from tests.chaos import harness as h
from tools.ident_demo.days import advance_day

WIDE = (datetime(2026, 9, 1), datetime(2027, 1, 1))


def test_write_slower_than_the_read_timeout_does_not_duplicate_deals(
        small_clinic, chaos_emulator, state, cfg):
    _, engine = small_clinic
    chaos_emulator.control.faults({
        "slow_s": 2.0, "script": [{"method": "crm.deal.add", "fault": "slow", "times": 1}]})
    client = h.fast_client(chaos_emulator, read_timeout=0.5)
    sync_window(engine, client, state, cfg, *WIDE, branch_id=1)
    chaos_emulator.control.settled()  # the slow batch has landed by now
    deals = chaos_emulator.control.dump_all()["deal"]
    per_ident = Counter(d[cfg.ident_id_field] for d in deals)
    assert per_ident and max(per_ident.values()) == 1, {k: n for k, n in per_ident.items()
                                                       if n > 1}


def test_comment_post_slower_than_the_read_timeout_is_not_posted_twice(
        small_clinic, chaos_emulator, state, cfg):
    _, engine = small_clinic
    client = h.fast_client(chaos_emulator, read_timeout=0.5)
    chaos_emulator.control.faults({
        "slow_s": 3.0,
        "script": [{"method": "crm.timeline.comment.add", "fault": "slow", "times": 1}]})
    with pytest.raises(Bitrix24Error) as err:
        sync_window(engine, client, state, cfg, *WIDE, branch_id=1)
    assert err.value.maybe_applied
    sync_window(engine, client, state, cfg, *WIDE, branch_id=1)  # the task's retry
    chaos_emulator.control.settled()
    comments = chaos_emulator.control.dump_all()["comment"]
    per_deal = Counter((x["ENTITY_ID"], x["COMMENT"]) for x in comments)
    assert per_deal and max(per_deal.values()) == 1


def test_advance_day_never_back_dates_a_change(tmp_path):
    engine = h.make_clinic(tmp_path / "ident.sqlite3", seed=3, receptions=200, days=2,
                           start=h.START, now=h.generation_now(h.START))
    cols = [s.Receptions.c[c] for c in s.RECEPTION_CHANGE_COLUMNS]

    def snapshot() -> dict[int, tuple]:
        with engine.connect() as conn:
            return {r[0]: tuple(r[1:]) for r in conn.execute(
                sa.select(s.Receptions.c.ID, *cols))}

    back_dated = []
    prev_now = h.generation_now(h.START)
    for day in range(2):
        before = snapshot()
        now = datetime.combine(h.START + timedelta(days=day), datetime.min.time()) \
            + timedelta(hours=20)
        advance_day(engine, seed=3, now=now, since=prev_now)
        for rid, values in snapshot().items():
            old = before.get(rid, (None,) * len(values))
            for name, v_old, v_new in zip(s.RECEPTION_CHANGE_COLUMNS, old, values):
                if v_new is not None and v_new != v_old and v_new <= prev_now:
                    back_dated.append((rid, name, v_new, prev_now))
        prev_now = now
    assert back_dated == [], back_dated
