#!/usr/bin/env python
"""One DAG run over a window of N receptions (default 30,000), through `airflow dags test`.

    python -m bench.scale_dag [--receptions 30000]

Checks what limits a big window: Airflow's max_map_length (1024 mapped tasks) and XCom size
(every value must stay well under 1 MB), and prints the run summary, the largest XCom and the
wall time. Uses a private emulator (no latency, no limit of its own: the client still paces
itself at the configured plan, standard = 2 requests/s, so the run moves at a real portal's
pace), a temporary AIRFLOW_HOME with SQLite metadata, and a fresh schema in the local
PostgreSQL for the sync state.

Last run (2026-11-24, 2 cores): 29,867 receptions in one run, 660 chunks, 1,980 mapped task
instances, largest XCom 103,895 bytes (transform's chunk list), 2,509 HTTP requests, 0
retries, 1,275 s wall (2,403 limiter waits, 849 s): ~84,000 receptions/hour.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from b24emu.server import EmulatorServer
from identsync.state.store import StateStore
from identsync.sync.summary import format_summary
from tests.fixtures.airflow import airflow, airflow_env, migrate, write_config
from tools import pgserver
from tools.ident_demo.clinic import create_schema, generate_clinic

ROOT = Path(__file__).resolve().parents[1]

DAG_ID = "ident_to_bitrix24_branch_1"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--receptions", type=int, default=30_000)
    args = ap.parse_args()
    schema = f"scale_{uuid.uuid4().hex[:8]}"
    dsn = pgserver.create_schema("test", schema)
    try:
        with tempfile.TemporaryDirectory() as tmp_name, \
                EmulatorServer(token="scale-token", plan="unlimited", port=0) as emu:
            tmp = Path(tmp_name)
            ident = tmp / "ident.sqlite3"
            engine = sa.create_engine(f"sqlite:///{ident}")
            create_schema(engine)
            t0 = time.monotonic()
            generate_clinic(engine, seed=1, receptions=args.receptions,
                            patients=args.receptions // 4, start=date(2026, 11, 20), days=3,
                            branches=((1, "Центральная"),), now=datetime(2026, 11, 21, 12))
            print(f"generated {args.receptions} receptions in {time.monotonic() - t0:.1f}s")
            config = write_config(tmp / "identsync.json", branches=[{"id": 1, "name": "A"}],
                                  write_settle_seconds=0)
            env = airflow_env(tmp / "airflow", emulator_base_url=emu.base_url,
                              token="scale-token", ident_db=ident, state_dsn=dsn, config=config)
            migrate(env)
            conf = json.dumps({"date_from": "2026-11-01", "date_to": "2026-12-31"})
            t0 = time.monotonic()
            proc = airflow(env, "dags", "test", DAG_ID, "-c", conf, timeout=7200, check=False)
            wall = time.monotonic() - t0
            (ROOT / "bench" / "var").mkdir(exist_ok=True)
            (ROOT / "bench" / "var" / "scale_dag.log").write_text(proc.stdout + proc.stderr)
            runs = StateStore(dsn).last_runs(DAG_ID, 1)
            if proc.returncode != 0 or not runs:
                print(f"FAILED (exit {proc.returncode}); log: bench/var/scale_dag.log")
                print("\n".join((proc.stdout + proc.stderr).splitlines()[-40:]))
                return 1
            db = sqlite3.connect(tmp / "airflow" / "airflow.db")
            biggest = db.execute("SELECT task_id, map_index, length(value) FROM xcom "
                                 "ORDER BY length(value) DESC LIMIT 1").fetchone()
            mapped = db.execute("SELECT count(*) FROM task_instance WHERE map_index >= 0"
                                ).fetchone()[0]
            print(format_summary(runs[0]["summary"]))
            print(f"airflow dags test wall time {wall:.0f}s; {mapped} mapped task instances; "
                  f"largest XCom {biggest[2]:,} bytes ({biggest[0]}[{biggest[1]}]); "
                  f"emulator: {emu.stats_snapshot()['http_requests']} HTTP requests")
            return 0
    finally:
        pgserver.drop_schema("test", schema)


if __name__ == "__main__":
    sys.exit(main())
