"""A task of an older finished DAG run, run again after a newer run, writes nothing.

The real DAG under `airflow dags test` (emulator over HTTP, PostgreSQL state, SQLite IDENT):
run A syncs the clinic, the clinic's day goes on (receptions arrive, end, get billed), run B
syncs that. Then A's ``upsert_contacts_deals[0]``, ``add_comments[0]`` and ``transform`` are
run again in A's run with ``airflow tasks test`` (what a clear of that task does, minus the
scheduler): each works from A's staged rows and XComs, which are older than what B wrote.
The portal keeps B's stages and gets no comment.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from identsync.config import SyncConfig
from identsync.state import SyncState
from tests.fixtures.airflow import airflow, airflow_env, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tools.ident_demo.clinic import create_schema, generate_clinic
from tools.ident_demo.days import advance_day

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = {"date_from": "2026-11-01", "date_to": "2026-12-31"}
RUN_A = "2026-12-01T00:00:00+00:00"
RUN_B = "2026-12-02T00:00:00+00:00"


@pytest.fixture
def world(tmp_path, make_emulator, pg_dsn):
    emu = make_emulator(plan="unlimited")
    ident = tmp_path / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident}")
    create_schema(engine)
    generate_clinic(engine, seed=11, receptions=40, patients=20, start=date(2026, 11, 20),
                    days=2, now=datetime(2026, 11, 20, 8, 0))
    config = write_config(tmp_path / "identsync.json", write_settle_seconds=1)
    env = airflow_env(tmp_path / "airflow", emulator_base_url=emu.base_url, token=TEST_TOKEN,
                      ident_db=ident, state_dsn=pg_dsn, config=config)
    migrate(env)
    return {"env": env, "emu": emu, "engine": engine, "dsn": pg_dsn,
            "idf": SyncConfig.from_file(config).ident_id_field}


def portal(world) -> tuple[dict[str, str], int]:
    """Each deal's stage by IDENT id, and how many comments the portal holds."""
    emu, idf = world["emu"], world["idf"]
    deals = emu.control.dump("deal")
    return {d.get(idf) or d["ID"]: d["STAGE_ID"] for d in deals}, \
        len(emu.control.dump("comment"))


def run_id_of(env: dict, logical_date: str) -> str:
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or \
        f"sqlite:///{Path(env['AIRFLOW_HOME']) / 'airflow.db'}"
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            rows = conn.execute(sa.text("SELECT run_id, logical_date FROM dag_run "
                                         "WHERE dag_id = :d"), {"d": DAG_ID}).all()
    finally:
        eng.dispose()
    day = logical_date[:10]
    [rid] = [r for r, ld in rows if str(ld).startswith(day)]
    return rid


def test_a_task_of_an_older_run_run_again_writes_nothing(world):
    env, emu = world["env"], world["emu"]
    airflow(env, "dags", "test", DAG_ID, RUN_A, "-c", json.dumps(CONF))
    after_a = portal(world)
    assert after_a[0] and after_a[1] == len(after_a[0])

    changed = advance_day(world["engine"], seed=11, now=datetime(2026, 11, 20, 18, 0))
    assert sum(changed.values()) > 0
    airflow(env, "dags", "test", DAG_ID, RUN_B, "-c", json.dumps(CONF))
    after_b = portal(world)
    moved = {k for k, v in after_b[0].items() if after_a[0].get(k) != v}
    assert moved, "run B changed no stage: the test would prove nothing"

    run_a = run_id_of(env, RUN_A)
    assert len(moved) <= 50  # default chunk_size: every moved record is in chunk 0
    # The comment first: A's upsert XCom still names every deal (as when only
    # add_comments is cleared); then the upsert, then the transform.
    for task in ("add_comments", "upsert_contacts_deals"):
        out = airflow(env, "tasks", "test", DAG_ID, task, run_a, "--map-index", "0")
        assert portal(world) == after_b, task
        assert "superseded" in out.stdout + out.stderr, task
    airflow(env, "tasks", "test", DAG_ID, "transform", run_a)
    state = SyncState(world["dsn"])
    prepared = state.store.get_chunk(f"{DAG_ID}/{run_a}#prepared", 0)[0]
    assert prepared["superseded"] >= len(moved)
    assert portal(world) == after_b
