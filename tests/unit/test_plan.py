from identsync.config import SyncConfig
from identsync.records import LookupMap, SyncRecord
from identsync.sync.lookup import index_lookup
from identsync.sync.plan import name_key, plan_chunk, same_value

CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "Main"}],
                            "protected_stages": ["PREPAYMENT_INVOICE"]})
IDF = CFG.ident_id_field


def rec(rid=1, phone="+79990000001", last="Иванов", name="Пётр", second="Ильич",
        stage="NEW", status="planned", start="2026-11-20T10:00:00+03:00", amount=0.0, card="K1",
        patient=None):
    return SyncRecord(
        ident_id=f"F1_{rid}", reception_id=rid, branch_id=1, phone=phone, name=name,
        last_name=last, second_name=second,
        contact_fields={"NAME": name, "LAST_NAME": last, "SECOND_NAME": second,
                        "TYPE_ID": "CLIENT", "UF_CRM_IDENT_CARD": card},
        deal_fields={"TITLE": f"{last} {name}", IDF: f"F1_{rid}", "UF_CRM_IDENT_START": start,
                     "OPPORTUNITY": amount, "CURRENCY_ID": "RUB"},
        stage_id=stage, status=status, comment=f"comment {rid} {status}", patient_id=patient,
    )


KEY = b"test-key"


def crow(cid, phone="+79990000001", last="Иванов", name="Пётр", second="Ильич", card="K1",
         patient=None):
    """A contact row as crm.contact.list returns it."""
    return {"ID": str(cid), "NAME": name, "LAST_NAME": last, "SECOND_NAME": second,
            "PHONE": [{"ID": "1", "VALUE_TYPE": "MOBILE", "VALUE": phone, "TYPE_ID": "PHONE"}],
            "UF_CRM_IDENT_CARD": card, "UF_CRM_IDENT_PATIENT_ID": patient}


def drow(r, did, stage="NEW", contact_id=10, category=0, semantic="", key=None, **over):
    """A deal row as crm.deal.list returns it (values as strings, like the portal's)."""
    row = {k: (str(v) if not isinstance(v, str) else v) for k, v in r.deal_fields.items()}
    row.update(over)
    if key is not None:
        row[IDF] = key
    row.update({"ID": str(did), "STAGE_ID": stage, "CONTACT_ID": contact_id,
                "CATEGORY_ID": str(category), "STAGE_SEMANTIC_ID": semantic})
    return row


def look(records, contacts=(), patients=(), deals=(), deal_contacts=(), finals=(), cfg=CFG):
    return index_lookup(records, cfg, KEY, phone_rows=contacts, patient_rows=patients,
                        deal_rows=deals, deal_contact_rows=deal_contacts, final_stages=finals)


def test_name_key_ignores_case_spaces_and_yo():
    assert name_key(" ИВАНОВ ", "пётр", "Ильич") == name_key("Иванов", "Петр  ", "ильич")
    assert name_key("Иванов", "Пётр", None) != name_key("Иванова", "Пётр", None)


def test_same_value_by_value_not_spelling():
    assert same_value(1500.0, "1500.00")
    assert same_value("2026-11-20T10:00:00+03:00", "2026-11-20T07:00:00+00:00")
    assert not same_value("2026-11-20T10:00:00+03:00", "2026-11-20T10:00:00+00:00")
    assert same_value(None, "")
    assert not same_value("x", None)


def test_all_new_creates_contact_once_per_person_and_links_deals():
    a1, a2 = rec(1), rec(2)  # same person, two receptions
    b = rec(3, name="Анна", second="Петровна", last="Иванова")  # family member, same phone
    p = plan_chunk([a1, a2, b], LookupMap(), CFG)
    assert p.counts["contacts_created"] == 2
    assert p.counts["deals_created"] == 3
    cmds = p.commands()
    assert [m for m, _ in cmds.values()].count("crm.contact.add") == 2
    deal_contacts = [params["fields"]["CONTACT_ID"] for m, params in cmds.values()
                     if m == "crm.deal.add"]
    assert deal_contacts == ["$result[c0]", "$result[c0]", "$result[c1]"]
    phone = cmds["c0"][1]["fields"]["PHONE"]
    assert phone == [{"VALUE": "+79990000001", "VALUE_TYPE": "MOBILE"}]


def test_resync_unchanged_writes_nothing():
    r = rec(1, amount=1500.0)
    lookup = look([r], contacts=[crow(10)], deals=[drow(r, 100)])
    p = plan_chunk([r], lookup, CFG)
    assert p.writes == 0
    assert p.counts["deals_unchanged"] == 1 and p.counts["contacts_unchanged"] == 1
    assert p.deal_ids == {"F1_1": 100}


