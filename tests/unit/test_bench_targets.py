"""The benchmark's pass/fail column judges each target from the run's own figures."""

from __future__ import annotations

import json
from pathlib import Path

from bench.targets import judge, render

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results.json"


def _cell(executor, plan, rate, *, schedule="0 0 * * *", mode="backfill", **extra):
    return {"cell": f"e_{executor}_{plan}_{mode}_{schedule}", "executor": executor,
            "workers": 2 if executor == "celery" else 0, "plan": plan, "mode": mode,
            "schedule": schedule, "receptions_per_hour": rate, "responses_503": 0,
            "deals_duplicated": 0, "runs_failed": 0, "exit": 0,
            "portal_budget_used": 0.9, "cpu": {"per_ti_s": {"ours": 0.4, "airflow": 1.1}},
            **extra}


def test_each_target_passes_fails_or_was_not_run():
    sched = [_cell("local", "standard", 81_000), _cell("celery", "standard", 79_999),
             _cell("local", "enterprise", 150_000),
             _cell("local", "standard", 30_000, schedule="*/30 * * * *"),
             _cell("local", "standard", 70_000, mode="one run")]
    got = {(t.target, t.cell): t.result for t in judge(sched, {"median_cpu_s": 0.3})}
    assert got[("standard plan, 5-day backfill", "local, standard")] == "pass"
    assert got[("standard plan, 5-day backfill", "celery ×2, standard")] == "fail"
    assert got[("enterprise plan, 5-day backfill", "local, enterprise")] == "pass"
    assert got[("enterprise plan, 5-day backfill", "celery, enterprise")] == "not run"
    assert got[("`*/30` backfill against one manual run", "local, standard")] == "fail"  # 43%
    assert got[("our set-up per task instance, CPU median (idle machine)",
                "bench/task_setup.py")] == "fail"


def test_a_503_a_duplicate_or_a_red_run_fails_its_cell():
    sched = [_cell("local", "standard", 90_000, responses_503=1),
             _cell("celery", "standard", 90_000, cpu={})]
    rows = [t for t in judge(sched) if t.cell.startswith("e_")]
    assert [t.result for t in rows] == ["fail", "pass", "pass", "fail"]
    assert "503 1" in rows[0].shown


def test_the_table_shows_every_row_with_its_mark():
    table = render(judge([_cell("local", "standard", 81_000)], None))
    assert "| standard plan, 5-day backfill | local, standard | 81,000/h | ≥ 80,000/h | ✓ pass |" \
        in table
    assert table.count("not run") >= 4


def test_the_committed_results_are_judged_without_error():
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    targets = judge(data["scheduler_details"], data.get("task_setup"))
    assert len(targets) >= 8 and {t.result for t in targets} <= {"pass", "fail", "not run"}
