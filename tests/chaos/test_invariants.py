"""The invariants checker itself: a perfect portal passes, each kind of damage is caught.

No HTTP and no PostgreSQL: the "portal" is built from the transform's own records.
"""

from __future__ import annotations

import copy

import pytest

from identsync.state.ledger import comment_hash
from tests.chaos import harness as h
from tools.invariants import check, source_outcomes


@pytest.fixture(scope="module")
def perfect(tmp_path_factory):
    from identsync.config import SyncConfig

    cfg = SyncConfig.from_file(h.DEFAULT_CONFIG)
    engine = h.make_clinic(tmp_path_factory.mktemp("inv") / "ident.sqlite3", seed=4,
                           receptions=40, days=1, start=h.START, now=h.generation_now(h.START))
    records, rejections = source_outcomes(engine, cfg)
    contacts, deals, comments, ids = [], [], [], {}
    for r in records:
        person = r.patient_id  # a contact is the IDENT patient
        if person not in ids:
            ids[person] = len(contacts) + 1
            contacts.append({"ID": str(ids[person]), "NAME": r.name, "LAST_NAME": r.last_name,
                             "SECOND_NAME": r.second_name, cfg.patient_id_field: str(person),
                             "PHONE": [{"VALUE": r.phone, "VALUE_TYPE": "MOBILE"}]})
        deal_id = len(deals) + 1
        deals.append({"ID": str(deal_id), "STAGE_ID": r.stage_id,
                      "CONTACT_ID": str(ids[person]), **r.deal_fields})
        comments.append({"ID": str(deal_id), "ENTITY_ID": str(deal_id), "ENTITY_TYPE": "deal",
                         "COMMENT": r.comment})
    ledger = {int(x["ENTITY_ID"]): {"posted_hash": comment_hash(x["COMMENT"]),
                                    "pending_hash": None} for x in comments}
    dump = {"deal": deals, "contact": contacts, "comment": comments}
    return engine, cfg, dump, [rj.to_dict() for rj in rejections], ledger


def run(perfect, mutate=None, rejections=None, ledger=None):
    engine, cfg, dump, rj, led = perfect
    dump, led = copy.deepcopy(dump), copy.deepcopy(led)
    if mutate:
        mutate(dump, led)
    return check(engine, cfg, dump, rj if rejections is None else rejections,
                 ledger_rows=led if ledger is None else ledger)


def test_a_perfect_portal_holds(perfect):
    report = run(perfect)
    assert report.held, report.table()
    assert report.synced == len(perfect[2]["deal"]) > 0


def _dup_deal(dump, _):
    dump["deal"].append({**dump["deal"][0], "ID": "9001"})


def _dup_contact(dump, _):
    dump["contact"].append({**dump["contact"][0], "ID": "9001"})


def _stale_field(dump, _):
    dump["deal"][1]["UF_CRM_IDENT_DOCTOR"] = "кто-то другой"


def _reopened_stage(dump, _):
    dump["deal"][2]["STAGE_ID"] = "NEW" if dump["deal"][2]["STAGE_ID"] != "NEW" else "PREPARATION"


def _comment_twice(dump, _):
    dump["comment"].append({**dump["comment"][0], "ID": "9001"})


def _comment_missing(dump, led):
    dump["comment"].pop(3)


def _deal_missing(dump, _):
    dump["deal"].pop(4)


def _ledger_pending(_, led):
    next(iter(led.values()))["pending_hash"] = "0" * 32


@pytest.mark.parametrize("damage, broken", [
    (_dup_deal, "one_deal_per_reception"),
    (_dup_contact, "one_contact_per_person"),
    (_stale_field, "deal_fields_current"),
    (_reopened_stage, "deal_fields_current"),
    (_comment_twice, "comments_exactly_once"),
    (_comment_missing, "comments_exactly_once"),
    (_deal_missing, "every_record_accounted"),
    (_ledger_pending, "ledger_matches_portal"),
])
def test_each_kind_of_damage_is_caught(perfect, damage, broken):
    report = run(perfect, damage)
    assert broken in report.failed(), report.table()


def test_a_final_stage_may_differ(perfect):
    def close(dump, _):
        dump["deal"][5]["STAGE_ID"] = "LOSE"
    assert run(perfect, close).by_name()["deal_fields_current"].held


def test_a_missing_rejection_is_caught(perfect, tmp_path):
    import sqlalchemy as sa

    _, cfg, dump, _, led = perfect
    engine = h.make_clinic(tmp_path / "ident.sqlite3", seed=4, receptions=40, days=1,
                           start=h.START, now=h.generation_now(h.START))
    with engine.begin() as conn:  # one patient loses their phone: must now be rejected
        conn.execute(sa.text('UPDATE "Persons" SET "MobilePhone" = NULL WHERE "ID" = '
                             '(SELECT "ID_Patients" FROM "Receptions" ORDER BY "ID" LIMIT 1)'))
    report = check(engine, cfg, dump, [], ledger_rows=led)
    assert "every_record_accounted" in report.failed()
    assert any("no rejection was recorded" in e
               for e in report.by_name()["every_record_accounted"].examples)
