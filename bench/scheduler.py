"""One benchmark cell under the real scheduler: a generated clinic backfilled day by day by a
real Airflow stack (tools/airflow_stack/) against a fresh emulated portal.

    python -m bench.scheduler --executor local|celery --workers 2 --plan standard|enterprise \\
        --receptions 5000 --days 5 --latency-ms 500 [--schedule '0 0 * * *']
    python -m bench.scheduler --schedule '*/30 * * * *' --receptions 1000 --days 3
    python -m bench.scheduler --one-run --receptions 1000 --days 3   # the reference for it

Fresh portal (``python -m b24emu`` as a subprocess: its CPU is not the stack's), fresh state
schema, fresh metadata database; N new receptions over D days (every one changed on a day the
backfill covers), synced with ``airflow backfill create`` over those days, or with
``--one-run`` by one manual run over the same days (the trigger form's date_from/date_to):
the reference a backfill's rate is compared with.
``receptions_per_hour`` is end to end: from the ``backfill create`` command to the end of the
backfill's last task. Besides the headline figures the cell says where the time went: pool
waits, executor queue, each task's phases from its log (process start, DAG parse, our code,
XCom push, reporting back), HTTP time, the portal's budget used, the serial steps of a run,
and how busy the machine's CPUs were. Prints the figures as JSON (last line) and keeps them
in bench/var/scheduler/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from b24emu.control import EmulatorControl
from bench import cpu_split
from identsync.bitrix24.ratelimit import PLANS
from identsync.config import SyncConfig
from tools import pgserver
from tools.airflow_stack import (
    BACKFILL_MAX_ACTIVE_RUNS,
    TIMEZONE,
    AirflowStack,
    clinic_midnight,
    make_clinic,
    parallelism,
    percentile,
    phase_summary,
    scenario_config,
    scenario_env,
    task_phases,
    utcnow,
    worker_concurrency,
)
from tools.airflow_stack.settings import task_slots

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "bench" / "var" / "scheduler"
TOKEN = "bench-webhook-token"  # the local emulator's sandbox token, not a secret
STATE_DB = "identsync_bench"
DAG_ID = SyncConfig.pipeline_id(1)
FIRST_DAY = date(2026, 11, 20)
SEED = 11
BATCH = re.compile(r"^bitrix24 batch: .* in ([0-9.]+)s$")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
DAILY = "0 0 * * *"


def cell_name(executor: str, plan: str, receptions: int, days: int, *,
              schedule: str = DAILY, one_run: bool = False,
              parallelism: int | None = None) -> str:
    """A cell's name: its folder under bench/var/scheduler and its log's name."""
    how = "one_run" if one_run else "daily" if schedule == DAILY else \
        re.sub(r"\W+", "", schedule)
    tuned = f"p{parallelism}_" if parallelism else ""
    return f"{executor}_{plan}_{receptions}x{days}d_{tuned}{how}"


def say(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


class Emulator:
    """``python -m b24emu`` in its own process, empty, at the plan's limits."""

    def __init__(self, plan: str, latency_ms: float, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "b24emu", "--port", str(self.port), "--token", TOKEN,
             "--plan", plan, "--latency-ms", str(latency_ms)],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.control = EmulatorControl(self.base_url)
        for _ in range(100):
            if self.control.up():
                return
            if self.proc.poll() is not None:
                raise SystemExit(f"the emulator exited at start; see {log}")
            time.sleep(0.1)
        raise SystemExit("the emulator did not answer within 10 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


class CpuMeter:
    """Busy share of the machine's CPUs between two moments (/proc/stat), and load."""

    def __init__(self) -> None:
        self.start = cpu_split.proc_stat()

    def busy(self) -> float:
        total, idle = cpu_split.proc_stat()
        d_total, d_idle = total - self.start[0], idle - self.start[1]
        return round(1 - d_idle / d_total, 3) if d_total else 0.0


def backfill_range(schedule: str, first_day: date, days: int) -> tuple[str, str, int]:
    """(from, to, runs): the logical dates of every data interval inside the days."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    zone = ZoneInfo(TIMEZONE)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=zone)
    end = start + timedelta(days=days)
    ticks = []
    it = croniter(schedule, start - timedelta(seconds=1))
    while (tick := it.get_next(datetime)) < end:
        ticks.append(tick)
    if not ticks:
        raise SystemExit(f"schedule {schedule!r} has no interval in {days} days")
    last = ticks[-1]
    return clinic_midnight(first_day), last.isoformat(), len(ticks)


def _round(value: Any, nd: int = 2) -> Any:
    return round(value, nd) if isinstance(value, float) else value


def where_time_goes(stack: AirflowStack, backfill_id: int | None, t0: datetime,
                    last_end: datetime, pool_slots: int) -> dict[str, Any]:
    """Per-task time split, from the metadata DB and the task logs (the tries queued since
    ``t0``: not the empty scheduled run that unpausing made)."""
    rows = [t for t in stack.task_rows(DAG_ID, backfill_id=backfill_id)
            if t.start and t.queued and t.queued >= t0]
    phases = task_phases(stack.home, rows)
    http = [float(m.group(1)) for p in phases for _, _, ev in p.events
            if (m := BATCH.match(ev))]
    cpu_lines = [c for p in phases for _, _, ev in p.events if (c := cpu_split.parse(ev))]
    # Our own code before the first request: imports, config, state, staged chunk, limiter.
    before_http = []
    for p in phases:
        first = next(((ts, float(m.group(1))) for ts, _, ev in p.events
                      if (m := BATCH.match(ev))), None)
        if first is not None:
            before_http.append((first[0] - p.body_start).total_seconds() - first[1])
    pool_rows = [t for t in rows if t.pool == stack.pool and t.end]
    busy_slot_s = sum((t.end - t.start).total_seconds() for t in pool_rows)
    elapsed = (last_end - t0).total_seconds()
    # The critical path of a run: its serial steps and the waits between its steps.
    by_run: dict[str, list[Any]] = {}
    for t in rows:
        by_run.setdefault(t.run_id, []).append(t)
    serial = {"extract_receptions": [], "transform": [], "run_summary": []}
    gaps: list[float] = []
    for ts in by_run.values():
        for t in ts:
            if t.task_id in serial and t.end:
                serial[t.task_id].append((t.end - (t.queued or t.start)).total_seconds())
        steps = ("batch_lookup", "upsert_contacts_deals", "add_comments")
        for a, b in zip(steps, steps[1:]):
            ends = [t.end for t in ts if t.task_id == a and t.end]
            ready = [t.scheduled for t in ts if t.task_id == b and t.scheduled]
            if ends and ready:
                # The barrier: step b of a run is schedulable only once all of step a ended.
                gaps.append((min(ready) - max(ends)).total_seconds())
    # A freed pool slot until the next pool task starts in it (while tasks were waiting).
    ends = sorted(t.end for t in pool_rows)
    handoff = []
    for t in sorted(pool_rows, key=lambda t: t.start):
        before = [e for e in ends if e <= t.start]
        if before and t.scheduled and t.scheduled < before[-1]:
            handoff.append((t.start - before[-1]).total_seconds())
    body_share = {}
    total = sum(sum(p.seconds.values()) for p in phases)
    if total:
        body_share = {k: round(sum(p.seconds[k] for p in phases) / total, 3)
                      for k in phases[0].seconds}
    return {
        "phases_s": {k: {kk: _round(vv) for kk, vv in v.items()}
                     for k, v in phase_summary(phases).items()},
        "phase_share_of_run_time": body_share,
        "http_s": {"batches": len(http), "p50": _round(percentile(http, 50)),
                   "sum": _round(sum(http))},
        "body_before_first_request_s": {"p50": _round(percentile(before_http, 50)),
                                        "p95": _round(percentile(before_http, 95)),
                                        "sum": _round(sum(before_http))},
        "pool_busy_share": round(busy_slot_s / (pool_slots * elapsed), 3) if elapsed else None,
        "serial_step_s_p50": {k: _round(percentile(v, 50)) for k, v in serial.items()},
        "barrier_gap_s_p50": _round(percentile(gaps, 50)),
        "slot_handoff_s": {"p50": _round(percentile(handoff, 50)),
                           "p95": _round(percentile(handoff, 95)),
                           "sum": _round(sum(handoff))},
        "_cpu_lines": cpu_lines,
    }


def run_cell(args: argparse.Namespace) -> dict[str, Any]:
    executor = EXECUTORS[args.executor]
    slots = args.parallelism or (task_slots(args.pool_slots, executor) if args.pool_slots
                                 else None)
    overrides = dict(item.split("=", 1) for item in args.airflow_setting)
    cell = cell_name(args.executor, args.plan, args.receptions, args.days,
                     schedule=args.schedule, one_run=args.one_run,
                     parallelism=args.parallelism)
    work = VAR / cell
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    from_date, to_date, n_runs = backfill_range(args.schedule, FIRST_DAY, args.days)
    say(f"{cell}: generating {args.receptions} receptions over {args.days} days")
    ident = work / "ident.sqlite3"
    engine = make_clinic(ident, seed=SEED, receptions=args.receptions, first_day=FIRST_DAY,
                         days=args.days)
    engine.dispose()
    config = scenario_config(work / "identsync.json", first_day=FIRST_DAY, plan=args.plan,
                             schedule=args.schedule)
    emu = Emulator(args.plan, args.latency_ms, work / "emulator.log")
    pgserver.ensure_database(STATE_DB)
    try:
        with pgserver.scratch_schema(STATE_DB, "sched") as dsn:
            env = scenario_env(work / "airflow", emulator_url=emu.base_url, token=TOKEN,
                               ident_db=ident, state_dsn=dsn, plan=args.plan, config=config)
            # As an installed package runs: pip compiles the modules at install, so a task
            # process reads bytecode (this machine sets PYTHONDONTWRITEBYTECODE: every task
            # process would compile ~60 of our modules, 0.03-0.04 s CPU: bench/TASK_SETUP.md).
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(VAR / "pycache")
            workers = args.workers if executor == "CeleryExecutor" else 0
            # Experiments: other task slots (given, or the shipped rule for another pool size)
            # and other Airflow settings, on top of the shipped ones.
            extra = {k: str(slots) for k in (
                "AIRFLOW__CORE__PARALLELISM", "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY")} if slots else {}
            extra.update(overrides)
            with AirflowStack(work / "airflow", env, executor=executor, workers=workers,
                              plan=args.plan, extra=extra, slots=args.pool_slots,
                              concurrency=slots) as stack:
                stack.wait_dag(DAG_ID)
                stack.unpause(DAG_ID)
                stack.wait_finished(DAG_ID, timeout=300)  # the scheduled run unpausing makes
                say(f"stack up after {time.monotonic() - started:.0f} s; backfill "
                    f"{from_date} .. {to_date} ({n_runs} runs)")
                emu.control.reset("stats,limits")
                cpu = CpuMeter()
                meter = cpu_split.Meter(emu.proc.pid)
                load0 = os.getloadavg()[0]
                t0 = utcnow()
                if args.one_run:
                    max_runs = n_runs = 1
                    run_id = stack.trigger(DAG_ID, {
                        "date_from": FIRST_DAY.isoformat(),
                        "date_to": (FIRST_DAY + timedelta(days=args.days - 1)).isoformat()})
                    backfill_id = None
                    runs = stack.wait_finished(DAG_ID, run_ids=[run_id], timeout=args.timeout,
                                               every=5)
                else:
                    max_runs = args.max_active_runs or min(n_runs, BACKFILL_MAX_ACTIVE_RUNS)
                    backfill_id = stack.backfill(DAG_ID, from_date, to_date,
                                                 max_active_runs=max_runs)
                    runs = stack.wait_finished(DAG_ID, backfill_id=backfill_id,
                                               expected_runs=n_runs, timeout=args.timeout,
                                               every=5)
                seen_done = utcnow()
                busy = cpu.busy()
                used = meter.stop()
                stats = emu.control.settled()
                dump = {e: emu.control.dump(e) for e in ("deal", "comment")}
                metrics = stack.metrics(DAG_ID, backfill_id=backfill_id, since=t0)
                last_end = metrics.pop("_last_end")
                analysis = where_time_goes(stack, backfill_id, t0, last_end, stack.pool_slots)
                cpu_lines = analysis.pop("_cpu_lines")
                summaries = [r["summary"] for r in
                             _runs_of(dsn, {r["run_id"] for r in runs})]
    finally:
        emu.stop()
    e2e_s = (last_end - t0).total_seconds()
    idf = SyncConfig.from_file(config).ident_id_field
    deals = Counter(d.get(idf) for d in dump["deal"])
    limiter = [s.get("http") or {} for s in summaries]
    drain = PLANS[args.plan].drain_per_second if PLANS[args.plan] else None
    result = {
        "plan": args.plan, "executor": args.executor, "workers": workers,
        "mode": "one run" if args.one_run else "backfill", "schedule": args.schedule,
        "receptions": args.receptions, "days": args.days,
        "latency_ms": args.latency_ms,
        "pool_slots": stack.pool_slots,
        "parallelism": slots or parallelism(args.plan, executor),
        "worker_concurrency": (slots or worker_concurrency(args.plan)) if workers else None,
        "max_active_runs": max_runs,
        "airflow_settings": overrides,
        "responses_503": int(stats["by_status"].get("503", 0)),
        "http_requests": int(stats["http_requests"]),
        "by_status": stats["by_status"],
        "receptions_per_hour": round(args.receptions / e2e_s * 3600),
        "runs": len(runs), "runs_failed": sum(r["state"] != "success" for r in runs),
        "task_instances": metrics["task_instances"], "tries": metrics["tries"],
        "ti_states": metrics["states"],
        "ti_queue_p50_s": _round(metrics["ti_queue_p50_s"]),
        "ti_queue_p95_s": _round(metrics["ti_queue_p95_s"]),
        "ti_run_p50_s": _round(metrics["ti_run_p50_s"]),
        "ti_run_p95_s": _round(metrics["ti_run_p95_s"]),
        "ti_pool_wait_p50_s": _round(metrics["ti_pool_wait_p50_s"]),
        "ti_pool_wait_p95_s": _round(metrics["ti_pool_wait_p95_s"]),
        "wall_s": round(e2e_s, 1),
        "first_queued_to_last_end_s": _round(metrics["first_queued_to_last_end_s"], 1),
        "backfill_create_to_all_runs_seen_done_s": round((seen_done - t0).total_seconds(), 1),
        "cell_wall_s": round(time.monotonic() - started, 1),
        "portal_budget_used": round(stats["http_requests"] / (drain * e2e_s), 3)
        if drain else None,
        "client_limit_waits": sum(int(h.get("limit_waits", 0)) for h in limiter),
        "client_limit_wait_s": round(sum(float(h.get("wait_seconds", 0)) for h in limiter), 1),
        "deals": sum(deals.values()), "deals_duplicated": sum(n - 1 for n in deals.values()
                                                              if n > 1),
        "records_synced": sum(int((s.get("counts") or {}).get("records", 0))
                              for s in summaries),
        "comments": len(dump["comment"]),
        "cpu_busy_share": busy, "loadavg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "hosts": metrics["hosts"],
        "by_task": {k: {"tries": v["tries"],
                        "pool_wait_p50": _round(v["pool_wait"]["p50"]),
                        "queue_p50": _round(v["queue"]["p50"]),
                        "run_p50": _round(v["run"]["p50"]), "run_p95": _round(v["run"]["p95"])}
                    for k, v in metrics["by_task"].items()},
        "where_time_goes": analysis,
        "cpu": cpu_split.split(cpu_lines, used, metrics["task_instances"]),
    }
    (work / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def _runs_of(dsn: str, run_ids: set[str]) -> list[dict[str, Any]]:
    from identsync.state.store import StateStore

    return [r for r in StateStore(dsn).last_runs(DAG_ID, 100000) if r["run_id"] in run_ids]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executor", choices=sorted(EXECUTORS), default="local")
    ap.add_argument("--workers", type=int, default=2, help="Celery workers")
    ap.add_argument("--plan", choices=("standard", "enterprise"), default="standard")
    ap.add_argument("--receptions", type=int, default=5000)
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, default=500.0)
    ap.add_argument("--schedule", default=DAILY, help="cron of the DAG's intervals")
    ap.add_argument("--max-active-runs", type=int, default=None,
                    help="of the backfill (default: what README recommends, "
                         f"{BACKFILL_MAX_ACTIVE_RUNS}, or the number of runs if fewer)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds for the backfill")
    ap.add_argument("--parallelism", type=int, default=None,
                    help="override [core] parallelism, max_active_tasks_per_dag and the Celery "
                         "worker concurrency (default: the shipped settings of the plan)")
    ap.add_argument("--one-run", action="store_true",
                    help="one manual run over the days instead of a backfill")
    ap.add_argument("--pool-slots", type=int, default=None,
                    help="an experiment: another size of the bitrix24 pool (parallelism and "
                         "worker concurrency follow, as shipped: pool + 2, Celery + pool)")
    ap.add_argument("--airflow-setting", action="append", default=[], metavar="VAR=VALUE",
                    help="an experiment: one more AIRFLOW__... variable on top of the shipped "
                         "settings (repeatable), e.g. AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=5")
    args = ap.parse_args(argv)
    for item in args.airflow_setting:
        if "=" not in item or not item.startswith("AIRFLOW__"):
            ap.error(f"--airflow-setting {item!r}: expected AIRFLOW__SECTION__KEY=VALUE")
    result = run_cell(args)
    print(json.dumps(result, default=str), flush=True)
    return 0 if result["runs_failed"] == 0 and result["deals_duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
