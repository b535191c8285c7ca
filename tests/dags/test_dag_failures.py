"""Failures that retrying cannot fix end the run at once, red, with what to fix.

Real DAG under `airflow dags test`, emulator over HTTP, PostgreSQL state: a revoked webhook
(401) fails the first portal task without Airflow's retries; a window with more chunks than
Airflow's own ``[core] max_map_length`` fails in transform naming the setting.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from tests.fixtures.airflow import airflow, airflow_env, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = json.dumps({"date_from": "2026-11-01", "date_to": "2026-12-31"})


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("failures")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=4, receptions=90, patients=45, start=date(2026, 11, 20),
                    days=2, branches=((1, "A"),), now=datetime(2026, 11, 21, 12, 0))
    # Retries with no delay: a retried task would show up as a second try at once.
    config = write_config(tmp / "identsync.json", retries=3, retry_delay_seconds=0)
    return tmp, ident_db, config


def tries(env, task_id: str) -> list[tuple[int, str]]:
    """(try_number, state) of the task's instances in the newest run."""
    from pathlib import Path

    engine = sa.create_engine(f"sqlite:///{Path(env['AIRFLOW_HOME']) / 'airflow.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT ti.try_number, ti.state FROM task_instance ti "
                "JOIN dag_run r ON r.run_id = ti.run_id AND r.dag_id = ti.dag_id "
                "WHERE ti.dag_id = :d AND ti.task_id = :t "
                "AND r.id = (SELECT max(id) FROM dag_run WHERE dag_id = :d)"),
                {"d": DAG_ID, "t": task_id})]
    finally:
        engine.dispose()


def test_revoked_webhook_fails_at_once_saying_what_to_fix(clinic, emulator_session, pg_dsn):
    tmp, ident_db, config = clinic
    env = airflow_env(tmp / "airflow401", emulator_base_url=emulator_session.base_url,
                      token="revoked-token-0000", ident_db=ident_db, state_dsn=pg_dsn,
                      config=config)
    migrate(env)
    proc = airflow(env, "dags", "test", DAG_ID, "-c", CONF, check=False)
    log = proc.stdout + proc.stderr
    assert "not retried" in log and "webhook" in log
    # The run's first portal request is the preflight in extract_receptions.
    states = tries(env, "extract_receptions")
    assert states and all(n == 1 for n, _ in states)  # no second try
    assert {s for _, s in states} == {"failed"}
    assert ("upstream_failed",) in {(s,) for _, s in tries(env, "run_summary")}
    assert "revoked-token-0000" not in log


def test_more_chunks_than_max_map_length_fail_in_transform(clinic, emulator_session, pg_dsn):
    tmp, ident_db, config = clinic
    env = airflow_env(tmp / "airflowmap", emulator_base_url=emulator_session.base_url,
                      token=TEST_TOKEN, ident_db=ident_db, state_dsn=pg_dsn, config=config,
                      extra={"AIRFLOW__CORE__MAX_MAP_LENGTH": "1"})
    migrate(env)
    proc = airflow(env, "dags", "test", DAG_ID, "-c", CONF, check=False)
    log = proc.stdout + proc.stderr
    assert "exceed Airflow's [core] max_map_length (1)" in log
    assert tries(env, "transform") == [(1, "failed")]
