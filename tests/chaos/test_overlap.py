"""Two syncs at the same time over overlapping data: nothing duplicated.

What prevents duplicates, in the per-chunk protocol that the DAG and the engine share
(identsync.sync.protocol): ``upsert`` holds PostgreSQL advisory locks on its chunk's phones
(identsync.state.guard.PhoneGuard) and looks the chunk up again when another run wrote one
of those phones after its own look-up; comments are claimed per deal in the ledger
(advisory locks) and skipped by hash. Tested as one deterministic interleaving of the
protocol's steps, as two engines in threads, and as two ``airflow dags test`` at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime

import pytest

from identsync.state import SyncState
from identsync.sync import protocol
from identsync.sync.engine import sync_window
from identsync.sync.prepare import prepare
from tests.chaos import harness as h
from tools.invariants import check, ledger_rows, state_rejections

WIDE = (datetime(2026, 9, 1), datetime(2027, 1, 1))
PIPELINES = ["ident_to_bitrix24_branch_1", "ident_to_bitrix24_branch_2"]


def test_the_later_writer_looks_again(small_clinic, chaos_emulator, state, cfg):
    """Runs A and B look the same chunk up before either writes (the race), then upsert in
    turn through the protocol's own steps: B sees A's write and creates nothing.

    Found by this test and fixed: PhoneGuard.hold consumed a generator of phones (the
    protocol passes one), so the later writer never noticed the earlier one's writes and
    created the deals and contacts again."""
    _, engine = small_clinic
    chunk = prepare(list(h_rows(engine)), cfg).chunks[0]
    client = h.fast_client(chaos_emulator, 30)
    looked_a = protocol.look_up(client, state, cfg, chunk)
    looked_b = protocol.look_up(client, state, cfg, chunk)
    first = protocol.upsert(client, state, cfg, chunk, looked_a, protocol.ChunkRun("p", "a"))
    second = protocol.upsert(client, state, cfg, chunk, looked_b, protocol.ChunkRun("p", "b"))
    assert first["counts"]["deals_created"] == len(chunk)
    assert "deals_created" not in second["counts"]  # B's stale look-up was not trusted
    assert second["counts"]["deals_unchanged"] == len(chunk)
    dump = chaos_emulator.control.dump_all()
    assert len(dump["deal"]) == len(chunk)
    assert max(Counter(d[cfg.ident_id_field] for d in dump["deal"]).values()) == 1


def test_two_engines_at_once_over_the_same_window(small_clinic, make_emulator, pg_dsn, cfg):
    """Two whole syncs of the same receptions in parallel threads (each its own client, the
    same state): every reception has one deal, every person one contact, one comment each."""
    path, engine = small_clinic
    emu = make_emulator(token=h.EMU_TOKEN, plan="unlimited", latency_ms=30)
    state = SyncState(pg_dsn)
    state.ensure_schema()
    errors: list[BaseException] = []

    def one(pipeline: str) -> None:
        try:
            sync_window(engine, h.fast_client(emu, 30), state, cfg, *WIDE, branch_id=1,
                        pipeline=pipeline)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(f"overlap_{k}",)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    emu.control.settled()
    dump = emu.control.dump_all()
    assert dump["deal"]
    assert max(Counter(d[cfg.ident_id_field] for d in dump["deal"]).values()) == 1
    per_deal = Counter((c["ENTITY_ID"], c["COMMENT"]) for c in dump["comment"])
    assert set(per_deal.values()) == {1}


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
    from identsync.config import SyncConfig

    cfg = SyncConfig.from_file(cfg_path)
    emu.control.settled()
    dump = emu.control.dump_all()
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
    from identsync.config import SyncConfig

    cfg = SyncConfig.from_file(tmp / "identsync.json")
    records = [r for c in prepare(list(h_rows(engine)), cfg).chunks for r in c]
    branches_of = {}
    for r in records:
        branches_of.setdefault((r.phone, r.last_name, r.name), set()).add(r.branch_id)
    shared = [p for p, b in branches_of.items() if len(b) > 1]
    assert shared, "the generator must give some patient receptions in both branches"

    conf = {"date_from": "2026-09-01", "date_to": "2026-12-31"}
    _run_together([(env("a"), PIPELINES[0], conf), (env("b"), PIPELINES[1], conf)], tmp)
    report = _check(engine, emu, pg_dsn, tmp / "identsync.json")
    assert report.by_name()["one_contact_per_person"].checked >= len(shared)
