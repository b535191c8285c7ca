from identsync.config import SyncConfig
from identsync.records import FoundContact, FoundDeal, LookupMap, SyncRecord
from identsync.sync.plan import name_key, plan_chunk, same_value

CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "Main"}],
                            "protected_stages": ["PREPAYMENT_INVOICE"]})
IDF = CFG.ident_id_field


def rec(rid=1, phone="+79990000001", last="Иванов", name="Пётр", second="Ильич",
        stage="NEW", status="planned", start="2026-11-20T10:00:00+03:00", amount=0.0, card="K1"):
    return SyncRecord(
        ident_id=f"F1_{rid}", reception_id=rid, branch_id=1, phone=phone, name=name,
        last_name=last, second_name=second,
        contact_fields={"NAME": name, "LAST_NAME": last, "SECOND_NAME": second,
                        "TYPE_ID": "CLIENT", "UF_CRM_IDENT_CARD": card},
        deal_fields={"TITLE": f"{last} {name}", IDF: f"F1_{rid}", "UF_CRM_IDENT_START": start,
                     "OPPORTUNITY": amount, "CURRENCY_ID": "RUB"},
        stage_id=stage, status=status, comment=f"comment {rid} {status}",
    )


def contact(cid, phone="+79990000001", last="Иванов", name="Пётр", second="Ильич", card="K1"):
    return FoundContact(id=cid, name=name, last_name=last, second_name=second, phones=(phone,),
                        fields={"UF_CRM_IDENT_CARD": card})


def deal_of(r, did, stage="NEW", contact_id=10, **over):
    fields = {k: (str(v) if not isinstance(v, str) else v) for k, v in r.deal_fields.items()}
    fields.update(over)
    return FoundDeal(id=did, ident_id=r.ident_id, stage_id=stage, contact_id=contact_id,
                     fields=fields)


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
    lookup = LookupMap(contacts={r.phone: [contact(10)]}, deals={r.ident_id: deal_of(r, 100)})
    p = plan_chunk([r], lookup, CFG)
    assert p.writes == 0
    assert p.counts["deals_unchanged"] == 1 and p.counts["contacts_unchanged"] == 1
    assert p.deal_ids == {"F1_1": 100}


def test_family_member_on_same_phone_gets_own_contact():
    r = rec(1, name="Анна", second="Петровна", last="Иванова")
    lookup = LookupMap(contacts={r.phone: [contact(10)]})  # Пётр has this phone
    p = plan_chunk([r], lookup, CFG)
    assert p.counts["contacts_created"] == 1
    assert p.contacts[0].fields["NAME"] == "Анна"


def test_yo_and_case_still_match_existing_contact():
    r = rec(1, name="ПЁТР")
    lookup = LookupMap(contacts={r.phone: [contact(11, name="петр"), contact(10, name="Петр")]})
    p = plan_chunk([r], lookup, CFG)
    assert p.counts["contacts_created"] == 0
    assert p.deals[0].fields["CONTACT_ID"] == 10  # the oldest of two matches


def test_changed_field_updates_only_that_field_and_stage():
    r = rec(1, stage="EXECUTING", status="finished", amount=2000)
    lookup = LookupMap(contacts={r.phone: [contact(10)]},
                       deals={r.ident_id: deal_of(r, 100, stage="NEW", OPPORTUNITY="1500.00")})
    p = plan_chunk([r], lookup, CFG)
    assert len(p.deals) == 1
    assert p.deals[0].fields == {"OPPORTUNITY": 2000, "STAGE_ID": "EXECUTING"}


def test_final_stage_never_reopened_but_fields_kept_current():
    r = rec(1, stage="NEW", amount=10)
    lookup = LookupMap(contacts={r.phone: [contact(10)]},
                       deals={r.ident_id: deal_of(r, 100, stage="WON", OPPORTUNITY="5")})
    p = plan_chunk([r], lookup, CFG)
    assert p.deals[0].fields == {"OPPORTUNITY": 10}
    assert p.counts["deals_kept_closed"] == 1


def test_portal_semantics_final_stage_is_respected():
    r = rec(1, stage="NEW")
    lookup = LookupMap(contacts={r.phone: [contact(10)]},
                       deals={r.ident_id: deal_of(r, 100, stage="APOLOGY")},
                       final_stages=["APOLOGY"])
    p = plan_chunk([r], lookup, CFG)
    assert p.writes == 0 and p.counts["deals_kept_closed"] == 1


def test_protected_stage_kept():
    r = rec(1, stage="EXECUTING")
    lookup = LookupMap(contacts={r.phone: [contact(10)]},
                       deals={r.ident_id: deal_of(r, 100, stage="PREPAYMENT_INVOICE")})
    p = plan_chunk([r], lookup, CFG)
    assert p.writes == 0 and p.counts["deals_protected"] == 1


def test_new_phone_is_appended_to_deal_contact_never_replaced():
    r = rec(1, phone="+79990000002")
    old = contact(10, phone="+79990000001")
    lookup = LookupMap(deals={r.ident_id: deal_of(r, 100, contact_id=10)},
                       deal_contacts={10: old})
    p = plan_chunk([r], lookup, CFG)
    assert p.counts["contacts_created"] == 0
    (upd,) = p.contacts
    assert upd.kind == "update" and upd.contact_id == 10
    assert upd.fields["PHONE"] == [{"VALUE": "+79990000002", "VALUE_TYPE": "MOBILE"}]
    assert all("ID" not in item for item in upd.fields["PHONE"])


def test_contact_uf_updated_but_empty_source_never_blanks():
    r = rec(1, card="K2")
    lookup = LookupMap(contacts={r.phone: [contact(10, card="K1")]},
                       deals={r.ident_id: deal_of(r, 100)})
    p = plan_chunk([r], lookup, CFG)
    assert p.contacts[0].fields == {"UF_CRM_IDENT_CARD": "K2"}
    r2 = rec(1, card="")
    p2 = plan_chunk([r2], LookupMap(contacts={r.phone: [contact(10, card="K1")]},
                                    deals={r.ident_id: deal_of(r2, 100)}), CFG)
    assert p2.writes == 0


def test_deal_without_contact_gets_linked():
    r = rec(1)
    lookup = LookupMap(deals={r.ident_id: deal_of(r, 100, contact_id=None)})
    p = plan_chunk([r], lookup, CFG)
    cmds = p.commands()
    (upd,) = [c for c in cmds.values() if c[0] == "crm.deal.update"]
    assert upd[1]["fields"]["CONTACT_ID"] == "$result[c0]"


def test_lookup_map_round_trips_json():
    import json

    r = rec(1)
    lm = LookupMap(contacts={r.phone: [contact(10)]}, deals={r.ident_id: deal_of(r, 100)},
                   duplicate_deals={"F1_1": [101]}, deal_contacts={10: contact(10)},
                   final_stages=["WON"], requests=1)
    again = LookupMap.from_dict(json.loads(json.dumps(lm.to_dict())))
    assert again == lm
