"""Cell (e) of `make bench`: the real scheduler, each cell a `python -m bench.scheduler`
child (its own Airflow stack, portal and state schema), one table of the results.

The cells are the issue's grid (LocalExecutor and Celery with two workers, standard and
enterprise plans, 5,000 new receptions as a 5-day daily backfill at the run's latency) plus
two rows about schedules: the shipped ``*/30`` schedule backfilling 1,000 receptions over 3
days, and one manual run over the same 3 days, the reference that row is compared with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scheduler import DAILY, cell_name

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "bench" / "var" / "logs"


@dataclass(frozen=True)
class SchedulerCell:
    executor: str  # local | celery
    plan: str
    receptions: int
    days: int
    schedule: str = DAILY
    one_run: bool = False

    @property
    def name(self) -> str:
        return "e_" + cell_name(self.executor, self.plan, self.receptions, self.days,
                                schedule=self.schedule, one_run=self.one_run)

    def argv(self, latency_ms: float) -> list[str]:
        args = ["--executor", self.executor, "--plan", self.plan,
                "--receptions", str(self.receptions), "--days", str(self.days),
                "--latency-ms", f"{latency_ms:g}", "--schedule", self.schedule]
        return args + (["--one-run"] if self.one_run else [])


GRID = [SchedulerCell(ex, plan, 5000, 5)
        for ex in ("local", "celery") for plan in ("standard", "enterprise")]
SCHEDULES = [SchedulerCell("local", "standard", 1000, 3, schedule="*/30 * * * *"),
             SchedulerCell("local", "standard", 1000, 3, one_run=True)]
QUICK = [SchedulerCell("local", "standard", 1000, 3)]
#: Issue #14's targets, receptions per hour end to end (and 0 responses 503 everywhere).
TARGETS = {"standard": 80_000, "enterprise": 150_000}


def cells(quick: bool) -> list[SchedulerCell]:
    return QUICK if quick else GRID + SCHEDULES


def run(cell: SchedulerCell, latency_ms: float) -> dict[str, Any]:
    """One cell in a child process; its JSON result (the child's last stdout line)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{cell.name}.stderr"
    with open(log, "w") as err:
        proc = subprocess.run([sys.executable, "-m", "bench.scheduler",
                               *cell.argv(latency_ms)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=err, text=True)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{cell.name} printed no result (exit {proc.returncode}); "
                           f"see bench/var/logs/{log.name}")
    result = json.loads(lines[-1])
    result["cell"] = cell.name
    result["exit"] = proc.returncode
    return result


def _how(r: dict[str, Any]) -> str:
    if r["mode"] == "one run":
        return f"one manual run over {r['days']} days"
    every = "daily" if r["schedule"] == DAILY else f"`{r['schedule']}`"
    return f"backfill, {r['days']} {every} runs" if every == "daily" else \
        f"backfill, {r['days']} days of {every} ({r['runs']} runs)"


def _target(r: dict[str, Any]) -> str:
    goal = TARGETS.get(r["plan"])
    if r["mode"] != "backfill" or r["schedule"] != DAILY or goal is None:
        return ""
    mark = "✓" if r["receptions_per_hour"] >= goal else "✗"
    return f"≥{goal // 1000}k/h {mark}; 503 = 0 {'✓' if r['responses_503'] == 0 else '✗'}"


def render(results: list[dict[str, Any]]) -> str:
    head = ("| executor | plan | receptions | how | receptions/h | HTTP req | 503 | "
            "task instances | TI queue p50/p95 | TI run p50/p95 | pool busy | duplicates "
            "| target |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        executor = r["executor"] if not r["workers"] else f"{r['executor']} ×{r['workers']}"
        busy = (r.get("where_time_goes") or {}).get("pool_busy_share")
        rows.append(
            f"| {executor} | {r['plan']} | {r['receptions']:,} | {_how(r)} | "
            f"{r['receptions_per_hour']:,} | {r['http_requests']:,} | {r['responses_503']} | "
            f"{r['task_instances']} | {r['ti_queue_p50_s']}/{r['ti_queue_p95_s']} s | "
            f"{r['ti_run_p50_s']}/{r['ti_run_p95_s']} s | "
            f"{'' if busy is None else f'{busy:.0%}'} | {r['deals_duplicated']} | "
            f"{_target(r)} |")
    return "\n".join(rows)


def summary(r: dict[str, Any]) -> dict[str, Any]:
    """The figures results.json keeps per cell besides the child's full result."""
    keys = ("cell", "plan", "executor", "workers", "mode", "schedule", "receptions", "days",
            "responses_503", "http_requests", "receptions_per_hour", "task_instances",
            "ti_queue_p50_s", "ti_queue_p95_s", "ti_run_p50_s", "ti_run_p95_s", "runs",
            "runs_failed", "deals_duplicated", "exit")
    return {k: r.get(k) for k in keys}
