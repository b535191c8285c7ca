"""Retention, as docs/privacy.md states it: every state table is filled with rows that hold a
known patient's phone, name and free-text comment, aged past ``retention_days``, purged; then
no row of any table still holds any of them, while open rejections and dead records are still
counted (id, reason and dates kept).

The tables and their timestamp columns are read from the catalog, so a table added later is
aged and scanned too without touching this test.
"""

from __future__ import annotations

import re

import psycopg2
import pytest

from identsync.records import Failure, Rejection
from identsync.state import SyncState
from identsync.state.ledger import comment_hash
from identsync.state.store import SCRUBBED_DETAIL

PIPE = "branch_1"
RETENTION = 7
PHONE_RAW = "8 (916) 555-73-19"  # as typed in IDENT
PHONE = "+79165557319"
DIGITS = "9165557319"  # national number: found whatever the formatting around it
NAME = "Зябликова Аглая Феоктистовна"
GUARDIAN = "Зябликов Прохор"
COMMENT = "аллергия на лидокаин, беременность 12 недель"
NEEDLES = ("Зябликов", "Аглая", "лидокаин", "беременность")

SOURCE = {"ReceptionID": 501, "Surname": "Зябликова", "Name": "Аглая",
          "Patronymic": "Феоктистовна", "MobilePhone": PHONE_RAW, "Guardian": GUARDIAN,
          "Comment": COMMENT}


def _fill(state: SyncState) -> None:
    """One row in every table through the code that writes it in a run."""
    from datetime import datetime, timezone

    store, now = state.store, datetime.now(timezone.utc)
    store.set_watermark(PIPE, now, "run1")
    store.record_rejections(PIPE, "run1", [
        Rejection(501, "F1_501", "invalid_phone", f"patient 77: bad phone {PHONE_RAW!r}"),
        Rejection(502, "F1_502", "no_plan_start", f"{NAME}: PlanStart is empty"),
        Rejection(None, None, "no_branch", f"{NAME} {PHONE}: no branch")],
        sources={501: SOURCE, 502: {**SOURCE, "ReceptionID": 502}})
    store.resolve(PIPE, ["F1_502"])  # resolved: deleted after retention
    store.put_chunks("run1#raw", [[SOURCE]])
    store.record_run(PIPE, "run1", {"rejections": [{"detail": f"{NAME} {PHONE_RAW}"}],
                                    "errors": [{"description": f"{PHONE} {COMMENT}"}]})
    with state.guard.hold([PHONE]) as held:
        held.begin_write()  # a write that died: the mark is kept within retention
    with state.guard.hold(["+79165550000"]) as held:
        held.touch()
    state.queue.fail(PIPE, "run1", [
        Failure("F1_503", 503, "contact", "ERROR_PHONE", f"Телефон {PHONE} {NAME} неверен"),
        ], base_minutes=1, max_attempts=1)  # dead at once
    state.queue.fail(PIPE, "run1", [
        Failure("F1_504", 504, "deal", "ERROR_CORE", f"{COMMENT}")], base_minutes=1,
        max_attempts=1)
    state.queue.recovered(PIPE, ["F1_504"])  # recovered: deleted after retention
    state.queue.fail(PIPE, "run1", [
        Failure("F1_505", 505, "contact", "ERROR_CORE", "timeout")], base_minutes=1,
        max_attempts=5)
    # transform refuses it now: it leaves the queue with the rejection's detail
    state.queue.rejected(PIPE, "run1", [("F1_505", 505, f"bad phone {PHONE_RAW!r}")])
    state.fingerprints.record(PIPE, {"F1_501": "0" * 64})
    state.fingerprints.full_check_done(PIPE, now)
    state.blocks.claim(PIPE, now, now, 0, "run1")
    with state.ledger.claim([42]) as claim:
        claim.record_posted({42: (comment_hash(f"Пациент: {NAME}\n{COMMENT}"), 7)})
    assert state.hash_key  # the key row


def _tables(cur) -> list[str]:
    cur.execute("SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY 1")
    return [r[0] for r in cur.fetchall()]


