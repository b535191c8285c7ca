"""The DAG under CeleryExecutor with two ``airflow celery worker`` processes on Redis, sharing
one portal limit (standard plan), the way a distributed deployment runs it.

First a two-day backfill of a generated clinic: everything synced once, no 503. Then the
clinic moves two days on and those days are backfilled while one worker is killed with
SIGKILL (its whole process tree, as when a machine dies) in the middle of an
``add_comments`` task: the task's retry must start on the other worker within two minutes,
every run must end in success, and the portal must hold every reception once with its
comment once: nothing duplicated, nothing lost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from identsync.config import SyncConfig
from tests.e2e.conftest import TOKEN, duplicates, portal_report, start_portal, token_leaks
from tools.airflow_stack import (
    AirflowStack,
    KillRecord,
    TaskRow,
    clinic_midnight,
    expected_records,
    make_clinic,
    scenario_config,
    scenario_env,
)
from tools.ident_demo.days import advance_day

pytestmark = [pytest.mark.timeout(720)]

DAG_ID = SyncConfig.pipeline_id(1)
SEED = 5
D1 = date(2026, 11, 20)
D2, D3, D4 = (D1 + timedelta(days=k) for k in (1, 2, 3))
T1 = datetime.combine(D2, datetime.max.time()).replace(microsecond=0)  # D2 23:59:59
T2 = datetime.combine(D4, datetime.min.time()) + timedelta(hours=21)
#: While the second backfill runs up to the kill, each request takes this long: the killed
#: add_comments is then most likely inside its comment batch (the emulator still completes
#: it, as a portal would), the case the ledger has to reconcile.
SLOW_MS = 1500
RETRY_DEADLINE_S = 120


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            state_dsn: str) -> Iterator[SimpleNamespace]:
    """Two Celery workers; the first backfill (D1, D2) done."""
    tmp = tmp_path_factory.mktemp("celery")
    emu = start_portal(latency_ms=20)
    ident = tmp / "ident.sqlite3"
    # Receptions over four days, the clinic as it is at the end of day two.
    engine = make_clinic(ident, seed=SEED, receptions=600, first_day=D1, days=4,
                         cover_until=D2, now=T1)
    # The emulator answers within SLOW_MS: after 5 s a lost write has surely landed.
    config = scenario_config(tmp / "identsync.json", first_day=D1, plan="standard",
                             write_settle_seconds=5)
    home = tmp / "airflow"
    env = scenario_env(home, emulator_url=emu.base_url, token=TOKEN, ident_db=ident,
                       state_dsn=state_dsn, plan="standard", config=config)
    t0 = time.monotonic()
    try:
        with AirflowStack(home, env, executor="CeleryExecutor", workers=2,
                          plan="standard") as stack:
            stack.wait_dag(DAG_ID)
            print(f"stack up in {time.monotonic() - t0:.0f} s")
            stack.unpause(DAG_ID)
            first = stack.backfill(DAG_ID, clinic_midnight(D1), clinic_midnight(D2),
                                   max_active_runs=2)
            stack.wait_finished(DAG_ID, backfill_id=first, expected_runs=2, timeout=420)
            stack.wait_finished(DAG_ID, timeout=120)  # and the scheduled run unpausing made
            print(f"{time.monotonic() - t0:.0f} s: first backfill done")
            yield SimpleNamespace(stack=stack, emu=emu, engine=engine, dsn=state_dsn,
                                  cfg=SyncConfig.from_file(config), first=first, t0=t0)
    finally:
        emu.stop()
        engine.dispose()


def test_first_backfill_syncs_every_reception_once(cluster: SimpleNamespace) -> None:
    stack = cluster.stack
    runs = stack.runs(DAG_ID)
    assert [r["state"] for r in runs] == ["success"] * len(runs), stack.describe(DAG_ID)
    hosts = stack.metrics(DAG_ID, backfill_id=cluster.first)["hosts"]
    assert set(hosts) == {"worker-1", "worker-2"}, f"both workers must take tasks: {hosts}"
    expected = expected_records(cluster.engine, cluster.cfg, D1, D3)
    report, dump = portal_report(cluster.emu, cluster.engine, cluster.cfg, cluster.dsn, DAG_ID)
    idf = cluster.cfg.ident_id_field
    assert Counter(d[idf] for d in dump["deal"]) == Counter(r.ident_id for r in expected)
    assert duplicates(dump, idf) == {"deals": 0, "contacts": 0, "comments": 0}
    assert report.held, report.table()
    stats = cluster.emu.control.stats()
    assert stats["by_status"].get("503", 0) == 0, stats["by_status"]


def running_add_comments(stack: AirflowStack, backfill_id: int) -> TaskRow | None:
    """An add_comments try running on a worker whose task body has started (its log shows
    the portal connection: the next thing it does is claim and post the comments)."""
    for t in stack.task_rows(DAG_ID, backfill_id=backfill_id, current_only=True):
        if (t.task_id == "add_comments" and t.state == "running"
                and (t.hostname or "").startswith("worker-")):
            log = stack.task_log(t)
            if log.exists() and "Bitrix24 connection" in log.read_text(errors="replace"):
                return t
    return None


@pytest.fixture(scope="module")
def killed(cluster: SimpleNamespace) -> SimpleNamespace:
    """The second backfill (D3, D4) with a worker killed under an add_comments task."""
    stack, emu = cluster.stack, cluster.emu
    changed = advance_day(cluster.engine, seed=SEED, now=T2, since=T1)
    assert changed["receptions_changed"] > 50, changed
    emu.control.config({"latency_ms": SLOW_MS})
    second = stack.backfill(DAG_ID, clinic_midnight(D3), clinic_midnight(D4),
                            max_active_runs=2)
    deadline = time.monotonic() + 240
    victim = None
    while victim is None:
        stack.check_alive()
        assert time.monotonic() < deadline, "no add_comments ran on a worker:\n" + \
            stack.describe(DAG_ID, backfill_id=second)
        victim = running_add_comments(stack, second)
        time.sleep(0.2)
    time.sleep(SLOW_MS / 3000)  # into the comment batch
    assert victim.hostname is not None
    kill: KillRecord = stack.kill_worker(victim.hostname)
    emu.control.config({"latency_ms": 20})
    print(f"{time.monotonic() - cluster.t0:.0f} s: killed {kill.worker} "
          f"({len(kill.pids)} processes) under add_comments[{victim.map_index}] "
          f"of {victim.run_id}")
    runs = stack.wait_finished(DAG_ID, backfill_id=second, expected_runs=2, timeout=420)
    print(f"{time.monotonic() - cluster.t0:.0f} s: second backfill done")
    return SimpleNamespace(victim=victim, kill=kill, runs=runs, second=second)


def test_the_killed_task_is_retried_on_the_other_worker_within_two_minutes(
        cluster: SimpleNamespace, killed: SimpleNamespace) -> None:
    v, kill = killed.victim, killed.kill
    tries = sorted((t for t in cluster.stack.task_rows(DAG_ID, backfill_id=killed.second)
                    if (t.run_id, t.task_id, t.map_index) == (v.run_id, v.task_id,
                                                              v.map_index)),
                   key=lambda t: t.try_number)
    first, retry = tries[0], tries[-1]
    assert first.try_number == v.try_number and first.hostname == kill.worker
    assert first.state in ("failed", "up_for_retry"), first
    assert retry.current and retry.state == "success", tries
    assert retry.try_number > first.try_number
    survivor = next(n for n in cluster.stack.worker_names() if n != kill.worker)
    assert retry.hostname == survivor
    assert retry.start is not None and first.end is not None
    noticed = (first.end - kill.at).total_seconds()
    started = (retry.start - kill.at).total_seconds()
    print(f"kill -> marked failed {noticed:.0f} s, kill -> retry running on {survivor} "
          f"{started:.0f} s")
    assert 0 < started < RETRY_DEADLINE_S


def test_every_run_succeeds_and_nothing_is_duplicated_or_lost(
        cluster: SimpleNamespace, killed: SimpleNamespace) -> None:
    stack = cluster.stack
    runs = stack.runs(DAG_ID)
    assert [r["state"] for r in runs] == ["success"] * len(runs), stack.describe(DAG_ID)
    expected = expected_records(cluster.engine, cluster.cfg, D1, D4 + timedelta(days=1))
    report, dump = portal_report(cluster.emu, cluster.engine, cluster.cfg, cluster.dsn, DAG_ID)
    idf = cluster.cfg.ident_id_field
    deals = {int(d["ID"]): d[idf] for d in dump["deal"]}
    assert Counter(deals.values()) == Counter(r.ident_id for r in expected)
    # One comment per text per deal, and every reception's current text is on its deal.
    per_deal = Counter((int(x["ENTITY_ID"]), x["COMMENT"]) for x in dump["comment"])
    assert set(per_deal.values()) == {1}, [k for k, n in per_deal.items() if n > 1][:5]
    texts = {r.ident_id: r.comment for r in expected}
    missing = [i for d, i in deals.items() if texts[i] and (d, texts[i]) not in per_deal]
    assert missing == []
    assert duplicates(dump, idf) == {"deals": 0, "contacts": 0, "comments": 0}
    assert report.held, report.table()


def test_no_503_and_no_token_anywhere(cluster: SimpleNamespace,
                                      killed: SimpleNamespace) -> None:
    stats = cluster.emu.control.stats()
    assert stats["by_status"].get("503", 0) == 0, (
        f"{stats['by_status']} of {stats['http_requests']} requests")
    assert token_leaks(cluster.stack, TOKEN) == []
