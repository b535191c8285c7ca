"""The real DAG under `airflow dags test`: emulator over HTTP, PostgreSQL state, SQLite IDENT.

One clinic, one sequence of runs (module scope, in order):
first run creates everything -> second run skips everything (unchanged) -> a full check looks
everything up and writes nothing -> the clinic's day advances -> a dry run predicts the
changes and writes nothing anywhere (every state table and the portal compared) -> the real
run makes exactly those changes.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from identsync.state.store import StateStore
from tests.fixtures.airflow import airflow, airflow_env, last_xcom, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tests.fixtures.pg import snapshot
from tools import pgserver
from tools.ident_demo.badinput import insert_bad_inputs
from tools.ident_demo.clinic import create_schema, generate_clinic
from tools.ident_demo.days import advance_day

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
START = date(2026, 11, 20)
CONF = {"date_from": "2026-11-01", "date_to": "2026-12-31"}
WRITE_METHODS = ("add", "update")


@pytest.fixture(scope="module")
def state_dsn():
    with pgserver.scratch_schema("test", "dagrun") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def world(tmp_path_factory, emulator_session, state_dsn):
    emulator_session.reset("all,config")
    tmp = tmp_path_factory.mktemp("dagrun")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=3, receptions=120, patients=60, start=START, days=3,
                    now=datetime(2026, 11, 21, 12, 0))
    bad = insert_bad_inputs(engine, start=datetime(2026, 11, 21, 6, 0))
    config = write_config(tmp / "identsync.json", retry_delay_seconds=1)
    env = airflow_env(tmp / "airflow", emulator_base_url=emulator_session.base_url,
                      token=TEST_TOKEN, ident_db=ident_db, state_dsn=state_dsn, config=config)
    migrate(env)
    return {"env": env, "engine": engine, "emu": emulator_session,
            "store": StateStore(state_dsn), "bad": bad, "dsn": state_dsn}


def run_dag(world, conf: dict) -> dict:
    before = world["emu"].stats_snapshot()
    proc = airflow(world["env"], "dags", "test", DAG_ID, "-c", json.dumps(conf))
    after = world["emu"].stats_snapshot()
    summary = last_xcom(world["env"], DAG_ID, "run_summary")
    assert summary, proc.stdout[-3000:]
    if not conf.get("dry_run"):  # a real run is also kept in the state database
        assert world["store"].last_runs(DAG_ID, 1)[0]["summary"] == summary
    writes = {m: n - before["by_method"].get(m, 0) for m, n in after["by_method"].items()
              if m.rsplit(".", 1)[-1] in WRITE_METHODS and n - before["by_method"].get(m, 0)}
    return {"summary": summary, "writes": writes, "log": proc.stdout + proc.stderr,
            "requests": after["http_requests"] - before["http_requests"]}


def test_sequence_of_runs(world):
    first = run_dag(world, CONF)
    s = first["summary"]["counts"]
    deals = world["emu"].control.dump("deal")
    assert s["deals_created"] == len(deals) == s["records"] > 0
    assert s["comments_posted"] == s["records"]
    assert first["writes"]["crm.deal.add"] == s["deals_created"]
    # The bad-input corpus: rejections are counted by reason and kept for operators.
    expected_rejects = [c for c in world["bad"] if c.expect == "reject"]
    assert s["rejected"] >= len(expected_rejects) > 0
    assert sum(first["summary"]["rejected_by_reason"].values()) == s["rejected"]
    open_rej = world["store"].open_rejections(DAG_ID)
    assert {r["reason"] for r in open_rej} >= {c.reason_code for c in expected_rejects}
    assert "run summary" in first["log"]
    assert "deals       created" in first["log"]

    second = run_dag(world, CONF)
    assert second["writes"] == {}
    # Unchanged since written: skipped before the lookup, so no request at all.
    assert second["summary"]["counts"]["unchanged_skipped"] == s["records"]
    assert second["summary"]["counts"]["records"] == 0
    assert second["requests"] == 0

    full = run_dag(world, {**CONF, "full_check": True})
    assert full["writes"] == {}
    assert full["summary"]["counts"]["deals_unchanged"] == s["records"]
    assert full["summary"]["counts"]["comments_skipped"] == s["records"]
    assert full["requests"] == full["summary"]["counts"]["chunks"]

    advance_day(world["engine"], seed=4, now=datetime(2026, 11, 22, 19, 0),
                since=datetime(2026, 11, 21, 12, 0))
    tables_before, portal_before = snapshot(world["dsn"]), world["emu"].control.dump_all()
    dry = run_dag(world, {**CONF, "dry_run": True})
    assert dry["writes"] == {}
    # Nothing anywhere: every state table (staging included) and the portal are as before.
    tables_after = snapshot(world["dsn"])
    assert set(tables_after) == set(tables_before) and len(tables_before) >= 8
    for table, rows in tables_before.items():
        assert tables_after[table] == rows, table
    assert world["emu"].control.dump_all() == portal_before
    d = dry["summary"]["counts"]
    assert dry["summary"]["dry_run"] is True
    assert d["deals_updated"] + d["deals_created"] > 0
    assert "DRY RUN" in dry["log"]

    real = run_dag(world, CONF)
    r = real["summary"]["counts"]
    for key in ("deals_created", "deals_updated", "deals_unchanged", "contacts_created",
                "deals_kept_closed"):
        assert r[key] == d[key], key
    assert r["comments_posted"] == d["comments_would_post"]
    assert real["writes"].get("crm.deal.update", 0) == r["deals_updated"]
    assert real["writes"].get("crm.timeline.comment.add", 0) == r["comments_posted"]


def test_manual_run_without_dates_continues_from_watermark(world):
    # After the runs above the watermark is the end of CONF's window, in the future of the
    # generated data, so a run "from the watermark" finds nothing new and writes nothing.
    res = run_dag(world, {})
    assert res["summary"]["window"]["source"] == "watermark"
    assert res["writes"] == {}


def test_bad_params_fail_with_a_message_naming_the_param(world):
    proc = airflow(world["env"], "dags", "test", DAG_ID, "-c",
                   json.dumps({"date_from": "tomorrow-ish"}), check=False)
    assert "date_from" in proc.stdout + proc.stderr
    assert "is not a date" in proc.stdout + proc.stderr
