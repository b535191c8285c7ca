"""Cell (e)'s table: which rows a target applies to, and what it says."""

from __future__ import annotations

from typing import Any

from bench.scheduler_cells import GRID, SCHEDULES, cells, render, summary


def result(**over: Any) -> dict[str, Any]:
    r = {"cell": "e", "plan": "standard", "executor": "local", "workers": 0,
         "mode": "backfill", "schedule": "0 0 * * *", "receptions": 5000, "days": 5,
         "runs": 5, "responses_503": 0, "http_requests": 420, "receptions_per_hour": 81_000,
         "task_instances": 120, "ti_queue_p50_s": 0.3, "ti_queue_p95_s": 2.0,
         "ti_run_p50_s": 1.1, "ti_run_p95_s": 3.2, "deals_duplicated": 0, "runs_failed": 0,
         "exit": 0, "where_time_goes": {"pool_busy_share": 0.81}}
    r.update(over)
    return r


def rows(text: str) -> list[str]:
    return text.splitlines()[2:]


def test_the_grid_is_both_executors_by_both_plans_and_quick_is_one_cell():
    assert {(c.executor, c.plan) for c in GRID} == {
        ("local", "standard"), ("local", "enterprise"), ("celery", "standard"),
        ("celery", "enterprise")}
    assert cells(False) == GRID + SCHEDULES
    assert len(cells(True)) == 1
    assert len({c.name for c in cells(False)}) == len(cells(False))


def test_a_daily_backfill_is_checked_against_its_plans_target():
    (met,) = rows(render([result()]))
    assert "≥80k/h ✓" in met and "503 = 0 ✓" in met and "81%" in met
    (slow,) = rows(render([result(plan="enterprise", receptions_per_hour=120_000,
                                  responses_503=3)]))
    assert "≥150k/h ✗" in slow and "503 = 0 ✗" in slow


def test_schedule_rows_carry_no_target_and_say_how_they_ran():
    every30, one = rows(render([
        result(schedule="*/30 * * * *", runs=144, days=3),
        result(mode="one run", runs=1, days=3, workers=2, executor="celery")]))
    assert "`*/30 * * * *` (144 runs)" in every30 and "k/h" not in every30
    assert "one manual run over 3 days" in one and "celery ×2" in one


def test_the_summary_keeps_the_issues_figures():
    s = summary(result())
    for key in ("plan", "executor", "responses_503", "receptions_per_hour", "task_instances",
                "ti_queue_p50_s", "ti_queue_p95_s"):
        assert s[key] == result()[key]
    assert "where_time_goes" not in s
