"""Upgrading a state database made by identsync 0.3.0 (state/migrations.py).

tests/data/state-0.3.0.sql is what 0.3.0 itself left behind: its own ``ensure_schema`` and
engine (git d71edb6, run with ``PYTHONPATH=<git archive d71edb6 src>``) synced the demo clinic
below into a fresh emulator, then a watermark per branch, an id-less rejection, a queued and a
dead retry-queue record and a "writing" mark were added through its own API, and the schema was
dumped (``pg_dump --column-inserts``, schema names removed). tests/data/state-0.3.0-portal.json
is the portal that run wrote (the emulator's persisted rows), so the deal ids in the ledger are
the portal's. The test regenerates the same clinic (same seed), migrates, and syncs on.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from b24emu.store import SqliteStore
from identsync.bitrix24.client import Bitrix24Client
from identsync.config import SyncConfig
from identsync.errors import Retry, StateSchemaTooNew, retry_class
from identsync.records import Rejection
from identsync.state import SyncState
from identsync.state.coverage import BackfillBlocks
from identsync.state.fingerprints import Fingerprints
from identsync.state.guard import PhoneGuard
from identsync.state.ledger import CommentLedger
from identsync.state.migrations import LATEST, STEPS, VERSION_TABLE, current_version, migrate
from identsync.state.queue import RetryQueue
from identsync.state.ratelimit import ensure_schema as ensure_rate_limit_schema
from identsync.state.secret import HashKey
from identsync.state.store import StateStore
from identsync.sync.engine import sync_window
from identsync.sync.phones import normalize_phone
from identsync.sync.plan import name_key
from tests.fixtures.pg import snapshot
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic
from tools.ident_demo.days import advance_day

DATA = Path(__file__).resolve().parents[1] / "data"
STATE_030 = DATA / "state-0.3.0.sql"
PORTAL_030 = DATA / "state-0.3.0-portal.json"
# The configuration and window the fixture was made with.
CFG = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}],
                            "write_settle_seconds": 0})
WIDE = (datetime(2026, 11, 1), datetime(2027, 1, 1))
P1 = CFG.pipeline_id(1)
IDLESS = Rejection(None, None, "missing_branch", "reception row without ID and branch: "
                   "patient 'Иванова' phone +79161234567")


def rows(dsn: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def load_030(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(STATE_030.read_text(encoding="utf-8"))
    finally:
        conn.close()


@pytest.fixture
def clinic():
    engine = sa.create_engine("sqlite://")
    create_schema(engine)
    generate_clinic(engine, seed=7, receptions=160, patients=70, start=date(2026, 11, 20),
                    days=3, now=datetime(2026, 11, 21, 12, 0))
    return engine


@pytest.fixture
def portal_030(make_emulator, tmp_path):
    """An emulator holding what 0.3.0 wrote to the portal."""
    data = json.loads(PORTAL_030.read_text(encoding="utf-8"))
    store = SqliteStore(str(tmp_path / "portal.sqlite"))
    for kind, entity_id, row in data["rows"]:
        store.save_entity(kind, entity_id, row)
    for key, value in data["meta"].items():
        store.save_meta(key, value)
    store.close()
    return make_emulator(plan="unlimited", state_path=str(tmp_path / "portal.sqlite"))


@pytest.fixture
def dsn_030(pg_dsn):
    load_030(pg_dsn)
    return pg_dsn


def test_upgrade_from_030_keeps_the_state_and_the_sync_goes_on(dsn_030, portal_030, clinic):
    dsn = dsn_030
    # Columns 0.3.0 had (steps add some: step 6 adds identsync_fingerprints.read_at).
    cols = {"identsync_fingerprints": "pipeline, ident_id, fingerprint, written_at"}
    keep = {t: rows(dsn, f"SELECT {cols.get(t, '*')} FROM {t} ORDER BY 1, 2") for t in (
        "identsync_comment_ledger", "identsync_watermarks", "identsync_fingerprints",
        "identsync_retry_queue", "identsync_runs", "identsync_full_checks")}
    phones = dict(((p, (seq, ws)) for p, seq, ws in rows(
        dsn, "SELECT phone, seq, writing_since FROM identsync_phone_writes")))
    assert len(keep["identsync_comment_ledger"]) == 159 and len(phones) == 40
    assert all(p.startswith("+7") for p in phones)
    assert current_version(dsn) == 0

    assert migrate(dsn) == [s.version for s in STEPS]
    assert current_version(dsn) == LATEST

    # Nothing of 0.3.0's state changed by the upgrade but the phones.
    for table, before in keep.items():
        assert rows(dsn, f"SELECT {cols.get(table, '*')} FROM {table} ORDER BY 1, 2") == \
            before, table
    assert rows(dsn, "SELECT count(*) FROM identsync_fingerprints WHERE read_at IS NOT NULL") \
        == [(0,)]  # no read time known: any run may write them, as before the upgrade
    # Phone locks: the same rows under the keys the guard now locks on, raw phones gone.
    state = SyncState(dsn)
    after = {k: (seq, ws) for k, seq, ws in rows(
        dsn, "SELECT phone_key, seq, writing_since FROM identsync_phone_writes")}
    assert after == {state.guard.phone_key(p): v for p, v in phones.items()}
    assert sum(ws is not None for _, ws in after.values()) == 1  # the "writing" mark kept
    dump = json.dumps(snapshot(dsn)["identsync_phone_writes"], default=str)
    assert not any(p in dump or p[1:] in dump for p in phones)
    # The id-less rejection is found again under the new key: still one open row.
    state.store.record_rejections(P1, "after-upgrade", [IDLESS])
    assert rows(dsn, "SELECT times_seen FROM identsync_rejections "
                     "WHERE resolved_at IS NULL") == [(2,)]

    # The sync goes on: the run start migrates (nothing left to do), the same window again
    # writes nothing new; the queued record is retried, and both it and the dead one (in the
    # window, so synced in full) leave the queue.
    state.ensure_schema()
    client = Bitrix24Client(portal_030.webhook_url, plan="unlimited")
    before = portal_030.control.stats()
    for branch in (1, 2):
        sync_window(clinic, client, state, CFG, *WIDE, branch_id=branch)
    added = {m: n for m, n in portal_030.control.writes_since(before).items()
             if m.endswith(".add")}
    assert added == {}, added
    queue = dict(((i, s) for i, s in rows(
        dsn, "SELECT ident_id, status FROM identsync_retry_queue")))
    assert queue == {"F1_1": "recovered", "F1_10": "recovered"}

    # A day later: new and changed receptions sync, nothing twice.
    advance_day(clinic, seed=11, now=datetime(2026, 11, 22, 18, 0))
    for branch in (1, 2):
        sync_window(clinic, client, state, CFG, *WIDE, branch_id=branch)
    deals = portal_030.control.dump("deal")
    contacts = portal_030.control.dump("contact")
    comments = portal_030.control.dump("comment")
    idf = CFG.ident_id_field
    assert len(deals) > 159
    assert not [k for k, n in Counter(d[idf] for d in deals).items() if n > 1]
    assert {str(r[0]) for r in keep["identsync_comment_ledger"]} <= {d["ID"] for d in deals}
    persons = Counter((normalize_phone(c["PHONE"][0]["VALUE"], "RU"),
                       name_key(c["LAST_NAME"], c["NAME"], c["SECOND_NAME"]))
                      for c in contacts)
    assert not [p for p, n in persons.items() if n > 1]
    # The ledger held: no deal got the same comment twice, and every deal's ledger row
    # names its last comment.
    assert not [k for k, n in Counter((c["ENTITY_ID"], c["COMMENT"]) for c in comments).items()
                if n > 1]
    last = {}
    for c in sorted(comments, key=lambda c: int(c["ID"])):
        last[int(c["ENTITY_ID"])] = int(c["ID"])
    ledger = dict(rows(dsn, "SELECT deal_id, posted_comment_id FROM identsync_comment_ledger"))
    assert ledger == last


def test_migrating_twice_is_a_no_op(dsn_030):
    assert migrate(dsn_030) == [s.version for s in STEPS]
    once = snapshot(dsn_030)
    assert migrate(dsn_030) == []
    SyncState(dsn_030).ensure_schema()
    assert snapshot(dsn_030) == once
    assert [r[0] for r in rows(dsn_030, f"SELECT version FROM {VERSION_TABLE} ORDER BY 1")] \
        == [s.version for s in STEPS]


def test_concurrent_runners_upgrade_once(dsn_030):
    phones = {p for (p,) in rows(dsn_030, "SELECT phone FROM identsync_phone_writes")}
    start = threading.Barrier(4)
    results: list[object] = []

    def runner():
        start.wait()
        try:
            results.append(migrate(dsn_030))
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            results.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(str, results)) == sorted(
        [str([s.version for s in STEPS])] + ["[]"] * 3), results
    guard = SyncState(dsn_030).guard
    assert {k for (k,) in rows(dsn_030, "SELECT phone_key FROM identsync_phone_writes")} \
        == {guard.phone_key(p) for p in phones}  # hashed once, not twice


def test_a_state_database_newer_than_the_code_fails_clearly(pg_dsn, capsys):
    from identsync.cli import main

    migrate(pg_dsn)
    rows(pg_dsn, f"INSERT INTO {VERSION_TABLE} (version, name, applied_by) "
                 f"VALUES ({LATEST + 1}, 'from the future', 'identsync 9.9.9') RETURNING 1")
    before = snapshot(pg_dsn)
    with pytest.raises(StateSchemaTooNew) as err:
        SyncState(pg_dsn).ensure_schema()
    text = str(err.value)
    assert f"version {LATEST + 1}" in text and "identsync 9.9.9" in text
    assert f"up to {LATEST}" in text and "restore the state database backup" in text
    assert retry_class(err.value) is Retry.NEVER  # the task fails at once, no retries
    assert snapshot(pg_dsn) == before

    assert main(["migrate", "--dsn", pg_dsn]) == 1
    assert "restore the state database backup" in capsys.readouterr().err
    assert snapshot(pg_dsn) == before


def test_cli_migrate(dsn_030, capsys):
    from identsync.cli import main

    assert main(["migrate", "--dsn", dsn_030]) == 0
    assert f"version {LATEST}: applied 1, 2, 3, 4, 5" in capsys.readouterr().out
    assert main(["migrate", "--dsn", dsn_030]) == 0
    assert "nothing to do" in capsys.readouterr().out


def catalog(dsn: str) -> dict[str, list[tuple]]:
    """The schema's shape: columns, constraints, indexes, sequences (no data, no names of
    the schema itself)."""
    q = {
        "columns": """SELECT table_name, column_name, ordinal_position, data_type,
                             is_nullable, column_default
                        FROM information_schema.columns WHERE table_schema = current_schema()""",
        "constraints": """SELECT c.conrelid::regclass::text, c.conname,
                                 pg_get_constraintdef(c.oid)
                            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                           WHERE n.nspname = current_schema()""",
        "indexes": """SELECT tablename, indexname,
                             replace(indexdef, current_schema() || '.', '')
                        FROM pg_indexes WHERE schemaname = current_schema()""",
        "sequences": """SELECT sequence_name, data_type, start_value, increment
                          FROM information_schema.sequences
                         WHERE sequence_schema = current_schema()""",
    }
    return {k: sorted(r for r in rows(dsn, sql) if VERSION_TABLE not in str(r[0]))
            for k, sql in q.items()}


def test_migrations_end_at_every_parts_latest_schema(pg_dsn):
    """A part's ensure_schema changed without a migration step (or the reverse) fails here:
    a fresh database and an upgraded one must look like what the code expects."""
    migrate(pg_dsn)
    with pgserver.scratch_schema("test") as latest:
        HashKey(latest).ensure_schema()
        for part in (StateStore(latest), PhoneGuard(latest, key=b"k" * 32),
                     CommentLedger(latest), RetryQueue(latest), Fingerprints(latest),
                     BackfillBlocks(latest)):
            part.ensure_schema()
        ensure_rate_limit_schema(latest)
        assert catalog(pg_dsn) == catalog(latest)
    with pgserver.scratch_schema("test") as upgraded:
        load_030(upgraded)
        migrate(upgraded)
        assert catalog(upgraded) == catalog(pg_dsn)


@pytest.mark.airflow
def test_the_dag_upgrades_a_030_state_then_refuses_a_newer_one(dsn_030, portal_030, tmp_path):
    """The same through the real DAG (`airflow dags test`): its first task migrates the 0.3.0
    state, the run writes nothing new; a state database from a newer identsync then fails the
    first task at once (no retry) saying what to do, and nothing is written anywhere."""
    from tests.dags.test_dag_failures import DAG_ID, tries
    from tests.fixtures.airflow import airflow, airflow_env, write_config
    from tests.fixtures.airflow import migrate as airflow_db_migrate
    from tests.fixtures.emulator import TEST_TOKEN

    assert DAG_ID == P1
    dag_id, conf = P1, json.dumps({"date_from": "2026-11-01", "date_to": "2026-12-31"})
    ident_db = tmp_path / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=7, receptions=160, patients=70, start=date(2026, 11, 20),
                    days=3, now=datetime(2026, 11, 21, 12, 0))
    engine.dispose()
    config = write_config(tmp_path / "identsync.json", retries=2, retry_delay_seconds=0)
    env = airflow_env(tmp_path / "airflow", emulator_base_url=portal_030.base_url,
                      token=TEST_TOKEN, ident_db=ident_db, state_dsn=dsn_030, config=config)
    airflow_db_migrate(env)
    ledger = rows(dsn_030, "SELECT * FROM identsync_comment_ledger ORDER BY 1")

    before = portal_030.control.stats()
    airflow(env, "dags", "test", dag_id, "-c", conf)
    assert current_version(dsn_030) == LATEST
    added = {m: n for m, n in portal_030.control.writes_since(before).items()
             if m.endswith(".add")}
    assert added == {}, added
    assert rows(dsn_030, "SELECT * FROM identsync_comment_ledger ORDER BY 1") == ledger
    assert rows(dsn_030, "SELECT count(*) FROM identsync_phone_writes "
                         "WHERE phone_key LIKE '+%'") == [(0,)]

    rows(dsn_030, f"INSERT INTO {VERSION_TABLE} (version, name, applied_by) "
                  f"VALUES ({LATEST + 1}, 'from the future', 'identsync 9.9.9') RETURNING 1")
    state_before, portal_before = snapshot(dsn_030), portal_030.control.dump_all()
    proc = airflow(env, "dags", "test", dag_id, "-c", conf, check=False)
    log = proc.stdout + proc.stderr
    assert "upgraded by a newer identsync" in log and "restore the state database backup" in log
    states = tries(env, "extract_receptions")
    assert states and all(n == 1 for n, _ in states)  # failed at once: no second try
    assert {s for _, s in states} == {"failed"}
    assert snapshot(dsn_030) == state_before
    assert portal_030.control.dump_all() == portal_before


def test_an_idless_rejection_recorded_twice_before_versioning_becomes_one(dsn_030):
    """A development build of this round (no version table yet) keyed the same id-less
    rejection the new way beside 0.3.0's row: the upgrade merges them into one."""
    StateStore(dsn_030).record_rejections(P1, "dev-build", [IDLESS])
    assert len(rows(dsn_030, "SELECT 1 FROM identsync_rejections")) == 2
    (first_seen,), = rows(dsn_030, "SELECT min(first_seen) FROM identsync_rejections")
    migrate(dsn_030)
    assert rows(dsn_030, "SELECT record_key, times_seen, first_seen FROM identsync_rejections") \
        == [(f"unknown:{IDLESS.reason}:1d0f4b9f7cadab02", 2, first_seen)]
