"""batch over real HTTP: the 50-command cap, halt, references and PHP JSON shapes."""

from __future__ import annotations

from typing import Any

import pytest

from b24emu.server import EmulatorServer
from tests.fixtures.emulator import rest


def batch(emu: EmulatorServer, cmd: Any, halt: Any = 0, form: bool = False) -> dict[str, Any]:
    if form:
        data = {"halt": halt, **{f"cmd[{k}]": v for k, v in cmd.items()}}
        resp = rest(emu, "batch", data=data)
    else:
        resp = rest(emu, "batch", json={"halt": halt, "cmd": cmd})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"result", "time"}
    assert set(body["result"]) == {"result", "result_error", "result_total", "result_next",
                                   "result_time"}
    return body["result"]


def test_60_commands_give_50_results_and_10_length_errors(emulator: EmulatorServer) -> None:
    cmd = {f"k{i:02d}": f"crm.contact.add?fields[NAME]=N{i}" for i in range(60)}
    res = batch(emulator, cmd)
    assert list(res["result"]) == [f"k{i:02d}" for i in range(50)]
    assert list(res["result_error"]) == [f"k{i:02d}" for i in range(50, 60)]
    assert all(e == {"error": "ERROR_BATCH_LENGTH_EXCEEDED",
                     "error_description": "Max batch length exceeded"}
               for e in res["result_error"].values())
    assert len(emulator.control.dump("contact")) == 50


@pytest.mark.parametrize(("halt", "stops"), [("false", True), ("1", True), (1, True),
                                             ("0", False), ("", False), (0, False)])
def test_halt_is_php_cast_to_bool(emulator: EmulatorServer, halt: Any, stops: bool) -> None:
    cmd = {"a": "crm.deal.get?id=999", "b": "profile"}
    res = batch(emulator, cmd, halt=halt, form=isinstance(halt, str))
    assert list(res["result_error"]) == ["a"]
    assert ("b" in res["result"]) is not stops


