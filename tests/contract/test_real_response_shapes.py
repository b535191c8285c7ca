"""Emulator responses vs responses captured from real portals (bitrix24-real-responses/).

Every captured file is covered: methods we emulate are compared directly; lead/task/user
captures are compared through the analogous deal method (the generic envelope and the field
types both share); for crm.item.*, tasks.task.add and user.fields (not emulated) only the
generic envelope and the time block are compared.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from b24emu.server import EmulatorServer
from tests.contract.shapes import (
    batch_shape,
    common_types,
    keyless,
    load_real,
    shape,
    strip_operating_reset,
)
from tests.fixtures.emulator import rest


def body(resp: requests.Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def batch(emu: EmulatorServer, cmd: dict[str, str], halt: int = 0) -> Any:
    return body(rest(emu, "batch", json={"halt": halt, "cmd": cmd}))


def add_deals(emu: EmulatorServer, n: int) -> list[int]:
    ids: list[int] = []
    while len(ids) < n:
        chunk = min(50, n - len(ids))
        res = batch(emu, {f"d{i}": f"crm.deal.add?fields[TITLE]=Deal {i}" for i in range(chunk)})
        ids.extend(res["result"]["result"].values())
    return ids


def test_batch_list_empty(emulator: EmulatorServer) -> None:
    real = strip_operating_reset(load_real("batch_list_empty.json")["response"])
    emu = strip_operating_reset(batch(emulator, {"order0000000000": "crm.deal.list?filter[ID]=0"}))
    assert shape(emu) == shape(real)


def test_crm_contact_add_batch(emulator: EmulatorServer) -> None:
    # A 2024 capture: its time blocks carry operating_reset_at, so compare unstripped.
    real = load_real("crm_contact_add_batch.json")["response"]
    emu = batch(emulator, {"order0000000000": "crm.contact.add?fields[NAME]=A"})
    assert shape(emu) == shape(real)


def test_call_batch_status_lists(emulator: EmulatorServer) -> None:
    # Lead statuses/sources in the capture; the emulator has deal stages: same method.
    # This capture's time blocks have no `operating` at all.
    real = load_real("call_batch.json")["response"]
    emu = batch(emulator, {k: "crm.status.list?filter[ENTITY_ID]=DEAL_STAGE"
                           for k in ("statuses", "sources")})
    assert emu["result"]["result_total"] == []
    no_operating = ("operating_reset_at", "operating")
    real_parts = batch_shape(strip_operating_reset(real["result"], no_operating))
    emu_parts = batch_shape(strip_operating_reset(emu["result"], no_operating))
    for part in ("result_error", "result_total", "result_next", "result_time"):
        assert emu_parts[part] == real_parts[part], part
    real_row = real["result"]["result"]["statuses"][0]
    emu_row = emu["result"]["result"]["statuses"][0]
    assert {k: shape(v) for k, v in real_row.items()} == {k: shape(emu_row[k]) for k in real_row}


def test_crm_dealcategory_stage_list(emulator: EmulatorServer) -> None:
    captured = load_real("crm_dealcategory_stage_list.json")
    real = captured["response"]
    emu = batch(emulator, captured["request"]["params"]["cmd"])
    # keys 2,4,8,0 are not 0..n-1 in order: PHP keeps a map
    assert list(emu["result"]["result"]) == list(real["result"]["result"]) == ["2", "4", "8",
                                                                              "0"]
    assert shape(emu["result"]["result"]["0"]) == shape(real["result"]["result"]["0"])
    assert [r["STATUS_ID"] for r in emu["result"]["result"]["0"]][-3:] == ["WON", "LOSE",
                                                                          "APOLOGY"]
    for part in ("result_error", "result_total", "result_next"):
        assert emu["result"][part] == real["result"][part] == []
    assert shape(emu["result"]["result_time"]["0"]) == shape(real["result"]["result_time"]["0"])
    assert set(emu) == set(real) and shape(emu["time"]) == shape(real["time"])
    # crm.status.list rows carry the same three fields with the same types
    stages = body(rest(emulator, "crm.status.list", json={"filter": {"ENTITY_ID": "DEAL_STAGE"}}))
    real_row = real["result"]["result"]["0"][0]
    assert {k: shape(stages["result"][0][k]) for k in real_row} == shape(real_row)


def test_crm_get_batch_of_two_error(emulator: EmulatorServer) -> None:
    real = strip_operating_reset(load_real("crm_get_batch_of_two_error.json")["response"])
    emu = strip_operating_reset(batch(emulator, {"0": "crm.deal.get?id=",
                                                 "1": "crm.deal.get?id=9"}))
    assert shape(emu) == shape(real)
    assert emu["result"]["result_error"] == real["result"]["result_error"]


def test_crm_lead_get_batch_error(emulator: EmulatorServer) -> None:
    # crm.lead.get in the capture; crm.deal.get answers the same legacy error.
    real = strip_operating_reset(load_real("crm_lead_get_batch_error.json")["response"])
    emu = strip_operating_reset(batch(emulator, {"0": "crm.deal.get?ID=abc"}))
    assert shape(emu) == shape(real)
    assert emu["result"]["result_error"] == real["result"]["result_error"]


def test_crm_get_batch_mix_success_and_errors(emulator: EmulatorServer) -> None:
    real = strip_operating_reset(load_real("crm_get_batch_mix_success_and_errors.json")[
        "response"])
    (deal_id,) = add_deals(emulator, 1)
    emu = strip_operating_reset(batch(emulator, {
        "0": "crm.deal.get?id=", "1": "crm.deal.get?id=999999",
        "35943": f"crm.deal.get?id={deal_id}"}))
    assert emu["result"]["result_error"] == real["result"]["result_error"]
    assert isinstance(emu["result"]["result"], dict)  # key "35943" alone is not a list
    assert batch_shape(emu["result"])["result_time"] == batch_shape(real["result"])[
        "result_time"]
    real_row = real["result"]["result"]["35943"]
    assert {k: shape(emu["result"]["result"]["35943"][k]) for k in real_row} == shape(real_row)
    assert emu["result"]["result_total"] == emu["result"]["result_next"] == []


def test_call_several_success(emulator: EmulatorServer) -> None:
    # Three crm.lead.get in the capture; three crm.deal.get here.
    real = strip_operating_reset(load_real("call_several_success.json")["response"])
    ids = add_deals(emulator, 3)
    emu = strip_operating_reset(batch(emulator, {f"order{i}": f"crm.deal.get?id={d}"
                                                 for i, d in enumerate(ids)}))
    real_parts, emu_parts = batch_shape(real["result"]), batch_shape(emu["result"])
    assert {p: v for p, v in emu_parts.items() if p != "result"} == {
        p: v for p, v in real_parts.items() if p != "result"}
    for key, row in real["result"]["result"].items():
        assert {k: shape(v) for k, v in row.items()} == {
            k: shape(emu["result"]["result"][key][k]) for k in row}
    assert shape(emu["time"]) == shape(real["time"])


def test_call_single_success_field_types(emulator: EmulatorServer) -> None:
    # A full crm.lead.get; the fields leads and deals share must have the same JSON types.
    real = strip_operating_reset(load_real("call_single_success.json")["response"])
    (deal_id,) = add_deals(emulator, 1)
    rest(emulator, "crm.deal.update", json={"id": deal_id, "fields": {"COMMENTS": "c",
                                                                      "OPPORTUNITY": 10}})
    emu = strip_operating_reset(batch(emulator, {"order0": f"crm.deal.get?id={deal_id}"}))
    both = common_types(real["result"]["result"]["order0"], emu["result"]["result"]["order0"])
    assert len(both) >= 12, sorted(both)
    assert {k: r for k, (r, _e) in both.items()} == {k: e for k, (_r, e) in both.items()}
    assert batch_shape(emu["result"])["result_time"] == batch_shape(real["result"])[
        "result_time"]


def test_crm_lead_list_one_page_success(emulator: EmulatorServer) -> None:
    real = strip_operating_reset(load_real("crm_lead_list_one_page_success.json")["response"])
    add_deals(emulator, 39)
    emu = strip_operating_reset(body(rest(emulator, "crm.deal.list",
                                          json={"select": ["ID", "TITLE"]})))
    assert shape(emu) == shape(real)
    assert emu["total"] == real["total"] == len(emu["result"])


def test_crm_lead_list_several_pages_success(emulator: EmulatorServer) -> None:
    pages = strip_operating_reset(load_real("crm_lead_list_several_pages_success.json")[
        "response"])
    add_deals(emulator, 160)
    first = strip_operating_reset(body(rest(emulator, "crm.deal.list",
                                            json={"select": ["ID", "TITLE"], "start": 0})))
    assert shape(first) == shape(pages[0])
    emu = strip_operating_reset(batch(emulator, {
        f"cmd{i}": f"crm.deal.list?select[]=ID&select[]=TITLE&start={50 * (i + 1)}"
        for i in range(2)}))
    assert batch_shape(emu["result"]) == batch_shape(pages[1]["result"])
    assert emu["result"]["result_next"] == {"cmd0": 100, "cmd1": 150}
    assert emu["result"]["result_total"] == {"cmd0": 160, "cmd1": 160}
    assert shape(emu["time"]) == shape(pages[1]["time"])


def test_crm_lead_fields_success(emulator: EmulatorServer) -> None:
    # crm.lead.fields in the capture; crm.deal.fields here (shared fields and a string UF).
    real = load_real("crm_lead_fields_success.json")["response"]["result"]
    rest(emulator, "crm.deal.userfield.add", json={"fields": {"FIELD_NAME": "METRO",
                                                               "USER_TYPE_ID": "string",
                                                               "LABEL": "Метро"}})
    emu = body(rest(emulator, "crm.deal.fields"))["result"]
    shared = [k for k in real if k in emu and not k.startswith("UF_")]
    assert len(shared) >= 25
    for name in shared:
        if name == "COMPANY_ID":
            continue  # the capture's crm_company carries `settings`; not emulated
        assert shape(emu[name]) == shape(real[name]), name
        assert emu[name]["type"] == real[name]["type"], name
    assert shape(emu["UF_CRM_METRO"]) == shape(real["UF_CRM_1594289616952"])


def test_crm_item_add_generic_batch_envelope(emulator: EmulatorServer) -> None:
    # crm.item.add (smart-process item API) is not emulated: compare the batch envelope of
    # an analogous crm.deal.add only. This capture's time blocks lack `operating`.
    real = load_real("crm_item_add.json")["response"]
    emu = batch(emulator, {"order0000000000": "crm.deal.add?fields[TITLE]=x"})
    no_operating = ("operating_reset_at", "operating")
    real_parts = batch_shape(strip_operating_reset(real["result"], no_operating))
    emu_parts = batch_shape(strip_operating_reset(emu["result"], no_operating))
    assert {p: v for p, v in emu_parts.items() if p != "result"} == {
        p: v for p, v in real_parts.items() if p != "result"}
    assert shape(strip_operating_reset(emu["time"], no_operating)) == shape(real["time"])


@pytest.mark.parametrize(("name", "method", "strip"), [
    # crm.item.list (camelCase item API) is not emulated: the single-page list envelope only
    ("crm_item_list.json", "crm.deal.list", ("operating_reset_at", "operating")),
    # tasks.task.add is not emulated: the direct-call envelope of a write only
    ("single_add.json", "crm.deal.add", ("operating_reset_at", "operating")),
    # user.fields is not emulated: the direct-call envelope of a read only
    ("user_fields.json", "crm.deal.fields", ("operating_reset_at",)),
])
def test_generic_envelope_of_methods_not_emulated(emulator: EmulatorServer, name: str,
                                                  method: str, strip: tuple[str, ...]) -> None:
    real = load_real(name)["response"]
    add_deals(emulator, 3)
    emu = body(rest(emulator, method, json={"fields": {"TITLE": "x"}}))
    assert list(emu) == list(real)
    assert shape(strip_operating_reset(emu["time"], strip)) == shape(real["time"])


def test_keyless_helper_collapses_command_keys() -> None:
    assert keyless({"a": 1, "b": 2}) == {"<map>": "number"} and keyless([]) == []
