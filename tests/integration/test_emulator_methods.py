"""Each emulated REST method over real HTTP, with the real portal's quirks."""

from __future__ import annotations

from typing import Any

import requests

from b24emu.server import EmulatorServer
from tests.fixtures.emulator import rest


def ok(resp: requests.Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()["result"]


def add_contact(emu: EmulatorServer, name: str, *phones: str, **extra: Any) -> int:
    fields: dict[str, Any] = {"NAME": name, **extra}
    if phones:
        fields["PHONE"] = [{"VALUE": p, "VALUE_TYPE": "WORK"} for p in phones]
    return ok(rest(emu, "crm.contact.add", json={"fields": fields}))


def test_profile(emulator: EmulatorServer) -> None:
    body = rest(emulator, "profile").json()
    assert body["result"]["ID"] == "1" and body["result"]["ADMIN"] is True
    assert set(body["time"]) >= {"start", "finish", "duration", "processing", "date_start",
                                 "date_finish", "operating", "operating_reset_at"}


def test_wrong_token_or_user_is_401_and_unknown_method_404(emulator: EmulatorServer) -> None:
    bad_token = requests.get(emulator.base_url + "/rest/1/wrong/profile", timeout=5)
    assert bad_token.status_code == 401
    assert bad_token.json() == {"error": "NO_AUTH_FOUND",
                                "error_description": "Wrong authorization data"}
    assert requests.get(emulator.webhook_url.replace("/rest/1/", "/rest/2/") + "profile",
                        timeout=5).status_code == 401
    missing = rest(emulator, "crm.nothing.here")
    assert missing.status_code == 404 and missing.json()["error"] == "ERROR_METHOD_NOT_FOUND"
    assert rest(emulator, "profile.json").status_code == 200


def test_contact_add_get_shapes(emulator: EmulatorServer) -> None:
    cid = add_contact(emulator, "Анна", "+7 (999) 123-45-67", LAST_NAME="Иванова")
    assert isinstance(cid, int)
    got = ok(rest(emulator, "crm.contact.get", params={"id": cid}))
    assert got["ID"] == str(cid) and got["NAME"] == "Анна" and got["LAST_NAME"] == "Иванова"
    assert got["HAS_PHONE"] == "Y"
    assert got["PHONE"] == [{"ID": got["PHONE"][0]["ID"], "VALUE_TYPE": "WORK",
                             "VALUE": "+7 (999) 123-45-67", "TYPE_ID": "PHONE"}]
    assert isinstance(got["PHONE"][0]["ID"], str)
    assert got["DATE_CREATE"].endswith("+03:00") and got["DATE_MODIFY"] == got["DATE_CREATE"]
    # fast_bitrix24 sends ID upper case; the classic methods read either case
    assert ok(rest(emulator, "crm.contact.get", json={"ID": cid}))["ID"] == str(cid)


def test_form_encoded_plus_must_travel_as_2b(emulator: EmulatorServer) -> None:
    good = ok(rest(emulator, "crm.contact.add",
                   data="fields[NAME]=A&fields[PHONE][0][VALUE]=%2B79990000001"))
    raw_plus = ok(rest(emulator, "crm.contact.add",
                       data="FIELDS[NAME]=B&FIELDS[PHONE][0][VALUE]=+79990000002"))
    dump = {r["ID"]: r for r in emulator.control.dump("contact")}
    assert dump[str(good)]["PHONE"][0]["VALUE"] == "+79990000001"
    assert dump[str(raw_plus)]["PHONE"][0]["VALUE"] == " 79990000002"


def test_get_and_update_errors_are_legacy(emulator: EmulatorServer) -> None:
    missing = rest(emulator, "crm.deal.get", params={"id": 999})
    assert missing.status_code == 400
    assert missing.json() == {"error": "", "error_description": "Not found"}
    invalid = rest(emulator, "crm.contact.get", params={"id": "abc"})
    assert invalid.status_code == 400
    assert invalid.json()["error_description"] == "ID is not defined or invalid."
    upd = rest(emulator, "crm.contact.update", json={"id": 12345, "fields": {"NAME": "x"}})
    assert upd.status_code == 400 and upd.json()["error_description"] == "Not found"


def test_phone_update_appends_replaces_deletes(emulator: EmulatorServer) -> None:
    cid = add_contact(emulator, "P", "+70000000001", "+70000000002")
    phones = ok(rest(emulator, "crm.contact.get", params={"id": cid}))["PHONE"]
    first, second = phones[0]["ID"], phones[1]["ID"]
    assert ok(rest(emulator, "crm.contact.update", json={"id": cid, "fields": {"PHONE": [
        {"VALUE": "+70000000003"},
        {"ID": first, "VALUE": "+70000000009"},
        {"ID": second, "DELETE": "Y"},
    ]}})) is True
    got = ok(rest(emulator, "crm.contact.get", params={"id": cid}))
    assert [(p["ID"], p["VALUE"]) for p in got["PHONE"]] == [
        (first, "+70000000009"), (got["PHONE"][1]["ID"], "+70000000003")]
    assert got["PHONE"][1]["ID"] not in (first, second)
    assert got["DATE_MODIFY"] >= got["DATE_CREATE"]


def test_deal_add_update_defaults_and_stage(emulator: EmulatorServer) -> None:
    cid = add_contact(emulator, "C")
    did = ok(rest(emulator, "crm.deal.add", json={"FIELDS": {
        "TITLE": "Приём", "CONTACT_ID": cid, "OPPORTUNITY": 1500, "UF_CRM_IDENT_ID": "R-1"}}))
    deal = ok(rest(emulator, "crm.deal.get", params={"ID": did}))
    assert deal["STAGE_ID"] == "NEW" and deal["CATEGORY_ID"] == "0"
    assert deal["CONTACT_ID"] == str(cid) and deal["OPPORTUNITY"] == "1500.00"
    assert deal["UF_CRM_IDENT_ID"] == "R-1" and deal["STAGE_SEMANTIC_ID"] == "P"
    assert ok(rest(emulator, "crm.deal.update",
                   json={"id": did, "fields": {"STAGE_ID": "WON"}})) is True
    deal = ok(rest(emulator, "crm.deal.get", params={"id": did}))
    assert deal["STAGE_SEMANTIC_ID"] == "S" and deal["CLOSED"] == "Y"


def test_list_paging_next_total_and_start_minus_one(emulator: EmulatorServer) -> None:
    batch = {f"c{i}": f"crm.contact.add?fields[NAME]=N{i}" for i in range(50)}
    for _ in range(2):
        rest(emulator, "batch", json={"cmd": batch})
    rest(emulator, "batch", json={"cmd": dict(list(batch.items())[:20])})
    first = rest(emulator, "crm.contact.list", params={"select[]": "NAME"}).json()
    assert len(first["result"]) == 50 and first["next"] == 50 and first["total"] == 120
    assert first["result"][0] == {"ID": "1", "NAME": "N0"}
    last = rest(emulator, "crm.contact.list", params={"start": 100}).json()
    assert len(last["result"]) == 20 and "next" not in last and last["total"] == 120
    fast = rest(emulator, "crm.contact.list", json={
        "filter": {">ID": 60}, "order": {"ID": "ASC"}, "start": -1, "select": ["ID"]}).json()
    assert [r["ID"] for r in fast["result"]] == [str(i) for i in range(61, 111)]
    assert "next" not in fast and "total" not in fast


def test_select_rules_for_phone_and_uf(emulator: EmulatorServer) -> None:
    cid = add_contact(emulator, "S", "+79990000000", UF_CRM_NOTE="n")
    add_contact(emulator, "NoPhone")
    default = ok(rest(emulator, "crm.contact.list", json={"filter": {"ID": cid}}))[0]
    star = ok(rest(emulator, "crm.contact.list", json={"filter": {"ID": cid}, "select": ["*"]}))
    assert "PHONE" not in default and "UF_CRM_NOTE" not in default and default == star[0]
    explicit = ok(rest(emulator, "crm.contact.list",
                       json={"select": ["ID", "PHONE", "UF_*"], "order": {"ID": "ASC"}}))
    assert explicit[0]["PHONE"][0]["VALUE"] == "+79990000000"
    assert explicit[0]["UF_CRM_NOTE"] == "n"
    assert "PHONE" not in explicit[1]  # multi-fields only where the contact has values
    named = ok(rest(emulator, "crm.contact.list", json={"select": ["UF_CRM_NOTE", "NAME"]}))
    assert set(named[0]) == {"ID", "UF_CRM_NOTE", "NAME"}


def test_phone_filter_is_exact_string_match(emulator: EmulatorServer) -> None:
    cid = add_contact(emulator, "E", "+7 (999) 123-45-67")
    hit = ok(rest(emulator, "crm.contact.list", json={"filter": {"PHONE": "+7 (999) 123-45-67"}}))
    assert [r["ID"] for r in hit] == [str(cid)]
    assert ok(rest(emulator, "crm.contact.list", json={"filter": {"PHONE": "89991234567"}})) == []


def test_filter_prefixes_on_standard_and_uf_fields(emulator: EmulatorServer) -> None:
    cmd = {f"d{i}": (f"crm.deal.add?fields[TITLE]=Deal {i}&fields[OPPORTUNITY]={i * 100}"
                     f"&fields[UF_CRM_IDENT_ID]=R{i}&fields[CONTACT_ID]={i % 3 + 1}")
           for i in range(1, 11)}
    rest(emulator, "batch", json={"cmd": cmd})

    def ids(flt: dict[str, Any]) -> list[int]:
        return [int(r["ID"]) for r in ok(rest(emulator, "crm.deal.list", json={"filter": flt}))]

    assert ids({">=OPPORTUNITY": 800}) == [8, 9, 10]
    assert ids({"<OPPORTUNITY": 300}) == [1, 2]
    assert ids({"@ID": [2, 4, 99]}) == [2, 4]
    assert ids({"!@ID": [1, 2, 3, 4, 5, 6, 7]}) == [8, 9, 10]
    assert ids({"!CONTACT_ID": 1}) == [1, 2, 4, 5, 7, 8, 10]
    assert ids({"=UF_CRM_IDENT_ID": "R7"}) == [7]
    assert ids({"@UF_CRM_IDENT_ID": ["R3", "R5", "R77"]}) == [3, 5]
    assert ids({"%TITLE": "deal 1"}) == [1, 10]
    assert ids({"CONTACT_ID": 2, ">ID": 4}) == [7, 10]
    desc = ok(rest(emulator, "crm.deal.list", json={"order": {"OPPORTUNITY": "DESC"},
                                                     "select": ["ID"]}))
    assert [r["ID"] for r in desc][:3] == ["10", "9", "8"]
    assert ids({"NOT_A_FIELD": "x"}) == list(range(1, 11))  # unknown keys are ignored


def test_findbycomm(emulator: EmulatorServer) -> None:
    a = add_contact(emulator, "A", "+7 (999) 123-45-67")
    b = add_contact(emulator, "B", "8 999 123 45 67")
    add_contact(emulator, "C", "+7 999 000 00 00")
    res = rest(emulator, "crm.duplicate.findbycomm", json={
        "type": "PHONE", "values": ["89991234567"], "entity_type": "CONTACT"}).json()
    assert res["result"] == {"CONTACT": [a, b]}
    none = rest(emulator, "crm.duplicate.findbycomm",
                json={"type": "PHONE", "values": ["+1 555 0100"], "entity_type": "CONTACT"})
    assert none.json()["result"] == []
    # only the first 20 values are used; the 21st is ignored silently
    values = [f"+1 555 {i:04d}" for i in range(20)] + ["89991234567"]
    assert ok(rest(emulator, "crm.duplicate.findbycomm",
                   json={"type": "PHONE", "values": values, "entity_type": "CONTACT"})) == []
    assert ok(rest(emulator, "crm.duplicate.findbycomm", json={
        "type": "PHONE", "values": ["89991234567"], "entity_type": "LEAD"})) == []


def test_timeline_comment_add_and_list(emulator: EmulatorServer) -> None:
    did = ok(rest(emulator, "crm.deal.add", json={"fields": {"TITLE": "T"}}))
    cid = ok(rest(emulator, "crm.timeline.comment.add", json={"fields": {
        "ENTITY_ID": did, "ENTITY_TYPE": "deal", "COMMENT": "Визит 10:00"}}))
    assert isinstance(cid, int)
    upper = rest(emulator, "crm.timeline.comment.add", json={"FIELDS": {
        "ENTITY_ID": did, "ENTITY_TYPE": "deal", "COMMENT": "x"}})
    assert upper.status_code == 400  # this method reads lowercase `fields` only
    rows = rest(emulator, "crm.timeline.comment.list",
                json={"filter": {"ENTITY_ID": did, "ENTITY_TYPE": "deal"}}).json()
    assert rows["total"] == 1
    row = rows["result"][0]
    assert set(row) == {"ID", "ENTITY_ID", "ENTITY_TYPE", "CREATED", "COMMENT", "AUTHOR_ID",
                        "FILES"}
    assert row["ID"] == str(cid) and row["ENTITY_ID"] == str(did) and row["COMMENT"] == \
        "Визит 10:00"
    assert rest(emulator, "crm.timeline.comment.list", json={}).status_code == 400
    no_deal = rest(emulator, "crm.timeline.comment.add", json={"fields": {
        "ENTITY_ID": 999, "ENTITY_TYPE": "deal", "COMMENT": "x"}})
    assert no_deal.status_code == 400


def test_userfields_and_fields(emulator: EmulatorServer) -> None:
    uf_id = ok(rest(emulator, "crm.deal.userfield.add", json={"fields": {
        "FIELD_NAME": "ident_id", "USER_TYPE_ID": "string", "LABEL": "IDENT"}}))
    assert isinstance(uf_id, int)
    dup = rest(emulator, "crm.deal.userfield.add", json={"fields": {"FIELD_NAME": "IDENT_ID"}})
    assert dup.status_code == 400
    rows = ok(rest(emulator, "crm.deal.userfield.list", json={}))
    assert [(r["FIELD_NAME"], r["ENTITY_ID"], r["ID"]) for r in rows] == [
        ("UF_CRM_IDENT_ID", "CRM_DEAL", str(uf_id))]
    assert ok(rest(emulator, "crm.contact.userfield.list")) == []
    fields = ok(rest(emulator, "crm.deal.fields"))
    assert fields["UF_CRM_IDENT_ID"]["isDynamic"] is True
    assert fields["TITLE"]["type"] == "string" and fields["ID"]["isReadOnly"] is True
    contact_fields = ok(rest(emulator, "crm.contact.fields"))
    assert contact_fields["PHONE"]["type"] == "crm_multifield"
    assert contact_fields["PHONE"]["isMultiple"] is True


def test_status_list_deal_stages(emulator: EmulatorServer) -> None:
    rows = ok(rest(emulator, "crm.status.list", json={"filter": {"ENTITY_ID": "DEAL_STAGE"}}))
    assert [r["STATUS_ID"] for r in rows] == ["NEW", "PREPARATION", "PREPAYMENT_INVOICE",
                                              "EXECUTING", "FINAL_INVOICE", "WON", "LOSE",
                                              "APOLOGY"]
    sem = {r["STATUS_ID"]: r["SEMANTICS"] for r in rows}
    assert sem["WON"] == "S" and sem["LOSE"] == "F" and sem["APOLOGY"] == "F"
    assert sem["NEW"] is None and all(isinstance(r["SORT"], int) for r in rows)


def test_admin_stats_dump_reset(emulator: EmulatorServer) -> None:
    add_contact(emulator, "D", "+70000000000", UF_CRM_X="1")
    rest(emulator, "batch", json={"cmd": {"a": "profile", "b": "crm.contact.list"}})
    stats = emulator.control.stats()
    assert stats["by_method"] == {"crm.contact.add": 1, "batch": 1, "profile": 1,
                                  "crm.contact.list": 1}
    assert stats["http_requests"] == 2 and stats["entities"]["contact"] == 1
    dump = emulator.control.dump("contact")
    assert dump[0]["PHONE"][0]["VALUE"] == "+70000000000" and dump[0]["UF_CRM_X"] == "1"
    emulator.control.reset("stats")
    assert emulator.control.stats()["http_requests"] == 0
    assert len(emulator.control.dump("contact")) == 1
    emulator.control.reset("all")
    assert emulator.control.dump("contact") == []


def test_parallel_writes_get_unique_ids(emulator: EmulatorServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def worker(n: int) -> list[int]:
        return [ok(rest(emulator, "crm.deal.add", json={"fields": {"TITLE": f"{n}-{i}"}}))
                for i in range(25)]

    with ThreadPoolExecutor(8) as pool:
        ids = [i for chunk in pool.map(worker, range(8)) for i in chunk]
    assert sorted(ids) == list(range(1, 201))
    assert len(emulator.control.dump("deal")) == 200


def test_delete_as_a_manager_does_it(emulator: EmulatorServer) -> None:
    """crm.deal.delete / crm.contact.delete: gone from get and list (and from the phone
    search), the deal's comments with it; a deleted contact's deals stay, unlinked."""
    cid = add_contact(emulator, "Анна", "+7 (999) 555-00-11")
    keep = ok(rest(emulator, "crm.deal.add", json={"fields": {"TITLE": "a", "CONTACT_ID": cid}}))
    gone = ok(rest(emulator, "crm.deal.add", json={"fields": {"TITLE": "b", "CONTACT_ID": cid}}))
    ok(rest(emulator, "crm.timeline.comment.add", json={"fields": {
        "ENTITY_ID": gone, "ENTITY_TYPE": "deal", "COMMENT": "x"}}))
    assert ok(rest(emulator, "crm.deal.delete", json={"id": gone})) is True
    assert rest(emulator, "crm.deal.get", params={"id": gone}).json()["error_description"] \
        == "Not found"
    assert ok(rest(emulator, "crm.timeline.comment.list", json={
        "filter": {"ENTITY_ID": gone, "ENTITY_TYPE": "deal"}})) == []
    assert rest(emulator, "crm.deal.delete", json={"id": gone}).status_code == 400

    assert ok(rest(emulator, "crm.contact.delete", json={"id": cid})) is True
    assert ok(rest(emulator, "crm.contact.list", json={
        "filter": {"PHONE": "+79995550011"}})) == []
    deal = ok(rest(emulator, "crm.deal.get", params={"id": keep}))
    assert deal["CONTACT_ID"] in (None, "", "0")
    again = add_contact(emulator, "Анна", "+7 (999) 555-00-11")
    assert again > cid  # ids are never given out twice
