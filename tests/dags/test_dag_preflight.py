"""A configuration that does not match the portal fails the run at once, naming the key, the
wrong value and the valid ones: real DAG under `airflow dags test`, emulator over HTTP."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from tests.fixtures.airflow import airflow, airflow_env, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN, rest
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = json.dumps({"date_from": "2026-11-01", "date_to": "2026-12-31"})


def test_wrong_stage_id_fails_the_run_naming_the_valid_ones(tmp_path, emulator_session,
                                                             pg_dsn):
    emulator_session.reset("all,config")
    ident_db = tmp_path / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=5, receptions=20, patients=10, start=date(2026, 11, 20),
                    days=1, branches=((1, "A"),), now=datetime(2026, 11, 21, 12, 0))
    base = json.loads(write_config(tmp_path / "base.json").read_text(encoding="utf-8"))
    config = write_config(tmp_path / "identsync.json", retries=2, retry_delay_seconds=0,
                          stage_map={**base["stage_map"], "planned": "NEWW"})
    env = airflow_env(tmp_path / "airflow", emulator_base_url=emulator_session.base_url,
                      token=TEST_TOKEN, ident_db=ident_db, state_dsn=pg_dsn, config=config)
    migrate(env)
    proc = airflow(env, "dags", "test", DAG_ID, "-c", CONF, check=False)
    log = proc.stdout + proc.stderr
    assert "stage_map.planned = 'NEWW'" in log, log[-3000:]
    assert "valid: NEW, PREPARATION" in log and "not retried" in log
    # Nothing was written: no deal got the unknown stage (or any other).
    assert rest(emulator_session, "crm.deal.list", json={}).json()["result"] == []
