"""Nothing lost silently: portal refusals, the retry queue, patient edits, deleted receptions,
a non-default deal pipeline. The engine runs the DAG's own per-chunk protocol against the
emulator over HTTP and real PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.errors import PortalRejected
from identsync.ident import schema as s
from identsync.ident.extract import existing_reception_ids
from identsync.sync.deleted import DELETED_COMMENT, reconcile_deleted
from identsync.sync.engine import sync_window
from identsync.sync.phones import normalize_phone
from tools.ident_demo.clinic import create_schema, generate_clinic

START = date(2026, 11, 20)
DAY1 = (datetime(2026, 11, 1), datetime(2026, 11, 22))  # what the clinic holds at generation
LATER = (datetime(2026, 11, 22), datetime(2026, 11, 23))  # a later window: nothing changed
BASE = {"branches": [{"id": 1, "name": "A"}], "write_settle_seconds": 0,
        "retry_base_minutes": 0}


def config(**kw) -> SyncConfig:
    return SyncConfig.from_dict({**BASE, **kw})


@pytest.fixture
def clinic():
    engine = sa.create_engine("sqlite://")
    create_schema(engine)
    generate_clinic(engine, seed=12, receptions=80, patients=40, start=START, days=1,
                    branches=((1, "A"),), now=datetime(2026, 11, 21, 8, 0))
    return engine


@pytest.fixture
def client(emulator):
    return Bitrix24Client(emulator.webhook_url, plan="unlimited")


def deals_by_ident(emulator, cfg) -> dict[str, dict]:
    return {d[cfg.ident_id_field]: d for d in emulator.control.dump("deal")}


def comments_of(emulator, deal_id) -> list[str]:
    return [c["COMMENT"] for c in emulator.control.dump("comment")
            if int(c["ENTITY_ID"]) == int(deal_id)]


def refuse(emulator, **rule) -> None:
    emulator.control.faults({"refuse": [rule]})


def test_a_refused_record_is_queued_then_written_by_the_next_run_without_a_change(
        clinic, client, state, emulator):
    cfg = config()
    target = "F1_5"
    refuse(emulator, method="crm.deal.add", field=cfg.ident_id_field, value=target, times=1,
           code="ERROR_CORE", description="a portal rule refused the deal")
    first = sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    assert first.counts["deals_failed"] == 1 and first.counts["queue_queued"] == 1
    assert target not in deals_by_ident(emulator, cfg)
    [entry] = state.queue.entries(cfg.pipeline_id(1))
    assert (entry["ident_id"], entry["status"], entry["attempts"], entry["step"]) == \
        (target, "queued", 1, "deal")
    assert "portal rule" in entry["description"]

    second = sync_window(clinic, client, state, cfg, *LATER, branch_id=1)  # no IDENT change
    assert second.counts["queue_retried"] == 1 and second.counts["queue_recovered"] == 1
    deal = deals_by_ident(emulator, cfg)[target]
    assert len(comments_of(emulator, deal["ID"])) == 1
    assert state.queue.entries(cfg.pipeline_id(1)) == []  # recovered: out of the queue
    assert Counter(d[cfg.ident_id_field] for d in emulator.control.dump("deal"))[target] == 1


def test_a_refused_deal_update_gets_no_comment_until_it_is_written(clinic, client, state,
                                                                   emulator):
    cfg = config()
    sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    deal = next(d for d in emulator.control.dump("deal") if d["STAGE_ID"] == "NEW")
    ident = deal[cfg.ident_id_field]
    with clinic.begin() as conn:  # the planned reception is cancelled in IDENT
        conn.execute(sa.update(s.Receptions)
                     .where(s.Receptions.c.ID == int(ident.split("_")[1])).values(
            ReceptionCanceled=datetime(2026, 11, 22, 9, 0), ID_ReceptionCancelReasons=1,
            DateTimeChanged=datetime(2026, 11, 22, 9, 0)))
    refuse(emulator, method="crm.deal.update", field="id", value=deal["ID"], times=1)
    failed = sync_window(clinic, client, state, cfg, *LATER, branch_id=1)
    assert failed.counts["deals_failed"] == 1
    assert len(comments_of(emulator, deal["ID"])) == 1  # only the first run's comment
    assert state.queue.counts(cfg.pipeline_id(1)) == {"queued": 1}

    retried = sync_window(clinic, client, state, cfg,
                          datetime(2026, 11, 23), datetime(2026, 11, 24), branch_id=1)
    assert retried.counts["queue_recovered"] == 1 and retried.counts["deals_updated"] == 1
    texts = comments_of(emulator, deal["ID"])
    assert len(texts) == 2 and "Отменён" in texts[-1]
    assert deals_by_ident(emulator, cfg)[ident]["STAGE_ID"] == "LOSE"


def test_tries_are_bounded_then_the_record_is_dead_with_its_reason(clinic, client, state,
                                                                   emulator):
    cfg = config(retry_max_attempts=3)
    refuse(emulator, method="crm.deal.add", field=cfg.ident_id_field, value="F1_9",
           description="UF_CRM_IDENT_DOCTOR: value too long")
    windows = [DAY1, LATER, (datetime(2026, 11, 23), datetime(2026, 11, 24))]
    runs = [sync_window(clinic, client, state, cfg, *w, branch_id=1) for w in windows]
    assert [r.counts["queue_dead"] for r in runs] == [0, 0, 1]
    [entry] = state.queue.entries(cfg.pipeline_id(1))
    assert (entry["status"], entry["attempts"]) == ("dead", 3)
    assert entry["description"] == "UF_CRM_IDENT_DOCTOR: value too long"
    fourth = sync_window(clinic, client, state, cfg, datetime(2026, 11, 24),
                         datetime(2026, 11, 25), branch_id=1)
    assert fourth.counts["queue_retried"] == 0  # dead records wait for the operator
    assert state.queue.requeue(cfg.pipeline_id(1)) == 1


def test_retries_are_spaced_exponentially(clinic, client, state, emulator):
    cfg = config(retry_base_minutes=15)
    refuse(emulator, method="crm.deal.add", field=cfg.ident_id_field, value="F1_4")
    sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    again = sync_window(clinic, client, state, cfg, *LATER, branch_id=1)
    assert again.counts["queue_retried"] == 0  # not due for 15 minutes
    [entry] = state.queue.entries(cfg.pipeline_id(1))
    gap = entry["next_attempt_at"] - entry["last_failed_at"]
    assert timedelta(minutes=14) < gap <= timedelta(minutes=15)


def test_access_denied_fails_at_once_and_names_the_fix(clinic, client, state, emulator):
    cfg = config()
    refuse(emulator, method="crm.deal.add", code="ACCESS_DENIED", description="Access denied")
    with pytest.raises(PortalRejected) as err:
        sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    assert "ACCESS_DENIED" in str(err.value) and "crm scope" in err.value.fix
    assert state.queue.counts(cfg.pipeline_id(1))["queued"] > 0  # kept for the retry


def test_more_refusals_than_the_threshold_fail_the_task(clinic, client, state, emulator):
    cfg = config(fail_chunk_share=0.2)
    refuse(emulator, method="crm.contact.add", description="required field PHONE is empty")
    with pytest.raises(PortalRejected) as err:
        sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    assert "records" in str(err.value) and "deal_fields" in err.value.fix


def test_unchanged_resync_in_a_non_default_pipeline_writes_nothing(clinic, client, state,
                                                                   emulator):
    cfg = config(category_id=3)
    first = sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    deals = emulator.control.dump("deal")
    assert {d["CATEGORY_ID"] for d in deals} == {"3"}
    assert all(d["STAGE_ID"].startswith("C3:") for d in deals)
    before = emulator.control.stats()
    again = sync_window(clinic, client, state, cfg, *DAY1, branch_id=1, full_check=True)
    assert emulator.control.writes_since(before) == {}
    assert again.counts["deals_unchanged"] == first.counts["records"] > 0


def test_a_patient_phone_edit_reaches_the_contact(clinic, client, state, emulator):
    cfg = config()
    sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    with clinic.connect() as conn:
        pid, old = conn.execute(
            sa.select(s.Persons.c.ID, s.Persons.c.MobilePhone)
            .join(s.Receptions, s.Receptions.c.ID_Patients == s.Persons.c.ID)
            .where(s.Receptions.c.ID == 11)).one()
    new = "+7 (916) 555-01-23"
    with clinic.begin() as conn:  # the receptionist edits the patient's card; no reception
        conn.execute(sa.update(s.Persons).where(s.Persons.c.ID == pid).values(MobilePhone=new))
        conn.execute(sa.update(s.Patients).where(s.Patients.c.ID_Persons == pid)
                     .values(DateTimeChanged=datetime(2026, 11, 22, 10, 0)))
    contacts_before = len(emulator.control.dump("contact"))
    run = sync_window(clinic, client, state, cfg, *LATER, branch_id=1)
    assert run.counts["records"] >= 1
    deal = deals_by_ident(emulator, cfg)["F1_11"]
    contact = next(c for c in emulator.control.dump("contact") if c["ID"] == deal["CONTACT_ID"])
    phones = {normalize_phone(p["VALUE"], "RU") for p in contact["PHONE"]}
    assert normalize_phone(new, "RU") in phones and normalize_phone(old, "RU") in phones
    assert len(emulator.control.dump("contact")) == contacts_before  # appended, not a new one


def test_deleted_receptions_are_listed_or_moved_never_deleted(clinic, client, state, emulator):
    cfg = config()
    sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    open_before = [d for d in emulator.control.dump("deal") if d["STAGE_SEMANTIC_ID"] == "P"]
    gone = open_before[0][cfg.ident_id_field]
    with clinic.begin() as conn:
        conn.execute(sa.delete(s.Orders).where(s.Orders.c.ID_Receptions == int(gone[3:])))
        conn.execute(sa.delete(s.Receptions).where(s.Receptions.c.ID == int(gone[3:])))

    def existing(ids):
        return existing_reception_ids(clinic, ids)

    listed = reconcile_deleted(client, state.ledger, cfg, 1, existing)
    assert [d["ident_id"] for d in listed["deals"]] == [gone] and listed["moved"] == 0
    assert listed["open_deals"] == len(open_before)
    moved = reconcile_deleted(client, state.ledger, config(deleted_stage="LOSE"), 1, existing)
    assert moved["moved"] == 1
    deal = deals_by_ident(emulator, cfg)[gone]
    assert deal["STAGE_ID"] == "LOSE"
    assert DELETED_COMMENT.format(reception_id=int(gone[3:])) in comments_of(emulator,
                                                                             deal["ID"])
    again = reconcile_deleted(client, state.ledger, config(deleted_stage="LOSE"), 1, existing)
    assert again["deleted"] == 0  # the moved deal is no longer open
    assert len(emulator.control.dump("deal")) == len(deals_by_ident(emulator, cfg))
