"""Staff-typed text the portal's batch engine would rewrite arrives as typed (issue 20.7),
and a new patient with 200 receptions gets one contact and 200 linked deals (issue 18.1):
the engine path, against the emulator over HTTP and real PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.sync.engine import sync_window
from tests.dags.test_big_patient import COMMENT, RECEPTIONS, SERVICE, fill_ident

CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}], "write_settle_seconds": 0})
WIDE = (datetime(2026, 11, 1), datetime(2026, 11, 30))


def test_literal_text_and_a_big_new_patient_survive_two_syncs(emulator, state):
    engine = sa.create_engine("sqlite://")
    fill_ident(engine)
    client = Bitrix24Client(emulator.webhook_url, plan="unlimited")
    first = sync_window(engine, client, state, CFG, *WIDE, branch_id=1)
    assert first.counts["deals_created"] == RECEPTIONS + 3
    contacts = emulator.control.dump("contact")
    deals = emulator.control.dump("deal")
    big = [c for c in contacts if c["LAST_NAME"] == "Долгова"]
    assert len(big) == 1 and len(contacts) == 4
    assert sum(str(d.get("CONTACT_ID")) == str(big[0]["ID"]) for d in deals) == RECEPTIONS

    odd = next(c for c in contacts if c["LAST_NAME"] == "Тестова")
    assert (odd["NAME"], odd["SECOND_NAME"]) == ("$result[c0]", "$time[c0][start]")
    assert any(str(d.get("CONTACT_ID")) == str(odd["ID"]) for d in deals)
    assert sum(SERVICE in d.values() for d in deals) == 1
    comments = [c["COMMENT"] for c in emulator.control.dump("comment")]
    assert sum(f"Комментарий IDENT: {COMMENT}" in c for c in comments) == 1
    assert sum(SERVICE in c for c in comments) == 1

    # What was written reads back equal: a full re-check writes nothing at all.
    before = emulator.control.stats()
    sync_window(engine, client, state, CFG, *WIDE, branch_id=1, full_check=True)
    assert emulator.control.writes_since(before) == {}


def test_a_lost_answer_in_the_middle_of_a_big_group_duplicates_nothing(emulator, state):
    # The second deal-writing request of the first chunk is applied, then its answer is lost:
    # the chunk is looked up again and only what is missing is written.
    emulator.control.faults({"script": [{"method": "crm.deal.add", "fault": "applied_then_drop",
                                         "skip": 1}]})
    engine = sa.create_engine("sqlite://")
    fill_ident(engine)
    client = Bitrix24Client(emulator.webhook_url, plan="unlimited", backoff=0.01)
    summary = sync_window(engine, client, state, CFG, *WIDE, branch_id=1)
    assert summary.counts["write_rounds_replanned"] == 1
    deals = emulator.control.dump("deal")
    idf = CFG.ident_id_field
    assert len(deals) == len({d[idf] for d in deals}) == RECEPTIONS + 3
    big = [c for c in emulator.control.dump("contact") if c["LAST_NAME"] == "Долгова"]
    assert len(big) == 1
    assert sum(str(d.get("CONTACT_ID")) == str(big[0]["ID"]) for d in deals) == RECEPTIONS
