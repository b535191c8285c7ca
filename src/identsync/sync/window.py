"""Which time window a run syncs, so that no change is ever skipped.

Kinds of run (facts of Airflow 3.3) and their windows, half-open ``[start, end)``:

* **scheduled**: from its data interval's start OR the last successful watermark, whichever
  is earlier, minus the overlap, to the interval's end. Changes made while the scheduler was
  down, the DAG paused, or a run failed and was never cleared are therefore synced by the
  next scheduled run. The look-back is bounded (``max_lookback``): a longer gap is clamped
  and the unsynced span is named (``Window.unsynced_from``) so the operator can backfill it;
* **backfill**: its data interval's block (``backfill_block_hours``, aligned to the clinic's
  midnight): the first run of a backfill in a block syncs the whole block, the others skip
  (no overlap, no watermark; backfill blocks tile);
* **manual with date_from/date_to** (the trigger form): exactly that range;
* **manual with plan_from/plan_to** (going live): every reception *planned* in that range
  (appointment date, clinic time), whatever its change time (``source="planned"``); it
  never moves the watermark;
* **manual without dates**: from the watermark (minus the overlap) until now, bounded the
  same way; the very first run of a pipeline looks back one day.

Only scheduled and manual-without-dates windows move the watermark unconditionally (they
start at or before it); backfill and range windows move it only when they touch it (see
``StateStore.advance_watermark``), and never backwards. No window moves it past the moment
its run began reading IDENT (``sync.run.watermark_target``): a range ending tomorrow moves it
to the read time, not to tomorrow.

Windows are instants (UTC). IDENT stores naive clinic-local times, so the extract reads the
naive range :func:`naive_range` gives: every stamp that may mean an instant of the window,
the repeated fall-back hour in every window it may fall in, the skipped spring-forward hour
mapped forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from identsync.errors import WindowError

FIRST_RUN_LOOKBACK = timedelta(days=1)
FOLLOWS_WATERMARK = ("interval", "watermark", "first-run")  # sources that always move it


@dataclass(frozen=True)
class Window:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    source: str  # "interval" | "backfill" | "params" | "watermark" | "first-run" | "planned"
    unsynced_from: datetime | None = None  # set when a too-long gap was clamped

    @property
    def follows_watermark(self) -> bool:
        return self.source in FOLLOWS_WATERMARK

    def local_naive(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The window in the clinic's wall-clock time, as IDENT stores it: every naive stamp
        that may mean an instant of the window (see :func:`naive_range`)."""
        return naive_range(self.start, self.end, tz)

    def to_dict(self) -> dict[str, str]:
        out = {"start": self.start.isoformat(), "end": self.end.isoformat(),
               "source": self.source}
        if self.unsynced_from is not None:
            out["unsynced_from"] = self.unsynced_from.isoformat()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Window:
        gap = d.get("unsynced_from")
        return cls(datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"]),
                   d["source"], datetime.fromisoformat(gap) if gap else None)


_SCAN = timedelta(hours=3)  # no zone changes its offset twice within this


def _offset(at: datetime, tz: ZoneInfo) -> timedelta:
    return at.astimezone(tz).utcoffset() or timedelta(0)


def _transitions(lo: datetime, hi: datetime, tz: ZoneInfo
                 ) -> list[tuple[datetime, timedelta, timedelta]]:
    """(instant, offset before, offset after) of each offset change in (lo, hi]."""
    out = []
    t = lo
    while t < hi:
        nxt = min(t + _SCAN, hi)
        if _offset(t, tz) != _offset(nxt, tz):
            # Bisect on whole seconds (zones change at whole seconds): b is the first
            # second with the new offset.
            a, b = int(t.timestamp()), int(nxt.timestamp()) + 1
            while b - a > 1:
                mid = (a + b) // 2
                if _offset(datetime.fromtimestamp(mid, timezone.utc), tz) == _offset(t, tz):
                    a = mid
                else:
                    b = mid
            out.append((datetime.fromtimestamp(b, timezone.utc), _offset(t, tz),
                        _offset(nxt, tz)))
        t = nxt
    return out


