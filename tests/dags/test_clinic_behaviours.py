"""Issue #18 items 10, 8 and 5 through the real DAG (`airflow dags test`, emulator over HTTP,
PostgreSQL state, SQLite IDENT), one clinic in Europe/Berlin, runs in order (module scope):

* item 10: deals the old script made, with its comment hashes imported by the installed
  ``identsync import-comment-hashes`` command, get no comment on the first sync unless
  something changed since;
* item 8: after ``category_id`` changes, a deal final in its old pipeline (``C1:WON``) is
  never reopened, and an open one is updated in its own pipeline, not duplicated;
* item 5: windows are instants. A change stamped in the repeated hour of the fall-back night
  is synced by the ``*/30`` window that ends at the transition (``[02:15, 02:00)`` local
  before: empty); one stamped in the spring-forward hour that never existed is synced both by
  the window around the jump and by the window of the instant it maps to (02:30 = 03:30 CEST).
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.ident import schema as s
from identsync.ident.extract import extract_receptions
from identsync.sync.prepare import prepare
from tests.fixtures.airflow import airflow, airflow_env, last_xcom, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tests.fixtures.old_script import leave_old_script_deals
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic
from tools.localairflow import BIN

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
WIDE = {"date_from": "2026-11-01", "date_to": "2026-11-21"}
EDIT_AT = datetime(2026, 11, 22, 10, 0)  # naive Berlin time, as IDENT stamps it
LATER = {"date_from": "2026-11-22", "date_to": "2026-11-22"}


@pytest.fixture(scope="module")
def world(tmp_path_factory, emulator_session):
    emulator_session.reset("all,config")
    tmp = tmp_path_factory.mktemp("behaviours")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=18, receptions=40, patients=20, start=date(2026, 11, 20),
                    days=2, branches=((1, "A"),), now=datetime(2026, 11, 21, 8, 0))
    overrides = {"timezone": "Europe/Berlin", "category_id": 1, "retry_delay_seconds": 1}
    config = write_config(tmp / "identsync.json", **overrides)
    with pgserver.scratch_schema("test", "behaviours") as dsn:
        env = airflow_env(tmp / "airflow", emulator_base_url=emulator_session.base_url,
                          token=TEST_TOKEN, ident_db=ident_db, state_dsn=dsn, config=config)
        migrate(env)
        cfg = SyncConfig.from_file(config)
        # The planned receptions as the sync prepares them, before any test changes them;
        # each test takes its own.
        rows = list(extract_receptions(engine, datetime(2026, 11, 1), datetime(2026, 11, 22),
                                       branch_id=1))
        records = [r for c in prepare(rows, cfg.for_branch(1), branch_id=1).chunks for r in c]
        planned = [r for r in records if r.status == "planned"]
        assert len(planned) >= 7, "the clinic must have enough planned receptions"
        yield {"env": env, "engine": engine, "emu": emulator_session, "dsn": dsn,
               "config": config, "overrides": overrides, "cfg": cfg, "records": records,
               "planned": planned,
               "client": Bitrix24Client(emulator_session.webhook_url, plan="unlimited")}


def run_dag(world, conf: dict) -> dict:
    proc = airflow(world["env"], "dags", "test", DAG_ID, "-c", json.dumps(conf))
    summary = last_xcom(world["env"], DAG_ID, "run_summary")
    assert summary, (proc.stdout + proc.stderr)[-3000:]
    return summary


def deals(world) -> dict[str, dict]:
    return {d[world["cfg"].ident_id_field]: d for d in world["emu"].control.dump("deal")}


def stamp(world, reception_id: int, at: datetime, **values) -> None:
    with world["engine"].begin() as conn:
        conn.execute(sa.update(s.Receptions).where(s.Receptions.c.ID == reception_id)
                     .values(DateTimeChanged=at, **values))


# -- item 10: migration from the old script ---------------------------------------------------

def test_deals_of_the_old_script_get_no_comment_on_the_first_sync_unless_changed(world):
    client, emu = world["client"], world["emu"]
    same, stale = world["planned"][0], world["planned"][1]
    hashes = leave_old_script_deals(client, same, stale)
    file = world["config"].parent / "comment_hashes.json"
    file.write_text(json.dumps(hashes), encoding="utf-8")
    # The operator's command, as README tells it, into the DAG's state database.
    proc = subprocess.run([str(BIN / "identsync"), "import-comment-hashes", "--dsn",
                           world["dsn"], str(file)],
                          env={**world["env"], "IDENTSYNC_CONFIG": str(world["config"])},
                          text=True, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deal_of = {same.ident_id: int(list(hashes)[0]), stale.ident_id: int(list(hashes)[1])}

    summary = run_dag(world, WIDE)
    per_deal = Counter(int(c["ENTITY_ID"]) for c in emu.control.dump("comment"))
    assert per_deal[deal_of[same.ident_id]] == 1  # only the old script's
    assert per_deal[deal_of[stale.ident_id]] == 2  # changed since: ours follows
    assert summary["counts"]["comments_adopted_from_old_script"] == 1
    synced = deals(world)
    assert {k: int(synced[k]["ID"]) for k in deal_of} == deal_of  # adopted, not duplicated
    assert len(emu.control.dump("deal")) == len(synced)


# -- item 8: a category change never reopens a final deal -------------------------------------

def test_a_category_change_never_reopens_a_won_deal(world):
    client = world["client"]
    won_r, open_r = world["planned"][2], world["planned"][3]
    before = deals(world)
    won, still_open = before[won_r.ident_id], before[open_r.ident_id]
    assert (won["STAGE_ID"], still_open["STAGE_ID"]) == ("C1:NEW", "C1:NEW")
    client.call("crm.deal.update", {"id": won["ID"], "fields": {"STAGE_ID": "C1:WON"}})
    for r in (won_r, open_r):  # the patients arrive: IDENT says "arrived"
        stamp(world, r.reception_id, EDIT_AT, PatientAppeared=EDIT_AT)
    # The clinic moves its deals to another pipeline: the DAG reads the file on every run.
    write_config(world["config"], **{**world["overrides"], "category_id": 2})

    summary = run_dag(world, LATER)
    after = deals(world)
    assert after[won_r.ident_id]["STAGE_ID"] == "C1:WON"
    assert after[open_r.ident_id]["STAGE_ID"] == "C1:PREPARATION"  # updated in its pipeline
    assert summary["counts"]["deals_kept_closed"] == 1
    assert summary["counts"]["deals_created"] == 0
    assert len(after) == len(before)


# -- item 5: windows are instants across both DST transitions ---------------------------------

def arrived(world, r, at: datetime) -> None:
    """The patient arrives, stamped at the naive local time ``at``: the deal's stage moves
    to PREPARATION only if a run reads the change."""
    stamp(world, r.reception_id, at, PatientAppeared=EDIT_AT)


def stage(world, r) -> str:
    return deals(world)[r.ident_id]["STAGE_ID"].split(":")[-1]


def test_a_change_in_the_repeated_fall_back_hour_is_synced(world):
    r = world["planned"][4]
    assert stage(world, r) == "NEW"
    # 02:30 on 2026-10-25 in Berlin is 00:30Z (summer) or 01:30Z (winter). The */30 run
    # with 15 minutes of overlap ending at 01:00Z, when 03:00 CEST became 02:00 CET, read
    # the wall-clock range [02:15, 02:00): empty.
    arrived(world, r, datetime(2026, 10, 25, 2, 30))
    summary = run_dag(world, {"date_from": "2026-10-25T00:15:00+00:00",
                              "date_to": "2026-10-25T01:00:00+00:00"})
    assert summary["counts"]["extracted"] >= 1
    assert stage(world, r) == "PREPARATION"


def test_a_change_stamped_in_the_skipped_spring_hour_is_synced(world):
    # 02:30 on 2026-03-29 never showed on a Berlin clock (02:00 CET became 03:00 CEST); a
    # stamp there (typed, or from a clock that changed late) means 03:30 CEST = 01:30Z.
    around, forward = world["planned"][5], world["planned"][6]
    skipped = datetime(2026, 3, 29, 2, 30)
    arrived(world, around, skipped)
    # 01:45 CET .. 03:15 CEST, the window around the jump.
    run_dag(world, {"date_from": "2026-03-29T00:45:00+00:00",
                    "date_to": "2026-03-29T01:15:00+00:00"})
    assert stage(world, around) == "PREPARATION"
    assert stage(world, forward) == "NEW"
    arrived(world, forward, skipped)
    # 03:15 .. 03:45 CEST holds 03:30 CEST, the instant the stamp maps to; as a wall-clock
    # range it does not hold 02:30.
    run_dag(world, {"date_from": "2026-03-29T01:15:00+00:00",
                    "date_to": "2026-03-29T01:45:00+00:00"})
    assert stage(world, forward) == "PREPARATION"
