"""Windows are instants; IDENT's stamps are naive clinic-local times. Across a DST change, the
naive range the extract reads holds every stamp that may mean an instant of the window.

The schedule's intervals come from Airflow's own ``CronDataIntervalTimetable`` (``*/30`` in the
clinic's zone), the windows from ``resolve_window`` with the configured 15 minutes of overlap,
exactly as a scheduled run gets them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pendulum
import pytest

from identsync.sync.window import Window, naive_range, parse_param_time, resolve_window

UTC = timezone.utc
OV = timedelta(minutes=15)

# (zone, the night of a change): both transitions of Berlin and New York in 2026, Moscow's
# last two (2011: summer time for good; 2014: back to +3) and an ordinary Moscow night.
NIGHTS = [
    ("Europe/Berlin", datetime(2026, 3, 29)), ("Europe/Berlin", datetime(2026, 10, 25)),
    ("America/New_York", datetime(2026, 3, 8)), ("America/New_York", datetime(2026, 11, 1)),
    ("Europe/Moscow", datetime(2011, 3, 27)), ("Europe/Moscow", datetime(2014, 10, 26)),
    ("Europe/Moscow", datetime(2026, 10, 25)),
]


def scheduled_windows(zone: str, night: datetime) -> list[Window]:
    """The windows of the scheduled runs from 22:00 the evening before to 06:00 local."""
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    tz = ZoneInfo(zone)
    first = (night - timedelta(hours=2)).replace(tzinfo=tz)
    stop = (night + timedelta(hours=6)).replace(tzinfo=tz).astimezone(UTC)
    timetable = CronDataIntervalTimetable("*/30 * * * *", timezone=zone)
    restriction = TimeRestriction(earliest=pendulum.instance(first), latest=None, catchup=True)
    out, last = [], None
    while True:
        info = timetable.next_dagrun_info(last_automated_data_interval=last,
                                          restriction=restriction)
        last = info.data_interval
        if last.start >= stop:
            return out
        watermark = out[-1].end if out else None  # caught up: the previous run's end
        out.append(resolve_window(tz=tz, now=last.end + timedelta(minutes=1), overlap=OV,
                                  run_type="scheduled", interval_start=last.start,
                                  interval_end=last.end, watermark=watermark))


def instants(stamp: datetime, tz: ZoneInfo) -> set[datetime]:
    """What a naive IDENT stamp may mean: one instant, two in a repeated hour, and for a
    stamp in a skipped hour the instant it maps forward to (fold=0)."""
    real = {stamp.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1)}
    real = {u for u in real if u.astimezone(tz).replace(tzinfo=None) == stamp}
    return real or {stamp.replace(tzinfo=tz, fold=0).astimezone(UTC)}


@pytest.mark.parametrize("zone, night", NIGHTS, ids=[f"{z}-{n:%Y-%m-%d}" for z, n in NIGHTS])
def test_every_stamp_of_the_night_is_in_every_window_it_may_fall_in(zone, night):
    tz = ZoneInfo(zone)
    windows = scheduled_windows(zone, night)
    ranges = [w.local_naive(tz) for w in windows]
    for w, (lo, hi) in zip(windows, ranges):
        assert lo < hi, f"{w}: empty wall-clock range [{lo}, {hi})"
    # The windows tile time (each starts at or before the previous end).
    for a, b in zip(windows, windows[1:]):
        assert b.start <= a.end
    stamps = [night + timedelta(minutes=m) for m in range(0, 4 * 60)]
    for stamp in stamps:
        holders = [i for i, (lo, hi) in enumerate(ranges) if lo <= stamp < hi]
        assert holders, f"{zone}: a change stamped {stamp} is in no window"
        for u in instants(stamp, tz):
            for i, w in enumerate(windows):
                if w.start <= u < w.end:
                    assert i in holders, (f"{zone}: {stamp} (= {u} UTC) is in window {w} but "
                                          f"not in its naive range {ranges[i]}")


def test_the_repeated_hour_belongs_to_both_of_its_windows_in_berlin():
    """The issue's case: ``[02:15, 02:00)`` was an empty range on the fall-back night."""
    tz = ZoneInfo("Europe/Berlin")
    before = Window(datetime(2026, 10, 25, 0, 15, tzinfo=UTC),
                    datetime(2026, 10, 25, 1, 0, tzinfo=UTC), "interval")
    after = Window(datetime(2026, 10, 25, 0, 45, tzinfo=UTC),
                   datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "interval")
    assert before.local_naive(tz) == (datetime(2026, 10, 25, 2, 15), datetime(2026, 10, 25, 3))
    assert after.local_naive(tz) == (datetime(2026, 10, 25, 2), datetime(2026, 10, 25, 3))


def test_the_skipped_hour_maps_forward_in_new_york():
    """02:30 does not exist on 2026-03-08 in New York; a stamp of it means 03:30 EDT
    (07:30 UTC), so the window holding 07:30 UTC reads it."""
    tz = ZoneInfo("America/New_York")
    w = Window(datetime(2026, 3, 8, 7, 15, tzinfo=UTC), datetime(2026, 3, 8, 7, 45, tzinfo=UTC),
               "interval")
    lo, hi = w.local_naive(tz)
    assert lo <= datetime(2026, 3, 8, 2, 30) < hi
    assert lo <= datetime(2026, 3, 8, 3, 30) < hi
    assert (lo, hi) == (datetime(2026, 3, 8, 2, 15), datetime(2026, 3, 8, 3, 45))


def test_an_ordinary_window_is_its_plain_wall_clock_range():
    tz = ZoneInfo("Europe/Moscow")
    start = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    assert naive_range(start, start + timedelta(hours=1), tz) == (
        datetime(2026, 12, 6, 12, 0), datetime(2026, 12, 6, 13, 0))
    year = naive_range(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
                       ZoneInfo("Europe/Berlin"))
    assert year == (datetime(2025, 1, 1, 1), datetime(2026, 1, 1, 1))


def test_manual_times_in_a_repeated_or_skipped_hour_keep_every_stamp_they_name():
    tz = ZoneInfo("Europe/Berlin")
    # date_to = 02:30 on the fall-back night: the second 02:30 (01:30 UTC), the later one.
    end = parse_param_time("2026-10-25T02:30", tz, name="date_to", end_of_day=True)
    start = parse_param_time("2026-10-25T02:30", tz, name="date_from", end_of_day=False)
    assert (start, end) == (datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                            datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    # 02:30 on the spring-forward night maps forward: 03:30 CEST = 01:30 UTC.
    assert parse_param_time("2026-03-29T02:30", tz, name="date_from", end_of_day=False) == \
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
