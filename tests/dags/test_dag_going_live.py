"""Going live and the days after, through the real DAG under `airflow dags test` (emulator over
HTTP, PostgreSQL state, SQLite IDENT with the demo clinic, clinic time = real time).

In order (module scope):
1. a manual run with ``date_to`` = today: the watermark moves only to the moment the run read
   IDENT (not to tomorrow 00:00), the summary says the window's end was clamped, and how many
   receptions planned today were not changed today (so not synced);
2. a reception changed after that run is synced by the next manual run without dates: no gap;
3. ``plan_from``/``plan_to``: every reception planned in the coming days is synced whatever
   its change time (booked weeks ago), in chunks; the watermark does not move; one refused
   deal waits in the retry queue;
4. that record's patient loses the phone in IDENT: the next run rejects it, and it leaves the
   queue as an open rejection instead of staying ``queued`` and due forever.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from identsync.ident import schema as s
from identsync.state import SyncState
from tests.fixtures.airflow import airflow, airflow_env, last_xcom, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
TZ = ZoneInfo("Europe/Moscow")  # dags/identsync.json's zone
IDENT_FIELD = "UF_CRM_IDENT_ID"


def local_now() -> datetime:
    """Now as IDENT stamps it: naive clinic-local time."""
    return datetime.now(TZ).replace(tzinfo=None, microsecond=0)


@pytest.fixture(scope="module")
def world(tmp_path_factory, emulator_session):
    emulator_session.reset("all,config")
    tmp = tmp_path_factory.mktemp("golive")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    today = local_now().date()
    # Receptions for today and the next two days, booked up to three weeks before each.
    generate_clinic(engine, seed=21, receptions=300, patients=120, start=today, days=3,
                    now=local_now() - timedelta(minutes=2))
    # No overlap: a gap in the windows is then a gap in what is read, not hidden by it.
    config = write_config(tmp / "identsync.json", retry_delay_seconds=1, overlap_minutes=0,
                          retry_base_minutes=0)
    with pgserver.scratch_schema("test", "golive") as dsn:
        env = airflow_env(tmp / "airflow", emulator_base_url=emulator_session.base_url,
                          token=TEST_TOKEN, ident_db=ident_db, state_dsn=dsn, config=config)
        migrate(env)
        yield {"env": env, "engine": engine, "emu": emulator_session,
               "state": SyncState(dsn), "today": today, "facts": {}}


def run_dag(world, conf: dict) -> tuple[dict, str]:
    proc = airflow(world["env"], "dags", "test", DAG_ID, "-c", json.dumps(conf))
    summary = last_xcom(world["env"], DAG_ID, "run_summary")
    assert summary, proc.stdout[-3000:]
    return summary, proc.stdout + proc.stderr


def deals(world) -> dict[str, dict]:
    return {d[IDENT_FIELD]: d for d in world["emu"].control.dump("deal")}


def planned_of_branch_1(world, first: datetime, last: datetime) -> set[int]:
    """The reference: receptions planned in [first, last) that branch 1's pipeline syncs
    (its chair's branch, else its orders'; unknown branches go to the first pipeline)."""
    R, A, O = s.Receptions, s.Armchairs, s.Orders
    with world["engine"].connect() as conn:
        chairs = dict(conn.execute(sa.select(A.c.ID, A.c.ID_OwnCompanies)).all())
        orders: dict[int, int] = {}
        for rid, company in conn.execute(sa.select(O.c.ID_Receptions, O.c.ID_OwnCompanies)):
            if company is not None:
                orders[rid] = min(company, orders.get(rid, company))
        rows = conn.execute(sa.select(R.c.ID, R.c.ID_Armchairs, R.c.PlanStart)).all()
    out = set()
    for rid, chair, plan in rows:
        branch = chairs.get(chair) if chairs.get(chair) is not None else orders.get(rid)
        if first <= plan < last and branch not in (2,):
            out.add(rid)
    return out


def day(world, n: int) -> datetime:
    return datetime.combine(world["today"] + timedelta(days=n), datetime.min.time())


def test_1_a_range_ending_today_moves_the_watermark_only_to_the_read_time(world):
    before = datetime.now(timezone.utc)
    today = world["today"].isoformat()
    summary, log = run_dag(world, {"date_from": today, "date_to": today})
    after = datetime.now(timezone.utc)
    watermark = world["state"].store.get_watermark(DAG_ID)
    world["facts"]["watermark"] = watermark
    # Was tomorrow 00:00 clinic time: a change later today then fell in no window.
    assert before <= watermark <= after
    clamp = summary["window_end_clamped"]
    assert datetime.fromisoformat(clamp["window_end"]) == day(world, 1).replace(tzinfo=TZ)
    assert datetime.fromisoformat(clamp["watermark_at_most"]) == watermark
    assert "CLAMPED" in log

    # Appointments for today booked on earlier days were not changed today: not synced,
    # and the summary says how many.
    synced = deals(world)
    rejected = {r["reception_id"] for r in summary["rejections"]}
    missed = {rid for rid in planned_of_branch_1(world, day(world, 0), day(world, 1))
              if f"F1_{rid}" not in synced and rid not in rejected}
    assert summary["planned_not_in_window"] == len(missed) > 0
    assert "NOT IN WINDOW" in log


def test_2_a_change_later_that_day_is_synced_by_the_next_run(world):
    synced = deals(world)
    rid = min(r for r in planned_of_branch_1(world, day(world, 1), day(world, 2))
              if f"F1_{r}" not in synced)
    stamp = local_now()
    with world["engine"].begin() as conn:
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID == rid)
                     .values(Comment="перенесли на утро", DateTimeChanged=stamp))
    summary, _ = run_dag(world, {})
    assert summary["window"]["source"] == "watermark"
    assert datetime.fromisoformat(summary["window"]["start"]) <= world["facts"]["watermark"]
    assert f"F1_{rid}" in deals(world), "the change made after the first run was not synced"
    assert world["state"].store.get_watermark(DAG_ID) >= stamp.replace(tzinfo=TZ)
    world["facts"]["changed"] = rid


def test_3_plan_from_to_loads_every_appointment_of_the_coming_days(world):
    expected = planned_of_branch_1(world, day(world, 1), day(world, 3))
    synced = deals(world)
    target = max(r for r in expected if f"F1_{r}" not in synced)
    world["emu"].control.faults({"refuse": [{"method": "crm.deal.add", "field": IDENT_FIELD,
                                             "value": f"F1_{target}", "times": 1}]})
    watermark = world["state"].store.get_watermark(DAG_ID)
    plan_to = (world["today"] + timedelta(days=2)).isoformat()
    plan_from = (world["today"] + timedelta(days=1)).isoformat()
    summary, log = run_dag(world, {"plan_from": plan_from, "plan_to": plan_to})

    assert summary["window"]["source"] == "planned" and "PLANNED" in log
    c = summary["counts"]
    assert c["extracted"] == len(expected)
    # Those synced earlier today are skipped as unchanged; the rest go in mapped chunks.
    assert c["records"] + c["unchanged_skipped"] + c["rejected"] == c["extracted"]
    assert c["records"] > 50 and c["chunks"] >= 2
    rejected = {r["reception_id"] for r in summary["rejections"]}
    portal = deals(world)
    missing = {r for r in expected - rejected - {target} if f"F1_{r}" not in portal}
    assert not missing, f"planned receptions not synced: {sorted(missing)[:10]}"
    assert f"F1_{target}" not in portal and c["queue_queued"] == 1
    assert world["state"].store.get_watermark(DAG_ID) == watermark  # a load by plan date
    assert summary["watermark_moved"] is False
    world["facts"]["target"] = target


def test_4_a_queued_record_that_transform_now_rejects_leaves_the_queue(world):
    target = world["facts"]["target"]
    with world["engine"].begin() as conn:
        patient = conn.execute(sa.select(s.Receptions.c.ID_Patients)
                               .where(s.Receptions.c.ID == target)).scalar_one()
        conn.execute(sa.update(s.Persons).where(s.Persons.c.ID == patient)
                     .values(MobilePhone=None))
    summary, _ = run_dag(world, {})
    assert summary["counts"]["queue_retried"] == 1
    assert summary["counts"]["queue_rejected"] == 1
    queue = world["state"].queue
    assert queue.due(DAG_ID) == []
    [entry] = queue.entries(DAG_ID, ("queued", "dead", "rejected"))
    assert (entry["ident_id"], entry["status"]) == (f"F1_{target}", "rejected")
    open_rejections = {r["ident_id"]: r for r in world["state"].store.open_rejections(DAG_ID)}
    assert open_rejections[f"F1_{target}"]["reason"] == "no_phone"
