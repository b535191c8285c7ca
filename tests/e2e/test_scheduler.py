"""The DAG under the real scheduler: api-server, scheduler and dag-processor as separate
processes, LocalExecutor, a PostgreSQL metadata database, the portal at standard-plan limits.

A generated clinic of about 1,000 receptions over three days is synced as a three-day
backfill (``airflow backfill create``, one run per clinic day). Then: every run succeeded,
the portal holds exactly one deal per reception the window covers and nothing twice (every
invariant of tools/invariants.py), the portal never had to answer 503, the webhook token is
in no log, XCom or rendered field; and a finished run cleared entirely runs again without
writing anything.

Before the backfill, the scheduler comes back from a 6-hour outage: the last successful run
moved the watermark 6 hours ago and receptions changed since; the scheduled run the scheduler
makes on unpause must sync them. After it: each of the five tasks of a finished run (one map
index of the mapped ones), cleared through the REST API as the UI's Clear does (downstream
included), succeeds and writes nothing; and a run whose mapped task fails is red.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from identsync.config import SyncConfig
from identsync.ident.schema import Receptions
from identsync.state import SyncState
from tests.e2e.conftest import TOKEN, duplicates, portal_report, start_portal, token_leaks
from tests.fixtures.ui import admin_login, api_token
from tools.airflow_stack import (
    TIMEZONE,
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
OUTAGE = timedelta(hours=6)
#: The five tasks, with the map index cleared for the mapped ones; all in the same run. The
#: mapped ones go first: a re-run transform finds the run's records synced and stages no
#: chunk, after which the run's map indexes are "removed" (nothing left to do).
TASKS = [("batch_lookup", 1), ("upsert_contacts_deals", 2), ("add_comments", 0),
         ("transform", None), ("extract_receptions", None)]


def last_interval_end() -> datetime:
    """The end of the latest daily interval the scheduler has made a run for: the clinic's
    last midnight (aware, UTC)."""
    zone = ZoneInfo(TIMEZONE)
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(timezone.utc)


def _clinic(at: datetime) -> datetime:
    """IDENT's clock: naive clinic time."""
    return at.astimezone(ZoneInfo(TIMEZONE)).replace(tzinfo=None)


def _touch(engine: sa.Engine, reception_ids: list[int], **values: Any) -> None:
    """Edit receptions as IDENT does: the change and its DateTimeChanged stamp."""
    with engine.begin() as c:
        c.execute(sa.update(Receptions).where(Receptions.c.ID.in_(reception_ids))
                  .values(**values))


def the_scheduler_was_down(engine: sa.Engine, cfg: SyncConfig, dsn: str) -> list[str]:
    """The scheduler was down for the 6 hours before the latest daily interval began: the
    last successful run ended then (the watermark), and receptions changed in the outage,
    before the interval the scheduler's next run covers."""
    watermark = last_interval_end() - timedelta(days=1) - OUTAGE
    records = expected_records(engine, cfg, FIRST, FIRST + timedelta(days=1))[:6]
    _touch(engine, [r.reception_id for r in records],
           DateTimeChanged=_clinic(watermark + OUTAGE / 2))
    state = SyncState(dsn)
    state.ensure_schema()
    state.store.set_watermark(DAG_ID, watermark, "before-the-outage")
    return [r.ident_id for r in records]


