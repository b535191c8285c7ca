from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from identsync.sync.window import Window, WindowError, interval_applies, resolve_window

TZ = ZoneInfo("Europe/Moscow")  # UTC+3, no DST
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
OV = timedelta(minutes=15)


S = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def test_scheduled_run_syncs_its_interval_with_overlap_when_caught_up():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, run_type="scheduled", interval_start=S,
                       interval_end=S + H, watermark=S)
    assert (w.start, w.end, w.source, w.unsynced_from) == (S - OV, S + H, "interval", None)
    assert w.follows_watermark


def test_scheduled_run_after_an_outage_starts_at_the_watermark():
    """The scheduler was down 6 hours: the next run covers them (no gap)."""
    wm = S - 6 * H
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, run_type="scheduled", interval_start=S,
                       interval_end=S + H, watermark=wm)
    assert (w.start, w.end) == (wm - OV, S + H) and w.unsynced_from is None


def test_a_gap_longer_than_the_max_lookback_is_clamped_and_named():
    wm = S - timedelta(days=30)
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, run_type="scheduled", interval_start=S,
                       interval_end=S + H, watermark=wm, max_lookback=timedelta(days=7))
    assert w.start == S + H - timedelta(days=7)
    assert w.unsynced_from == wm - OV
    assert Window.from_dict(w.to_dict()) == w


def test_backfill_keeps_its_exact_interval():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, run_type="backfill", interval_start=S,
                       interval_end=S + H, watermark=S - timedelta(days=3))
    assert (w.start, w.end, w.source) == (S, S + H, "backfill")
    assert not w.follows_watermark


def test_zero_width_interval_is_not_a_window():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, run_type="scheduled", interval_start=S,
                       interval_end=S)
    assert w.source == "first-run"


def test_manual_dates_are_whole_clinic_days():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, date_from="2026-11-20", date_to="2026-11-22")
    assert w.start == datetime(2026, 11, 19, 21, 0, tzinfo=timezone.utc)  # 00:00 MSK
    assert w.end == datetime(2026, 11, 22, 21, 0, tzinfo=timezone.utc)  # end of 22nd MSK
    assert w.source == "params"
    assert w.local_naive(TZ) == (datetime(2026, 11, 20), datetime(2026, 11, 23))


def test_manual_params_win_over_interval_and_accept_datetimes_and_dates():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, run_type="scheduled",
                       date_from=date(2026, 11, 1),
                       date_to="2026-11-01T12:30:00+03:00",
                       interval_start=NOW - timedelta(hours=1), interval_end=NOW)
    assert w.end == datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
    assert w.source == "params"


def test_manual_only_from_runs_until_now():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, date_from="2026-11-23")
    assert w.end == NOW


def test_manual_without_dates_continues_from_watermark():
    wm = NOW - timedelta(hours=3)
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, watermark=wm)
    assert (w.start, w.end, w.source) == (wm - OV, NOW, "watermark")
    far = resolve_window(tz=TZ, now=NOW, overlap=OV, watermark=NOW - timedelta(days=40),
                         max_lookback=timedelta(days=7))
    assert far.start == NOW - timedelta(days=7) and far.unsynced_from is not None


def test_first_run_without_watermark_looks_back_a_day():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV)
    assert w.end - w.start == timedelta(days=1) and w.source == "first-run"


@pytest.mark.parametrize("kw, name", [
    ({"date_from": "yesterday"}, "date_from"),
    ({"date_to": "2026-11-20"}, "date_from"),
    ({"date_from": "2026-11-21", "date_to": "2026-11-20"}, "date_to"),
])
def test_bad_params_name_the_param(kw, name):
    with pytest.raises(WindowError) as e:
        resolve_window(tz=TZ, now=NOW, overlap=OV, **kw)
    assert str(e.value).startswith(name)


def test_window_round_trips():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV)
    assert Window.from_dict(w.to_dict()) == w


