"""What the metadata database and the task logs say about a DAG's task instances."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.airflow_stack.procs import Proc


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() if a is not None and b is not None else None


def _spread(values: Sequence[float | None]) -> dict[str, float | int | None]:
    xs = [v for v in values if v is not None]
    return {"n": len(xs), "p50": percentile(xs, 50), "p95": percentile(xs, 95),
            "max": max(xs) if xs else None, "sum": sum(xs)}


@dataclass
class TaskRow:
    """One try of one task instance (current or from task_instance_history)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    hostname: str | None
    pid: int | None
    pool: str
    scheduled: datetime | None
    queued: datetime | None
    start: datetime | None
    end: datetime | None
    current: bool  # False: an earlier try, from task_instance_history
    backfill_id: int | None = None


class MetadataReader:
    """Reads of a stack's metadata database and task logs (mixed into AirflowStack)."""

    home: Path
    procs: dict[str, Proc]

    @property
    def meta_dsn(self) -> str:
        raise NotImplementedError

    def runs(self, dag_id: str, *, backfill_id: int | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    # -- reads -----------------------------------------------------------------
    def _query(self, sql: str, params: tuple[Any, ...] = (), *,
               missing_ok: bool = False) -> list[tuple[Any, ...]]:
        import psycopg2

        conn = psycopg2.connect(self.meta_dsn, connect_timeout=10)
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(sql, params)
                except psycopg2.errors.UndefinedTable:
                    if missing_ok:  # before `db migrate` has created it
                        return []
                    raise
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read of the metadata database (tests: XCom, rendered fields ...)."""
        return self._query(sql, params)

    def task_rows(self, dag_id: str, *, backfill_id: int | None = None,
                  current_only: bool = False) -> list[TaskRow]:
        """Every try of every task instance of ``dag_id``: the current one from
        task_instance, earlier ones from task_instance_history."""
        cols = ("ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number, ti.state, "
                "ti.hostname, ti.pid, ti.pool, ti.scheduled_dttm, ti.queued_dttm, ti.start_date, "
                "ti.end_date")
        where = "ti.dag_id = %s"
        params: list[Any] = [dag_id]
        if backfill_id is not None:
            where += " AND r.backfill_id = %s"
            params.append(backfill_id)
        join = "JOIN dag_run r ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id"
        rows = [TaskRow(*r[:13], current=True, backfill_id=r[13]) for r in self._query(
            f"SELECT {cols}, r.backfill_id FROM task_instance ti {join} WHERE {where}",
            tuple(params))]
        if not current_only:
            rows += [TaskRow(*r[:13], current=False, backfill_id=r[13]) for r in self._query(
                f"SELECT {cols}, r.backfill_id FROM task_instance_history ti {join} "
                f"WHERE {where}", tuple(params))]
        return rows

    def metrics(self, dag_id: str, *, backfill_id: int | None = None,
                since: datetime | None = None) -> dict[str, Any]:
        """Where the time went, from the metadata DB.

        Per try that ran: scheduled -> queued (waiting for a pool or parallelism slot),
        queued -> start (executor hand-over, worker pick-up, supervisor fork, until the task
        reports "running"), start -> end (DAG parse in the task process + the task body +
        reporting back); per task id; and first queued -> last end. ``since``: only tries
        queued after it (a re-run after a clear).
        """
        rows = [t for t in self.task_rows(dag_id, backfill_id=backfill_id)
                if t.queued is not None and (since is None or t.queued >= since)]
        ran = [t for t in rows if t.start is not None]
        by_task: dict[str, dict[str, Any]] = {}
        for task_id in sorted({t.task_id for t in ran}):
            ts = [t for t in ran if t.task_id == task_id]
            by_task[task_id] = {
                "tries": len(ts),
                "pool_wait": _spread([_seconds(t.scheduled, t.queued) for t in ts]),
                "queue": _spread([_seconds(t.queued, t.start) for t in ts]),
                "run": _spread([_seconds(t.start, t.end) for t in ts]),
            }
        first = min((t.queued for t in rows), default=None)
        last = max((t.end for t in rows if t.end is not None), default=None)
        queue = [_seconds(t.queued, t.start) for t in ran]
        run = [_seconds(t.start, t.end) for t in ran]
        pool_wait = [_seconds(t.scheduled, t.queued) for t in ran]
        current = [t for t in rows if t.current]
        return {
            "task_instances": len(current),
            "tries": len(rows),
            "retried": sum(1 for t in current if t.try_number > 1),
            "states": dict(Counter(t.state for t in current)),
            "hosts": dict(Counter(t.hostname for t in ran)),
            "first_queued": first.isoformat() if first else None,
            "last_end": last.isoformat() if last else None,
            "first_queued_to_last_end_s": _seconds(first, last),
            "ti_queue_p50_s": percentile([q for q in queue if q is not None], 50),
            "ti_queue_p95_s": percentile([q for q in queue if q is not None], 95),
            "ti_run_p50_s": percentile([r for r in run if r is not None], 50),
            "ti_run_p95_s": percentile([r for r in run if r is not None], 95),
            "ti_pool_wait_p50_s": percentile([w for w in pool_wait if w is not None], 50),
            "ti_pool_wait_p95_s": percentile([w for w in pool_wait if w is not None], 95),
            "by_task": by_task,
            "_last_end": last,
        }

    def describe(self, dag_id: str, *, backfill_id: int | None = None) -> str:
        """Runs, their task states and the failed tries: what a timeout message needs."""
        lines = []
        for r in self.runs(dag_id, backfill_id=backfill_id):
            states = Counter(t.state for t in self.task_rows(dag_id, current_only=True)
                             if t.run_id == r["run_id"])
            lines.append(f"  {r['run_id']}: {r['state']} tasks {dict(states)}")
        failed = [t for t in self.task_rows(dag_id) if t.state in ("failed", "up_for_retry")]
        for t in sorted(failed, key=lambda t: -t.try_number)[:8]:
            lines.append(f"  failed try: {t.task_id}[{t.map_index}] try {t.try_number} on "
                         f"{t.hostname} ({t.run_id}): {self.failure_reason(t)}")
        for name in ("scheduler",):
            errors = [ln for ln in self.procs[name].tail(400).splitlines()
                      if "ERROR" in ln or "Traceback" in ln]
            if errors:
                lines.append(f"  {name} errors (last 5):\n    " + "\n    ".join(errors[-5:]))
        return "\n".join(lines) or "  (no runs)"

    @staticmethod
    def task_log_path(home: Path, t: TaskRow) -> Path:
        """Where Airflow's default log layout puts the log of one try."""
        path = Path(home, "logs", f"dag_id={t.dag_id}", f"run_id={t.run_id}",
                    f"task_id={t.task_id}")
        if t.map_index >= 0:
            path = path / f"map_index={t.map_index}"
        return path / f"attempt={t.try_number}.log"

    def task_log(self, t: TaskRow) -> Path:
        return self.task_log_path(self.home, t)

    def failure_reason(self, t: TaskRow) -> str:
        """The exception a failed try logged, in one line (or why there is none)."""
        try:
            lines = self.task_log(t).read_text(errors="replace").splitlines()
        except OSError:
            return "no task log (killed before it started?)"
        for line in lines:
            if '"level":"error"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            for detail in event.get("error_detail") or []:
                return f"{detail.get('exc_type')}: {str(detail.get('exc_value'))[:200]}"
            return str(event.get("event"))[:200]
        return "no error in its log"
