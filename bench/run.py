#!/usr/bin/env python
"""`make bench`: this project's sync against the seed's strategies, one table.

    python -m bench.run                 # default: everything that fits in ~20 minutes
    python -m bench.run --quick         # sanity run: 50 ms latency, no 20,000 workload
    python -m bench.run --full          # every cell live, however long it takes (hours)
    python -m bench.run --latency-ms 500 --max-cell-seconds 300 --workloads new_20,new_1000

Every cell (strategy x workload) first runs against the emulator at zero latency with no
rate limit: that counts its HTTP requests, commands and writes exactly and measures its local
work T0. The cell then runs again live (plan "standard", the given latency) when the
projection says it takes at most --max-cell-seconds; otherwise its wall time is the
projection (marked "~ ... (projected)"; model in bench/model.py). The DAG cells (d) always
run live. Strategy (e) is the real scheduler (bench/scheduler_cells.py): its cells get a
table of their own. The tables go to stdout, bench/results.md and bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from b24emu.control import EmulatorControl
from bench.model import (
    STRATEGY_LABELS,
    Cell,
    linearity,
    projected_seconds,
    render_table,
)
from bench import scheduler_cells, targets
from bench.workloads import WORKLOADS, ensure_workload, source_paths
from tools import pgserver
from tools.localairflow import airflow_env as local_airflow_env

ROOT = Path(__file__).resolve().parents[1]

BENCH = ROOT / "bench"
VAR = BENCH / "var"
BIN = Path(sys.executable).parent
TOKEN = "bench-webhook-token"  # the local emulator's sandbox token, not a secret
STATE_DB = "identsync_bench"
STATE_SCHEMA = "bench_cell"
ALL_WORKLOADS = ["new_20", "new_1000", "unchanged_1000", "changed_1000", "new_5000",
                 "new_20000"]
ENGINE_ONLY = {"new_5000", "new_20000"}
WRITE_SUFFIXES = ("add", "update")


def say(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


# -- the emulator (a subprocess: its memory is not the sync's) -------------------------------

class Emulator:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        VAR.mkdir(parents=True, exist_ok=True)
        self._log = open(VAR / "emulator.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "b24emu", "--port", str(self.port), "--token", TOKEN,
             "--plan", "unlimited"], cwd=ROOT, stdout=self._log, stderr=self._log)
        self.control = EmulatorControl(f"http://127.0.0.1:{self.port}")
        for _ in range(100):
            if self.control.up():
                return
            if self.proc.poll() is not None:
                raise SystemExit("the emulator exited at start; see bench/var/emulator.log")
            time.sleep(0.1)
        raise SystemExit("the emulator did not answer within 10 s")

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/rest/1/{TOKEN}/"

    def fresh_portal(self) -> None:
        """Empty portal, unlimited and instant, with the custom fields the config maps."""
        from identsync.bitrix24.client import Bitrix24Client
        from identsync.settings import load_config
        from identsync.cli.portal_setup import setup_portal

        self.control.reset("all")
        self.control.config({"plan": "unlimited", "latency_ms": 0, "jitter_ms": 0})
        # Deal and contact fields: each DAG run's preflight checks both.
        with Bitrix24Client(self.webhook, plan="unlimited") as client:
            setup_portal(client, load_config(), out=lambda _line: None)

    def arm(self, plan: str, latency_ms: float) -> None:
        self.control.reset("stats,limits")
        self.control.config({"plan": plan, "latency_ms": latency_ms})

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


# -- PostgreSQL state (one schema, recreated for every cell) ---------------------------------

def state_dsn() -> str:
    return pgserver.database_url(STATE_DB, search_path=STATE_SCHEMA)


def ensure_state_db() -> None:
    pgserver.ensure_database(STATE_DB)


def fresh_state() -> None:
    pgserver.create_schema(STATE_DB, STATE_SCHEMA, fresh=True)


# -- Airflow (own AIRFLOW_HOME under bench/var, own emulator port) ---------------------------

def airflow_env(emu: Emulator, ident: Path) -> dict[str, str]:
    return local_airflow_env(
        VAR / "airflow", emulator_url=f"http://127.0.0.1:{emu.port}", token=TOKEN,
        ident_db=ident, state_conn={
            "conn_type": "postgres", "schema": STATE_DB, **pgserver.server_parts(),
            "extra": {"options": f"-csearch_path={STATE_SCHEMA}"}},
        extra={"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})


def ensure_airflow(env: dict[str, str]) -> None:
    home = VAR / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".migrated"
    if marker.exists():
        return
    say("initialising Airflow's metadata database under bench/var/airflow (once)")
    for args in (["db", "migrate"], ["pools", "set", "bitrix24", "2", "Bitrix24 requests"]):
        subprocess.run([str(BIN / "airflow"), *args], env=env, cwd=ROOT, check=True,
                       capture_output=True)
    marker.touch()


# -- one cell --------------------------------------------------------------------------------

def child(spec: dict[str, Any], log_name: str) -> dict[str, Any]:
    env = dict(os.environ)
    # Named, so load_config() does not import Airflow's configuration to find the DAGs
    # folder (+63 MB and ~0.9 s CPU in a child that has no Airflow otherwise: bench/README.md).
    env.setdefault("IDENTSYNC_CONFIG", str(ROOT / "dags" / "identsync.json"))
    logs = VAR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{log_name}.stderr", "w") as err:
        proc = subprocess.run([sys.executable, "-m", "bench.cell"], input=json.dumps(spec),
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{log_name} failed (exit {proc.returncode}); "
                           f"see bench/var/logs/{log_name}.stderr")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_once(emu: Emulator, strategy: str, wkey: str, plan: str, latency_ms: float
             ) -> dict[str, Any]:
    """Fresh portal and state, the earlier sync if the workload has one, then the measured
    sync. Returns the child's figures plus the emulator's counts for the measured part."""
    w = WORKLOADS[wkey]
    earlier, measured = source_paths(VAR, w)
    emu.fresh_portal()
    fresh_state()
    hashes = VAR / "comment_hashes.json"
    hashes.unlink(missing_ok=True)
    base = {"strategy": strategy, "webhook": emu.webhook, "state_dsn": state_dsn(),
            "hashes": str(hashes), "root": str(ROOT)}
    tag = f"{strategy}_{wkey}_{plan}_{latency_ms:g}ms"
    if earlier is not None:
        child({**base, "phase": "setup", "ident": str(earlier), "plan": "unlimited"},
              f"{tag}_setup")
    spec = {**base, "phase": "measure", "ident": str(measured), "plan": plan}
    if strategy == "d":
        env = airflow_env(emu, measured)
        ensure_airflow(env)
        spec.update(airflow=env, log=str(VAR / "logs" / f"{tag}_airflow.log"))
    emu.arm(plan, latency_ms)
    out = child(spec, tag)
    stats = emu.control.stats()
    by_method = {m: n for m, n in stats["by_method"].items() if m != "batch"}
    out.update(
        plan=plan, latency_ms=latency_ms, http_requests=stats["http_requests"],
        commands=stats["commands"], by_method=by_method,
        writes=sum(n for m, n in by_method.items() if m.rsplit(".", 1)[-1] in WRITE_SUFFIXES),
        limit_rejections=stats.get("limit_rejections", {}), by_status=stats.get("by_status"))
    return out


def to_cell(strategy: str, wkey: str, run: dict[str, Any], wall: float, projected: bool,
            detail: dict[str, Any]) -> Cell:
    return Cell(strategy=strategy, workload=wkey, records=run["records"],
                http_requests=run["http_requests"], commands=run["commands"],
                writes=run["writes"], wall_s=wall, projected=projected,
                peak_rss_mb=round(run["peak_rss_kb"] / 1024, 1),
                rss_note="" if not projected else "*", detail=detail)


def bench_cell(emu: Emulator, strategy: str, wkey: str, args: argparse.Namespace
               ) -> Cell:
    latency_s = args.latency_ms / 1000
    detail: dict[str, Any] = {}
    count = None
    if strategy != "d":
        say(f"{strategy} {wkey}: counting (unlimited plan, 0 ms)")
        count = run_once(emu, strategy, wkey, "unlimited", 0)
        proj = projected_seconds(count["http_requests"], count["wall_s"], latency_s, "standard")
        detail.update(count_run=count, projected_s=round(proj, 2))
        if proj > args.max_cell_seconds:
            say(f"{strategy} {wkey}: {count['http_requests']} requests, ~{proj:,.0f} s at "
                f"{args.latency_ms:g} ms: projected, not run live")
            return to_cell(strategy, wkey, count, proj, True, detail)
    say(f"{strategy} {wkey}: live (standard plan, {args.latency_ms:g} ms)")
    t0 = time.monotonic()
    live = run_once(emu, strategy, wkey, "standard", args.latency_ms)
    detail.update(live_run=live)
    if count is not None and count["http_requests"] != live["http_requests"]:
        detail["note"] = (f"live run made {live['http_requests']} requests, count run "
                          f"{count['http_requests']}")
    say(f"{strategy} {wkey}: {live['http_requests']} requests, {live['wall_s']:.1f} s "
        f"({time.monotonic() - t0:.0f} s with setup)")
    return to_cell(strategy, wkey, live, live["wall_s"], False, detail)


# -- report ----------------------------------------------------------------------------------

def _changed_note(cells: dict[tuple[str, str], Cell]) -> str:
    c = cells.get(("c", "changed_1000"))
    run = c and (c.detail.get("live_run") or c.detail.get("count_run"))
    if not run:
        return ""
    n = run.get("counts", {})
    return (f": the engine posted {n.get('comments_posted', 0)} comments and updated "
            f"{n.get('deals_updated', 0)} deals")


def footnotes(cells: dict[tuple[str, str], Cell], args: argparse.Namespace) -> list[str]:
    notes = [
        f"Emulator (b24emu) at plan \"standard\" (bucket 50, drain 2/s), {args.latency_ms:g} ms "
        "per request; the client paces itself with its own leaky bucket (48 of 50 slots). "
        "HTTP requests, commands and writes are the emulator's own counts for the measured "
        "sync (a batch is one request; commands are the methods inside it; writes are "
        "add/update commands including timeline comments). \"vs (a) req / time\": how many "
        "times fewer requests / less wall time than (a) on the same workload (~ when either "
        "time is projected).",
        "\"~ (projected)\": too slow to run live here. Requests were counted exactly by running "
        "the same strategy on the same data against a zero-latency, unlimited emulator; time = "
        "max(T0 + requests × latency, (requests − 48) / 2 s), T0 being that run's wall time "
        "(local work: extract, transform, emulator processing). Requests are sequential in "
        "every strategy.",
    ]
    checks = []
    for c in cells.values():
        live, proj = c.detail.get("live_run"), c.detail.get("projected_s")
        if live and proj:
            checks.append((abs(proj - c.wall_s) / c.wall_s * 100, c))
    if checks:
        worst = max(checks, key=lambda x: x[0])
        notes.append(f"Model check: on the {len(checks)} cells run both ways the projection was "
                     f"within {worst[0]:.0f}% of the measured time (worst: "
                     f"{worst[1].strategy} on {worst[1].workload}).")
    notes += [
        "Peak RSS of the process that did the sync: a bench/cell.py child for (a), (b), (c) "
        "(its own VmHWM, interpreter and libraries included); for (d) the `airflow dags test` "
        "process (ru_maxrss of the child), which runs every task of the run in-process. * = "
        "from the zero-latency run.",
        "(a) and (b) are models we wrote from the seed's description (bench/baselines.py), not "
        "the original code; they sync the same records through the same Bitrix24Client.",
        "Re-sync rows: the earlier sync ran first on a fresh portal with the same strategy (for "
        "(d): the engine, whose portal and ledger state is what the DAG leaves) and is not "
        "counted. 10% changed: one reception in ten edited in IDENT (new comment or cancelled)"
        + _changed_note(cells) + ".",
    ]
    dag = [c for (s, _), c in cells.items() if s == "d"]
    if dag:
        runs = ", ".join(f"{c.workload} {c.detail.get('live_run', {}).get('dag_run_s')} s"
                         for c in dag)
        notes.append("(d) wall time is the whole `airflow dags test` command (start-up, DAG "
                     f"parsing, one task at a time; pools are ignored). The DAG runs alone: "
                     f"{runs}.")
    lin = linearity(cells)
    if lin is not None:
        notes.append(f"Linearity of (c): {lin[1]} (target: at most 10% more per reception).")
    return [f"{i}. {n}" for i, n in enumerate(notes, 1)]


def task_setup(args: argparse.Namespace) -> dict[str, Any] | None:
    """Our set-up per task instance in fresh processes on the otherwise idle machine
    (``bench/task_setup.py``): the slowest task kind's median CPU is the figure judged."""
    out = VAR / "task_setup.json"
    n = 5 if args.quick else 15
    say(f"task set-up: {n} fresh task processes per kind (about a minute)")
    proc = subprocess.run([sys.executable, "-m", "bench.task_setup", "-n", str(n),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        say(f"task set-up failed (exit {proc.returncode}): {proc.stderr[-800:]}")
        return None
    report = json.loads(out.read_text(encoding="utf-8"))
    medians = {kind: s["cpu_s"]["body"]["p50"] for kind, s in report["kinds"].items()}
    return {"command": f"python -m bench.task_setup -n {n}", "median_cpu_s": max(medians.values()),
            "median_cpu_s_by_kind": medians, "report": report}


def write_results(cells: dict[tuple[str, str], Cell], order: list[str],
                  args: argparse.Namespace, table: str, notes: list[str], started: datetime,
                  elapsed: float, sched: list[dict[str, Any]],
                  setup: dict[str, Any] | None = None,
                  goals: list[Any] | None = None) -> None:
    labels = {k: WORKLOADS[k].label for k in order}
    command = "make bench" + (f" BENCH_ARGS='{args.raw}'" if args.raw else "")
    script = f"bench/run.py {args.raw}".strip()
    md = [
        "# Benchmark results", "",
        f"Command: `{command}` (runs `{script}`)  ",
        f"Date: {started:%Y-%m-%d %H:%M} UTC; took {elapsed / 60:.0f} min; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"latency {args.latency_ms:g} ms per request.", "",
        table, "", *notes, "",
    ]
    if sched:
        md += ["## (e) The real scheduler", "",
               "Each row: `python -m bench.scheduler` with its own Airflow stack (scheduler, "
               "dag-processor, api-server on a PostgreSQL metadata database; Celery: two "
               "`airflow celery worker` processes on this machine's Redis), a fresh portal at "
               "the plan's limits and the latency above. Receptions/h are end to end, from "
               "`airflow backfill create` (or the trigger) to the end of the last task; task "
               "instance (TI) times come from the metadata database. Full figures, including "
               "where each task's time goes: bench/results.json.", "",
               scheduler_cells.render(sched), ""]
    if goals:
        md += ["## Targets (issue #22), judged from this run", "", targets.render(goals), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(md))
    (args.out / "results.json").write_text(json.dumps({
        "command": command, "argv": sys.argv[1:], "date": started.isoformat(),
        "elapsed_s": round(elapsed, 1), "latency_ms": args.latency_ms,
        "max_cell_seconds": (None if args.max_cell_seconds == float("inf")
                             else args.max_cell_seconds), "workloads": labels,
        "strategies": STRATEGY_LABELS,
        "cells": [c.to_dict() for c in cells.values()], "footnotes": notes,
        "scheduler_cells": [scheduler_cells.summary(r) for r in sched],
        "scheduler_details": sched,
        "task_setup": setup,
        "targets": [g.to_dict() for g in goals or []],
    }, indent=1, ensure_ascii=False, default=str))


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Benchmark against the seed's strategies")
    ap.add_argument("--latency-ms", type=float, default=None,
                    help="emulated latency per request (default 500, --quick 50)")
    ap.add_argument("--max-cell-seconds", type=float, default=None,
                    help="run a cell live only if projected to take at most this "
                         "(default 300, --quick 60, --full unlimited)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fast sanity run")
    mode.add_argument("--full", action="store_true", help="every cell live (hours)")
    ap.add_argument("--workloads", default=None, help=f"comma list of {ALL_WORKLOADS}")
    ap.add_argument("--strategies", default="a,b,c,d,e",
                    help="(e): the real scheduler, its own table")
    ap.add_argument("--out", type=Path, default=BENCH)
    raw = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(raw)
    args.raw = " ".join(shlex.quote(a) for a in raw)
    if args.latency_ms is None:
        args.latency_ms = 50.0 if args.quick else 500.0
    if args.max_cell_seconds is None:
        args.max_cell_seconds = (60.0 if args.quick else float("inf") if args.full else 300.0)
    default = [w for w in ALL_WORKLOADS if not (args.quick and w == "new_20000")]
    args.workload_list = args.workloads.split(",") if args.workloads else default
    unknown = set(args.workload_list) - set(ALL_WORKLOADS)
    if unknown:
        ap.error(f"unknown workloads {sorted(unknown)}; choose from {ALL_WORKLOADS}")
    args.strategy_list = [s for s in "abcd" if s in args.strategies.split(",")]
    args.scheduler = "e" in args.strategies.split(",")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    ensure_state_db()
    for wkey in args.workload_list:
        say(f"workload {wkey}: generating the IDENT database if missing")
        ensure_workload(VAR, WORKLOADS[wkey])
    emu = Emulator()
    cells: dict[tuple[str, str], Cell] = {}
    try:
        for wkey in args.workload_list:
            for s in args.strategy_list:
                if wkey in ENGINE_ONLY and s != "c":
                    continue
                cells[(s, wkey)] = bench_cell(emu, s, wkey, args)
    finally:
        emu.stop()
    sched = []
    if args.scheduler:
        for cell in scheduler_cells.cells(args.quick):
            say(f"(e) {cell.name}: the real scheduler (a few minutes)")
            sched.append(scheduler_cells.run(cell, args.latency_ms))
            r = sched[-1]
            say(f"(e) {cell.name}: {r['receptions_per_hour']:,} receptions/h, "
                f"{r['responses_503']} x 503, {r['task_instances']} task instances")
    setup = task_setup(args) if args.scheduler else None
    goals = targets.judge(sched, setup) if args.scheduler else []
    labels = {k: WORKLOADS[k].label for k in args.workload_list}
    table = render_table(cells, args.workload_list, labels)
    notes = footnotes(cells, args)
    print(table)
    print()
    print("\n".join(notes))
    if sched:
        print()
        print(scheduler_cells.render(sched))
    if goals:
        print()
        print(targets.render(goals))
    write_results(cells, args.workload_list, args, table, notes, started,
                  time.monotonic() - t0, sched, setup, goals)
    say(f"written {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
