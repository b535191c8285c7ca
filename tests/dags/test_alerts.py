"""Alerts reach a real SMTP server (a local aiosmtpd sink) through Airflow's SMTP notifier.

`airflow dags test` of the real DAG against the emulator: a run whose webhook was revoked
sends "IDENT sync failed" with what to fix; a run in which a record goes dead in the retry
queue sends the list of dead records with their reasons.
"""

from __future__ import annotations

import email
import json
import socket
from datetime import date, datetime
from email.policy import default as email_policy

import pytest
import sqlalchemy as sa

from tests.fixtures.airflow import airflow, airflow_env, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = json.dumps({"date_from": "2026-11-01", "date_to": "2026-12-31"})
ALERTS = {"notifier": "smtp", "to": ["ops@clinic.test"], "from_email": "identsync@clinic.test"}


class Sink:
    """An SMTP server that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email_policy))
        return "250 OK"

    def bodies(self) -> list[tuple[str, str]]:
        out = []
        for m in self.messages:
            part = m.get_body(("html", "plain"))
            out.append((str(m["Subject"]), part.get_content() if part else ""))
        return out


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
def clinic(tmp_path):
    ident_db = tmp_path / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=6, receptions=40, patients=20, start=date(2026, 11, 20),
                    days=1, branches=((1, "A"),), now=datetime(2026, 11, 21, 12, 0))
    return ident_db


def env_for(tmp_path, emulator, ident_db, dsn, port, token=TEST_TOKEN, **cfg):
    config = write_config(tmp_path / "identsync.json", alerts=ALERTS, retry_delay_seconds=0,
                          **cfg)
    env = airflow_env(tmp_path / "airflow", emulator_base_url=emulator.base_url, token=token,
                      ident_db=ident_db, state_dsn=dsn, config=config, extra={
                          "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
                              "conn_type": "smtp", "host": "127.0.0.1", "port": port,
                              "extra": {"disable_tls": True, "disable_ssl": True}})})
    migrate(env)
    return env


def test_a_failed_run_sends_an_alert_saying_what_to_fix(tmp_path, emulator, clinic, pg_dsn,
                                                        smtp):
    sink, port = smtp
    env = env_for(tmp_path, emulator, clinic, pg_dsn, port, token="revoked-token-1111")
    airflow(env, "dags", "test", DAG_ID, "-c", CONF, check=False)
    mails = sink.bodies()
    assert mails, "no alert reached the SMTP sink"
    subject, body = mails[0]
    # The first task to call the portal fails (which one is the DAG's business, not ours).
    task = subject.removeprefix(f"IDENT sync failed: {DAG_ID} / ")
    assert task in ("extract_receptions", "batch_lookup") and f"<b>{task}</b>" in body
    assert "not retried" in body and "webhook" in body
    assert "revoked-token-1111" not in body and "revoked-token-1111" not in subject
    assert sink.messages[0]["To"] == "ops@clinic.test"


def test_records_dead_in_the_retry_queue_are_reported(tmp_path, emulator, clinic, pg_dsn,
                                                      smtp):
    sink, port = smtp
    emulator.control.faults({"refuse": [{"method": "crm.deal.add", "field": "UF_CRM_IDENT_ID",
                                         "value": "F1_2", "description": "stage is locked"}]})
    env = env_for(tmp_path, emulator, clinic, pg_dsn, port, retry_max_attempts=1)
    proc = airflow(env, "dags", "test", DAG_ID, "-c", CONF, check=False)
    assert "records died in the retry queue" in proc.stdout + proc.stderr
    [(subject, body)] = sink.bodies()
    assert subject == f"IDENT sync: 1 records dead in {DAG_ID}"
    assert "F1_2" in body and "stage is locked" in body


# --- template injection: foreign text is sent literally, never rendered ----------------------

SECRET_TOKEN = "injtok9Zq7WebhookSecret"
SECRET_URL = f"https://clinic.bitrix24.test/rest/1/{SECRET_TOKEN}/"
LEAK = "{{ conn.bitrix24_default.password }}"
# Every way we know to close a {% raw %} guard or reach the context, then the leak.
INJECTIONS = [
    LEAK,
    "{{conn.bitrix24_default.password}}",
    "{% endraw %}" + LEAK + "{% raw %}",
    "{%endraw%}" + LEAK + "{%raw%}",
    "{%- endraw %}" + LEAK + "{%- raw %}",
    "{%  endraw  -%}" + LEAK + "{%+ raw %}",
    "{%+ endraw +%}" + LEAK,
    "{% endraw %}{% endraw %}" + LEAK,
    "{% en{% endraw %}draw %}" + LEAK,
    "{% for c in [conn.bitrix24_default] %}{{ c.password }}{% endfor %}",
    "{% set p = conn.bitrix24_default.password %}{{ p }}",
    "{{ conn.get('bitrix24_default').password | upper }}",
    "{# hidden #}{{ var.value.get('nothing', conn.bitrix24_default.password) }}",
    "{{ '{{' }} conn.bitrix24_default.password }}",
    "${{ conn.bitrix24_default.password }}",
    "<script>alert(1)</script>{{ conn.bitrix24_default.password }}",
    "ends like a template file name.html",
]


@pytest.fixture
def literal_env(monkeypatch, smtp):
    """The real SMTP notifier and Airflow's real connection accessor, in this process."""
    sink, port = smtp
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True}}))
    monkeypatch.setenv("AIRFLOW_CONN_BITRIX24_DEFAULT", json.dumps({
        "conn_type": "bitrix24", "password": SECRET_URL}))
    from airflow.sdk.execution_time.context import ConnectionAccessor, VariableAccessor

    # What Airflow's task context offers a template: every connection and variable.
    context = {"conn": ConnectionAccessor(), "var": {"value": VariableAccessor(False)},
               "run_id": "manual__2026-11-21", "dag": None}
    assert context["conn"].bitrix24_default.password == SECRET_URL  # the bait is live
    return sink, context


