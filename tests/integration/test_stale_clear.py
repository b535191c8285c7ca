"""A cleared task of an OLDER finished run must not write its old data over a newer run's.

Any task of a run younger than ``retention_days`` can be cleared and run again from what the
run staged. The scenario the clinic-life simulation found under the real scheduler, replayed
step by step against the real emulator (HTTP) and real PostgreSQL:

1. run A reads IDENT: the reception is planned (stage NEW), syncs it and posts its comment;
2. the reception is finished in IDENT; run B (which read IDENT later) syncs it: EXECUTING;
3. A's transform / upsert / comment is cleared and runs again from A's staged data.

Before the fix, step 3 put the deal back to NEW (and could post A's comment text again).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.records import SourceReception
from identsync.state.fingerprints import fingerprint
from identsync.sync import protocol
from identsync.sync.engine import sync_rows
from identsync.sync.run import prepare_for_run

CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}], "write_settle_seconds": 0,
                            "stage_map": {"planned": "NEW", "arrived": "PREPARATION",
                                          "in_progress": "EXECUTING",
                                          "finished": "PREPAYMENT_INVOICE",
                                          "bill_issued": "WON", "cancelled": "LOSE"}})
PIPE = "identsync_branch_1"
T0 = datetime(2026, 11, 20, 10, 0)
NOW = datetime.now(timezone.utc)
READ_A = NOW - timedelta(hours=2)
READ_B = NOW - timedelta(hours=1)


def reception(**over) -> SourceReception:
    base = dict(reception_id=1001, patient_id=10001, branch_id=1, branch_name="A",
                surname="Иванова", name="Анна", patronymic="Сергеевна",
                mobile_phone="8 (916) 123-45-67", card_number="000123",
                doctor_name="Петров Пётр Петрович", doctor_speciality="Терапевт",
                chair_name="Кресло 2", plan_start=T0, plan_end=T0 + timedelta(minutes=45),
                comment="Болит зуб", date_added=T0 - timedelta(days=3),
                date_changed=T0 - timedelta(days=3))
    base.update(over)
    return SourceReception(**base)


PLANNED = reception()
FINISHED = reception(reception_started=T0, reception_ended=T0 + timedelta(minutes=40),
                     date_changed=T0 + timedelta(minutes=41))


def xcom(step: dict) -> dict:
    return json.loads(json.dumps(step))


class Run:
    """One run's chunk steps, kept as the DAG keeps them (staged records, XCom results)."""

    def __init__(self, portal, state, row: SourceReception, read_at: datetime, run_id: str):
        self.portal, self.state = portal, state
        prepared = prepare_for_run([row], CFG, state, PIPE, 1, full_check=True, read_at=read_at)
        assert len(prepared.chunks) == 1
        self.records = prepared.chunks[0]
        self.run = protocol.ChunkRun(PIPE, run_id, label=run_id, read_at=read_at)
        self.looked = self.upserted = self.commented = None

    def look_up(self):
        self.looked = xcom(protocol.look_up(self.portal, self.state, CFG, self.records))
        return self.looked

    def upsert(self, attempt: int = 1):
        self.upserted = xcom(protocol.upsert(self.portal, self.state, CFG, self.records,
                                             self.looked, self.run, attempt=attempt))
        return self.upserted

    def comment(self):
        self.commented = xcom(protocol.comment(self.portal, self.state, CFG, self.records,
                                               self.upserted, self.run))
        return self.commented

    def all(self):
        self.look_up()
        self.upsert()
        self.comment()
        return self


@pytest.fixture
def portal(emulator):
    return Bitrix24Client(emulator.webhook_url, plan="unlimited")


@pytest.fixture
def synced(portal, state, emulator):
    """Runs A (planned) and B (finished, read later) synced in order, as the scheduler did."""
    a = Run(portal, state, PLANNED, READ_A, "run_a").all()
    b = Run(portal, state, FINISHED, READ_B, "run_b").all()
    [deal] = emulator.control.dump("deal")
    assert deal["STAGE_ID"] == "PREPAYMENT_INVOICE"
    assert [c["COMMENT"] for c in emulator.control.dump("comment")] == \
        [a.records[0].comment, b.records[0].comment]
    return a, b


