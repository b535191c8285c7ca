"""Bitrix24Client batches and paging over real HTTP against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from identsync.bitrix24 import Bitrix24Client, CommandError
from identsync.bitrix24.batch import Ref, normalise_batch
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
            "TITLE": f"Приём {i}", "CONTACT_ID": Ref(f"c{i}"), "OPPORTUNITY": 1500.5,
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
        "dl": ("crm.deal.list", {"filter": {"CONTACT_ID": Ref("cl", 0, "ID")}}),
    })
    assert br.errors == {}
    assert br.totals["cl"] == 1 and len(br.results["dl"]) == 1


# -- reference groups larger than one request (issue 18, item 1) ------------------------------

def one_contact_many_deals(n: int) -> dict[str, tuple[str, dict[str, Any]]]:
    cmds: dict[str, tuple[str, dict[str, Any]]] = {"c0": ("crm.contact.add", {"fields": {
        "NAME": "Ортодонт", "PHONE": [{"VALUE": "+79990001122"}]}})}
    cmds.update({f"d{i}": ("crm.deal.add", {"fields": {"TITLE": f"Приём {i}",
                                                       "CONTACT_ID": Ref("c0")}})
                 for i in range(n)})
    return cmds


def test_a_contact_with_200_deals_spans_five_requests_all_linked(
    client: Bitrix24Client, emulator: Any
) -> None:
    br = client.batch(one_contact_many_deals(200))
    assert br.errors == {}
    cid = int(br.results["c0"])
    deals = emulator.control.dump("deal")
    assert len(deals) == 200 and {int(d["CONTACT_ID"]) for d in deals} == {cid}
    assert {int(br.results[f"d{i}"]) for i in range(200)} == {int(d["ID"]) for d in deals}
    assert len(emulator.control.dump("contact")) == 1
    # c0 + 49 deals, then 3 x 50, then the last one: no plain call, nothing sent twice.
    assert emulator.control.stats()["by_method"] == {"batch": 5, "crm.contact.add": 1,
                                                      "crm.deal.add": 200}


def test_deals_after_a_refused_contact_are_not_sent(client: Bitrix24Client, emulator: Any) -> None:
    emulator.control.faults({"refuse": [{"method": "crm.contact.add", "field": "NAME",
                                         "value": "Ортодонт"}]})
    br = client.batch(one_contact_many_deals(120))
    assert br.errors["c0"].code == "ERROR_CORE"
    later = [k for k, e in br.errors.items() if e.code == "REFERENCE_FAILED"]
    # Those sharing c0's request went in as the portal does it (without a contact); the
    # 71 of the later requests were held back instead of being linked to nothing.
    assert len(later) == 71 and "$result[c0]" in br.errors[later[0]].description
    assert len(emulator.control.dump("deal")) == 49
    assert emulator.control.stats()["by_method"].get("batch") == 1


def test_a_maybe_applied_first_part_stops_everything_after_it(
    client: Bitrix24Client, emulator: Any
) -> None:
    emulator.control.faults({"script": [{"method": "batch", "fault": "applied_then_500"}]})
    with pytest.raises(Exception) as caught:
        client.batch(one_contact_many_deals(120))
    exc = caught.value
    assert getattr(exc, "maybe_applied", False) is True
    assert exc.command_keys[0] == "c0" and len(exc.command_keys) == 50
    assert exc.partial.results == {}
    # It was applied (contact + 49 deals); the 71 dependents were never sent.
    assert len(emulator.control.dump("deal")) == 49
    assert emulator.control.stats()["by_method"]["batch"] == 1


def test_the_second_part_failing_reports_the_first_as_applied(
    client: Bitrix24Client, emulator: Any
) -> None:
    emulator.control.faults({"script": [{"method": "batch", "fault": "applied_then_drop",
                                         "skip": 1}]})
    with pytest.raises(Exception) as caught:
        client.batch(one_contact_many_deals(120))
    exc = caught.value
    assert exc.maybe_applied is True and exc.command_keys[0] == "d49"
    assert set(exc.partial.results) == {"c0", *(f"d{i}" for i in range(49))}


def test_a_refused_second_part_still_reports_the_call_as_partly_applied(
    emulator: Any
) -> None:
    # The portal's limiter refuses every request after the first: that request ran nothing,
    # but the first one wrote a contact and 49 deals, so the caller must look before writing.
    emulator.control.faults({"script": [{"method": "batch", "fault": "http_503", "skip": 1,
                                         "times": -1}]})
    with Bitrix24Client(emulator.webhook_url, plan="unlimited", backoff=0.001,
                        max_read_attempts=2) as client:
        with pytest.raises(Exception) as caught:
            client.batch(one_contact_many_deals(120))
    exc = caught.value
    assert exc.code == "QUERY_LIMIT_EXCEEDED" and exc.maybe_applied is True
    assert "c0" in exc.partial.results and exc.command_keys[0] == "d49"
    assert len(emulator.control.dump("deal")) == 49


# -- literal values (issue 20, item 7) --------------------------------------------------------

FORMS = ["see $result[c0]", "$result[c0]", "at $time[c0][start]", "$next[c0] of $total[c0]",
         "err $error[c0]", "$next[", "$RESULT[c0]"]


def test_text_the_portal_would_rewrite_arrives_unchanged(
    client: Bitrix24Client, emulator: Any
) -> None:
    cmds: dict[str, Any] = {"c0": ("crm.contact.add", {"fields": {"NAME": "Пациент"}})}
    for i, text in enumerate(FORMS):
        cmds[f"d{i}"] = ("crm.deal.add", {"fields": {"TITLE": text, "COMMENTS": f"x {text}",
                                                     "CONTACT_ID": Ref("c0")}})
    cmds["plain"] = ("crm.deal.add", {"fields": {"TITLE": "ordinary"}})
    br = client.batch(cmds)
    assert br.errors == {}
    deals = {int(d["ID"]): d for d in emulator.control.dump("deal")}
    for i, text in enumerate(FORMS):
        deal = deals[int(br.results[f"d{i}"])]
        assert (deal["TITLE"], deal["COMMENTS"]) == (text, f"x {text}")
        assert int(deal["CONTACT_ID"]) == int(br.results["c0"])
    by_method = emulator.control.stats()["by_method"]
    assert by_method["batch"] == 1 and by_method["crm.deal.add"] == len(FORMS) + 1
