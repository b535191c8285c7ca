#!/usr/bin/env python
"""`make chaos`: a generated clinic synced day by day through the DAG under injected faults.

    python -m tools.chaos --receptions 1000 --days 3 --seed 1 [--rates-scale 1] [--no-slow]

A clinic of ``--receptions`` receptions over ``--days`` days (tools.ident_demo.clinic, seeded)
is synced once as it is at 07:00 on the first day, then advanced to 20:00 of each day and
synced again, each branch through ``airflow dags test`` with the DAG's own retries (a config
copy with retries=5, retry_delay_seconds=1). The emulator (seeded) injects 10% 503
QUERY_LIMIT_EXCEEDED, 5% 500, 3% dropped connections, 2% writes applied-then-failed and 1%
responses slower than the client's read timeout (connection extra {"timeout": 3}); rates
scale with ``--rates-scale``. A DAG run that still fails is run again (an operator pressing
"clear") and counted. Then every invariant of tools/invariants.py is checked and a table is
printed. Exit status 0 only when every invariant held.

Everything lives under var/chaos/seed<N>/ (IDENT file, AIRFLOW_HOME, logs). The sync state
goes to a fresh schema in the PostgreSQL database ``identsync_chaos`` on $IDENTSYNC_PG
(tools/pgserver.py), dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from tests.chaos import harness as h
from tools import pgserver
from tools.invariants import check, ledger_rows, state_rejections

ROOT = Path(__file__).resolve().parents[1]

STATE_DB = "identsync_chaos"


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def state_schema(seed: int) -> tuple[str, str]:
    """(DSN with search_path set to a fresh schema, schema name)."""
    pgserver.ensure_database(STATE_DB)
    schema = f"chaos_seed{seed}_{int(time.time())}"
    return pgserver.create_schema(STATE_DB, schema), schema


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fault-injection run of the IDENT -> Bitrix24 DAG")
    ap.add_argument("--receptions", type=int, default=1000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1, help="generator and emulator seed")
    ap.add_argument("--rates-scale", type=float, default=1.0, help="multiply every fault rate")
    ap.add_argument("--no-slow", action="store_true",
                    help="leave out responses slower than the client timeout")
    ap.add_argument("--timeout", type=float, default=3.0, help="client read timeout (s)")
    ap.add_argument("--slow-s", type=float, default=5.0, help="how long a slow response takes")
    ap.add_argument("--max-reruns", type=int, default=5, help="reruns of one failed DAG run")
    ap.add_argument("--keep", action="store_true", help="keep the state schema and var files")
    args = ap.parse_args(argv)

    from b24emu.server import EmulatorServer
    from identsync.config import SyncConfig
    from identsync.state.store import StateStore
    from tools.ident_demo.days import advance_day

    work = ROOT / "var" / "chaos" / f"seed{args.seed}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    dsn, schema = state_schema(args.seed)
    rates = h.fault_rates(args.rates_scale, slow=not args.no_slow)
    emu = EmulatorServer(token=h.EMU_TOKEN, plan="enterprise", seed=args.seed,
                         faults={"rates": rates, "slow_s": args.slow_s, "seed": args.seed}
                         ).start()
    try:
        engine = h.make_clinic(work / "ident.sqlite3", seed=args.seed,
                               receptions=args.receptions, days=args.days, start=h.START,
                               now=h.generation_now(h.START))
        cfg_path = h.write_config(work / "identsync.json", retries=5, retry_delay_seconds=1,
                                  portal_plan="enterprise",
                                  write_settle_seconds=int(args.slow_s) + 2)
        cfg = SyncConfig.from_file(cfg_path)
        target = h.SyncTarget(work / "ident.sqlite3", emu.base_url, dsn, cfg_path,
                              plan="enterprise", timeout=args.timeout)
        say(f"seed {args.seed}: {args.receptions} receptions over {args.days} days from "
            f"{h.START}; faults {rates}, slow {args.slow_s}s vs client timeout "
            f"{args.timeout}s; work dir {work.relative_to(ROOT)}")
        env = h.airflow_env(h.airflow_home(work / "airflow"), target)
        runs, reruns, failed_tries = 0, 0, 0
        prev = h.generation_now(h.START)
        t0 = time.monotonic()
        for k, (advance_to, w_start, w_end) in enumerate(h.day_windows(h.START, args.days)):
            if advance_to is not None:
                changed = advance_day(engine, seed=args.seed, now=advance_to, since=prev)
                prev = advance_to
                say(f"clinic advanced to {advance_to}: {changed['receptions_changed']} "
                    f"receptions changed, {changed['booked']} booked")
            conf = {"date_from": w_start.isoformat(), "date_to": w_end.isoformat()}
            for branch in cfg.branches:
                dag_id = f"ident_to_bitrix24_branch_{branch.id}"
                for attempt in range(args.max_reruns + 1):
                    emu.control.settled()  # runs are minutes apart in production
                    runs += 1
                    run = h.dags_test(env, dag_id, conf,
                                      log_path=work / f"sync{k}_{dag_id}_{attempt}.log")
                    failed_tries += run.task_failures
                    if run.ok:
                        break
                    reruns += 1
                    say(f"{dag_id} failed after its retries (log {work.name}/sync{k}_"
                        f"{dag_id}_{attempt}.log): clearing it and running it again")
                else:
                    say(f"{dag_id} still failing after {args.max_reruns} reruns; checking anyway")
                say(f"sync {k} {dag_id} {w_start:%m-%d %H:%M}..{w_end:%m-%d %H:%M}: "
                    f"{'ok' if run.ok else 'FAILED'} ({run.task_failures} task tries failed)")
        elapsed = time.monotonic() - t0

        stats = emu.control.settled()
        dump = emu.control.dump_all()
        pipelines = [f"ident_to_bitrix24_branch_{b.id}" for b in cfg.branches]
        store = StateStore(dsn)
        client_retries = sum(int((r["summary"].get("http") or {}).get("retries", 0))
                             for p in pipelines for r in store.last_runs(p, 1000))
        report = check(engine, cfg, dump, state_rejections(dsn, pipelines),
                       ledger_rows=ledger_rows(dsn, [int(x["ENTITY_ID"]) for x in dump["comment"]]))
        print_table(args, rates, stats, runs, reruns, failed_tries, client_retries, elapsed,
                    report)
        return 0 if report.held else 1
    finally:
        emu.stop()
        if not args.keep:
            pgserver.drop_schema(STATE_DB, schema)


def print_table(args, rates, stats, runs, reruns, failed_tries, client_retries, elapsed,
                report) -> None:
    faults = Counter(stats.get("faults", {}))
    print()
    print(f"chaos run  seed {args.seed}, {args.receptions} receptions, {args.days} days, "
          f"rates x{args.rates_scale:g}, {elapsed:.0f} s")
    print(f"{'':2s}{'fault injected (emulator)':38s} {'rate':>6s} {'count':>7s}")
    for kind in h.FAULT_MIX:
        rate = rates.get(kind, 0.0)
        print(f"{'':2s}{kind:38s} {rate:6.1%} {faults.get(kind, 0):7d}")
    print(f"{'':2s}{'total of ' + str(stats['http_requests']) + ' HTTP requests':38s} "
          f"{'':6s} {sum(faults.values()):7d}")
    print(f"{'':2s}{'client retries (successful tries)':38s} {'':6s} {client_retries:7d}")
    print(f"{'':2s}{'task tries failed, retried by Airflow':38s} {'':6s} {failed_tries:7d}")
    print(f"{'':2s}{'DAG runs / reruns after failure':38s} {'':6s} {runs:4d} / {reruns}")
    print()
    print(report.table())
    print()
    print("ALL INVARIANTS HELD" if report.held else
          f"INVARIANTS BROKEN: {', '.join(report.failed())}")


if __name__ == "__main__":
    sys.exit(main())
