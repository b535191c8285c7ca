"""The sync-health read model: what operators see per branch, as plain JSON-able dicts.

Three things happen here and nowhere else: the state queries (last runs, open rejections,
the retry queue, all through :class:`~identsync.state.SyncState`), masking every field with
:mod:`identsync.mask` (a patient's phone never leaves whole: ``+7 999 ***-**-67``), and the
links into Airflow's UI
(the run page, a task's log page). No Airflow import: the FastAPI app passes the UI's root
path, says which pipelines the user may read, and hands over Airflow's own dag_run rows, from
which each branch gets its failed and stale runs, "last success N ago" and a status
(green / amber / red: :func:`branch_status`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol
from urllib.parse import quote

import psycopg2.errors

from identsync.mask import mask, mask_phone, mask_text  # mask_*: re-exported

__all__ = [
    "Links", "mask_phone", "mask_text", "run_row", "rejection_groups", "queue_rows",
    "dag_run_row", "branch_status", "age_text", "daily_totals", "pipeline_health",
    "health_report",
]

TRANSFORM_TASK = "transform"  # where a run records its rejections
SUMMARY_TASK = "run_summary"  # where a run logs its summary
COUNT_KEYS = (
    "extracted", "records", "rejected", "chunks",
    "contacts_created", "contacts_updated", "contacts_unchanged", "contacts_failed",
    "deals_created", "deals_updated", "deals_unchanged", "deals_kept_closed",
    "deals_protected", "deals_failed",
    "comments_posted", "comments_skipped", "comments_reconciled", "comments_failed",
    "comments_would_post",
)

# --- links -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Links:
    """Paths into Airflow's own UI, under ``root`` (the path of ``[api] base_url``)."""

    root: str = "/"

    def _base(self) -> str:
        return self.root if self.root.endswith("/") else self.root + "/"

    def dag(self, dag_id: str) -> str:
        return f"{self._base()}dags/{quote(dag_id, safe='')}"

    def run(self, dag_id: str, run_id: str) -> str:
        # Run ids look like manual__2026-11-21T06:00:00+00:00; ':' and '+' may stay.
        return f"{self.dag(dag_id)}/runs/{quote(run_id, safe=':+@')}"

    def task_log(self, dag_id: str, run_id: str, task_id: str,
                 map_index: int | None = None) -> str:
        """The task instance page, which opens on its log."""
        url = f"{self.run(dag_id, run_id)}/tasks/{quote(task_id, safe='')}"
        if map_index is not None and map_index >= 0:
            url += f"/mapped/{int(map_index)}"
        return url


# --- rows ------------------------------------------------------------------------------------

class _Store(Protocol):
    def last_runs(self, pipeline: str, n: int = 10) -> list[dict[str, Any]]: ...
    def open_rejections(self, pipeline: str) -> list[dict[str, Any]]: ...
    def run_totals_since(self, pipeline: str, since: datetime) -> list[dict[str, Any]]: ...


class _Queue(Protocol):
    def entries(self, pipeline: str, statuses: Any = ..., limit: int = ...
                ) -> list[dict[str, Any]]: ...


class StateReader(Protocol):
    """What the page reads of :class:`~identsync.state.SyncState`."""

    store: _Store
    queue: _Queue


