"""SIGKILL the whole `airflow dags test` process while a write is in flight, then run again.

The emulator holds the write (a `slow` fault: it answers, and commits, only after a delay), so
the kill lands after the request left and before its answer came back: the write lands on the
portal after its sender is dead. The next run must find it instead of writing it again:
the upsert sees the dead attempt's "writing" mark, waits `write_settle_seconds`, looks again;
add_comments finds the leftover intent and reconciles it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from identsync.config import SyncConfig
from identsync.ident.extract import extract_receptions
from identsync.sync.prepare import prepare
from tests.fixtures.airflow import (
    BIN,
    ROOT,
    airflow,
    airflow_env,
    migrate,
    write_config,
)
from tests.fixtures.emulator import TEST_TOKEN
from tools.ident_demo.clinic import create_schema, generate_clinic

pytestmark = pytest.mark.airflow

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = {"date_from": "2026-11-01", "date_to": "2026-12-31"}
SLOW_S = 3.0


@pytest.fixture
def world(tmp_path, make_emulator, pg_dsn):
    emu = make_emulator(plan="unlimited")
    ident = tmp_path / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident}")
    create_schema(engine)
    generate_clinic(engine, seed=21, receptions=70, patients=35, start=date(2026, 11, 20),
                    days=2, now=datetime(2026, 11, 21, 12, 0))
    config = write_config(tmp_path / "identsync.json", write_settle_seconds=int(SLOW_S) + 2,
                          retry_delay_seconds=1)
    env = airflow_env(tmp_path / "airflow", emulator_base_url=emu.base_url, token=TEST_TOKEN,
                      ident_db=ident, state_dsn=pg_dsn, config=config)
    migrate(env)
    return {"env": env, "emu": emu, "engine": engine, "cfg": SyncConfig.from_file(config)}


def kill_when_in_flight(env: dict, emu, method: str) -> None:
    emu.control.faults({"slow_s": SLOW_S, "script": [
        {"method": method, "fault": "slow", "times": 1}]})
    proc = subprocess.Popen([str(BIN / "airflow"), "dags", "test", DAG_ID, "-c", json.dumps(CONF)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        faults = emu.control.stats()["faults"]
        if sum(v for k, v in faults.items() if "slow" in k) >= 1:
            break
        assert proc.poll() is None, "the run ended before the write was sent"
        time.sleep(0.05)
    else:
        raise AssertionError(f"no {method} request within 180 s")
    os.killpg(proc.pid, signal.SIGKILL)  # the request has left; its answer never arrives
    proc.wait(timeout=30)
    time.sleep(SLOW_S + 1)  # the held write lands on the portal after its sender died


@pytest.mark.parametrize("method", ["crm.deal.add", "crm.timeline.comment.add"])
def test_kill_mid_write_then_rerun_duplicates_nothing(world, method):
    kill_when_in_flight(world["env"], world["emu"], method)
    landed = world["emu"].control.dump("deal" if method == "crm.deal.add" else "comment")
    assert landed, "the killed run's write must have landed on the portal"

    rerun = airflow(world["env"], "dags", "test", DAG_ID, "-c", json.dumps(CONF))
    log = rerun.stdout + rerun.stderr
    if method == "crm.deal.add":
        assert "an earlier attempt died while writing these phones" in log
    else:
        # The dead attempt's intents were found on the portal, not posted again.
        assert re.search(r"comments    posted \d+, skipped \d+, reconciled [1-9]", log), log[-3000:]

    cfg = world["cfg"]
    rows = list(extract_receptions(world["engine"], datetime(2026, 11, 1), datetime(2027, 1, 1),
                                   branch_id=1))
    records = [r for c in prepare(rows, cfg).chunks for r in c if r.branch_id == 1]
    deals = world["emu"].control.dump("deal")
    assert Counter(d[cfg.ident_id_field] for d in deals) == Counter(r.ident_id for r in records)
    contacts = world["emu"].control.dump("contact")
    people = Counter((k["LAST_NAME"], k["NAME"], k["SECOND_NAME"], p["VALUE"])
                     for k in contacts for p in k["PHONE"])
    assert max(people.values()) == 1
    comments = world["emu"].control.dump("comment")
    assert Counter(int(c["ENTITY_ID"]) for c in comments) == Counter(int(d["ID"]) for d in deals)
