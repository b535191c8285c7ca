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
    # The hook owns the "bitrix24" connection type; "http" connections still work (above).
    assert Bitrix24Hook.conn_type == "bitrix24"
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


# --- the "Bitrix24" connection type: webhook URL in the password field, plan in extra ---------

def set_b24(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}",
                       json.dumps({"conn_type": "bitrix24", **fields}))


def test_bitrix24_type_url_in_password_plan_from_extra(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    set_b24(monkeypatch, "b24_form", password=emulator.webhook_url, extra={"plan": "enterprise"})
    caplog.set_level(logging.DEBUG)
    hook = Bitrix24Hook("b24_form")
    assert hook.webhook_url == emulator.webhook_url
    assert hook.plan == "enterprise" and hook.get_conn().plan == "enterprise"
    ok, message = hook.test_connection()
    assert ok is True
    assert message == (f"Bitrix24 connection 'b24_form': connected to {hook.client.portal} "
                       "as user 1")
    assert TOKEN not in caplog.text and TOKEN not in message and TOKEN not in repr(hook.client)
    # The hook argument and the configuration's default still rank as before.
    assert Bitrix24Hook("b24_form", plan="unlimited").plan == "unlimited"
    set_b24(monkeypatch, "b24_noplan", password=emulator.webhook_url)
    assert Bitrix24Hook("b24_noplan", default_plan="enterprise").plan == "enterprise"


def test_bitrix24_type_wrong_token_fails_without_the_token(
    emulator: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "wrong-SECRET-token-777"
    set_b24(monkeypatch, "b24_wrong", password=emulator.webhook_url.replace(TOKEN, wrong),
            extra={"plan": "unlimited"})
    ok, message = Bitrix24Hook("b24_wrong").test_connection()
    assert ok is False and "NO_AUTH_FOUND" in message and "b24_wrong" in message
    assert wrong not in message


@pytest.mark.parametrize(("fields", "why"), [
    ({}, "the webhook URL is empty"),
    ({"password": "sekretTOKEN1"}, "the webhook URL does not look like"),
    ({"password": "https://portal.example/rest/x/sekretTOKEN1/"}, "does not look like"),
    ({"password": "https://portal.example/rest/1/sekretTOKEN1/", "extra": {"plan": "gold"}},
     "unknown plan"),
])
def test_bitrix24_type_bad_forms_name_the_conn_id_never_the_token(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], why: str,
) -> None:
    set_b24(monkeypatch, "b24_badform", **fields)
    ok, message = Bitrix24Hook("b24_badform").test_connection()
    assert ok is False and why in message and "'b24_badform'" in message
    assert "sekretTOKEN1" not in message


def test_url_in_password_works_for_http_connections_too(
    emulator: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_conn(monkeypatch, "b24_http_pw", password=emulator.webhook_url,
             extra={"plan": "unlimited"})
    assert Bitrix24Hook("b24_http_pw").test_connection()[0] is True


def test_provider_registers_the_bitrix24_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    from identsync.bitrix24.ratelimit import PLANS
    from identsync.provider import PLAN_CHOICES, get_provider_info

    assert set(PLAN_CHOICES) == set(PLANS)
    info = get_provider_info()
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == Bitrix24Hook.conn_type == "bitrix24"
    assert "identsync" in ProvidersManager().providers
    hook = ProvidersManagerTaskRuntime().hooks["bitrix24"]
    assert hook is not None
    assert hook.hook_class_name == "identsync.hooks.bitrix24.Bitrix24Hook"
    assert hook.hook_name == "Bitrix24" and hook.connection_testable
    assert hook.connection_id_attribute_name == "bitrix24_conn_id"


def test_connection_form_metadata_the_ui_reads() -> None:
    """What the React form gets from /ui/connections/hook_meta (read without a server)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "bitrix24"]
    assert meta.hook_name == "Bitrix24"
    std = meta.standard_fields
    assert std.password.title == "Webhook URL" and not std.password.hidden
    assert std.host.hidden and std.login.hidden and std.port.hidden and std.url_schema.hidden
    plan = meta.extra_fields["plan"]
    assert plan["schema"]["enum"] == ["standard", "enterprise", "unlimited"]
    assert plan["schema"]["title"] == "Plan"


# Connection.get_hook() still reads ProvidersManager.hooks in 3.3 (deprecated there).
@pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")
def test_test_button_path_in_process(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What POST /api/v2/connections/test does: a transient connection exported as a URI,
    then Connection.test_connection() -> the registered hook's test_connection()."""
    from airflow.models.connection import Connection

    conn = Connection(conn_id="b24_transient", conn_type="bitrix24",
                      password=emulator.webhook_url, extra=json.dumps({"plan": "unlimited"}))
    monkeypatch.setenv("AIRFLOW_CONN_B24_TRANSIENT", conn.get_uri())
    ok, message = conn.test_connection()
    assert ok is True, message
    assert message.endswith("as user 1") and TOKEN not in message


# --- the Test button's request on Airflow 3.3.2 (identsync.ui.compat) ------------------------

def run_middleware(path: str, body: dict[str, Any], needed: bool = True) -> tuple[dict, dict]:
    """What the wrapped app receives (scope headers, JSON body) for one POST."""
    import asyncio

    from identsync.ui.compat import PortlessConnectionTest

    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        data, more = b"", True
        while more:
            message = await receive()
            data, more = data + message["body"], message["more_body"]
        seen["headers"] = dict(scope["headers"])
        seen["body"] = json.loads(data)

    raw = json.dumps(body).encode()
    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(raw)).encode())]}
    chunks = [{"type": "http.request", "body": raw[:10], "more_body": True},
              {"type": "http.request", "body": raw[10:], "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    middleware = PortlessConnectionTest(app)
    middleware._needed = needed
    asyncio.run(middleware(scope, receive, lambda message: None))
    return seen["headers"], seen["body"]


# Importing Airflow's connection routes imports FastAPI's test client (not ours to fix).
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_list_test_button_port_zero_becomes_no_port_for_bitrix24() -> None:
    from identsync.ui.compat import airflow_needs_fix

    body = {"connection_id": "b", "conn_type": "bitrix24", "password": "***", "host": "",
            "port": 0, "extra": "{}"}
    headers, seen = run_middleware("/api/v2/connections/test", body)
    assert seen == {**body, "port": None}
    assert int(headers[b"content-length"]) == len(json.dumps(seen).encode())
    # Other connection types, other routes and a fixed Airflow are left exactly alone.
    assert run_middleware("/api/v2/connections/test", {**body, "conn_type": "http"})[1] == {
        **body, "conn_type": "http"}
    assert run_middleware("/api/v2/connections", body)[1] == body
    assert run_middleware("/api/v2/connections/test", body, needed=False)[1] == body
    # Airflow 3.3.2 still compares port 0 with NULL as different (apache/airflow#73298).
    assert isinstance(airflow_needs_fix(), bool)
