"""What a backfill run sees of its backfill's other runs (``identsync.dag.backfill``): the
logical dates come from Airflow's own timetable, the count from the task runtime; here the
count is a stand-in that records what it was asked (the scheduler test runs the real one)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pendulum
from airflow.sdk import CronDataIntervalTimetable

from identsync.dag.backfill import logical_dates, runs_pending, wait_for_earlier

UTC = timezone.utc


class _Dag:
    dag_id = "ident_to_bitrix24_branch_1"

    def __init__(self, cron: str, zone: str = "Europe/Berlin") -> None:
        self.timetable = CronDataIntervalTimetable(cron, timezone=zone)


class _Ti:
    """get_dr_count over a set of queued runs' logical dates."""

    def __init__(self, queued: set[datetime]) -> None:
        self.queued, self.asked = queued, []

    def get_dr_count(self, dag_id, logical_dates=None, run_ids=None, states=None):
        self.asked.append((list(logical_dates), states))
        return len(self.queued & set(logical_dates))


def _second_run(cron: str) -> tuple[datetime, datetime, _Ti, dict]:
    """A backfill's first run and the one after it (``mine``, a day later), both queued."""
    first = pendulum.datetime(2026, 11, 19, 23, tz="UTC")
    mine = first + timedelta(days=1)
    ti = _Ti({first, mine})
    return first, mine, ti, {"dag": _Dag(cron), "ti": ti, "logical_date": mine}


def test_logical_dates_are_the_timetables_own_across_a_dst_day():
    # Berlin's fall-back day has 50 half hours; a daily schedule still starts at midnight.
    day = (datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))
    halves = logical_dates(_Dag("*/30 * * * *"), *day)
    assert len(halves) == 50 and halves[0] == day[0] and halves[-1] == day[1] - timedelta(
        minutes=30)
    assert logical_dates(_Dag("0 0 * * *"), day[0] - timedelta(days=2), day[1]) == [
        pendulum.datetime(2026, 10, 22, 22, tz="UTC"), pendulum.datetime(2026, 10, 23, 22, tz="UTC"),
        pendulum.datetime(2026, 10, 24, 22, tz="UTC")]


def test_a_run_counts_only_queued_or_running_runs_other_than_itself():
    dag = _Dag("0 0 * * *")
    mine = pendulum.datetime(2026, 11, 19, 23, tz="UTC")
    ti = _Ti({mine})
    ctx = {"dag": dag, "ti": ti, "logical_date": mine}
    assert not runs_pending(ctx, mine, mine + timedelta(days=1))  # only itself there
    ti.queued.add(mine + timedelta(days=1))
    assert runs_pending(ctx, mine, mine + timedelta(days=3))
    assert ti.asked[-1][1] == ["queued", "running"]


def test_a_later_run_waits_for_an_earlier_one_to_take_its_day_then_skips():
    first, mine, ti, ctx = _second_run("0 0 * * *")
    answers = iter([None, None, "backfill__first"])
    owner = wait_for_earlier(ctx, (mine, mine + timedelta(days=1)), timedelta(days=7),
                             lambda: next(answers), timeout_s=5, poll_s=0.01)
    assert owner == "backfill__first"

    # No earlier run pending: no wait at all, the run claims its own day.
    ti.queued.discard(first)
    assert wait_for_earlier(ctx, (mine, mine + timedelta(days=1)), timedelta(days=7),
                            lambda: None, timeout_s=5, poll_s=0.01) is None


def test_a_later_run_stops_waiting_after_the_timeout():
    dag = _Dag("0 0 * * *")
    first = pendulum.datetime(2026, 11, 19, 23, tz="UTC")
    ctx = {"dag": dag, "ti": _Ti({first}), "logical_date": first + timedelta(days=1)}
    block = (first + timedelta(days=1), first + timedelta(days=2))
    t0 = datetime.now()
    assert wait_for_earlier(ctx, block, timedelta(days=7), lambda: None, timeout_s=0.3,
                            poll_s=0.05) is None
    assert (datetime.now() - t0).total_seconds() < 3


def test_a_run_whose_block_is_taken_asks_nothing_about_the_other_runs():
    # Every run of a */30 backfill after its first: the block's owner is known at once.
    _, mine, ti, ctx = _second_run("*/30 * * * *")
    owner = wait_for_earlier(ctx, (mine, mine + timedelta(days=1)), timedelta(days=7),
                             lambda: "backfill__first", timeout_s=5, poll_s=0.01)
    assert owner == "backfill__first" and ti.asked == []

    # Not taken yet: the dates are worked out once, however many polls it takes.
    answers = iter([None, None, None, "backfill__first"])
    assert wait_for_earlier(ctx, (mine, mine + timedelta(days=1)), timedelta(days=7),
                            lambda: next(answers), timeout_s=5, poll_s=0.01) == "backfill__first"
    assert len(ti.asked) == 3 and all(asked == ti.asked[0] for asked in ti.asked)
    assert len(ti.asked[0][0]) == 7 * 48  # a week of half hours before this run's block