def portal_state(emulator) -> tuple[list[str], list[str]]:
    return ([d["STAGE_ID"] for d in emulator.control.dump("deal")],
            [c["COMMENT"] for c in emulator.control.dump("comment")])


def test_clearing_the_older_runs_upsert_keeps_the_newer_data(synced, emulator, state):
    a, b = synced
    before = portal_state(emulator)
    out = a.upsert()  # the same run's staged records and lookup, as a cleared task has them
    assert portal_state(emulator) == before
    assert out["counts"].get("superseded") == 1
    assert out["deal_ids"] == {}
    # ...and the comment task after it (cleared downstream) posts nothing either.
    assert a.comment()["counts"].get("comments_posted", 0) == 0
    assert portal_state(emulator) == before
    # B's fingerprint stands: B's unchanged record still skips the lookup next time.
    assert state.fingerprints.known(PIPE, [b.records[0].ident_id]) == \
        {b.records[0].ident_id: fingerprint(b.records[0])}


def test_clearing_the_older_runs_comment_alone_posts_nothing(synced, emulator):
    a, _ = synced
    # A's upsert step result (its XCom) still names the deal: only the comment is cleared.
    assert a.upserted["deal_ids"]
    before = portal_state(emulator)
    out = a.comment()
    assert portal_state(emulator) == before
    assert out["counts"].get("superseded") == 1
    assert out["counts"].get("comments_posted", 0) == 0


def test_clearing_the_older_runs_transform_leaves_the_record_out(synced, state, emulator):
    a, _ = synced
    for full_check in (False, True):  # a full check must not write old data either
        prepared = prepare_for_run([PLANNED], CFG, state, PIPE, 1, full_check=full_check,
                                   read_at=READ_A)
        assert prepared.chunks == []
        assert prepared.superseded == 1
    assert portal_state(emulator)[0] == ["PREPAYMENT_INVOICE"]


def test_the_engine_does_not_write_an_older_read_over_a_newer_one(portal, state, emulator):
    """Only the engine's public entry (it took ``read_at`` before the fix): on the old code
    the third sync put the deal back to NEW."""
    def sync(row, read_at, run_id):
        return sync_rows(portal, state, CFG, [row], pipeline=PIPE, branch_id=1,
                         full_check=True, read_at=read_at, run_id=run_id)

    sync(PLANNED, READ_A, "run_a")
    sync(FINISHED, READ_B, "run_b")
    before = portal_state(emulator)
    assert before[0] == ["PREPAYMENT_INVOICE"] and len(before[1]) == 2
    summary = sync(PLANNED, READ_A, "run_a_again")  # A's staged rows, synced again
    assert portal_state(emulator) == before
    assert summary.to_dict()["counts"]["superseded"] == 1


def test_the_newest_run_retried_still_writes(synced, portal, state, emulator):
    """An equal read time is the same run again (a retry, or a clear of that run): it writes."""
    _, b = synced
    [deal] = emulator.control.dump("deal")
    rest_update = portal.batch({"u": ("crm.deal.update",
                                      {"id": deal["ID"], "fields": {"STAGE_ID": "NEW"}})})
    assert not rest_update.errors
    out = b.upsert(attempt=2)  # a retry looks again, sees the portal differs, writes
    assert out["counts"].get("superseded", 0) == 0
    assert portal_state(emulator)[0] == ["PREPAYMENT_INVOICE"]


def test_a_newer_run_after_the_older_one_writes(portal, state, emulator):
    """The guard never blocks progress: a run that read later writes over an older one."""
    Run(portal, state, PLANNED, READ_A, "run_a").all()
    b = Run(portal, state, FINISHED, READ_B, "run_b")
    b.look_up()
    assert b.upsert()["counts"].get("superseded", 0) == 0
    assert portal_state(emulator)[0] == ["PREPAYMENT_INVOICE"]
