"""End to end with the real scheduler: `airflow standalone` on a PostgreSQL metadata DB.

A generated clinic of three days is backfilled day by day; unpausing also makes the
scheduler create its own scheduled run. Then: the portal holds exactly the receptions the
three windows cover (no duplicates, one comment each), clearing every run (the UI's "clear")
re-runs them without writing anything, and the webhook token appears in no task log, XCom or
rendered template field.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from identsync.config import SyncConfig
from identsync.ident.extract import extract_receptions
from identsync.sync.prepare import prepare
from tests.fixtures.airflow import BIN, ROOT, airflow, airflow_env, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = [pytest.mark.airflow,
              pytest.mark.timeout(1200)]

DAG_ID = "ident_to_bitrix24_branch_1"
DAYS = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
WRITE_SUFFIXES = ("add", "update")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, every: float = 2.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def databases():
    with pgserver.scratch_database("airflow_e2e") as meta_db, \
            pgserver.scratch_schema("test", "e2e") as state:
        yield {"meta": pgserver.sqlalchemy_url(meta_db),
               "meta_dsn": pgserver.database_url(meta_db), "state": state}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, emulator_session, databases):
    emulator_session.reset("all,config")
    tmp = tmp_path_factory.mktemp("e2e")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=11, receptions=90, patients=45, start=DAYS[0], days=3,
                    now=datetime(2026, 11, 22, 21, 0))
    config = write_config(tmp / "identsync.json", schedule="0 0 * * *",
                          start_date="2026-11-19", retry_delay_seconds=2, overlap_minutes=0)
    port = free_port()
    home = tmp / "airflow"
    env = airflow_env(home, emulator_base_url=emulator_session.base_url, token=TEST_TOKEN,
                      ident_db=ident_db, state_dsn=databases["state"], config=config, extra={
                          "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": databases["meta"],
                          "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                          "AIRFLOW__CORE__PARALLELISM": "4",
                          "AIRFLOW__API__PORT": str(port),
                          "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                              f"http://localhost:{port}/execution/",
                          "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                          "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                      })
    home.mkdir(parents=True)
    log = open(tmp / "standalone.log", "wb")
    proc = subprocess.Popen([str(BIN / "airflow"), "standalone"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def dag_known():
            if proc.poll() is not None:
                raise AssertionError("airflow standalone exited:\n"
                                     + (tmp / "standalone.log").read_text()[-4000:])
            out = airflow(env, "dags", "list", "-o", "json", check=False, timeout=120)
            return out.returncode == 0 and DAG_ID in out.stdout
        wait_for(dag_known, 240, "the DAG to be parsed", every=5)
        airflow(env, "pools", "set", "bitrix24", "2", "Bitrix24 portal requests")
        yield {"env": env, "engine": engine, "emu": emulator_session, "home": home,
               "config": SyncConfig.from_file(config), "databases": databases,
               "log": tmp / "standalone.log"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def runs(stack) -> list[dict]:
    out = airflow(stack["env"], "dags", "list-runs", DAG_ID, "-o", "json", check=False)
    if out.returncode != 0:
        return []
    for line in out.stdout.splitlines():  # log lines may precede the JSON
        if line.startswith("[{") or line.strip() == "[]":
            return json.loads(line)
    return []


def run_type(run: dict) -> str:
    return run["run_id"].split("__", 1)[0]  # list-runs has no run_type column


def finished(stack, n: int):
    rs = runs(stack)
    done = [r for r in rs if r["state"] in ("success", "failed")]
    if len(done) >= n and len(done) == len(rs):
        return rs
    return _Pending(rs)


class _Pending(list):
    """Falsy while runs are still going, but keeps them for the timeout message."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return repr([(r["run_id"], r["state"]) for r in self])


def expected_records(stack):
    cfg = stack["config"]
    start = datetime.combine(DAYS[0], datetime.min.time())
    end = datetime.combine(DAYS[-1] + timedelta(days=1), datetime.min.time())
    rows = list(extract_receptions(stack["engine"], start, end, branch_id=1,
                                   unassigned_except=[b.id for b in cfg.branches]))
    chunks, _ = prepare(rows, cfg)
    return [r for c in chunks for r in c if r.branch_id == 1]


def test_backfill_and_scheduled_run_sync_the_clinic(stack):
    env = stack["env"]
    airflow(env, "dags", "unpause", DAG_ID)
    # Backfill dates are UTC unless they carry an offset: give the clinic's midnight.
    airflow(env, "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", f"{DAYS[0]}T00:00:00+03:00", "--to-date", f"{DAYS[-1]}T00:00:00+03:00")
    rs = wait_for(lambda: finished(stack, 4), 600, "3 backfill runs and 1 scheduled run")
    by_type = Counter(run_type(r) for r in rs)
    assert by_type["backfill"] == 3 and by_type["scheduled"] >= 1, rs
    assert all(r["state"] == "success" for r in rs), rs

    expected = expected_records(stack)
    assert expected, "the generated clinic must have receptions in the backfilled days"
    idf = stack["config"].ident_id_field
    deals = stack["emu"].control.dump("deal")
    assert Counter(d[idf] for d in deals) == Counter(r.ident_id for r in expected)
    comments = stack["emu"].control.dump("comment")
    per_deal = Counter((int(c["ENTITY_ID"]), c["COMMENT"]) for c in comments)
    assert set(per_deal.values()) == {1}
    latest = {r.ident_id: r.comment for r in expected}
    texts = {int(d["ID"]): latest[d[idf]] for d in deals}
    assert all((deal_id, text) in per_deal for deal_id, text in texts.items())


def test_clearing_every_run_rewrites_nothing(stack):
    before = stack["emu"].stats_snapshot()
    n = len(runs(stack))
    airflow(stack["env"], "tasks", "clear", DAG_ID, "--yes",
            "--start-date", "2026-11-19", "--end-date", "2026-11-30")
    time.sleep(5)
    wait_for(lambda: finished(stack, n), 600, "the cleared runs to finish again")
    after = stack["emu"].stats_snapshot()
    writes = {m: n - before["by_method"].get(m, 0) for m, n in after["by_method"].items()
              if m.rsplit(".", 1)[-1] in WRITE_SUFFIXES and n - before["by_method"].get(m, 0)}
    assert writes == {}
    assert after["http_requests"] > before["http_requests"]  # they did run and look again
    assert all(r["state"] == "success" for r in runs(stack))


def test_token_appears_in_no_log_xcom_or_rendered_field(stack):
    logs = [p for p in Path(stack["home"], "logs").rglob("*") if p.is_file()]
    assert logs, "the scheduler must have written task logs"
    task_logs = [p for p in logs if "task_id=" in str(p) or "dag_id=" in str(p)]
    assert task_logs
    leaks = [str(p) for p in logs if TEST_TOKEN in p.read_text(errors="replace")]
    assert leaks == []
    assert TEST_TOKEN not in stack["log"].read_text(errors="replace")
    conn = psycopg2.connect(stack["databases"]["meta_dsn"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(*) FILTER (WHERE value::text LIKE %s) FROM xcom",
                        (f"%{TEST_TOKEN}%",))
            total, leaked = cur.fetchone()
            assert total > 0 and leaked == 0
            cur.execute("SELECT count(*) FROM rendered_task_instance_fields "
                        "WHERE rendered_fields::text LIKE %s OR k8s_pod_yaml::text LIKE %s",
                        (f"%{TEST_TOKEN}%", f"%{TEST_TOKEN}%"))
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
