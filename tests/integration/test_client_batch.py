"""Bitrix24Client batches and paging over real HTTP against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from identsync.bitrix24 import Bitrix24Client, CommandError
from identsync.bitrix24.batch import normalise_batch
from identsync.bitrix24.encoding import encode_command, encode_params


def raw_batch(emu: Any, cmd: dict[str, str], halt: int = 0) -> dict[str, Any]:
    """A batch sent by hand (keys the client refuses), to look at the PHP shapes."""
    r = requests.post(
        emu.webhook_url + "batch",
        data=encode_params({"halt": halt, "cmd": cmd}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert r.status_code == 200
    return r.json()["result"]


@pytest.fixture
def client(emulator: Any) -> Bitrix24Client:
    with Bitrix24Client(emulator.webhook_url, plan="unlimited", backoff=0.01) as c:
        yield c


def contacts_and_deals(n: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """All contacts first, then the deals: every reference crosses the middle of the list."""
    cmds: dict[str, tuple[str, dict[str, Any]]] = {}
    for i in range(n):
        cmds[f"c{i}"] = ("crm.contact.add", {"fields": {
            "NAME": f"Пациент {i}",
            "PHONE": [{"VALUE": f"+7 999 000-00-{i:02d}", "VALUE_TYPE": "MOBILE"}],
        }})
    for i in range(n):
        cmds[f"d{i}"] = ("crm.deal.add", {"fields": {
            "TITLE": f"Приём {i}", "CONTACT_ID": f"$result[c{i}]", "OPPORTUNITY": 1500.5,
        }})
    return cmds


def test_sixty_commands_are_split_with_references_intact(
    client: Bitrix24Client, emulator: Any
) -> None:
    br = client.batch(contacts_and_deals(30))
    assert br.errors == {}
    assert len(br.results) == 60
    stats = emulator.control.stats()
    assert stats["by_method"]["batch"] == 2 and stats["http_requests"] == 2
    deals = {int(d["ID"]): d for d in emulator.control.dump("deal")}
    contacts = {int(c["ID"]): c for c in emulator.control.dump("contact")}
    for i in range(30):
        deal = deals[int(br.results[f"d{i}"])]
        assert int(deal["CONTACT_ID"]) == int(br.results[f"c{i}"])
        assert deal["TITLE"] == f"Приём {i}"
        # '+' survived two layers of PHP parsing.
        assert contacts[int(br.results[f"c{i}"])]["PHONE"][0]["VALUE"] == f"+7 999 000-00-{i:02d}"
    assert client.stats.as_dict()["commands"] == 60
    assert client.stats.by_method["crm.deal.add"] == 30


def test_per_command_errors_are_surfaced_next_to_results(client: Bitrix24Client) -> None:
    cid = client.call("crm.contact.add", {"fields": {"NAME": "A"}})
    br = client.batch({
        "ok": ("crm.contact.get", {"id": cid}),
        "missing": ("crm.contact.get", {"id": 999999}),
        "typo": "crm.contact.gett?id=1",
    })
    assert br.results["ok"]["ID"] == str(cid)
    assert set(br.errors) == {"missing", "typo"}
    assert br.errors["missing"].code == "" and br.errors["missing"].description == "Not found"
    assert br.errors["typo"].code == "ERROR_METHOD_NOT_FOUND"
    assert isinstance(br.errors["typo"], CommandError) and br.errors["typo"].key == "typo"


def test_php_empty_array_quirk_for_maps_without_entries(client: Bitrix24Client, emulator: Any) -> None:
    raw = raw_batch(emulator, {"p": "profile?"})
    assert raw["result_error"] == [] and raw["result_next"] == []  # PHP's [] for {}
    br = client.batch({"p": ("profile", None)})
    assert br.errors == {} and br.nexts == {} and br.results["p"]["ID"] == "1"


def test_php_list_quirk_for_keys_zero_to_n_maps_back_by_name(
    client: Bitrix24Client, emulator: Any
) -> None:
    cid = client.call("crm.contact.add", {"fields": {"NAME": "A"}})
    cmd = {"0": encode_command("crm.contact.get", {"id": 999998}),
           "1": encode_command("crm.contact.get", {"id": 999999}),
           "x": encode_command("crm.contact.get", {"id": cid})}
    raw = raw_batch(emulator, cmd)
    assert isinstance(raw["result_error"], list) and len(raw["result_error"]) == 2
    br = normalise_batch(raw, cmd)
    assert set(br.errors) == {"0", "1"} and br.results["x"]["ID"] == str(cid)
    with pytest.raises(ValueError, match="looks like an integer"):
        client.batch({"0": ("crm.contact.get", {"id": cid})})


def test_commands_without_any_answer_are_reported(client: Bitrix24Client) -> None:
    # halt=True: the portal stops at the failing command; later ones get nothing back.
    br = client.batch({
        "a": ("crm.contact.get", {"id": 999999}),
        "b": ("profile", None),
    }, halt=True)
    assert br.errors["a"].description == "Not found"
    assert br.errors["b"].code == "NO_RESULT"


def test_halted_split_batch_does_not_send_later_requests(
    client: Bitrix24Client, emulator: Any
) -> None:
    cmds: dict[str, Any] = {"bad": ("crm.contact.get", {"id": 999999})}
    cmds.update({f"p{i}": ("profile", None) for i in range(60)})
    br = client.batch(cmds, halt=True)
    assert emulator.control.stats()["http_requests"] == 1
    assert len(br.errors) == 61 and br.errors["p59"].code == "NO_RESULT"


def test_list_all_pages_by_id_without_counting(client: Bitrix24Client, emulator: Any) -> None:
    client.batch({f"c{i}": ("crm.contact.add", {"fields": {"NAME": f"n{i}"}}) for i in range(120)})
    rows = list(client.list_all("crm.contact.list", filter={"%NAME": "n"}, select=["NAME"]))
    assert [int(r["ID"]) for r in rows] == sorted(int(r["ID"]) for r in rows)
    assert len(rows) == 120 and {r["NAME"] for r in rows} == {f"n{i}" for i in range(120)}
    assert emulator.control.stats()["by_method"]["crm.contact.list"] == 3  # 50 + 50 + 20


def test_call_page_reports_next_and_total(client: Bitrix24Client) -> None:
    client.batch({f"c{i}": ("crm.contact.add", {"fields": {"NAME": f"n{i}"}}) for i in range(55)})
    first = client.call_page("crm.contact.list", {"order": {"ID": "ASC"}})
    assert len(first.result) == 50 and first.next == 50 and first.total == 55
    last = client.call_page("crm.contact.list", {"order": {"ID": "ASC"}, "start": first.next})
    assert len(last.result) == 5 and last.next is None


def test_batch_of_reads_with_references_to_lists(client: Bitrix24Client) -> None:
    cid = client.call("crm.contact.add", {"fields": {"NAME": "Ref"}})
    client.call("crm.deal.add", {"fields": {"TITLE": "t", "CONTACT_ID": cid}})
    br = client.batch({
        "cl": ("crm.contact.list", {"filter": {"NAME": "Ref"}, "select": ["ID"]}),
        "dl": ("crm.deal.list", {"filter": {"CONTACT_ID": "$result[cl][0][ID]"}}),
    })
    assert br.errors == {}
    assert br.totals["cl"] == 1 and len(br.results["dl"]) == 1
