"""A clinic's real life against the engine, the real emulator (HTTP) and real PostgreSQL:
one contact per patient and one deal per reception whatever happens in IDENT or on the
portal (issue #18 items 2, 3, 7, 8, 10)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.ident import schema as s
from identsync.ident.extract import existing_reception_ids, extract_receptions
from identsync.sync.deleted import reconcile_deleted
from identsync.sync.engine import sync_window
from identsync.sync.phones import normalize_phone
from identsync.sync.prepare import prepare
from identsync.sync.summary import format_summary
from tests.fixtures.old_script import leave_old_script_deals
from tools.ident_demo.clinic import create_schema, generate_clinic

START = date(2026, 11, 20)
WIDE = (datetime(2026, 11, 1), datetime(2026, 11, 22))
LATER = (datetime(2026, 11, 22), datetime(2026, 11, 23))
EDIT_AT = datetime(2026, 11, 22, 10, 0)
BASE = {"branches": [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}],
        "write_settle_seconds": 0, "retry_base_minutes": 0}
BRANCH_FIELD = "UF_CRM_IDENT_BRANCH"
PATIENT_FIELD = "UF_CRM_IDENT_PATIENT_ID"  # the default of patient_id_field


def config(**kw) -> SyncConfig:
    return SyncConfig.from_dict({**BASE, **kw})


@pytest.fixture
def clinic():
    engine = sa.create_engine("sqlite://")
    create_schema(engine)
    generate_clinic(engine, seed=21, receptions=90, patients=40, start=START, days=2,
                    now=datetime(2026, 11, 21, 8, 0))
    return engine


@pytest.fixture
def client(emulator):
    return Bitrix24Client(emulator.webhook_url, plan="unlimited")


def deals_by_ident(emulator, cfg) -> dict[str, dict]:
    return {d[cfg.ident_id_field]: d for d in emulator.control.dump("deal")}


def contact(emulator, cid) -> dict:
    return next(c for c in emulator.control.dump("contact") if str(c["ID"]) == str(cid))


def records_of(clinic, cfg, branch):
    rows = list(extract_receptions(clinic, *WIDE, branch_id=branch))
    chunks, _, _ = prepare(rows, cfg.for_branch(branch), branch_id=branch)
    return [r for c in chunks for r in c]


def sync_all(clinic, client, state, cfg, window=WIDE, **kw):
    return [sync_window(clinic, client, state, cfg, *window, branch_id=b.id, **kw)
            for b in cfg.branches]


def touch_reception(clinic, reception_id, **values):
    with clinic.begin() as conn:
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID == reception_id)
                     .values(DateTimeChanged=EDIT_AT, **values))


# -- item 2: the contact is the patient ---------------------------------------------------------

def test_corrected_name_and_new_phone_keep_one_contact_per_patient(clinic, client, state,
                                                                  emulator):
    cfg = config()
    sync_all(clinic, client, state, cfg)
    contacts_before = emulator.control.dump("contact")
    r = records_of(clinic, cfg, 1)[0]
    deal = deals_by_ident(emulator, cfg)[r.ident_id]
    with clinic.begin() as conn:  # married: new surname, new phone, same IDENT patient
        patient_id = conn.execute(sa.select(s.Receptions.c.ID_Patients).where(
            s.Receptions.c.ID == r.reception_id)).scalar_one()
        conn.execute(sa.update(s.Persons).where(s.Persons.c.ID == patient_id)
                     .values(Surname="Замужняя", MobilePhone="+7 912 555-01-02"))
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID_Patients == patient_id)
                     .values(DateTimeChanged=EDIT_AT))
    summary = sync_all(clinic, client, state, cfg, window=LATER)
    assert sum(x.counts["contacts_created"] for x in summary) == 0
    assert len(emulator.control.dump("contact")) == len(contacts_before)
    after = contact(emulator, deal["CONTACT_ID"])
    assert after["LAST_NAME"] == "Замужняя"
    phones = {normalize_phone(p["VALUE"], "RU") for p in after["PHONE"]}
    assert {"+79125550102", r.phone} <= phones  # appended, the old one kept
    # Every deal of the patient is on that one contact.
    mine = [d for d in emulator.control.dump("deal")
            if d["CONTACT_ID"] == deal["CONTACT_ID"]]
    with clinic.connect() as conn:
        receptions = conn.execute(sa.select(s.Receptions.c.ID).where(
            s.Receptions.c.ID_Patients == patient_id)).scalars().all()
    theirs = {x.ident_id for x in records_of(clinic, cfg, 1) if x.reception_id in receptions}
    assert theirs and {d[cfg.ident_id_field] for d in mine} >= theirs
    # Every contact carries its IDENT patient's id: what identifies it from now on.
    assert after[PATIENT_FIELD] == str(patient_id)
    assert all(c.get(PATIENT_FIELD) for c in emulator.control.dump("contact"))


def test_contacts_made_before_patient_ids_are_adopted_and_families_stay_apart(
        clinic, client, state, emulator):
    cfg = config()
    records = records_of(clinic, cfg, 1) + records_of(clinic, cfg, 2)
    by_phone: dict[str, set] = {}
    for r in records:
        by_phone.setdefault(r.phone, set()).add((r.patient_id, r.last_name, r.name,
                                                 r.second_name))
    shared = next(v for v in by_phone.values() if len(v) >= 2)  # a family on one phone
    phone = next(r.phone for r in records if (r.patient_id, r.last_name, r.name,
                                             r.second_name) in shared)
    made = {}
    for pid, last, name, second in sorted(shared):  # the old script's contacts: no patient id
        made[pid] = client.call("crm.contact.add", {"fields": {
            "LAST_NAME": last, "NAME": name, "SECOND_NAME": second,
            "PHONE": [{"VALUE": phone, "VALUE_TYPE": "MOBILE"}]}})
    sync_all(clinic, client, state, cfg)
    contacts = emulator.control.dump("contact")
    for pid, cid in made.items():
        assert contact(emulator, cid)[cfg.patient_id_field] == str(pid)
    per_patient = Counter(c[cfg.patient_id_field] for c in contacts)
    assert max(per_patient.values()) == 1
    assert len(per_patient) == len({r.patient_id for r in records})


# -- item 3: the deal is the reception, whatever its branch ---------------------------------------

def _move_to_branch_2(clinic, reception_id):
    touch_reception(clinic, reception_id, ID_Armchairs=201)
    with clinic.begin() as conn:  # its orders follow the chair
        conn.execute(sa.update(s.Orders).where(s.Orders.c.ID_Receptions == reception_id)
                     .values(ID_OwnCompanies=2))


def test_reception_moved_to_another_branch_keeps_its_one_deal(clinic, client, state, emulator):
    cfg = config(deal_fields={**config().deal_fields, "branch": BRANCH_FIELD})
    sync_all(clinic, client, state, cfg)
    r = records_of(clinic, cfg, 1)[0]
    deal = deals_by_ident(emulator, cfg)[r.ident_id]
    count = len(emulator.control.dump("deal"))
    _move_to_branch_2(clinic, r.reception_id)
    sync_all(clinic, client, state, cfg, window=LATER)
    deals = emulator.control.dump("deal")
    assert len(deals) == count
    moved = next(d for d in deals if d["ID"] == deal["ID"])
    assert moved[cfg.ident_id_field] == f"F2_{r.reception_id}"
    assert moved[BRANCH_FIELD] == "Северная"  # IDENT's name of branch 2
    # Branch 1's deleted-reception check no longer sees it, branch 2's finds it alive.
    for b in (1, 2):
        res = reconcile_deleted(client, state.ledger, cfg, b,
                                lambda ids: existing_reception_ids(clinic, ids))
        assert res["deleted"] == 0


def test_moved_to_a_branch_with_another_pipeline_stays_in_its_pipeline(clinic, client, state,
                                                                      emulator):
    cfg = config()
    sync_all(clinic, client, state, cfg)
    r = next(x for x in records_of(clinic, cfg, 1) if x.status == "planned")
    deal = deals_by_ident(emulator, cfg)[r.ident_id]
    _move_to_branch_2(clinic, r.reception_id)
    touch_reception(clinic, r.reception_id, PatientAppeared=EDIT_AT)
    moved_cfg = config(branches=[{"id": 1, "name": "A"}, {"id": 2, "name": "B",
                                                         "category_id": 3}])
    summary = sync_window(clinic, client, state, moved_cfg, *LATER, branch_id=2)
    after = client.call("crm.deal.get", {"id": deal["ID"]})
    assert after["CATEGORY_ID"] == "0" and after["STAGE_ID"] == "PREPARATION"
    assert after[cfg.ident_id_field] == f"F2_{r.reception_id}"
    assert summary.counts["deals_kept_in_pipeline"] == 1
    assert summary.counts["deals_created"] == 0
    assert any(f"deal {deal['ID']} is in pipeline 0" in n for n in summary.notes)
    assert "PIPELINE    1 deals are in another pipeline" in format_summary(summary.to_dict())


# -- item 7: the deleted-reception check keeps the stage rules --------------------------------------

def test_deleted_check_never_moves_protected_or_final_deals(clinic, client, state, emulator):
    cfg = config(protected_stages=["PREPAYMENT_INVOICE"],
                 final_stages=["WON", "LOSE", "FINAL_INVOICE"], deleted_stage="LOSE")
    sync_window(clinic, client, state, cfg, *WIDE, branch_id=1)
    open_deals = [d for d in emulator.control.dump("deal") if d["STAGE_SEMANTIC_ID"] == "P"
                  and d[cfg.ident_id_field].startswith("F1_")]
    protected, final, plain = open_deals[:3]
    client.call("crm.deal.update", {"id": protected["ID"],
                                    "fields": {"STAGE_ID": "PREPAYMENT_INVOICE"}})
    client.call("crm.deal.update", {"id": final["ID"], "fields": {"STAGE_ID": "FINAL_INVOICE"}})
    gone = [int(d[cfg.ident_id_field][3:]) for d in (protected, final, plain)]
    with clinic.begin() as conn:
        conn.execute(sa.delete(s.Orders).where(s.Orders.c.ID_Receptions.in_(gone)))
        conn.execute(sa.delete(s.Receptions).where(s.Receptions.c.ID.in_(gone)))
    res = reconcile_deleted(client, state.ledger, cfg, 1,
                            lambda ids: existing_reception_ids(clinic, ids))
    assert res["deleted"] == 3 and res["moved"] == 1 and res["kept_by_stage_rules"] == 2
    stages = {d["ID"]: d["STAGE_ID"] for d in emulator.control.dump("deal")}
    assert stages[protected["ID"]] == "PREPAYMENT_INVOICE"
    assert stages[final["ID"]] == "FINAL_INVOICE"
    assert stages[plain["ID"]] == "LOSE"


# -- item 8: a category_id change never reopens a deal final in its own pipeline ----------------------

def test_category_change_never_reopens_and_open_deals_stay_in_their_pipeline(
        clinic, client, state, emulator):
    old = config(category_id=1)
    sync_window(clinic, client, state, old, *WIDE, branch_id=1)
    planned = [r for r in records_of(clinic, old, 1) if r.status == "planned"]
    won_r, open_r = planned[0], planned[1]
    deals = deals_by_ident(emulator, old)
    won, still_open = deals[won_r.ident_id], deals[open_r.ident_id]
    assert won["STAGE_ID"] == "C1:NEW"
    client.call("crm.deal.update", {"id": won["ID"], "fields": {"STAGE_ID": "C1:WON"}})
    for r in (won_r, open_r):  # the patients arrive: IDENT says "arrived"
        touch_reception(clinic, r.reception_id, PatientAppeared=EDIT_AT)
    new = config(category_id=2)
    summary = sync_window(clinic, client, state, new, *LATER, branch_id=1)
    assert client.call("crm.deal.get", {"id": won["ID"]})["STAGE_ID"] == "C1:WON"
    assert client.call("crm.deal.get", {"id": still_open["ID"]})["STAGE_ID"] == \
        "C1:PREPARATION"
    assert summary.counts["deals_kept_closed"] == 1
    assert summary.counts["deals_created"] == 0


# -- item 10: migration from the old script adds no noise ---------------------------------------------

def test_deals_of_the_old_script_get_no_comment_unless_changed(clinic, client, state, emulator):
    cfg = config()
    records = records_of(clinic, cfg, 1)
    same, stale = records[0], records[1]
    hashes = leave_old_script_deals(client, same, stale)
    report = state.ledger.import_hashes(hashes)
    assert report.inserted == 2
    ids = {r.ident_id: int(d) for r, d in zip((same, stale), hashes)}

    summary = sync_window(clinic, client, state, cfg, *WIDE, branch_id=1)
    per_deal = Counter(int(c["ENTITY_ID"]) for c in emulator.control.dump("comment"))
    assert per_deal[ids[same.ident_id]] == 1  # only the old script's
    assert per_deal[ids[stale.ident_id]] == 2  # changed since: ours follows
    assert summary.counts["comments_adopted_from_old_script"] == 1
    assert summary.counts["comments_posted"] == len(records) - 1
    assert len(emulator.control.dump("deal")) == len(records)  # adopted, not duplicated

    # The next change of the adopted deal is posted; nothing is posted twice.
    touch_reception(clinic, same.reception_id, PatientAppeared=EDIT_AT)
    sync_window(clinic, client, state, cfg, *LATER, branch_id=1)
    per_deal = Counter(int(c["ENTITY_ID"]) for c in emulator.control.dump("comment"))
    assert per_deal[ids[same.ident_id]] == 2


def test_emulator_never_moves_a_deal_between_pipelines(client):
    """What the wire reference says of the real portal: CATEGORY_ID is ignored on update, and
    a stage of another pipeline does not move the deal either."""
    did = client.call("crm.deal.add", {"fields": {"TITLE": "x", "CATEGORY_ID": 1,
                                                  "STAGE_ID": "C1:NEW"}})
    client.call("crm.deal.update", {"id": did, "fields": {"CATEGORY_ID": 2,
                                                          "STAGE_ID": "C2:PREPARATION"}})
    row = client.call("crm.deal.get", {"id": did})
    assert (row["CATEGORY_ID"], row["STAGE_ID"]) == ("1", "C1:NEW")
    client.call("crm.deal.update", {"id": did, "fields": {"STAGE_ID": "C1:WON"}})
    row = client.call("crm.deal.get", {"id": did})
    assert (row["STAGE_ID"], row["CLOSED"]) == ("C1:WON", "Y")


def test_setup_portal_creates_the_patient_field_and_preflight_asks_for_it(client):
    from identsync.cli.portal_setup import setup_portal
    from identsync.sync.preflight import problems

    cfg = config()
    missing = [m.key for m in problems(client, cfg)]
    assert "patient_id_field" in missing
    setup_portal(client, cfg, out=lambda _line: None)
    fields = {f["FIELD_NAME"] for f in client.call("crm.contact.userfield.list")}
    assert PATIENT_FIELD in fields
    assert problems(client, cfg) == []
