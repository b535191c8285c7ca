"""One benchmark step in its own process, so its peak memory is its own.

    python -m bench.cell < spec.json    (run.py does this; the last stdout line is JSON)

spec: strategy a|b|c|d, phase setup|measure, ident (SQLite path), webhook, plan, state_dsn,
hashes (b's file), and for d: airflow (the environment for `airflow dags test`).

Peak memory is the OS's peak resident set size: this process's VmHWM for a, b and c (the sync
runs in this process; ru_maxrss would carry the forked parent's size across exec), and
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` for d (the `airflow dags test` process,
which runs every task of the DAG run in-process).
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.workloads import BRANCH_ID, DAG_CONF, WINDOW

DAG_ID = f"ident_to_bitrix24_branch_{BRANCH_ID}"


def _records(ident: str, cfg: Any) -> list[Any]:
    from identsync.ident.extract import extract_receptions
    from identsync.sync.prepare import prepare

    engine = sa.create_engine(f"sqlite:///{ident}")
    try:
        rows = list(extract_receptions(engine, *WINDOW, branch_id=BRANCH_ID))
    finally:
        engine.dispose()
    chunks = prepare(rows, cfg).chunks
    return [r for c in chunks for r in c]


def peak_rss_kb() -> int:
    """This process's own peak resident set (VmHWM). Not ru_maxrss: Linux carries that across
    exec from the forked parent, so a child of a 126 MB bench process reported 126 MB
    whatever it did."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_in_process(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.baselines import PerRecordModel, SeedBatchModel
    from identsync.bitrix24.client import Bitrix24Client
    from identsync.settings import load_config

    cfg = load_config()
    client = Bitrix24Client(spec["webhook"], plan=spec["plan"])
    strategy = spec["strategy"]
    t0 = time.monotonic()
    if strategy in ("a", "b"):
        records = _records(spec["ident"], cfg)
        model = (PerRecordModel(client, cfg) if strategy == "a"
                 else SeedBatchModel(client, cfg, Path(spec["hashes"])))
        counts = model.sync(records)
        n = len(records)
    else:  # "c", and the earlier sync of "d" (the engine writes what the DAG would)
        from identsync.state import SyncState
        from identsync.sync.engine import sync_window

        state = SyncState(spec["state_dsn"])
        state.ensure_schema()
        engine = sa.create_engine(f"sqlite:///{spec['ident']}")
        try:
            summary = sync_window(engine, client, state, cfg, *WINDOW, branch_id=BRANCH_ID)
        finally:
            engine.dispose()
        counts = Counter({k: v for k, v in summary.counts.items() if v})
        n = summary.counts["records"]
        if summary.errors:
            raise RuntimeError(f"engine reported {len(summary.errors)} record errors: "
                               f"{summary.errors[:3]}")
    wall = time.monotonic() - t0
    return {"records": n, "wall_s": wall, "counts": dict(counts),
            "client": client.stats.as_dict(),
            "peak_rss_kb": peak_rss_kb(),
            "rss_source": "self"}


def run_dag(spec: dict[str, Any]) -> dict[str, Any]:
    from identsync.state.store import StateStore

    env = spec["airflow"]
    airflow = str(Path(sys.executable).parent / "airflow")
    log_path = Path(spec["log"])
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.run([airflow, "dags", "test", DAG_ID, "-c", json.dumps(DAG_CONF)],
                              env=env, cwd=spec["root"], stdout=log, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    runs = StateStore(spec["state_dsn"]).last_runs(DAG_ID, 1)
    if proc.returncode != 0 or not runs:
        raise RuntimeError(f"airflow dags test exited {proc.returncode}; see {log_path}")
    summary = runs[0].get("summary", runs[0])
    counts = summary.get("counts", {})
    return {"records": counts.get("records", 0), "wall_s": wall,
            "counts": {k: v for k, v in counts.items() if v},
            "client": summary.get("http", {}), "dag_run_s": summary.get("elapsed_s"),
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            "rss_source": "children"}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    spec = json.loads(sys.stdin.read())  # stdin, not argv: the spec holds the webhook URL
    if spec["strategy"] == "d" and spec["phase"] == "measure":
        out = run_dag(spec)
    else:
        out = run_in_process(spec)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
