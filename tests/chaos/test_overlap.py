"""Two syncs at the same time over overlapping data: nothing duplicated.

What prevents duplicates (DAG path): ``upsert_contacts_deals`` holds PostgreSQL advisory
locks on its chunk's phones (identsync.sync.guard.PhoneGuard) and looks the chunk up again
when another run wrote one of those phones after its own look-up; comments are claimed per
deal in the ledger (advisory locks) and skipped by hash. The in-process engine
(engine.sync_rows) takes no PhoneGuard, so overlap is tested through ``airflow dags test``,
plus one deterministic interleaving of the guard protocol itself.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from identsync.sync.engine import prepare
from identsync.sync.execute import upsert_chunk
from identsync.sync.guard import PhoneGuard
from identsync.sync.lookup import run_lookup
from tests.chaos import harness as h
from tools.invariants import check, ledger_rows, state_rejections

pytestmark = pytest.mark.integration

WIDE = (datetime(2026, 9, 1), datetime(2027, 1, 1))
PIPELINES = ["ident_to_bitrix24_branch_1", "ident_to_bitrix24_branch_2"]


def test_guard_makes_the_later_writer_look_again(small_clinic, chaos_emulator, pg_dsn, cfg):
    """Runs A and B look the same chunk up before either writes (the race), then write in
    turn, each the way upsert_contacts_deals does: B sees A's write and creates nothing."""
    _, engine = small_clinic
    chunk = prepare(list(h_rows(engine)), cfg)[0][0]
    client = h.fast_client(chaos_emulator, 30)
    guard = PhoneGuard(pg_dsn)
    guard.ensure_schema()
    phones = [r.phone for r in chunk]

    seq_a, look_a = guard.current_seq(), run_lookup(client, chunk, cfg)
    seq_b, look_b = guard.current_seq(), run_lookup(client, chunk, cfg)
    for seq, look in ((seq_a, look_a), (seq_b, look_b)):
        with guard.hold(phones) as held:
            result = upsert_chunk(client, chunk, cfg,
                                  None if held.stale_since(seq) else look)
            held.touch()
    assert result.counts["deals_created"] == 0  # B's stale look-up was not trusted
    dump = h.dump(chaos_emulator.base_url)
    assert len(dump["deal"]) == len(chunk)
    assert max(Counter(d[cfg.ident_id_field] for d in dump["deal"]).values()) == 1


# Found by these tests and fixed: PhoneGuard.hold consumed a generator of phones, so the
# later of two overlapping writers never noticed the earlier one's writes and created the
# deals and contacts again. The tests below guard that fix.


def test_guard_used_as_the_dag_uses_it_makes_the_later_writer_look_again(
        small_clinic, chaos_emulator, pg_dsn, cfg):
    """The same interleaving as above, with the phones passed exactly as dagtasks does."""
    _, engine = small_clinic
    chunk = prepare(list(h_rows(engine)), cfg)[0][0]
    client = h.fast_client(chaos_emulator, 30)
    guard = PhoneGuard(pg_dsn)
    guard.ensure_schema()
    seq_a, look_a = guard.current_seq(), run_lookup(client, chunk, cfg)
    seq_b, look_b = guard.current_seq(), run_lookup(client, chunk, cfg)
    for seq, look in ((seq_a, look_a), (seq_b, look_b)):
        with guard.hold(r.phone for r in chunk) as held:
            upsert_chunk(client, chunk, cfg, None if held.stale_since(seq) else look)
            held.touch()
    deals = h.dump(chaos_emulator.base_url)["deal"]
    assert max(Counter(d[cfg.ident_id_field] for d in deals).values()) == 1


def h_rows(engine):
    from identsync.ident.extract import extract_receptions

    return extract_receptions(engine, *WIDE)


@pytest.fixture
def overlap_env(tmp_path, make_emulator, pg_dsn):
    """A clinic, an emulator with latency (so concurrent runs interleave) and a factory of
    Airflow environments (one AIRFLOW_HOME each, so two `dags test` can run at once)."""
    path = tmp_path / "ident.sqlite3"
    engine = h.make_clinic(path, seed=8, receptions=160, days=2, start=h.START,
                           now=h.generation_now(h.START), patients=40)
    emu = make_emulator(token=h.EMU_TOKEN, plan="unlimited", latency_ms=40)
    cfg_path = h.write_config(tmp_path / "identsync.json", retries=3, retry_delay_seconds=1)
    target = h.SyncTarget(path, emu.base_url, pg_dsn, cfg_path, plan="enterprise",
                          timeout=30.0)

    def env(name: str):
        return h.airflow_env(h.airflow_home(tmp_path / name), target)

    return engine, emu, env, tmp_path


def _run_together(runs, tmp_path):
    names = [f"{dag[-8:]}-{conf['date_from']}-{conf['date_to']}.log" for _, dag, conf in runs]
    procs = [h.dags_test_async(env, dag, conf, tmp_path / name)
             for (env, dag, conf), name in zip(runs, names)]
    codes = [p.wait(timeout=600) for p in procs]
    logs = [(tmp_path / name).read_text() for name in names]
    for code, log in zip(codes, logs):
        assert code == 0 and "state=success" in log, log[-3000:]
    return logs


def _check(engine, emu, pg_dsn, cfg_path):
    from identsync.sync.config import SyncConfig

    cfg = SyncConfig.from_file(cfg_path)
    h.settled(emu.base_url)
    dump = h.dump(emu.base_url)
    report = check(engine, cfg, dump, state_rejections(pg_dsn, PIPELINES),
                   ledger_rows=ledger_rows(pg_dsn, [int(x["ENTITY_ID"]) for x in dump["comment"]]))
    assert report.held, report.table()
    return report


@pytest.mark.airflow
def test_overlapping_windows_of_one_dag_at_once(overlap_env, pg_dsn):
    engine, emu, env, tmp = overlap_env
    _run_together([
        (env("a"), PIPELINES[0], {"date_from": "2026-09-01", "date_to": "2026-11-20"}),
        (env("b"), PIPELINES[0], {"date_from": "2026-11-10", "date_to": "2026-12-31"}),
    ], tmp)
    # ...and the second branch afterwards, so every source record has its outcome.
    _run_together([(env("c"), PIPELINES[1], {"date_from": "2026-09-01",
                                               "date_to": "2026-12-31"})], tmp)
    _check(engine, emu, pg_dsn, tmp / "identsync.json")


@pytest.mark.airflow
def test_two_branch_dags_sharing_patients_at_once(overlap_env, pg_dsn):
    engine, emu, env, tmp = overlap_env
    from identsync.sync.config import SyncConfig

    cfg = SyncConfig.from_file(tmp / "identsync.json")
    records = [r for c in prepare(list(h_rows(engine)), cfg)[0] for r in c]
    branches_of = {}
    for r in records:
        branches_of.setdefault((r.phone, r.last_name, r.name), set()).add(r.branch_id)
    shared = [p for p, b in branches_of.items() if len(b) > 1]
    assert shared, "the generator must give some patient receptions in both branches"

    conf = {"date_from": "2026-09-01", "date_to": "2026-12-31"}
    _run_together([(env("a"), PIPELINES[0], conf), (env("b"), PIPELINES[1], conf)], tmp)
    report = _check(engine, emu, pg_dsn, tmp / "identsync.json")
    assert report.by_name()["one_contact_per_person"].checked >= len(shared)