def _alerts():
    from identsync.config import Alerts

    return Alerts(**ALERTS)


def _plain(body: str) -> str:
    import html

    return html.unescape(body)


@pytest.mark.parametrize("payload", INJECTIONS)
def test_dead_record_alert_sends_portal_text_literally(literal_env, payload):
    from identsync.dag import alerts

    sink, context = literal_env
    entry = {"ident_id": "F1_7", "step": "deal", "attempts": 3, "code": "ERROR_CORE",
             "description": f"stage is locked {payload}"}
    assert alerts.dead_records(_alerts(), context, DAG_ID, "manual__2026-11-21", [entry])
    [(subject, body)] = sink.bodies()
    assert SECRET_TOKEN not in subject + body and "clinic.bitrix24.test" not in body
    assert f"stage is locked {payload}" in _plain(body)  # arrived exactly as the portal said
    assert "<script>" not in body  # and as text, not markup
    assert subject == f"IDENT sync: 1 records dead in {DAG_ID}"


@pytest.mark.parametrize("payload", INJECTIONS[:6])
def test_failure_alert_sends_the_error_literally(literal_env, payload):
    from identsync.dag import alerts

    sink, context = literal_env
    context = {**context, "exception": RuntimeError(f"portal said: {payload}")}
    alerts.on_failure(_alerts())(context)
    [(subject, body)] = sink.bodies()
    assert SECRET_TOKEN not in subject + body
    assert f"portal said: {payload}" in _plain(body)


def test_alert_masks_patient_data_in_portal_texts(literal_env):
    from identsync.dag import alerts

    sink, context = literal_env
    entry = {"ident_id": "F1_8", "step": "contact", "attempts": 3, "code": "ERROR_CORE",
             "description": "duplicate PHONE +7 (916) 555-12-34, also 89165551234"}
    alerts.dead_records(_alerts(), context, DAG_ID, "r1", [entry])
    [(_, body)] = sink.bodies()
    digits = "".join(ch for ch in body if ch.isdigit())
    assert "9165551234" not in digits and "5551234" not in body
    assert body.count("+7 916 ***-**-34") == 2 and "duplicate PHONE" in body


def test_a_run_whose_portal_error_carries_a_template_leaks_nothing(tmp_path, emulator, clinic,
                                                                   pg_dsn, smtp):
    """The whole path: the emulator's refusal text -> retry queue -> run_summary -> mail."""
    sink, port = smtp
    payload = "".join(INJECTIONS[:6])
    emulator.control.faults({"refuse": [{"method": "crm.deal.add", "field": "UF_CRM_IDENT_ID",
                                         "value": "F1_2",
                                         "description": f"stage is locked {payload}"}]})
    env = env_for(tmp_path, emulator, clinic, pg_dsn, port, retry_max_attempts=1)
    airflow(env, "dags", "test", DAG_ID, "-c", CONF, check=False)
    [(subject, body)] = sink.bodies()
    assert TEST_TOKEN not in subject + body and "/rest/" not in body
    assert f"stage is locked {payload}" in _plain(body)


def test_slack_alerts_need_a_named_channel():
    from identsync.config import Alerts
    from identsync.dag import alerts
    from identsync.errors import ConfigError

    with pytest.raises(ConfigError, match="slack_channel"):
        alerts.on_failure(Alerts(notifier="slack"))
