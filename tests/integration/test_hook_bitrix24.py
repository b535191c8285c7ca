"""Bitrix24Hook against the emulator: connection forms, test_connection, no token leaks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests

from identsync.bitrix24 import (
    Bitrix24Client,
    Bitrix24MethodNotFound,
    Bitrix24TransportError,
)
from identsync.hooks.bitrix24 import Bitrix24Hook

TOKEN = "test-token-SECRET-1234567890"  # the emulator fixture's token


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))


def host_port(emu: Any) -> tuple[str, int]:
    return emu.host, emu.port


def test_url_in_host_form_works_and_nothing_logged_shows_the_token(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert emulator.token == TOKEN
    set_conn(monkeypatch, "b24_url", host=emulator.webhook_url, extra={"plan": "unlimited"})
    caplog.set_level(logging.DEBUG)
    hook = Bitrix24Hook("b24_url")
    client = hook.get_conn()
    assert isinstance(client, Bitrix24Client) and hook.get_conn() is client
    assert hook.call("profile")["ID"] == "1"
    br = hook.batch({"p": ("profile", None), "c": ("crm.contact.add", {"fields": {"NAME": "N"}})})
    assert br.errors == {} and br.results["p"]["ID"] == "1"
    ok, message = hook.test_connection()
    assert ok and "b24_url" in message

    # Induced failures, logged the way a task would log them (with tracebacks).
    with pytest.raises(Bitrix24MethodNotFound) as not_found:
        hook.call("crm.no.such.method")
    logging.getLogger("test.task").error("task failed: %s", not_found.value, exc_info=not_found.value)
    drop = {"script": [{"method": "crm.deal.add", "fault": "applied_then_drop"}]}
    requests.post(f"{emulator.base_url}/_emu/faults", json=drop, timeout=5)
    with pytest.raises(Bitrix24TransportError) as dropped:
        hook.call("crm.deal.add", {"fields": {"TITLE": "t"}})
    logging.getLogger("test.task").error("task failed: %r", dropped.value, exc_info=dropped.value)
    print(repr(hook), repr(client), client.stats)

    out, err = capfd.readouterr()
    texts = [caplog.text, out, err, str(not_found.value), repr(not_found.value),
             str(dropped.value), repr(dropped.value), message, repr(client)]
    texts += [r.getMessage() for r in caplog.records]
    assert "Traceback" in caplog.text  # the tracebacks were rendered, and are clean too
    assert all(TOKEN not in t for t in texts)
    # urllib3 did log request lines at DEBUG; they arrive with the token masked.
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/rest/1/***/" in line for line in urllib3_lines)
    # Airflow's own masker knows the token too (task logs show *** instead).
    from airflow.sdk import log as sdk_log

    assert sdk_log._secrets_masker().redact(f"x {TOKEN} y") == "x *** y"


def test_host_password_login_form(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = host_port(emulator)
    set_conn(monkeypatch, "b24_pw", host=host, port=port, schema="http", login="1",
             password=TOKEN, extra={"plan": "unlimited", "timeout": [2, 10]})
    hook = Bitrix24Hook("b24_pw")
    assert hook.call("profile")["ID"] == "1"
    assert hook.timeout == (2.0, 10.0) and hook.plan == "unlimited"
    assert hook.test_connection()[0] is True


def test_host_with_scheme_and_extra_user_id(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "b24_extra", host=emulator.base_url, password=TOKEN,
             extra={"user_id": 1, "plan": "enterprise", "timeout": 7})
    hook = Bitrix24Hook("b24_extra", plan="unlimited")  # hook argument beats the extra
    assert hook.plan == "unlimited" and hook.timeout == 7.0
    assert hook.test_connection()[0] is True


def test_connection_false_with_wrong_token(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-SECRET-token-999"
    set_conn(monkeypatch, "b24_bad", host=emulator.webhook_url.replace(TOKEN, wrong),
             extra={"plan": "unlimited"})
    ok, message = Bitrix24Hook("b24_bad").test_connection()
    assert ok is False
    assert "b24_bad" in message and "NO_AUTH_FOUND" in message
    assert wrong not in message


def test_connection_is_not_read_in_init() -> None:
    hook = Bitrix24Hook("no_such_connection_anywhere")
    assert hook.bitrix24_conn_id == "no_such_connection_anywhere"
    with pytest.raises(Exception, match="no_such_connection_anywhere"):
        hook.get_conn()


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"host": "portal.example"}, "no webhook token"),
        ({"host": "portal.example", "password": "sekretTOKEN1"}, "user id"),
        ({"host": "https://portal.example/rest/x/sekretTOKEN1/"}, "does not look like"),
        ({"host": "https://portal.example/rest/1/sekretTOKEN1/", "extra": {"plan": "gold"}},
         "unknown plan"),
        ({"host": "https://portal.example/rest/1/sekretTOKEN1/", "extra": {"timeout": "soon"}},
         "timeout"),
        ({}, "host is empty"),
    ],
)
def test_bad_connections_name_the_conn_id_never_the_token(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], why: str
) -> None:
    set_conn(monkeypatch, "b24_broken", **fields)
    hook = Bitrix24Hook("b24_broken")
    with pytest.raises(ValueError) as info:
        hook.get_conn()
    assert "'b24_broken'" in str(info.value) and why in str(info.value)
    assert "sekretTOKEN1" not in str(info.value)
    ok, message = hook.test_connection()
    assert ok is False and "b24_broken" in message and "sekretTOKEN1" not in message


def test_class_attributes() -> None:
    assert Bitrix24Hook.conn_type == "http"
    assert Bitrix24Hook.conn_name_attr == "bitrix24_conn_id"
    assert Bitrix24Hook.default_conn_name == "bitrix24_default"
    assert Bitrix24Hook().bitrix24_conn_id == "bitrix24_default"


def test_uri_style_connection_path_is_read_back_from_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_B24_URI", "http://portal.example/rest/5/sekretTOKEN2/?plan=enterprise")
    hook = Bitrix24Hook("b24_uri")
    assert hook.webhook_url == "https://portal.example/rest/5/sekretTOKEN2/"
    assert repr(hook.get_conn()) == (
        "Bitrix24Client(portal='portal.example', user_id='5', plan='enterprise')"
    )