def rest(stack: AirflowStack, method: str, path: str, body: Any = None) -> Any:
    """The REST API as the UI calls it, logged in as the admin."""
    base = f"http://127.0.0.1:{stack.api_port}"
    token = api_token(base)
    r = requests.request(method, f"{base}/api/v2{path}", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {token}"})
    assert r.ok, f"{method} {path}: {r.status_code} {r.text[:500]}"
    return r.json()


def xcom(stack: AirflowStack, run_id: str, task_id: str) -> Any:
    (value,), = stack.query("SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND "
                            "task_id = %s AND key = 'return_value'", (DAG_ID, run_id, task_id))
    return value if isinstance(value, dict) else json.loads(value)


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
    cfg = SyncConfig.from_file(config)
    outage_ids = the_scheduler_was_down(engine, cfg, state_dsn)
    t0 = time.monotonic()
    try:
        with AirflowStack(home, env, executor="LocalExecutor", plan="standard",
                          extra=admin_login(home)) as stack:
            stack.wait_dag(DAG_ID)
            print(f"stack up in {time.monotonic() - t0:.0f} s")
            # Unpausing makes the scheduler create the latest scheduled run (catchup=False):
            # the first run after the outage.
            stack.unpause(DAG_ID)
            (after_outage,) = stack.wait_finished(DAG_ID, timeout=180)
            emu.control.settled()
            deals_after_outage = emu.control.dump("deal")
            backfill_id = stack.backfill(DAG_ID, clinic_midnight(FIRST), clinic_midnight(LAST),
                                         max_active_runs=DAYS)
            runs = stack.wait_finished(DAG_ID, backfill_id=backfill_id, expected_runs=DAYS,
                                       timeout=420)
            metrics = stack.metrics(DAG_ID, backfill_id=backfill_id)
            print(f"{time.monotonic() - t0:.0f} s: backfill: {len(runs)} runs, "
                  f"{metrics['task_instances']} task instances, "
                  f"{metrics['first_queued_to_last_end_s']:.0f} s first queued -> last end, "
                  f"queue p50/p95 {metrics['ti_queue_p50_s']:.1f}/"
                  f"{metrics['ti_queue_p95_s']:.1f} s, run p50/p95 "
                  f"{metrics['ti_run_p50_s']:.1f}/{metrics['ti_run_p95_s']:.1f} s")
            yield SimpleNamespace(stack=stack, emu=emu, engine=engine, cfg=cfg, dsn=state_dsn,
                                  backfill_id=backfill_id, outage_ids=outage_ids,
                                  after_outage=after_outage,
                                  deals_after_outage=deals_after_outage)
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
    # The outage's receptions (edited now, so outside the backfill's window) were synced by
    # the run after the outage, and some are also the backfill's: one deal each all the same.
    assert Counter(d[idf] for d in dump["deal"]) == Counter(
        {r.ident_id for r in expected} | set(synced.outage_ids))
    assert duplicates(dump, idf) == {"deals": 0, "contacts": 0, "comments": 0}
    assert report.held, report.table()


def test_the_backfills_first_run_syncs_every_day_once(synced: SimpleNamespace) -> None:
    """Its first run takes the days its other runs are queued for (``backfill_span_days``):
    a reception that changed on two days is synced once, and the others skip."""
    stack = synced.stack
    runs = stack.runs(DAG_ID, backfill_id=synced.backfill_id)
    window = xcom(stack, runs[0]["run_id"], "extract_receptions")["window"]
    bounds = [datetime.fromisoformat(window[k]) for k in ("start", "end")]
    bounds = [b if b.tzinfo else b.replace(tzinfo=timezone.utc) for b in bounds]
    days = [datetime.fromisoformat(clinic_midnight(d)) for d in (FIRST, LAST + timedelta(days=1))]
    assert bounds == days, window
    extracts = {t.run_id: t.state for t in stack.task_rows(DAG_ID, current_only=True)
                if t.task_id == "extract_receptions"}
    assert [extracts[r["run_id"]] for r in runs] == ["success"] + ["skipped"] * (DAYS - 1)


def test_the_first_scheduled_run_after_an_outage_syncs_what_changed_in_it(
        synced: SimpleNamespace) -> None:
    run = synced.after_outage
    assert (run["run_type"], run["state"]) == ("scheduled", "success"), \
        synced.stack.describe(DAG_ID)
    window = xcom(synced.stack, run["run_id"], "extract_receptions")["window"]
    start = datetime.fromisoformat(window["start"])
    start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    # The run's interval is the last day; its window reaches back to the watermark.
    assert window["source"] == "interval", window
    assert start <= last_interval_end() - timedelta(days=1) - OUTAGE, window
    idf = synced.cfg.ident_id_field
    synced_then = Counter(d[idf] for d in synced.deals_after_outage)
    assert synced_then == Counter(synced.outage_ids), "the outage's changes were not synced"


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


def test_every_task_process_finds_the_sync_imported_by_its_worker(
        synced: SimpleNamespace) -> None:
    """identsync.preload: the scheduler loads the plugin before it forks its LocalExecutor
    workers, so no task process imports the sync again (each says so in its `task cpu:`
    line; off, the DAG file costs ~0.2-0.4 s CPU per task instance: bench/README.md)."""
    said = Counter()
    for path in (synced.stack.home / "logs").rglob("attempt=*.log"):
        for line in path.read_text(errors="replace").splitlines():
            event = json.loads(line).get("event", "") if line.startswith("{") else ""
            if event.startswith("task cpu:"):
                said[event.partition("modules preloaded: ")[2] or "not said"] += 1
    assert said["yes"] > 20 and set(said) == {"yes"}, said


def test_each_task_instance_left_one_xcom(synced: SimpleNamespace) -> None:
    # Not one per key of its result as well (an inferred multiple_outputs): fewer API calls,
    # and the run's data is not stored twice.
    keys = synced.stack.query("SELECT key, count(*) FROM xcom GROUP BY key")
    assert [k for k, _ in keys] == ["return_value"], keys


@pytest.mark.parametrize(("task_id", "map_index"), TASKS)
def test_clearing_one_task_of_a_finished_run_succeeds_and_writes_nothing(
        synced: SimpleNamespace, task_id: str, map_index: int | None) -> None:
    stack = synced.stack
    run = stack.runs(DAG_ID, backfill_id=synced.backfill_id)[0]
    before = synced.emu.control.stats()
    cleared_at = utcnow()
    target: Any = task_id if map_index is None else [task_id, map_index]
    cleared = rest(stack, "POST", f"/dags/{DAG_ID}/clearTaskInstances", {
        "dry_run": False, "dag_run_id": run["run_id"], "task_ids": [target],
        "include_downstream": True, "include_upstream": False, "only_failed": False,
        "reset_dag_runs": True})
    assert cleared["total_entries"] >= 2  # the task and what runs after it
    what = sorted((t["task_id"], t["map_index"]) for t in cleared["task_instances"])
    (again,) = stack.wait_finished(DAG_ID, run_ids=[run["run_id"]], since=cleared_at,
                                   timeout=300)
    assert again["state"] == "success", stack.describe(DAG_ID)
    rows = [t for t in stack.task_rows(DAG_ID, current_only=True) if t.run_id == run["run_id"]]
    ran = [t for t in rows if t.task_id == task_id and t.map_index == (
        -1 if map_index is None else map_index)]
    assert ran and ran[0].start > cleared_at and ran[0].state == "success", (what, rows)
    # A re-run transform may stage fewer chunks (records it finds already synced): the map
    # indexes beyond them are "removed".
    assert {t.state for t in rows} <= {"success", "skipped", "removed"}, rows
    synced.emu.control.settled()
    assert synced.emu.control.writes_since(before) == {}


def test_a_run_whose_mapped_task_fails_is_red(synced: SimpleNamespace) -> None:
    """Every deal update refused: the chunk's upsert fails (over the failure threshold), and
    the run must not show green."""
    stack, emu = synced.stack, synced.emu
    records = [r for r in expected_records(synced.engine, synced.cfg, FIRST,
                                           LAST + timedelta(days=1))
               if r.status == "planned" and r.ident_id not in synced.outage_ids][:10]
    assert len(records) >= 5, "the clinic must have planned receptions to cancel"
    now = _clinic(datetime.now(timezone.utc))
    _touch(synced.engine, [r.reception_id for r in records], ReceptionCanceled=now,
           DateTimeChanged=now)
    emu.control.faults({"refuse": [{"method": "crm.deal.update",
                                    "description": "the stage is locked"}]})
    try:
        started = rest(stack, "POST", f"/dags/{DAG_ID}/dagRuns",
                       {"logical_date": None, "conf": {}})
        (run,) = stack.wait_finished(DAG_ID, run_ids=[started["dag_run_id"]], timeout=300)
    finally:
        emu.control.faults({})
    rows = [t for t in stack.task_rows(DAG_ID, current_only=True) if t.run_id == run["run_id"]]
    failed = [(t.task_id, t.map_index) for t in rows if t.state == "failed"]
    assert any(task == "upsert_contacts_deals" for task, _ in failed), stack.describe(DAG_ID)
    assert run["state"] == "failed", stack.describe(DAG_ID)
