"""The DAG under the real scheduler: api-server, scheduler and dag-processor as separate
processes, LocalExecutor, a PostgreSQL metadata database, the portal at standard-plan limits.

A generated clinic of about 1,000 receptions over three days is synced as a three-day
backfill (``airflow backfill create``, one run per clinic day). Then: every run succeeded,
the portal holds exactly one deal per reception the window covers and nothing twice (every
invariant of tools/invariants.py), the portal never had to answer 503, the webhook token is
in no log, XCom or rendered field; and a finished run cleared entirely runs again without
writing anything.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from identsync.config import SyncConfig
from tests.e2e.conftest import TOKEN, duplicates, portal_report, start_portal, token_leaks
from tools.airflow_stack import (
    AirflowStack,
    clinic_midnight,
    expected_records,
    make_clinic,
    scenario_config,
    scenario_env,
    utcnow,
)

pytestmark = [pytest.mark.timeout(600)]

DAG_ID = SyncConfig.pipeline_id(1)
FIRST = date(2026, 11, 20)
DAYS = 3
LAST = FIRST + timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory,
           state_dsn: str) -> Iterator[SimpleNamespace]:
    """The clinic backfilled through the scheduler; the stack stays up for the tests."""
    tmp = tmp_path_factory.mktemp("scheduler")
    emu = start_portal(latency_ms=20)
    engine = make_clinic(tmp / "ident.sqlite3", seed=11, receptions=1000, first_day=FIRST,
                         days=DAYS)
    config = scenario_config(tmp / "identsync.json", first_day=FIRST, plan="standard")
    home = tmp / "airflow"
    env = scenario_env(home, emulator_url=emu.base_url, token=TOKEN,
                       ident_db=tmp / "ident.sqlite3", state_dsn=state_dsn, plan="standard",
                       config=config)
    t0 = time.monotonic()
    try:
        with AirflowStack(home, env, executor="LocalExecutor", plan="standard") as stack:
            stack.wait_dag(DAG_ID)
            print(f"stack up in {time.monotonic() - t0:.0f} s")
            stack.unpause(DAG_ID)
            backfill_id = stack.backfill(DAG_ID, clinic_midnight(FIRST), clinic_midnight(LAST),
                                         max_active_runs=DAYS)
            runs = stack.wait_finished(DAG_ID, backfill_id=backfill_id, expected_runs=DAYS,
                                       timeout=420)
            # Unpausing also made the scheduler create the latest scheduled run (empty).
            stack.wait_finished(DAG_ID, timeout=120)
            metrics = stack.metrics(DAG_ID, backfill_id=backfill_id)
            print(f"{time.monotonic() - t0:.0f} s: backfill: {len(runs)} runs, "
                  f"{metrics['task_instances']} task instances, "
                  f"{metrics['first_queued_to_last_end_s']:.0f} s first queued -> last end, "
                  f"queue p50/p95 {metrics['ti_queue_p50_s']:.1f}/"
                  f"{metrics['ti_queue_p95_s']:.1f} s, run p50/p95 "
                  f"{metrics['ti_run_p50_s']:.1f}/{metrics['ti_run_p95_s']:.1f} s")
            yield SimpleNamespace(stack=stack, emu=emu, engine=engine,
                                  cfg=SyncConfig.from_file(config), dsn=state_dsn,
                                  backfill_id=backfill_id)
    finally:
        emu.stop()
        engine.dispose()


def test_every_run_succeeds_and_every_reception_has_one_deal(synced: SimpleNamespace) -> None:
    runs = synced.stack.runs(DAG_ID)
    assert [r["state"] for r in runs] == ["success"] * len(runs), synced.stack.describe(DAG_ID)
    assert Counter(r["run_type"] for r in runs)["backfill"] == DAYS

    expected = expected_records(synced.engine, synced.cfg, FIRST, LAST + timedelta(days=1))
    assert len(expected) > 600, "the clinic must give the window most of its 1,000 receptions"
    report, dump = portal_report(synced.emu, synced.engine, synced.cfg, synced.dsn, DAG_ID)
    idf = synced.cfg.ident_id_field
    assert Counter(d[idf] for d in dump["deal"]) == Counter(r.ident_id for r in expected)
    assert duplicates(dump, idf) == {"deals": 0, "contacts": 0, "comments": 0}
    assert report.held, report.table()


def test_the_portal_never_answered_503(synced: SimpleNamespace) -> None:
    stats = synced.emu.control.stats()
    assert stats["by_status"].get("503", 0) == 0, (
        f"{stats['by_status']} of {stats['http_requests']} requests; limit rejections "
        f"{stats['limit_rejections']}")


def test_a_cleared_run_runs_again_and_writes_nothing(synced: SimpleNamespace) -> None:
    stack = synced.stack
    run = stack.runs(DAG_ID, backfill_id=synced.backfill_id)[1]
    before = synced.emu.control.stats()
    cleared_at = utcnow()
    when = run["logical_date"].isoformat()
    stack.clear(DAG_ID, when, when)
    (again,) = stack.wait_finished(DAG_ID, run_ids=[run["run_id"]], since=cleared_at,
                                   timeout=300)
    synced.emu.control.settled()
    assert synced.emu.control.writes_since(before) == {}
    rerun = [t for t in stack.task_rows(DAG_ID, current_only=True)
             if t.run_id == run["run_id"] and t.task_id == "extract_receptions"]
    assert rerun and rerun[0].start and rerun[0].start > cleared_at, "the run did not run again"
    assert again["state"] == "success", stack.describe(DAG_ID)


def test_the_token_is_in_no_log_xcom_or_rendered_field(synced: SimpleNamespace) -> None:
    stack = synced.stack
    task_logs = list((stack.home / "logs").rglob("attempt=*.log"))
    assert len(task_logs) > 20 and list(stack.stack_dir.glob("*.log"))
    (xcoms,), = stack.query("SELECT count(*) FROM xcom")
    assert xcoms > 0
    assert token_leaks(stack, TOKEN) == []