def _hits(dsn: str) -> dict[str, list[str]]:
    """table -> the needles found in its rows (as text; the phone as digits only)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            out: dict[str, list[str]] = {}
            for t in _tables(cur):
                cur.execute(f'SELECT t::text FROM "{t}" t')
                for (text,) in cur.fetchall():
                    found = [n for n in NEEDLES if n in text]
                    if DIGITS in re.sub(r"\D", "", text):
                        found.append(DIGITS)
                    if found:
                        out.setdefault(t, []).extend(found)
            return out
    finally:
        conn.close()


def _age(dsn: str, days: int) -> int:
    """Move every timestamp of every row ``days`` into the past; returns columns aged."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() "
                        "AND data_type = 'timestamp with time zone'")
            cols = cur.fetchall()
            for t, c in cols:
                cur.execute(f'UPDATE "{t}" SET "{c}" = "{c}" - make_interval(days => %s) '
                            f'WHERE "{c}" IS NOT NULL', (days,))
            return len(cols)
    finally:
        conn.close()


def test_nothing_personal_outlives_the_retention_period(state, pg_dsn):
    _fill(state)
    before = _hits(pg_dsn)
    # The test can fail: the personal data is there before the purge.
    assert {"identsync_rejections", "identsync_staging", "identsync_runs",
            "identsync_retry_queue"} <= set(before)
    assert state.purge_expired(RETENTION) == {}  # young rows: nothing goes

    assert _age(pg_dsn, RETENTION + 1) >= 10
    purged = state.purge_expired(RETENTION)

    assert _hits(pg_dsn) == {}
    # Counted still, with their id, reason and dates.
    rej = state.store.open_rejections(PIPE)
    assert sorted((r["ident_id"] or "", r["reason"]) for r in rej) == [
        ("", "no_branch"), ("F1_501", "invalid_phone")]
    assert all(r["source"] is None and r["detail"] == SCRUBBED_DETAIL and r["first_seen"]
               and r["last_seen"] for r in rej)
    # A rejected queue row is resolved (the open rejection above counts it): it goes.
    assert state.queue.counts(PIPE) == {"dead": 1}
    dead = state.queue.entries(PIPE, ("dead",))[0]
    assert (dead["ident_id"], dead["step"], dead["code"]) == ("F1_503", "contact", "ERROR_PHONE")
    assert purged["identsync_rejections:scrubbed"] == 2
    assert purged["identsync_retry_queue"] == 2  # the recovered and the rejected one
    assert purged["identsync_retry_queue:scrubbed"] == 1  # the dead one
    assert purged["identsync_phone_writes"] == 2
    assert purged["identsync_fingerprints"] == 1
    # A second purge has nothing left to do.
    assert state.purge_expired(RETENTION) == {}


def test_a_young_writing_mark_survives_an_old_write_of_other_phones(state, pg_dsn):
    """The purge keeps the guard's crash recovery: a write that died recently is waited for."""
    with state.guard.hold([PHONE]) as held:
        held.touch()
    _age(pg_dsn, RETENTION + 1)
    with state.guard.hold([PHONE]) as held:
        held.begin_write()  # dies now: written_at is old, writing_since is new
    state.purge_expired(RETENTION)
    with state.guard.hold([PHONE]) as held:
        assert held.unfinished_write_age() is not None


def test_a_scrubbed_rejection_seen_again_gets_its_details_back(state, pg_dsn):
    state.store.record_rejections(PIPE, "run1", [
        Rejection(501, "F1_501", "invalid_phone", f"bad phone {PHONE_RAW!r}")],
        sources={501: SOURCE})
    _age(pg_dsn, RETENTION + 1)
    state.purge_expired(RETENTION)
    assert state.store.open_rejections(PIPE)[0]["source"] is None
    state.store.record_rejections(PIPE, "run2", [
        Rejection(501, "F1_501", "invalid_phone", f"bad phone {PHONE_RAW!r}")],
        sources={501: SOURCE})
    (row,) = state.store.open_rejections(PIPE)
    assert row["source"] == SOURCE and row["detail"] != SCRUBBED_DETAIL
    assert row["times_seen"] == 2


@pytest.mark.parametrize("override", ["ab" * 32])
def test_the_guard_hashes_under_the_state_key_or_the_override(pg_dsn, monkeypatch, override):
    from identsync.privacy import KEY_ENV, keyed_hash

    st = SyncState(pg_dsn)
    st.ensure_schema()
    assert st.guard.phone_key(PHONE) == keyed_hash(st.hash_key, "lock:" + PHONE)
    monkeypatch.setenv(KEY_ENV, override)
    st2 = SyncState(pg_dsn)
    assert st2.guard.phone_key(PHONE) == keyed_hash(bytes.fromhex(override), "lock:" + PHONE)


