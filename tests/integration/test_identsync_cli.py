"""The `identsync` command against real parts: the emulator over HTTP, PostgreSQL, an IDENT
database in SQLite, connections given to Airflow the way operators do (AIRFLOW_CONN_*)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from b24emu.server import EmulatorServer
from identsync.cli import main
from identsync.cli.check import state_items
from identsync.config import SyncConfig
from identsync.state.queue import RetryQueue
from tests.fixtures.emulator import TEST_TOKEN, rest
from tools import pgserver
from tools.ident_demo.clinic import create_schema

ROOT = Path(__file__).resolve().parents[2]
BASE = json.loads((ROOT / "dags" / "identsync.json").read_text(encoding="utf-8"))


@pytest.fixture
def portal(make_emulator) -> EmulatorServer:
    # As a real portal: undeclared UF_CRM_* fields are dropped.
    return make_emulator(plan="unlimited", keep_undeclared_fields=False)


@pytest.fixture
def setup(tmp_path, monkeypatch, portal, pg_dsn):
    """A configuration file and the three Airflow connections, all valid."""
    ident = tmp_path / "ident.sqlite3"
    create_schema(sa.create_engine(f"sqlite:///{ident}"))

    def configure(webhook: str | None = None, **overrides) -> Path:
        cfg = {**BASE, **overrides}
        path = tmp_path / "identsync.json"
        path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
        monkeypatch.setenv("IDENTSYNC_CONFIG", str(path))
        monkeypatch.setenv("AIRFLOW_CONN_BITRIX24_DEFAULT", json.dumps(
            {"conn_type": "bitrix24", "password": webhook or portal.webhook_url}))
        return path

    monkeypatch.setenv("AIRFLOW_CONN_IDENT_DB", json.dumps({"conn_type": "sqlite",
                                                            "host": str(ident)}))
    monkeypatch.setenv("AIRFLOW_CONN_IDENTSYNC_STATE",
                       json.dumps(pgserver.airflow_connection(pg_dsn)))
    monkeypatch.delenv("IDENTSYNC_PG_URL", raising=False)
    monkeypatch.delenv("BITRIX24_WEBHOOK", raising=False)
    configure()
    return {"configure": configure, "ident": ident, "dsn": pg_dsn}


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_setup_portal_lists_then_creates_deal_and_contact_fields(setup, portal, capsys):
    code, out = run(capsys, "setup-portal", "--dry-run")
    assert code == 0 and "contact fields missing: UF_CRM_IDENT_CARD, UF_CRM_IDENT_GUARDIAN" in out, out
    assert rest(portal, "crm.contact.userfield.list").json()["result"] == []

    code, out = run(capsys, "setup-portal")
    assert code == 0, out
    names = {f["FIELD_NAME"] for f in rest(portal, "crm.contact.userfield.list").json()["result"]}
    patient = SyncConfig.from_dict(BASE).patient_id_field
    assert names == {*BASE["contact_fields"].values(), patient}
    deal = {f["FIELD_NAME"] for f in rest(portal, "crm.deal.userfield.list").json()["result"]}
    assert deal == set(BASE["deal_fields"].values())

    code, out = run(capsys, "setup-portal")  # again: nothing to add
    assert code == 0 and "added 0" in out
    assert len(rest(portal, "crm.deal.userfield.list").json()["result"]) == len(deal)


def test_check_green_after_setup(setup, capsys):
    assert run(capsys, "setup-portal")[0] == 0
    code, out = run(capsys, "check")
    assert code == 0, out
    assert "ready" in out.splitlines()
    assert "FAIL" not in out and TEST_TOKEN not in out


def test_check_names_every_problem_one_line_each(setup, portal, capsys):
    assert run(capsys, "setup-portal")[0] == 0
    stage_map = {**BASE["stage_map"], "planned": "NEWW"}
    fields = {**BASE["deal_fields"], "doctor": "UF_CRM_IDENT_DOCTR"}
    setup["configure"](stage_map=stage_map, deal_fields=fields, state_conn_id="nostate")
    code, out = run(capsys, "check")
    assert code == 1, out
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert any("stage_map.planned = 'NEWW'" in f and "PREPARATION" in f for f in fails), out
    assert any("deal_fields.doctor = 'UF_CRM_IDENT_DOCTR'" in f and "setup-portal" in f
               for f in fails), out
    assert any("nostate" in f for f in fails), out
    assert "not ready: 3 problem(s)" in out.splitlines()


def test_check_wrong_token(setup, portal, capsys):
    setup["configure"](webhook=portal.webhook_url.replace(TEST_TOKEN, "wrong-token-123"))
    code, out = run(capsys, "check")
    assert code == 1
    line = next(li for li in out.splitlines() if li.startswith("FAIL"))
    assert "portal (bitrix24_default)" in line and "crm" in line
    assert "wrong-token-123" not in out


def test_check_ident_column_missing(setup, capsys):
    assert run(capsys, "setup-portal")[0] == 0
    engine = sa.create_engine(f"sqlite:///{setup['ident']}")
    with engine.begin() as conn:
        conn.exec_driver_sql('DROP TABLE "Receptions"')
        conn.exec_driver_sql('CREATE TABLE "Receptions" ("ID" integer primary key)')
    code, out = run(capsys, "check")
    assert code == 1
    line = next(li for li in out.splitlines() if li.startswith("FAIL"))
    assert "IDENT (ident_db)" in line and "Receptions lacks column(s)" in line


def test_missing_state_database_named_with_the_fix():
    dsn = pgserver.database_url("identsync_does_not_exist_21")
    [item] = state_items(dsn, "identsync_state")
    assert not item.ok
    assert 'CREATE DATABASE "identsync_does_not_exist_21"' in item.detail


def test_requeue_by_branch_and_record(setup, capsys):
    from identsync.records import Failure

    queue = RetryQueue(setup["dsn"])
    queue.ensure_schema()
    for pipeline in ("ident_to_bitrix24_branch_1", "ident_to_bitrix24_branch_2"):
        queue.fail(pipeline, "run1", [Failure("F1_1", 1, "deal", "X", "bad"),
                                      Failure("F1_2", 2, "deal", "X", "bad")],
                   base_minutes=1, max_attempts=1)
    assert queue.counts("ident_to_bitrix24_branch_1").get("dead") == 2

    code, out = run(capsys, "requeue", "--branch", "1", "--record", "F1_1")
    assert code == 0 and "branch 1" in out and "1 dead record(s)" in out
    assert queue.counts("ident_to_bitrix24_branch_1") == {"queued": 1, "dead": 1}
    assert queue.counts("ident_to_bitrix24_branch_2") == {"dead": 2}

    code, out = run(capsys, "requeue", "--all")
    assert code == 0
    assert queue.counts("ident_to_bitrix24_branch_1") == {"queued": 2}
    assert queue.counts("ident_to_bitrix24_branch_2") == {"queued": 2}

    assert run(capsys, "requeue", "--branch", "9")[0] == 2  # unknown branch: named


def test_comment_hashes_commands(setup, tmp_path, capsys):
    f = tmp_path / "comment_hashes.json"
    f.write_text(json.dumps({"7": "0" * 32}), encoding="utf-8")
    code, out = run(capsys, "import-comment-hashes", str(f))
    assert code == 0 and "1 new" in out
    code, out = run(capsys, "reset-comment-hashes", "--deal", "7")
    assert code == 0 and "1 row(s) deleted" in out


def test_emulator_drops_undeclared_fields_and_unknown_stages(portal):
    deal = rest(portal, "crm.deal.add", json={"fields": {
        "TITLE": "t", "STAGE_ID": "NEWW", "UF_CRM_NOT_DECLARED": "x"}}).json()["result"]
    row = rest(portal, "crm.deal.get", json={"id": deal}).json()["result"]
    assert row["STAGE_ID"] == "NEW"
    assert "UF_CRM_NOT_DECLARED" not in row
    rest(portal, "crm.deal.update", json={"id": deal, "fields": {"STAGE_ID": "WON"}})
    rest(portal, "crm.deal.update", json={"id": deal, "fields": {"STAGE_ID": "BOGUS"}})
    assert rest(portal, "crm.deal.get", json={"id": deal}).json()["result"]["STAGE_ID"] == "WON"
