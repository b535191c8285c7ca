"""Which time window a DAG run syncs.

Three kinds of run reach the extract task (facts of Airflow 3.3):

* scheduled runs and backfills carry a data interval (our timetable is a data-interval one,
  because a plain cron string gives zero-width intervals);
* a manual run from the trigger form may carry ``date_from``/``date_to`` Params;
* a manual run without them has no data interval at all: it continues from the last
  successful watermark up to now.

Every window is widened backwards by a small overlap to catch rows committed late; that is
safe because the whole sync is idempotent. Windows are half-open: [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from identsync.errors import WindowError

FIRST_RUN_LOOKBACK = timedelta(days=1)



@dataclass(frozen=True)
class Window:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    source: str  # "interval" | "params" | "watermark" | "first-run"

    def local_naive(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The window in the clinic's wall-clock time, as IDENT stores it."""
        return (self.start.astimezone(tz).replace(tzinfo=None),
                self.end.astimezone(tz).replace(tzinfo=None))

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "source": self.source}

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Window:
        return cls(datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"]),
                   d["source"])


def interval_applies(run_type: str | None) -> bool:
    """Only scheduled runs and backfills sync their data interval.

    A manual run may carry an interval too (a trigger with a logical date gets the latest
    complete interval, unrelated to what the operator meant), so it is ignored for them.
    """
    value = getattr(run_type, "value", run_type)
    return str(value).lower() in ("scheduled", "backfill")


def parse_param_time(value: Any, tz: ZoneInfo, *, name: str, end_of_day: bool) -> datetime | None:
    """A Param from the trigger form: a date (whole clinic-local day) or a datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value + timedelta(days=1) if end_of_day else value, time())
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                d = date.fromisoformat(text)
                dt = datetime.combine(d + timedelta(days=1) if end_of_day else d, time())
            else:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise WindowError(f"{name}: {text!r} is not a date (YYYY-MM-DD) or an ISO "
                              "datetime") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(timezone.utc)


def resolve_window(*, tz: ZoneInfo, now: datetime, overlap: timedelta,
                   interval_start: datetime | None = None,
                   interval_end: datetime | None = None,
                   date_from: Any = None, date_to: Any = None,
                   watermark: datetime | None = None) -> Window:
    """Pick the window for one run; see the module docstring for the rules."""
    now = now.astimezone(timezone.utc)
    p_from = parse_param_time(date_from, tz, name="date_from", end_of_day=False)
    p_to = parse_param_time(date_to, tz, name="date_to", end_of_day=True)
    if p_from is not None or p_to is not None:
        if p_from is None:
            raise WindowError("date_from: required when date_to is given")
        end = p_to or now
        if end <= p_from:
            raise WindowError(f"date_to: must be after date_from ({p_from.isoformat()})")
        return Window(p_from, end, "params")
    if interval_start is not None and interval_end is not None and interval_end > interval_start:
        return Window((interval_start - overlap).astimezone(timezone.utc),
                      interval_end.astimezone(timezone.utc), "interval")
    if watermark is not None:
        start = watermark.astimezone(timezone.utc) - overlap
        return Window(min(start, now - overlap), now, "watermark")
    return Window(now - FIRST_RUN_LOOKBACK, now, "first-run")
