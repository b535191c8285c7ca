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


def patient_of(clinic, reception_id: int) -> int:
    with clinic.connect() as conn:
        return conn.execute(sa.select(s.Receptions.c.ID_Patients)
                            .where(s.Receptions.c.ID == reception_id)).scalar_one()


def test_a_queued_record_whose_fingerprint_still_matches_is_written_not_skipped(
        clinic, client, state, emulator):
    """A refused update is queued; IDENT then goes back to what was last written in full,
    so the record's fingerprint matches again. It must still count a try (here: get through
    and leave the queue), not be skipped as unchanged until the next full check."""
    cfg = config()
    sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    deal = next(d for d in emulator.control.dump("deal") if d["STAGE_ID"] == "NEW")
    rid = int(deal[cfg.ident_id_field].split("_")[1])
    cancel = {"ReceptionCanceled": datetime(2026, 11, 22, 9, 0), "ID_ReceptionCancelReasons": 1,
              "DateTimeChanged": datetime(2026, 11, 22, 9, 0)}
    with clinic.begin() as conn:
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID == rid).values(**cancel))
    refuse(emulator, method="crm.deal.update", field="id", value=deal["ID"], times=1)
    failed = sync_window(clinic, client, state, cfg, *LATER, branch_id=1)
    assert failed.counts["queue_queued"] == 1
    with clinic.begin() as conn:  # the cancellation is undone: back to what the portal holds
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID == rid).values(
            ReceptionCanceled=None, ID_ReceptionCancelReasons=None))

    again = sync_window(clinic, client, state, cfg, datetime(2026, 11, 23),
                        datetime(2026, 11, 24), branch_id=1, full_check=False)
    assert again.counts["queue_retried"] == 1
    assert again.counts["unchanged_skipped"] == 0  # was 1: skipped, no try, queued forever
    assert again.counts["queue_recovered"] == 1
    assert state.queue.entries(cfg.pipeline_id(1)) == []
    assert deals_by_ident(emulator, cfg)[f"F1_{rid}"]["STAGE_ID"] == "NEW"


def test_a_queued_record_that_transform_now_rejects_leaves_the_queue_as_a_rejection(
        clinic, client, state, emulator):
    """Refused, queued; then the patient's phone is erased in IDENT. The next run rejects the
    record: it leaves the queue (one more try counted) and waits as an open rejection with
    the reason, instead of staying `queued` and due forever."""
    cfg = config()
    target = "F1_9"
    refuse(emulator, method="crm.deal.add", field=cfg.ident_id_field, value=target, times=1)
    sync_window(clinic, client, state, cfg, *DAY1, branch_id=1)
    assert state.queue.counts(cfg.pipeline_id(1)) == {"queued": 1}
    with clinic.begin() as conn:
        conn.execute(sa.update(s.Persons).where(s.Persons.c.ID == patient_of(clinic, 9))
                     .values(MobilePhone=None))

    run = sync_window(clinic, client, state, cfg, *LATER, branch_id=1)
    assert run.counts["queue_retried"] == 1 and run.counts["queue_rejected"] == 1
    assert state.queue.due(cfg.pipeline_id(1)) == []
    [entry] = state.queue.entries(cfg.pipeline_id(1), ("queued", "dead", "rejected"))
    assert (entry["ident_id"], entry["status"], entry["attempts"], entry["step"]) == \
        (target, "rejected", 2, "transform")
    assert "no_phone" in entry["description"]
    rejected = {r["ident_id"]: r for r in state.store.open_rejections(cfg.pipeline_id(1))}
    assert rejected[target]["reason"] == "no_phone"
    assert target not in deals_by_ident(emulator, cfg)

    # The phone comes back: the record syncs and its queue row is resolved as recovered.
    with clinic.begin() as conn:
        conn.execute(sa.update(s.Persons).where(s.Persons.c.ID == patient_of(clinic, 9))
                     .values(MobilePhone="+7 (916) 555-77-11"))
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID == 9)
                     .values(DateTimeChanged=datetime(2026, 11, 23, 10, 0)))
    back = sync_window(clinic, client, state, cfg, datetime(2026, 11, 23),
                       datetime(2026, 11, 24), branch_id=1)
    assert back.counts["queue_recovered"] == 1 and target in deals_by_ident(emulator, cfg)
    assert state.queue.counts(cfg.pipeline_id(1)) == {"recovered": 1}
    assert target not in {r["ident_id"] for r in state.store.open_rejections(cfg.pipeline_id(1))}