def test_only_scheduled_and_backfill_runs_use_their_interval():
    from airflow.utils.types import DagRunType

    assert interval_applies(DagRunType.SCHEDULED) and interval_applies(DagRunType.BACKFILL_JOB)
    assert interval_applies("scheduled") and interval_applies("backfill")
    assert not interval_applies(DagRunType.MANUAL) and not interval_applies("manual")
    assert not interval_applies(DagRunType.ASSET_TRIGGERED)


def test_backfill_blocks_are_aligned_to_the_clinics_midnight_and_tile():
    from identsync.sync.window import backfill_block

    # 2026-11-20 05:30 UTC is 08:30 in Moscow: the day block is that Moscow day.
    start, end = backfill_block(datetime(2026, 11, 20, 5, 30, tzinfo=timezone.utc), 24, TZ)
    assert (start, end) == (datetime(2026, 11, 19, 21, 0, tzinfo=timezone.utc),
                            datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc))
    # Every half-hour interval of that day falls in the same block; the next day in the next.
    for minutes in range(0, 24 * 60, 30):
        t = datetime(2026, 11, 19, 21, 0, tzinfo=timezone.utc) + timedelta(minutes=minutes)
        assert backfill_block(t, 24, TZ) == (start, end)
    assert backfill_block(end, 24, TZ)[0] == end
    import pendulum  # what Airflow hands the task

    assert backfill_block(pendulum.datetime(2026, 11, 20, 5, 30), 24, TZ) == (start, end)
    six = backfill_block(datetime(2026, 11, 20, 5, 30, tzinfo=timezone.utc), 6, TZ)
    assert six == (datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc),
                   datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc))


def test_a_scheduled_run_after_an_outage_with_airflows_pendulum_interval():
    """Airflow hands pendulum datetimes; the watermark is a plain one. The window reaches
    back to the watermark, bounded by the look-back (pendulum's arithmetic once went naive
    here and the run failed with TypeError)."""
    import pendulum

    from identsync.sync.window import resolve_window

    start, end = pendulum.datetime(2026, 12, 2, 21), pendulum.datetime(2026, 12, 3, 21)
    now = datetime(2026, 12, 4, 16, 0, tzinfo=timezone.utc)
    watermark = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)
    w = resolve_window(tz=TZ, now=now, overlap=timedelta(minutes=10), run_type="scheduled",
                       interval_start=start, interval_end=end, watermark=watermark,
                       max_lookback=timedelta(days=7))
    assert (w.start, w.end, w.source) == (watermark - timedelta(minutes=10),
                                          datetime(2026, 12, 3, 21, tzinfo=timezone.utc),
                                          "interval")
    assert type(w.start) is datetime and w.unsynced_from is None
    clamped = resolve_window(tz=TZ, now=now, overlap=timedelta(0), run_type="scheduled",
                             interval_start=start, interval_end=end,
                             watermark=watermark - timedelta(days=10),
                             max_lookback=timedelta(days=7))
    assert clamped.start == datetime(2026, 11, 26, 21, tzinfo=timezone.utc)
    assert clamped.unsynced_from == watermark - timedelta(days=10)


def test_the_watermark_never_passes_the_moment_the_run_read_ident():
    from identsync.sync.run import watermark_target

    # date_to = today: the window ends at tomorrow 00:00, the run read IDENT at noon.
    today = resolve_window(tz=TZ, now=NOW, overlap=OV, date_from="2026-11-24",
                           date_to="2026-11-24")
    assert today.end == datetime(2026, 11, 24, 21, 0, tzinfo=timezone.utc) > NOW
    assert watermark_target(today, NOW) == NOW
    # A window that ended before the read moves it to its end; one wholly after the read,
    # or a load by appointment date, nowhere.
    past = Window(NOW - 2 * H, NOW - H, "interval")
    assert watermark_target(past, NOW) == NOW - H
    assert watermark_target(Window(NOW + H, NOW + 2 * H, "params"), NOW) is None
    assert watermark_target(Window(NOW - H, NOW + H, "planned"), NOW) is None