def test_family_member_on_same_phone_gets_own_contact():
    r = rec(1, name="Анна", second="Петровна", last="Иванова")
    lookup = look([r], contacts=[crow(10)])  # Пётр has this phone
    p = plan_chunk([r], lookup, CFG)
    assert p.counts["contacts_created"] == 1
    assert p.contacts[0].fields["NAME"] == "Анна"


def test_yo_and_case_still_match_existing_contact():
    r = rec(1, name="ПЁТР")
    lookup = look([r], contacts=[crow(11, name="петр"), crow(10, name="Петр")])
    p = plan_chunk([r], lookup, CFG)
    assert p.counts["contacts_created"] == 0
    assert p.deals[0].fields["CONTACT_ID"] == 10  # the oldest of two matches


def test_changed_field_updates_only_that_field_and_stage():
    r = rec(1, stage="EXECUTING", status="finished", amount=2000)
    lookup = look([r], contacts=[crow(10)],
                  deals=[drow(r, 100, stage="NEW", OPPORTUNITY="1500.00")])
    p = plan_chunk([r], lookup, CFG)
    assert len(p.deals) == 1
    assert p.deals[0].fields == {"OPPORTUNITY": 2000, "STAGE_ID": "EXECUTING"}


def test_final_stage_never_reopened_but_fields_kept_current():
    r = rec(1, stage="NEW", amount=10)
    lookup = look([r], contacts=[crow(10)], deals=[drow(r, 100, stage="WON", OPPORTUNITY="5")])
    p = plan_chunk([r], lookup, CFG)
    assert p.deals[0].fields == {"OPPORTUNITY": 10}
    assert p.counts["deals_kept_closed"] == 1


def test_portal_semantics_final_stage_is_respected():
    r = rec(1, stage="NEW")
    lookup = look([r], contacts=[crow(10)], deals=[drow(r, 100, stage="APOLOGY")],
                  finals=["APOLOGY"])
    p = plan_chunk([r], lookup, CFG)
    assert p.writes == 0 and p.counts["deals_kept_closed"] == 1


def test_protected_stage_kept():
    r = rec(1, stage="EXECUTING")
    lookup = look([r], contacts=[crow(10)], deals=[drow(r, 100, stage="PREPAYMENT_INVOICE")])
    p = plan_chunk([r], lookup, CFG)
    assert p.writes == 0 and p.counts["deals_protected"] == 1


def test_new_phone_is_appended_to_deal_contact_never_replaced():
    r = rec(1, phone="+79990000002")
    lookup = look([r], deals=[drow(r, 100, contact_id=10)],
                  deal_contacts=[crow(10, phone="+79990000001")])
    p = plan_chunk([r], lookup, CFG)
    assert p.counts["contacts_created"] == 0
    (upd,) = p.contacts
    assert upd.kind == "update" and upd.contact_id == 10
    assert upd.fields["PHONE"] == [{"VALUE": "+79990000002", "VALUE_TYPE": "MOBILE"}]
    assert all("ID" not in item for item in upd.fields["PHONE"])


def test_contact_uf_updated_but_empty_source_never_blanks():
    r = rec(1, card="K2")
    lookup = look([r], contacts=[crow(10, card="K1")], deals=[drow(r, 100)])
    p = plan_chunk([r], lookup, CFG)
    assert p.contacts[0].fields == {"UF_CRM_IDENT_CARD": "K2"}
    r2 = rec(1, card="")
    p2 = plan_chunk([r2], look([r2], contacts=[crow(10, card="K1")], deals=[drow(r2, 100)]),
                    CFG)
    assert p2.writes == 0


def test_deal_without_contact_gets_linked():
    r = rec(1)
    lookup = look([r], deals=[drow(r, 100, contact_id=None)])
    p = plan_chunk([r], lookup, CFG)
    cmds = p.commands()
    (upd,) = [c for c in cmds.values() if c[0] == "crm.deal.update"]
    assert upd[1]["fields"]["CONTACT_ID"] == "$result[c0]"


def test_lookup_map_round_trips_json_and_holds_no_personal_data():
    import json

    r = rec(1, patient=7)
    lm = look([r], contacts=[crow(10)], patients=[crow(10, patient="7")],
              deals=[drow(r, 100, semantic="P")], deal_contacts=[crow(11, phone="+79990000009")],
              finals=["WON"])
    lm.duplicate_deals = {"F1_1": [101]}
    lm.requests = 1
    text = json.dumps(lm.to_dict(), ensure_ascii=False)
    again = LookupMap.from_dict(json.loads(text), key=KEY)
    assert again == lm
    for secret in ("Иванов", "Пётр", "Ильич", "+79990000001", "79990000001", "9990000009",
                   "K1", "2026-11-20"):
        assert secret not in text, secret
    assert plan_chunk([r], again, CFG).writes == 0