def _ts(value: Any, tz: tzinfo | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if tz is not None and value.tzinfo is not None:
            value = value.astimezone(tz)
        return value.isoformat(timespec="seconds")
    return str(value)


def run_row(pipeline: str, run: Mapping[str, Any], links: Links, *,
            tz: tzinfo | None = None, region: str = "RU") -> dict[str, Any]:
    """One recorded run (``store.last_runs`` row) as the page shows it."""
    summary = run.get("summary") or {}
    counts = summary.get("counts") or {}
    http = summary.get("http") or {}
    window = summary.get("window") or {}
    run_id = str(run["run_id"])
    errors = [
        {"ident_id": e.get("ident_id"), "step": e.get("step"), "code": e.get("code"),
         "description": mask_text(e.get("description"), region=region)}
        for e in (summary.get("errors") or [])[:50]
    ]
    return {
        "run_id": run_id,
        "recorded_at": _ts(run.get("recorded_at"), tz),
        "dry_run": bool(summary.get("dry_run")),
        "window": {"start": _ts(window.get("start"), tz), "end": _ts(window.get("end"), tz),
                   "source": window.get("source")},
        "counts": {k: int(counts.get(k, 0) or 0) for k in COUNT_KEYS},
        "rejected_by_reason": dict(summary.get("rejected_by_reason") or {}),
        "http_requests": int(http.get("http_requests", 0) or 0),
        "commands": int(http.get("commands", 0) or 0),
        "retries": int(http.get("retries", 0) or 0),
        "limit_waits": int(http.get("limit_waits", 0) or 0),
        "elapsed_s": summary.get("elapsed_s"),
        "errors": errors,
        "error_count": len(summary.get("errors") or []),
        "notes": [mask_text(str(n), region=region) for n in (summary.get("notes") or [])[:20]],
        "run_url": links.run(pipeline, run_id),
        "log_url": links.task_log(pipeline, run_id, SUMMARY_TASK),
    }


def rejection_groups(pipeline: str, rejections: Iterable[Mapping[str, Any]], links: Links, *,
                     tz: tzinfo | None = None, region: str = "RU",
                     per_reason: int = 100) -> list[dict[str, Any]]:
    """Open rejections grouped by reason (largest group first), each record masked."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rejections:
        source = r.get("source") if isinstance(r.get("source"), Mapping) else {}
        raw_phone = source.get("mobile_phone")
        run_id = str(r.get("run_id") or "")
        groups.setdefault(str(r.get("reason") or "unknown"), []).append({
            "ident_id": r.get("ident_id"),
            "reception_id": r.get("reception_id"),
            "detail": mask(r.get("detail") or "", phones=[raw_phone], region=region,
                           names=[source.get(k) for k in ("surname", "name", "patronymic")],
                           free=[source.get("comment")]) if r.get("detail") else None,
            "phone": mask_phone(raw_phone, region),
            "first_seen": _ts(r.get("first_seen"), tz),
            "last_seen": _ts(r.get("last_seen"), tz),
            "times_seen": r.get("times_seen"),
            "run_id": run_id or None,
            "run_url": links.run(pipeline, run_id) if run_id else None,
            "log_url": links.task_log(pipeline, run_id, TRANSFORM_TASK) if run_id else None,
        })
    out = [{"reason": reason, "count": len(rows), "records": rows[:per_reason],
            "more": max(0, len(rows) - per_reason)} for reason, rows in groups.items()]
    return sorted(out, key=lambda g: (-g["count"], g["reason"]))


def queue_rows(pipeline: str, entries: Iterable[Mapping[str, Any]], links: Links, *,
               tz: tzinfo | None = None, region: str = "RU") -> list[dict[str, Any]]:
    """Retry-queue entries (queued and dead) with their reason, tries and next try."""
    out = []
    for e in entries:
        run_id = str(e.get("run_id") or "")
        task_id = e.get("task_id")
        out.append({
            "ident_id": e.get("ident_id"),
            "reception_id": e.get("reception_id"),
            "status": e.get("status"),
            "step": e.get("step"),
            "code": e.get("code"),
            "description": mask_text(e.get("description"), region=region),
            "attempts": e.get("attempts"),
            "first_failed_at": _ts(e.get("first_failed_at"), tz),
            "last_failed_at": _ts(e.get("last_failed_at"), tz),
            "next_attempt_at": _ts(e.get("next_attempt_at"), tz),
            "run_id": run_id or None,
            "run_url": links.run(pipeline, run_id) if run_id else None,
            "log_url": (links.task_log(pipeline, run_id, str(task_id), e.get("map_index"))
                        if run_id and task_id else None),
        })
    return out


# --- runs in Airflow and the branch's status -------------------------------------------------
# The state database only hears of runs that reach run_summary; a run whose upstream task
# failed, or one stuck running, is only in Airflow's own dag_run table. The app reads those
# rows (identsync.ui.app) and passes them in as plain dicts: run_id, state, run_type,
# queued_at, start_date, end_date, conf.

#: A scheduled run may take this long after its tick before the branch counts as late.
LATE_AFTER = timedelta(minutes=15)
#: A queued or running run older than this (or than two schedule intervals) is stale.
STALE_AFTER = timedelta(hours=1)
ACTIVE_STATES = ("queued", "running")
#: Ticks counted at most when a branch has not succeeded for a long time.
MAX_TICKS = 1000


def _dt(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def age_text(delta: timedelta) -> str:
    """``delta`` as people say it: "just now", "12 min ago", "3 h 5 min ago", "2 days 4 h ago"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h ago" if hours else f"{days} {unit} ago"


def schedule_ticks(schedule: str, after: datetime, until: datetime, tz: tzinfo) -> int:
    """How many ticks of the cron ``schedule`` (clinic time) fall in ``(after, until]``."""
    from croniter import croniter

    ticks = croniter(schedule, after.astimezone(tz))
    n = 0
    while n < MAX_TICKS and ticks.get_next(datetime) <= until:
        n += 1
    return n


def schedule_interval(schedule: str, now: datetime, tz: tzinfo) -> timedelta:
    """The spacing of the two ticks before ``now`` (the schedule's interval there)."""
    from croniter import croniter

    ticks = croniter(schedule, now.astimezone(tz))
    last = ticks.get_prev(datetime)
    return last - ticks.get_prev(datetime)


def _run_key(run: Mapping[str, Any]) -> datetime:
    for key in ("start_date", "queued_at", "logical_date", "end_date"):
        if (at := _dt(run.get(key))) is not None:
            return at
    return datetime.min.replace(tzinfo=timezone.utc)


def dag_run_row(pipeline: str, run: Mapping[str, Any], links: Links, *, now: datetime,
                stale_after: timedelta, tz: tzinfo | None = None) -> dict[str, Any]:
    """One of Airflow's dag_run rows as the page shows it (state as Airflow has it)."""
    state = str(run.get("state") or "queued")
    began = _dt(run.get("start_date")) or _dt(run.get("queued_at"))
    ended = _dt(run.get("end_date"))
    conf = run.get("conf") if isinstance(run.get("conf"), Mapping) else {}
    run_id = str(run["run_id"])
    stale = state in ACTIVE_STATES and began is not None and now - began > stale_after
    return {
        "run_id": run_id,
        "state": state,
        "run_type": str(run.get("run_type") or ""),
        "dry_run": bool(conf.get("dry_run")),
        "queued_at": _ts(run.get("queued_at"), tz),
        "start_date": _ts(run.get("start_date"), tz),
        "end_date": _ts(run.get("end_date"), tz),
        "duration_s": round((ended - began).total_seconds()) if began and ended else None,
        "running_for": age_text(now - began).removesuffix(" ago") if stale and began else None,
        "stale": stale,
        "run_url": links.run(pipeline, run_id),
    }


def branch_status(airflow_runs: list[Mapping[str, Any]] | None, recorded: list[Mapping[str, Any]],
                  *, schedule: str, tz: tzinfo, now: datetime, dead: int,
                  late_after: timedelta = LATE_AFTER) -> dict[str, Any]:
    """Is this branch syncing? green / amber / red, and why, one reason a line.

    ``airflow_runs`` are :func:`dag_run_row` rows (newest first; None: Airflow's runs were not
    read, and only the recorded, i.e. successful, runs count). Red: two or more scheduled
    ticks passed since the last successful run, or no run ever succeeded and one failed.
    Amber: one tick late, a failed run since the last success, a stale run, dead records,
    or no successful run yet. Green otherwise. Dry runs sync nothing: they are no success.
    """
    if airflow_runs is not None:
        successes = [_dt(r["end_date"]) or _dt(r["start_date"]) for r in airflow_runs
                     if r["state"] == "success" and not r["dry_run"]]
        first_ok = next((i for i, r in enumerate(airflow_runs)
                         if r["state"] == "success" and not r["dry_run"]), len(airflow_runs))
        failed = [r for r in airflow_runs[:first_ok] if r["state"] == "failed"]
        stale = [r for r in airflow_runs if r["stale"]]
    else:
        successes = [_dt(r.get("recorded_at")) for r in recorded
                     if not (r.get("summary") or {}).get("dry_run")]
        failed, stale = [], []
    last_ok = max((t for t in successes if t is not None), default=None)
    missed = (schedule_ticks(schedule, last_ok, now - late_after, tz)
              if last_ok is not None and now - late_after > last_ok else 0)
    reasons = []
    if last_ok is None:
        reasons.append("no successful run yet")
    elif missed:
        more = "+" if missed >= MAX_TICKS else ""
        reasons.append(f"{missed}{more} scheduled run{'s' if missed != 1 else ''} since the "
                       f"last success ({age_text(now - last_ok)}) did not succeed")
    if failed:
        reasons.append(f"{len(failed)} failed run{'s' if len(failed) != 1 else ''} since the "
                       "last success" if last_ok else f"{len(failed)} failed run(s)")
    if stale:
        reasons.append(f"{len(stale)} run{'s' if len(stale) != 1 else ''} queued or running "
                       f"for {stale[-1]['running_for']} (stale)")
    if dead:
        reasons.append(f"{dead} dead record{'s' if dead != 1 else ''} (no more tries)")
    if missed >= 2 or (last_ok is None and failed):
        status = "red"
    elif reasons:
        status = "amber"
    else:
        status = "green"
    return {
        "status": status,
        "reasons": reasons,
        "last_success_at": _ts(last_ok, tz),
        "last_success_ago": age_text(now - last_ok) if last_ok else None,
        "missed_runs": missed,
        "failed_since_success": len(failed),
        "stale_runs": len(stale),
        "dead": dead,
        "schedule": schedule,
        "source": "airflow" if airflow_runs is not None else "recorded runs",
    }


# --- the last 30 days ------------------------------------------------------------------------

#: Days the chart shows, today (clinic time) included.
CHART_DAYS = 30


def _count(value: Any) -> int:
    # A summary written by an older version may lack a count or hold null.
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def daily_totals(runs: Iterable[Mapping[str, Any]], *, now: datetime, tz: tzinfo,
                 days: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Per clinic day, oldest first, exactly ``days`` of them ending today: receptions synced,
    rejected and HTTP requests of the runs recorded that day (``run_totals_since`` rows).

    A day without runs is zeros, not missing: a gap in the chart is the thing to see. A dry
    run synced nothing and its rejections come back in the real run, so it adds only its
    requests (it did ask the portal).
    """
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    out = [{"day": (first + timedelta(days=i)).isoformat(), "runs": 0, "synced": 0,
            "rejected": 0, "requests": 0} for i in range(days)]
    for run in runs:
        at = _dt(run.get("recorded_at"))
        if at is None:
            continue
        i = (at.astimezone(tz).date() - first).days
        if not 0 <= i < days:
            continue
        bucket = out[i]
        bucket["requests"] += _count(run.get("http_requests"))
        if run.get("dry_run") is True:
            continue
        bucket["runs"] += 1
        bucket["synced"] += _count(run.get("records"))
        bucket["rejected"] += _count(run.get("rejected"))
    return out


def chart_of(days: list[dict[str, Any]]) -> dict[str, Any]:
    """The chart's days and their totals."""
    totals = {k: sum(d[k] for d in days) for k in ("runs", "synced", "rejected", "requests")}
    return {"days": days, "totals": totals}


def _missing_table_is_empty(read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    # Before a pipeline's first run (or before an upgrade creates the queue table) there is
    # nothing to show, which is not an error. The page never creates tables itself.
    try:
        return read()
    except psycopg2.errors.UndefinedTable:
        return []


def pipeline_health(state: StateReader, pipeline: str, *, links: Links,
                    branch_id: int | None = None, branch_name: str | None = None,
                    tz: tzinfo | None = None, region: str = "RU", runs: int = 10,
                    per_reason: int = 100, queue_limit: int = 500,
                    airflow_runs: list[Mapping[str, Any]] | None = None,
                    schedule: str = "*/30 * * * *", now: datetime | None = None,
                    can_requeue: bool = False) -> dict[str, Any]:
    """Everything the page shows for one pipeline (one branch's DAG).

    ``can_requeue``: the user may edit this DAG, so the page offers new tries for its dead
    records (the app checks it again when the form comes back).

    ``airflow_runs``: the pipeline's rows of Airflow's dag_run table (any order); with them
    the page shows failed and stale runs too, and the status counts them.
    """
    now = now or datetime.now(timezone.utc)
    zone = tz or timezone.utc
    last = _missing_table_is_empty(lambda: state.store.last_runs(pipeline, runs))
    rejections = _missing_table_is_empty(lambda: state.store.open_rejections(pipeline))
    queue = _missing_table_is_empty(
        lambda: state.queue.entries(pipeline, ("queued", "dead"), queue_limit))
    since = datetime.combine(now.astimezone(zone).date() - timedelta(days=CHART_DAYS - 1),
                             datetime.min.time(), tzinfo=zone)
    totals = _missing_table_is_empty(lambda: state.store.run_totals_since(pipeline, since))
    q = queue_rows(pipeline, queue, links, tz=tz, region=region)
    dead = [e for e in q if e["status"] == "dead"]
    shown = None
    if airflow_runs is not None:
        stale_after = max(STALE_AFTER, 2 * schedule_interval(schedule, now, zone))
        shown = [dag_run_row(pipeline, r, links, now=now, stale_after=stale_after, tz=tz)
                 for r in sorted(airflow_runs, key=_run_key, reverse=True)]
    return {
        "pipeline": pipeline,
        "branch_id": branch_id,
        "branch_name": branch_name,
        "dag_url": links.dag(pipeline),
        "can_requeue": bool(can_requeue),
        "health": branch_status(shown, last, schedule=schedule, tz=zone, now=now,
                                dead=len(dead)),
        "airflow_runs": shown[:runs] if shown is not None else None,
        "chart": chart_of(daily_totals(totals, now=now, tz=zone)),
        "runs": [run_row(pipeline, r, links, tz=tz, region=region) for r in last],
        "rejections": {
            "total": len(rejections),
            "by_reason": rejection_groups(pipeline, rejections, links, tz=tz, region=region,
                                          per_reason=per_reason),
        },
        "queue": {
            "queued": [e for e in q if e["status"] == "queued"],
            "dead": dead,
        },
    }


class _Branch(Protocol):
    id: int
    name: str


class _Config(Protocol):
    branches: Any
    timezone: str
    default_region: str

    def pipeline_id(self, branch_id: int) -> str: ...


def health_report(cfg: _Config, state: StateReader, *, links: Links,
                  can_read: Callable[[str], bool] = lambda pipeline: True,
                  runs: int = 10, per_reason: int = 100,
                  dag_runs: Callable[[str, int], list[Mapping[str, Any]]] | None = None,
                  now: datetime | None = None,
                  can_edit: Callable[[str], bool] = lambda pipeline: False
                  ) -> dict[str, Any]:
    """The page for every configured branch whose pipeline ``can_read`` allows.

    ``dag_runs(pipeline, n)``: the newest ``n`` rows of Airflow's dag_run table for it.
    ``can_edit(pipeline)``: may this user edit the pipeline's DAG (give dead records new tries).
    """
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(cfg.timezone)
    now = now or datetime.now(timezone.utc)
    # Enough of Airflow's runs to find the last success behind a streak of failures.
    scan = max(runs, 50)
    pipelines = []
    for branch in cfg.branches:
        pipeline = cfg.pipeline_id(branch.id)
        if not can_read(pipeline):
            continue
        schedule = getattr(branch, "schedule", None) or getattr(cfg, "schedule", "*/30 * * * *")
        pipelines.append(pipeline_health(
            state, pipeline, links=links, branch_id=branch.id, branch_name=branch.name, tz=tz,
            region=cfg.default_region, runs=runs, per_reason=per_reason, schedule=schedule,
            airflow_runs=dag_runs(pipeline, scan) if dag_runs is not None else None, now=now,
            can_requeue=can_edit(pipeline)))
    return {"timezone": cfg.timezone, "generated_at": _ts(now, tz), "pipelines": pipelines}
