"""Batch response normalisation on captured real responses, and error classification."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from identsync.bitrix24.address import WebhookAddress
from identsync.bitrix24.batch import normalise_batch
from identsync.bitrix24.classify import classify, is_read_method
from identsync.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24MethodNotFound,
    Bitrix24OperationTimeLimit,
    Bitrix24Overloaded,
    Bitrix24RateLimited,
    Bitrix24ServerError,
    Bitrix24TransportError,
    CommandError,
)

CAPTURED = Path(__file__).resolve().parents[1] / "data" / "bitrix24-real-responses"


def inner(name: str) -> dict[str, Any]:
    return json.loads((CAPTURED / name).read_text(encoding="utf-8"))["response"]["result"]


def test_empty_maps_arrive_as_php_empty_arrays() -> None:
    br = normalise_batch(inner("batch_list_empty.json"), ["order0000000000"])
    assert br.results == {"order0000000000": []}
    assert br.errors == {} and br.nexts == {} and br.ok
    assert br.totals == {"order0000000000": 0}
    assert set(br.times) == {"order0000000000"}


def test_list_shaped_errors_map_back_to_keys_0_to_n() -> None:
    br = normalise_batch(inner("crm_get_batch_of_two_error.json"), ["0", "1"])
    assert br.results == {}
    assert br.errors == {
        "0": CommandError("0", "", "ID is not defined or invalid."),
        "1": CommandError("1", "", "Not found"),
    }
    assert br.times == {}


def test_mixed_success_and_legacy_errors_none_dropped() -> None:
    br = normalise_batch(
        inner("crm_get_batch_mix_success_and_errors.json"), ["35943", "0", "1"]
    )
    assert br.results == {"35943": {"ID": "35943"}}
    assert set(br.errors) == {"0", "1"}
    # Legacy CRM errors have no code; the description is what tells them apart.
    assert br.errors["1"].code == "" and br.errors["1"].description == "Not found"
    assert "Not found" in str(br.errors["1"])


def test_numeric_keys_in_an_object_keep_their_names() -> None:
    br = normalise_batch(inner("crm_dealcategory_stage_list.json"), ["2", "4", "8", "0"])
    assert list(br.results) == ["2", "4", "8", "0"]
    assert br.results["2"][0]["STATUS_ID"] == "C2:NEW"


def test_single_error_list_and_scalar_results() -> None:
    br = normalise_batch(inner("crm_lead_get_batch_error.json"), {"0": "crm.lead.get?ID=0"})
    assert br.errors["0"].description == "ID is not defined or invalid."
    assert br.errors["0"].method == "crm.lead.get"
    br = normalise_batch(inner("crm_contact_add_batch.json"), ["order0000000000"])
    assert br.results == {"order0000000000": 58943}


def test_commands_without_result_or_error_become_no_result_errors() -> None:
    br = normalise_batch(inner("call_several_success.json"), ["order0", "order1", "order2", "lost"])
    assert set(br.results) == {"order0", "order1", "order2"}
    assert list(br.errors) == ["lost"] and br.errors["lost"].code == "NO_RESULT"
    with pytest.raises(CommandError, match="lost"):
        br.raise_for_errors()


def test_totals_and_nexts_are_integers() -> None:
    br = normalise_batch(
        {"result": {"a": [1]}, "result_error": [], "result_total": {"a": "120"},
         "result_next": {"a": 50}, "result_time": []},
        ["a"],
    )
    assert br.totals == {"a": 120} and br.nexts == {"a": 50}


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}, Bitrix24AuthError),
        (403, {"error": "insufficient_scope", "error_description": "x"}, Bitrix24AuthError),
        (404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}, Bitrix24MethodNotFound),
        (503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}, Bitrix24RateLimited),
        (503, {"error": "OVERLOAD_LIMIT", "error_description": "blocked"}, Bitrix24Overloaded),
        (500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "x"}, Bitrix24ServerError),
        (502, None, Bitrix24ServerError),
        (404, None, Bitrix24Error),
        (400, {"error": "", "error_description": "Not found"}, Bitrix24Error),
    ],
)
def test_classification(status: int, body: Any, cls: type) -> None:
    err = classify("crm.deal.add", status, body, is_read=False)
    assert type(err) is cls
    assert err.http_status == status and err.method == "crm.deal.add"


def test_server_errors_on_writes_may_have_been_applied_reads_not() -> None:
    assert classify("crm.deal.add", 500, None, is_read=False).maybe_applied is True
    assert classify("crm.deal.get", 500, None, is_read=True).maybe_applied is False
    assert classify("crm.deal.add", 503, {"error": "QUERY_LIMIT_EXCEEDED"}, is_read=False).maybe_applied is False


def test_operation_time_limit_reads_reset_at_from_the_time_block() -> None:
    body = {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked",
            "time": {"operating": 481.2, "operating_reset_at": 1729697289}}
    err = classify("crm.deal.list", 429, body, is_read=True)
    assert isinstance(err, Bitrix24OperationTimeLimit) and err.reset_at == 1729697289.0
    assert classify("crm.deal.list", 429, {"error": "OPERATION_TIME_LIMIT"}, is_read=True).reset_at is None


def test_legacy_error_keeps_its_description_in_the_message() -> None:
    err = classify("crm.deal.get", 400, {"error": "", "error_description": "Not found"}, is_read=True)
    assert err.code == "" and err.description == "Not found"
    assert str(err) == "crm.deal.get: <no code>: Not found (HTTP 400)"


def test_errors_survive_pickling_with_their_attributes() -> None:
    err = Bitrix24OperationTimeLimit("OPERATION_TIME_LIMIT", "slow", method="m", http_status=429,
                                     reset_at=5.0)
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.reset_at, back.http_status, str(back)) == (type(err), 5.0, 429, str(err))
    cmd = pickle.loads(pickle.dumps(CommandError("k", "E", "d")))
    assert cmd == CommandError("k", "E", "d") and cmd.key == "k"
    t = Bitrix24TransportError("ReadTimeout", "x", method="crm.deal.add", maybe_applied=True)
    assert "may have been applied" in str(t)


def test_webhook_address_never_shows_the_token() -> None:
    addr = WebhookAddress("https://portal.bitrix24.ru/rest/12/s3cr3tTOKEN/")
    assert addr.host == "portal.bitrix24.ru" and addr.user_id == "12"
    assert "s3cr3tTOKEN" not in repr(addr)
    assert addr.method_url("profile") == "https://portal.bitrix24.ru/rest/12/s3cr3tTOKEN/profile"
    for bad in ["ftp://portal/rest/1/s3cr3tTOKEN/", "https://portal/api/1/s3cr3tTOKEN/", "s3cr3tTOKEN"]:
        with pytest.raises(ValueError) as info:
            WebhookAddress(bad)
        assert "s3cr3tTOKEN" not in str(info.value)


@pytest.mark.parametrize(
    ("method", "read"),
    [("crm.deal.list", True), ("crm.deal.get", True), ("crm.deal.fields", True),
     ("crm.duplicate.findbycomm", True), ("profile", True), ("crm.status.list", True),
     ("crm.deal.userfield.list", True), ("crm.deal.add", False), ("crm.deal.update", False),
     ("crm.timeline.comment.add", False), ("crm.deal.userfield.add", False)],
)
def test_read_classification(method: str, read: bool) -> None:
    assert is_read_method(method) is read


def test_operation_time_limit_wait_follows_reset_at_and_is_bounded() -> None:
    from identsync.bitrix24.client import Bitrix24Client

    client = Bitrix24Client(
        "https://portal.example/rest/1/s3cr3tTOKEN/", plan="unlimited",
        wall_clock=lambda: 1000.0, max_operating_wait=120.0, operating_backoff=5.0,
    )
    soon = Bitrix24OperationTimeLimit("OPERATION_TIME_LIMIT", "", reset_at=1030.0)
    late = Bitrix24OperationTimeLimit("OPERATION_TIME_LIMIT", "", reset_at=1500.0)
    unknown = Bitrix24OperationTimeLimit("OPERATION_TIME_LIMIT", "")
    assert client._operating_wait(soon) == 31.0  # until the reset, plus a second of margin
    assert client._should_retry(soon, is_read=False) is True
    assert client._should_retry(late, is_read=True) is False  # too far: give up now
    assert [client._operating_wait(unknown, n) for n in (1, 2, 5)] == [5.0, 10.0, 60.0]
    assert "s3cr3tTOKEN" not in repr(client)
    assert repr(client) == "Bitrix24Client(portal='portal.example', user_id='1', plan='unlimited')"


def test_retry_policy_by_error_class() -> None:
    from identsync.bitrix24.client import Bitrix24Client

    client = Bitrix24Client("https://portal.example/rest/1/s3cr3tTOKEN/", plan="unlimited")
    sent = Bitrix24TransportError("ReadTimeout", "", maybe_applied=True)
    refused = Bitrix24TransportError("ConnectionError", "", maybe_applied=False)
    server = Bitrix24ServerError("", "", http_status=500, maybe_applied=True)
    limited = Bitrix24RateLimited("QUERY_LIMIT_EXCEEDED", "")
    for err, read, write in [
        (sent, True, False), (refused, True, True), (server, True, False),
        (limited, True, True), (Bitrix24AuthError("NO_AUTH_FOUND"), False, False),
        (Bitrix24MethodNotFound("ERROR_METHOD_NOT_FOUND"), False, False),
        (Bitrix24Overloaded("OVERLOAD_LIMIT"), False, False), (Bitrix24Error(""), False, False),
    ]:
        assert client._should_retry(err, is_read=True) is read, err
        assert client._should_retry(err, is_read=False) is write, err