def test_plan_params_make_a_planned_window_of_whole_clinic_days():
    w = resolve_window(tz=TZ, now=NOW, overlap=OV, plan_from="2026-11-25", plan_to="2026-11-27")
    assert (w.source, w.follows_watermark) == ("planned", False)
    assert w.local_naive(TZ) == (datetime(2026, 11, 25), datetime(2026, 11, 28))


@pytest.mark.parametrize("kw, name", [
    ({"plan_from": "2026-11-25"}, "plan_to"),
    ({"plan_to": "2026-11-25"}, "plan_from"),
    ({"plan_from": "2026-11-25", "plan_to": "2026-11-24"}, "plan_to"),
    ({"plan_from": "2026-11-25", "plan_to": "2026-11-26", "date_from": "2026-11-01"},
     "plan_from"),
    ({"plan_from": "25.11.2026", "plan_to": "2026-11-26"}, "plan_from"),
])
def test_bad_plan_params_name_the_param(kw, name):
    with pytest.raises(WindowError) as e:
        resolve_window(tz=TZ, now=NOW, overlap=OV, **kw)
    assert str(e.value).startswith(name)


class _Backfill:
    """Runs queued for some days; blocks claimed by whoever asks first."""

    def __init__(self, queued_days: set[int], claimed_by_others: set[int] = frozenset()):
        self.queued, self.others, self.asked = queued_days, claimed_by_others, []

    def day(self, at: datetime) -> int:
        return at.astimezone(TZ).day

    def pending(self, start, end):
        self.asked.append(self.day(start))
        return self.day(start) in self.queued

    def claim(self, start, end):
        return self.day(start) not in self.others


def _span(fake: _Backfill, until_days: int = 7) -> tuple[int, datetime]:
    from identsync.sync.window import backfill_block, backfill_span

    block = backfill_block(datetime(2026, 11, 1, 12, tzinfo=TZ), 24, TZ)
    end = backfill_span(block, hours=24, tz=TZ, until=block[0] + timedelta(days=until_days),
                        pending=fake.pending, claim=fake.claim)
    return round((end - block[0]).total_seconds() / 86400), end


def test_a_backfill_run_takes_the_blocks_of_its_backfills_queued_runs():
    # Runs of days 2..5 are queued: the run of day 1 syncs days 1..5 (Berlin's fall-back
    # day, 2026-10-25, is not in range; a 25-hour day is covered below).
    assert _span(_Backfill({2, 3, 4, 5}))[0] == 5


def test_a_backfill_run_stops_where_runs_stop_or_another_run_claimed_first():
    assert _span(_Backfill({2, 3, 5}))[0] == 3  # no run queued for day 4
    assert _span(_Backfill({2, 3, 4, 5}, claimed_by_others={3}))[0] == 2
    assert _span(_Backfill(set()))[0] == 1


def test_a_backfill_run_never_goes_past_its_cap_or_now():
    fake = _Backfill(set(range(2, 31)))
    assert _span(fake, until_days=7)[0] == 7
    assert fake.asked == [2, 3, 4, 5, 6, 7]
    from identsync.sync.window import backfill_block, backfill_span

    block = backfill_block(datetime(2026, 11, 1, 12, tzinfo=TZ), 24, TZ)
    now = block[1] + timedelta(hours=30)  # in the middle of day 3
    end = backfill_span(block, hours=24, tz=TZ, until=now, pending=fake.pending,
                        claim=fake.claim)
    assert end == now


def test_a_backfill_span_across_a_dst_day_tiles():
    from identsync.sync.window import backfill_block, backfill_span

    berlin = ZoneInfo("Europe/Berlin")
    block = backfill_block(datetime(2026, 10, 24, 12, tzinfo=berlin), 24, berlin)
    end = backfill_span(block, hours=24, tz=berlin, until=block[0] + timedelta(days=7),
                        pending=lambda s, e: s.astimezone(berlin).day <= 26,
                        claim=lambda s, e: True)
    assert end.astimezone(berlin).replace(tzinfo=None) == datetime(2026, 10, 27)
    assert end - block[0] == timedelta(days=3, hours=1)  # the 25-hour day included
