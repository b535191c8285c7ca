"""The bad-input corpus (tools.ident_demo.badinput) mixed with good receptions, synced.

Each case ends up synced correctly (within the portal's limits, odd text kept literally) or
rejected with its reason; the run never crashes; good records that share a chunk with bad
ones still sync. Once through the engine (portal contents checked case by case), once through
``airflow dags test`` (rejections land in the state store's rejections table).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from b24emu.control import EmulatorControl
from identsync.ident.extract import extract_receptions
from identsync.sync.engine import sync_window
from identsync.sync.prepare import prepare
from identsync.sync.transform import COMMENT_MAX, SERVICES_MAX
from tests.chaos import harness as h
from tools.ident_demo.badinput import insert_bad_inputs
from tools.invariants import check, ledger_rows, state_rejections

WIDE = (datetime(2026, 9, 1), datetime(2027, 1, 1))
CORPUS_AT = datetime(2026, 11, 19, 8, 0)
NO_BRANCH_KINDS = {"branch_null_no_orders", "chair_without_company"}


def _clinic_with_corpus(path):
    engine = h.make_clinic(path, seed=5, receptions=60, days=1, start=h.START,
                           now=h.generation_now(h.START))
    return engine, insert_bad_inputs(engine, start=CORPUS_AT)


def test_corpus_through_the_engine(tmp_path, chaos_emulator, state, pg_dsn, cfg):
    engine, cases = _clinic_with_corpus(tmp_path / "ident.sqlite3")
    assert len({c.kind for c in cases}) >= 30
    corpus_ids = {c.reception_id for c in cases}
    chunks = prepare(list(extract_receptions(engine, *WIDE)), cfg).chunks
    mixed = [c for c in chunks if {r.reception_id in corpus_ids for r in c} == {True, False}]
    assert mixed, "some chunk must carry good and bad receptions together"

    summary = sync_window(engine, h.fast_client(chaos_emulator, 30), state, cfg, *WIDE)

    base = chaos_emulator.base_url
    dump = EmulatorControl(base).dump_all()
    report = check(engine, cfg, dump, summary.rejections,
                   ledger_rows=ledger_rows(pg_dsn, [int(x["ENTITY_ID"]) for x in dump["comment"]]))
    assert report.held, report.table()
    assert summary.counts["deals_failed"] == summary.counts["contacts_failed"] == 0

    rejected = {r["reception_id"]: r for r in summary.rejections}
    deals = {d[cfg.ident_id_field]: d for d in dump["deal"]}
    for c in cases:
        if c.expect == "reject":
            assert rejected[c.reception_id]["reason"] == c.reason_code, c.kind
            assert str(c.reception_id) in rejected[c.reception_id]["detail"], c.kind
        else:
            assert f"F1_{c.reception_id}" in deals, c.kind

    by_kind = {c.kind: c for c in cases}
    contacts = {int(k["ID"]): k for k in dump["contact"]}
    comments = {int(x["ENTITY_ID"]): x["COMMENT"] for x in dump["comment"]}

    def deal(kind):
        return deals[f"F1_{by_kind[kind].reception_id}"]

    def contact(kind):
        return contacts[int(deal(kind)["CONTACT_ID"])]

    def comment(kind):
        return comments[int(deal(kind)["ID"])]

    long = comment("comment_10000_chars")
    assert len(long) <= COMMENT_MAX and long.endswith("…")
    assert (contact("names_emoji_rtl")["LAST_NAME"], contact("names_emoji_rtl")["NAME"]) == \
        ("כהן", "Анна 🦷")
    assert "مرحبا 👋 שלום" in comment("names_emoji_rtl")
    assert "<script>alert('x')</script><b>жирный</b> &amp;" in comment("comment_html")
    assert contact("names_sql_like")["LAST_NAME"] == "O'Brien'; DROP TABLE \"Receptions\"; --"
    services = deal("thousands_of_services")[cfg.deal_fields["services"]]
    assert len(services) <= SERVICES_MAX and "и ещё" in services
    assert contact("names_unicode_nfd")["LAST_NAME"] == "Ёлкина"  # NFC on the portal
    # Two IDENT cards of one name on one phone are two IDENT patients: a contact is the
    # patient (README, Identity), so each card has its own, both with the phone.
    a, b = contact("duplicate_person_a"), contact("duplicate_person_b")
    assert a["ID"] != b["ID"]
    assert a[cfg.patient_id_field] != b[cfg.patient_id_field]
    assert {p["VALUE"] for p in a["PHONE"]} == {p["VALUE"] for p in b["PHONE"]}


# -- through Airflow -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dag_run(tmp_path_factory):
    """One `airflow dags test` of branch 1 over the clinic + corpus (module-scoped: ~15 s)."""
    from tools import pgserver

    tmp = tmp_path_factory.mktemp("badinput-dag")
    engine, cases = _clinic_with_corpus(tmp / "ident.sqlite3")
    schema = f"badinput_{tmp.name.replace('-', '_')[-20:]}"
    dsn = pgserver.create_schema("test", schema)
    from b24emu.server import EmulatorServer

    emu = EmulatorServer(token=h.EMU_TOKEN, plan="unlimited").start()
    cfg_path = h.write_config(tmp / "identsync.json",
                              branches=[{"id": 1, "name": "Центральная"}],
                              retries=2, retry_delay_seconds=1)
    target = h.SyncTarget(tmp / "ident.sqlite3", emu.base_url, dsn, cfg_path)
    env = h.airflow_env(h.airflow_home(tmp / "airflow"), target)
    run = h.dags_test(env, "ident_to_bitrix24_branch_1",
                      {"date_from": "2026-09-01", "date_to": "2026-12-31"},
                      log_path=tmp / "dags_test.log")
    try:
        yield {"run": run, "cases": cases, "engine": engine, "dsn": dsn,
               "dump": emu.control.dump_all(), "cfg_path": cfg_path}
    finally:
        emu.stop()
        pgserver.drop_schema("test", schema)


@pytest.mark.airflow
def test_corpus_through_the_dag(dag_run):
    from identsync.config import SyncConfig

    run = dag_run["run"]
    assert run.ok, run.output[-4000:]
    cfg = SyncConfig.from_file(dag_run["cfg_path"])
    recorded = {r["reception_id"]: r for r in
                state_rejections(dag_run["dsn"], ["ident_to_bitrix24_branch_1"])}
    deals = {d[cfg.ident_id_field] for d in dag_run["dump"]["deal"]}
    for c in dag_run["cases"]:
        if c.expect == "reject":
            got = recorded.get(c.reception_id)
            assert got is not None and got["reason"] == c.reason_code, c.kind
            assert got["detail"] and got["source"], c.kind  # operators see why and what
        else:
            assert f"F1_{c.reception_id}" in deals, c.kind
    # Receptions without any branch are reported by the first branch's DAG, not lost.
    assert NO_BRANCH_KINDS <= {c.kind for c in dag_run["cases"] if c.reception_id in recorded}
    report = check(dag_run["engine"], cfg, dag_run["dump"], list(recorded.values()))
    assert report.held, report.table()