def test_nested_batch_is_refused(emulator: EmulatorServer) -> None:
    res = batch(emulator, {"inner": "batch?cmd[x]=profile", "ok": "profile"})
    assert res["result_error"]["inner"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"
    assert "ok" in res["result"]


def test_references_raw_value_and_string_replacement(emulator: EmulatorServer) -> None:
    for phone in ("+79990000001", "89990000001"):
        rest(emulator, "crm.contact.add", json={"fields": {"NAME": "X", "PHONE": [
            {"VALUE": phone}]}})
    res = batch(emulator, {
        "dup": "crm.duplicate.findbycomm?type=PHONE&values[]=%2B7 999 000 00 01"
               "&entity_type=CONTACT",
        # a parameter that is exactly a reference receives the raw array
        "list": "crm.contact.list?filter[ID]=$result[dup][CONTACT]&select[]=ID",
        "deal": "crm.deal.add?fields[TITLE]=For $result[dup][CONTACT][1]"
                "&fields[CONTACT_ID]=$result[dup][CONTACT][0]",
        "get": "crm.deal.get?id=$result[deal]",
        "pg": "crm.contact.list?start=0",
        "nx": "crm.deal.add?fields[TITLE]=total=$total[pg] next=$next[pg] arr=$result[dup]",
    })
    assert res["result"]["dup"] == {"CONTACT": [1, 2]}
    assert [r["ID"] for r in res["result"]["list"]] == ["1", "2"]
    assert res["result"]["get"]["TITLE"] == "For 2"
    assert res["result"]["get"]["CONTACT_ID"] == "1"
    assert res["result_total"]["list"] == 2 and res["result_total"]["pg"] == 2
    nx = rest(emulator, "crm.deal.get", params={"id": res["result"]["nx"]}).json()["result"]
    assert nx["TITLE"] == "total=2 next= arr=Array"


def test_reference_to_failed_command_is_empty_string(emulator: EmulatorServer) -> None:
    res = batch(emulator, {
        "bad": "crm.deal.get?id=999",
        "t": "crm.deal.add?fields[TITLE]=x$result[bad][ID]y",
        "err": "crm.deal.add?fields[TITLE]=$error[bad][error_description]",
        "u": "crm.deal.update?id=$result[bad]&fields[TITLE]=z",
    })
    titles = {r["ID"]: r["TITLE"] for r in emulator.control.dump("deal")}
    assert titles[str(res["result"]["t"])] == "xy"
    assert titles[str(res["result"]["err"])] == "Not found"
    assert res["result_error"]["u"]["error_description"] == "ID is not defined or invalid."


def test_php_json_shapes_list_vs_map(emulator: EmulatorServer) -> None:
    # keys "0","1" make result_error a JSON list; nothing succeeded: the rest are []
    res = batch(emulator, ["crm.deal.get?id=abc", "crm.deal.get?id=77"])
    assert res == {"result": [], "result_error": [
        {"error": "", "error_description": "ID is not defined or invalid."},
        {"error": "", "error_description": "Not found"}],
        "result_total": [], "result_next": [], "result_time": []}
    mixed = batch(emulator, {"2": "profile", "0": "profile"})
    assert isinstance(mixed["result"], dict) and list(mixed["result"]) == ["2", "0"]


def test_list_inside_batch_reports_next_and_total(emulator: EmulatorServer) -> None:
    batch(emulator, {f"c{i}": f"crm.contact.add?fields[NAME]=n{i}" for i in range(50)})
    batch(emulator, {f"c{i}": f"crm.contact.add?fields[NAME]=n{i}" for i in range(5)})
    res = batch(emulator, {"p0": "crm.contact.list?start=0", "p1": "crm.contact.list?start=50",
                           "fast": "crm.contact.list?start=-1&filter[>ID]=50"})
    assert res["result_next"] == {"p0": 50}
    assert res["result_total"] == {"p0": 55, "p1": 55}
    assert len(res["result"]["p1"]) == 5 and len(res["result"]["fast"]) == 5
    assert set(res["result_time"]) == {"p0", "p1", "fast"}


def test_form_encoded_batch_and_stats_count_inner_commands(emulator: EmulatorServer) -> None:
    res = batch(emulator, {"a": "crm.contact.add?fields[NAME]=A&fields[PHONE][0][VALUE]=%2B7 1",
                           "b": "crm.contact.get?id=$result[a]"}, form=True)
    assert res["result"]["b"]["PHONE"][0]["VALUE"] == "+7 1"
    assert emulator.control.stats()["by_method"] == {
        "batch": 1, "crm.contact.add": 1, "crm.contact.get": 1}


def test_every_reference_form_is_rewritten_even_percent_encoded(emulator: EmulatorServer) -> None:
    """What staff-typed text meets inside a batch (issue 20.7): the client must keep such text
    out of batches, and this is the portal behaviour that makes the client's test fail."""
    from identsync.bitrix24.encoding import encode_command

    texts = {"r": "see $result[c0] ok", "t": "at $time[c0][start]", "n": "$next[c0]|$total[c0]",
             "e": "err $error[c0]", "u": "$RESULT[c0] and $next["}
    cmd = {"c0": "crm.contact.add?fields[NAME]=A"}
    cmd.update({k: encode_command("crm.deal.add", {"fields": {"TITLE": v}})
                for k, v in texts.items()})
    res = batch(emulator, cmd)
    titles = {r["ID"]: r["TITLE"] for r in emulator.control.dump("deal")}
    got = {k: titles[str(res["result"][k])] for k in texts}
    cid = res["result"]["c0"]
    start = res["result_time"]["c0"]["start"]
    assert got["r"] == f"see {cid} ok"
    assert got["t"] == f"at {format(start, '.14G')}" and got["t"] != texts["t"]
    assert got["n"] == "|" and got["e"] == "err "
    assert got["u"] == texts["u"]  # case-sensitive, and a reference needs its closing bracket