def test_the_leak_scan_of_a_pg_dump_agrees(state, pg_dsn):
    """tools/leakscan.py over pg_dump of the state schema: before the purge the personal
    data is only in the tables docs/privacy.md allows; after it, nowhere."""
    from urllib.parse import unquote

    from tools.leakscan import Needles, run

    schema = unquote(pg_dsn).rsplit("search_path=", 1)[1]
    needles = Needles.of([PHONE_RAW], [NAME, GUARDIAN], [COMMENT])
    allow = {"identsync_staging", "identsync_rejections", "identsync_runs",
             "identsync_retry_queue"}
    _fill(state)
    young = run(needles, pg_dumps=[pg_dsn], pg_schema=schema, allow=allow)
    assert young.errors == [] and young.hits == []
    assert {h.table for h in young.allowed} == allow
    assert young.scanned["pg_dump rows"] >= 12
    bare = run(needles, pg_dumps=[pg_dsn], pg_schema=schema)
    assert {h.table for h in bare.hits} == allow  # the scan does find them
    _age(pg_dsn, RETENTION + 1)
    state.purge_expired(RETENTION)
    old = run(needles, pg_dumps=[pg_dsn], pg_schema=schema)
    assert old.errors == [] and old.hits == [] and old.allowed == []


def test_after_a_real_sync_only_the_allowed_tables_hold_patients_data(state, pg_dsn, emulator):
    """The engine syncs a generated clinic into the emulator; then pg_dump of the state holds
    the patients' phones, names and comments only in the tables docs/privacy.md allows (phone
    locks, fingerprints and the ledger hold hashes; the engine stages nothing), and after the
    retention period nowhere."""
    from datetime import datetime
    from urllib.parse import unquote

    import sqlalchemy as sa

    from identsync.bitrix24.client import Bitrix24Client
    from identsync.config import SyncConfig
    from identsync.ident.extract import extract_receptions
    from identsync.sync.engine import sync_window
    from tools.ident_demo.clinic import create_schema, generate_clinic
    from tools.leakscan import Needles, run

    clinic = sa.create_engine("sqlite://")
    create_schema(clinic)
    generate_clinic(clinic, seed=11, receptions=60, patients=30,
                    start=datetime(2026, 11, 20).date(), days=2,
                    now=datetime(2026, 11, 21, 12, 0))
    wide = (datetime(2026, 11, 1), datetime(2027, 1, 1))
    rows = list(extract_receptions(clinic, *wide))
    needles = Needles.of(
        [r.mobile_phone for r in rows if r.mobile_phone],
        [" ".join(p for p in (r.surname, r.name, r.patronymic) if p) for r in rows
         if r.surname and r.name],
        [r.comment for r in rows if r.comment and len(r.comment.strip()) >= 12])
    assert len(needles.phones) >= 20 and len(needles.names) >= 20
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}],
                                "write_settle_seconds": 0})
    client = Bitrix24Client(emulator.webhook_url, plan="unlimited")
    summary = sync_window(clinic, client, state, cfg, *wide, branch_id=1)
    assert summary.counts["contacts_created"] > 0
    schema = unquote(pg_dsn).rsplit("search_path=", 1)[1]
    allow = {"identsync_staging", "identsync_rejections", "identsync_runs",
             "identsync_retry_queue"}
    young = run(needles, pg_dumps=[pg_dsn], pg_schema=schema, allow=allow)
    assert young.errors == [] and young.hits == [], young.lines()
    conn = psycopg2.connect(pg_dsn)
    with conn.cursor() as cur:  # the scan had the phone locks to look at
        cur.execute("SELECT count(*) FROM identsync_phone_writes")
        assert cur.fetchone()[0] >= 10
    conn.close()
    assert young.scanned["pg_dump rows"] >= 10
    _age(pg_dsn, RETENTION + 1)
    state.purge_expired(RETENTION)
    old = run(needles, pg_dumps=[pg_dsn], pg_schema=schema)
    assert old.errors == [] and old.hits == [], old.lines()
