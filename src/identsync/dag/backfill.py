"""Which other runs a backfill run can see: queued or running runs of the same DAG whose
logical dates fall in a span of time (Airflow's own timetable gives the dates, the task
runtime's ``get_dr_count`` counts the runs; a task never reads the metadata database)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Callable

MAX_DATES = 2000  # a block of a month at */30 holds 1,488 intervals
PENDING = ["queued", "running"]


def logical_dates(dag: Any, start: datetime, end: datetime) -> list[datetime]:
    """Logical dates in ``[start, end)`` of the runs the DAG's timetable makes; empty for a
    timetable other than a cron data interval one (then a backfill run keeps to its block)."""
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = getattr(dag, "timetable", None)
    expression = getattr(timetable, "expression", None)
    if expression is None or type(timetable).__name__ != "CronDataIntervalTimetable":
        return []
    import pendulum

    core = CronDataIntervalTimetable(expression, timetable.timezone)
    start, end = pendulum.instance(start), pendulum.instance(end)  # what the timetable takes
    restriction = TimeRestriction(earliest=start, latest=None, catchup=True)
    out: list[datetime] = []
    last = None
    while len(out) < MAX_DATES:
        info = core.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None or info.logical_date >= end:
            break
        if info.logical_date >= start:
            out.append(info.logical_date)
        last = info.data_interval
    return out


def runs_pending(ctx: dict[str, Any], start: datetime, end: datetime) -> bool:
    """Whether a queued or running run of this DAG other than this one has its logical
    date in ``[start, end)``."""
    return _pending(ctx, _other_dates(ctx, start, end))


def _other_dates(ctx: dict[str, Any], start: datetime, end: datetime) -> list[datetime]:
    own = ctx.get("logical_date")
    return [d for d in logical_dates(ctx["dag"], start, end) if d != own]


def _pending(ctx: dict[str, Any], dates: list[datetime]) -> bool:
    if not dates:
        return False
    count = ctx["ti"].get_dr_count(dag_id=ctx["dag"].dag_id, logical_dates=dates,
                                   states=PENDING)
    return count > 0


def wait_for_earlier(ctx: dict[str, Any], block: tuple[datetime, datetime], span: timedelta,
                     owner: Callable[[], str | None], *, timeout_s: float = 60.0,
                     poll_s: float = 1.0) -> str | None:
    """When an earlier run of the DAG is queued or running within ``span`` before this run's
    block, give it the time to take this block with its own (its backfill's first run syncs
    the days after it): returns the run that claimed the block, or None when no earlier run
    is pending or it did not claim it within ``timeout_s``."""
    # A block already taken needs no look at the other runs: in a */30 backfill that is every
    # run after the first, and the look (336 logical dates for 7 days) cost 0.1 s CPU each.
    claimed = owner()
    if claimed is not None:
        return claimed
    dates = _other_dates(ctx, block[0] - span, block[0])  # the same on every poll
    deadline = time.monotonic() + timeout_s
    while _pending(ctx, dates):
        claimed = owner()
        if claimed is not None or time.monotonic() >= deadline:
            return claimed
        time.sleep(poll_s)
    return owner()