def naive_range(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The smallest naive clinic-local range ``[lo, hi)`` holding every wall-clock stamp
    that may mean an instant of ``[start, end)`` (aware).

    IDENT stores naive local times, so the instant of a stamp is not always one:

    * at a fall-back the hour repeats: a stamp in it may mean either instant, so it belongs
      to every window holding either (``[00:45Z, 01:15Z)`` in Berlin on the fall-back night
      is ``[02:00, 03:00)`` local, not the empty ``[02:45, 02:15)``);
    * at a spring-forward the hour is skipped: a stamp in it (typed, or from a clock that
      changed late) maps forward as Python's ``fold=0`` does (02:30 means 03:30 summer
      time), so a window holding that instant holds the stamp.

    Only offset changes within a day of either end can widen the range: the rest of the
    window's wall-clock span already holds them.
    """
    start, end = _plain_utc(start), _plain_utc(end)
    if end <= start:  # nothing to read (a run started in the same instant as the last)
        at = (start + _offset(start, tz)).replace(tzinfo=None)
        return at, at
    tiny = timedelta(microseconds=1)
    lo = start + _offset(start, tz)
    hi = end + _offset(end - tiny, tz)  # the wall clock just before the end, exclusive
    near = timedelta(days=1)
    seen = set()
    for span in ((start - near, min(start + near, end)), (max(end - near, start), end + near)):
        for at, before, after in _transitions(*span, tz):
            if at in seen:
                continue
            seen.add(at)
            if after < before:  # fall-back: [at + after, at + before) repeats
                if start < at < end:
                    lo = min(lo, at + after)
                if start < at <= end:
                    hi = max(hi, at + before)
            else:  # spring-forward: stamps in [at + before, at + after) map forward
                first, last = max(start, at), min(end, at + (after - before))
                if first < last:
                    lo = min(lo, first + before)
                    hi = max(hi, last + before)
    return lo.replace(tzinfo=None), hi.replace(tzinfo=None)


def run_kind(run_type: Any) -> str:
    """"scheduled", "backfill" or "manual" (asset-triggered and others count as manual)."""
    value = str(getattr(run_type, "value", run_type)).lower()
    return value if value in ("scheduled", "backfill") else "manual"


def interval_applies(run_type: Any) -> bool:
    """Only scheduled runs and backfills sync their data interval.

    A manual run may carry an interval too (a trigger with a logical date gets the latest
    complete interval, unrelated to what the operator meant), so it is ignored for them.
    """
    return run_kind(run_type) != "manual"


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
        # A wall-clock time the clinic's clock skipped maps forward (fold=0); one it showed
        # twice starts at its first meaning and ends at its second, so the range holds it.
        at = dt.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
        if end_of_day:
            at = max(at, dt.replace(tzinfo=tz, fold=1).astimezone(timezone.utc))
        return at
    return dt.astimezone(timezone.utc)


def _plain_utc(at: datetime | None) -> datetime | None:
    """A plain ``datetime`` in UTC: the one conversion of the datetimes Airflow hands us.
    They are pendulum's, whose arithmetic goes wrong here: ``astimezone(timezone.utc) -
    timedelta`` comes back naive (comparing it with an aware watermark raised TypeError,
    found by the scheduler test of a run after an outage), and differences do not divide by
    a timedelta."""
    if at is None:
        return None
    if at.tzinfo is None:
        raise ValueError(f"{at!r}: a time zone is required")
    return datetime.fromtimestamp(at.timestamp(), timezone.utc)


BLOCK_EPOCH = date(2000, 1, 3)  # a Monday: blocks of whole days or weeks start at midnight


def backfill_block(interval_start: datetime, hours: int, tz: ZoneInfo
                   ) -> tuple[datetime, datetime]:
    """The block of ``hours`` (aligned to the clinic's midnight) holding ``interval_start``.

    A backfill syncs whole blocks: the first of its runs in a block syncs the block, the
    others skip (see ``state.coverage``).
    """
    # Plain arithmetic on wall-clock seconds (pendulum's differences do not divide by a
    # timedelta).
    local = _plain_utc(interval_start).astimezone(tz).replace(tzinfo=None)
    base = datetime.combine(BLOCK_EPOCH, time())
    size_s = hours * 3600
    blocks = int((local - base).total_seconds() // size_s)
    start = (base + timedelta(seconds=blocks * size_s)).replace(tzinfo=tz)
    return (start.astimezone(timezone.utc),
            (start + timedelta(seconds=size_s)).astimezone(timezone.utc))


def _bounded(start: datetime, end: datetime, source: str, max_lookback: timedelta) -> Window:
    earliest = end - max_lookback
    if start < earliest:
        return Window(earliest, end, source, unsynced_from=start)
    return Window(start, end, source)


def resolve_window(*, tz: ZoneInfo, now: datetime, overlap: timedelta,
                   run_type: Any = "manual",
                   interval_start: datetime | None = None,
                   interval_end: datetime | None = None,
                   date_from: Any = None, date_to: Any = None,
                   watermark: datetime | None = None,
                   max_lookback: timedelta = timedelta(days=7),
                   plan_from: Any = None, plan_to: Any = None) -> Window:
    """Pick the window for one run; see the module docstring for the rules."""
    now = _plain_utc(now)
    interval_start, interval_end = _plain_utc(interval_start), _plain_utc(interval_end)
    watermark = _plain_utc(watermark)
    if plan_from not in (None, "") or plan_to not in (None, ""):
        if date_from not in (None, "") or date_to not in (None, ""):
            raise WindowError("plan_from: a load by appointment date takes no date_from/"
                              "date_to (those select by change time); give one or the other")
        start = parse_param_time(plan_from, tz, name="plan_from", end_of_day=False)
        end = parse_param_time(plan_to, tz, name="plan_to", end_of_day=True)
        if start is None or end is None:
            raise WindowError(f"{'plan_from' if start is None else 'plan_to'}: required for "
                              "a load by appointment date (both ends, e.g. plan_from = today, "
                              "plan_to = the last day booked)")
        if end <= start:
            raise WindowError(f"plan_to: must be after plan_from ({start.isoformat()})")
        return Window(start, end, "planned")
    p_from = parse_param_time(date_from, tz, name="date_from", end_of_day=False)
    p_to = parse_param_time(date_to, tz, name="date_to", end_of_day=True)
    if p_from is not None or p_to is not None:
        if p_from is None:
            raise WindowError("date_from: required when date_to is given")
        end = p_to or now
        if end <= p_from:
            raise WindowError(f"date_to: must be after date_from ({p_from.isoformat()})")
        return Window(p_from, end, "params")
    kind = run_kind(run_type)
    has_interval = (interval_start is not None and interval_end is not None
                    and interval_end > interval_start)
    if kind == "backfill" and has_interval:
        return Window(interval_start.astimezone(timezone.utc),
                      interval_end.astimezone(timezone.utc), "backfill")
    if kind == "scheduled" and has_interval:
        start = interval_start.astimezone(timezone.utc)
        if watermark is not None:
            start = min(start, watermark.astimezone(timezone.utc))
        return _bounded(start - overlap, interval_end.astimezone(timezone.utc), "interval",
                        max_lookback)
    if watermark is not None:
        start = watermark.astimezone(timezone.utc) - overlap
        return _bounded(min(start, now - overlap), now, "watermark", max_lookback)
    return Window(now - FIRST_RUN_LOOKBACK, now, "first-run")


def backfill_span(block: tuple[datetime, datetime], *, hours: int, tz: ZoneInfo,
                  until: datetime, pending: Any, claim: Any) -> datetime:
    """The end of what a backfill run syncs: its own ``block`` (already claimed) and the
    blocks after it that its backfill's later runs would sync, claimed for this run.

    A backfill over days otherwise syncs a reception once for every day it changed, and each
    run leaves a partial last chunk. The run goes on block by block while ``pending(start,
    end)`` says a queued or running run of the DAG has its interval there and ``claim(start,
    end)`` gives the block to this run; it stops at ``until`` (the span cap, or now), at a
    block another run claimed first, or where runs stop. The later runs find their blocks
    claimed and skip.
    """
    end = block[1]
    while end < until:
        start, nxt = backfill_block(end, hours, tz)
        if start != end or not pending(start, nxt) or not claim(start, nxt):
            break
        end = nxt
    return min(end, max(until, block[1]))