# -- identity: the contact is the patient, the deal is the reception -------------------------

def test_contact_found_by_patient_id_gets_corrected_name_and_new_phone():
    r = rec(1, last="Петрова", name="Анна", second="", phone="+79990000002", patient=7)
    old = crow(10, last="Иванова", name="Анна", second="", patient="7")  # name before marriage
    p = plan_chunk([r], look([r], patients=[old]), CFG)
    assert p.counts["contacts_created"] == 0
    (upd,) = p.contacts
    assert upd.contact_id == 10
    assert upd.fields["LAST_NAME"] == "Петрова"
    assert upd.fields["PHONE"] == [{"VALUE": "+79990000002", "VALUE_TYPE": "MOBILE"}]
    assert "UF_CRM_IDENT_PATIENT_ID" not in upd.fields  # already hers


def test_unclaimed_contact_is_adopted_by_phone_and_name_and_gets_the_patient_id():
    r = rec(1, patient=7)
    p = plan_chunk([r], look([r], contacts=[crow(10)]), CFG)
    (upd,) = p.contacts
    assert upd.contact_id == 10 and upd.fields == {"UF_CRM_IDENT_PATIENT_ID": "7"}
    assert p.deals[0].fields["CONTACT_ID"] == 10


def test_contact_of_another_patient_is_never_taken_and_new_ones_carry_the_id():
    r = rec(1, patient=7)  # same name and phone as patient 8's contact (namesakes)
    p = plan_chunk([r], look([r], contacts=[crow(10, patient="8")]), CFG)
    assert p.counts["contacts_created"] == 1
    assert p.contacts[0].fields["UF_CRM_IDENT_PATIENT_ID"] == "7"


def test_family_on_one_phone_stays_separate_with_patient_ids():
    a = rec(1, patient=7)
    b = rec(2, last="Иванова", name="Анна", second="Петровна", patient=8)
    p = plan_chunk([a, b], look([a, b], contacts=[crow(10), crow(11, last="Иванова",
                                                               name="Анна", second="Петровна")]),
                   CFG)
    assert {c.contact_id: c.fields["UF_CRM_IDENT_PATIENT_ID"] for c in p.contacts} == \
        {10: "7", 11: "8"}
    # Two records of namesakes without a patient contact: the second does not take the first's.
    c1, c2 = rec(3, patient=20), rec(4, patient=21)
    p2 = plan_chunk([c1, c2], look([c1, c2], contacts=[crow(12)]), CFG)
    assert p2.counts["contacts_created"] == 1 and p2.counts["contacts_updated"] == 1


def test_deal_under_another_branch_key_is_adopted_and_rekeyed():
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]})
    r = rec(5, patient=7)  # F1_5 now
    lookup = look([r], contacts=[crow(10, patient="7")], deals=[drow(r, 100, key="F2_5")],
                  cfg=cfg)
    p = plan_chunk([r], lookup, cfg)
    assert p.counts["deals_created"] == 0
    (upd,) = p.deals
    assert upd.deal_id == 100 and upd.fields == {IDF: "F1_5"}


def test_deal_in_another_pipeline_stays_there_and_follows_in_its_own_stages():
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A", "category_id": 2}]})
    r = rec(1, stage="C2:EXECUTING", status="finished", patient=7)
    lookup = look([r], patients=[crow(10, patient="7")],
                  deals=[drow(r, 100, stage="C1:NEW", category=1, semantic="P")], cfg=cfg)
    p = plan_chunk([r], lookup, cfg)
    (upd,) = p.deals
    assert upd.fields == {"STAGE_ID": "C1:EXECUTING"}
    assert p.counts["deals_kept_in_pipeline"] == 1
    assert any("pipeline 1" in n for n in p.notes)


def test_final_in_its_own_pipeline_is_never_reopened_after_category_change():
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}], "category_id": 2})
    r = rec(1, stage="C2:NEW", patient=7)
    for stage, sem in (("C1:WON", "S"), ("C1:LOSE", "F"), ("C1:WON", "")):
        lookup = look([r], patients=[crow(10, patient="7")],
                      deals=[drow(r, 100, stage=stage, category=1, semantic=sem)], cfg=cfg)
        p = plan_chunk([r], lookup, cfg)
        assert all("STAGE_ID" not in d.fields for d in p.deals), stage
        assert p.counts["deals_kept_closed"] == 1
