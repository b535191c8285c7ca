"""The benchmark's pure logic: projection model, targets, ratios, linearity, the table."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from bench.baselines import groups, md5
from bench.model import (
    Cell,
    linearity,
    projected_seconds,
    ratios,
    render_table,
    targets,
)
from bench.workloads import WORKLOADS, change_some, source_paths


def cell(s: str, w: str, req: int, wall: float, *, records: int = 1000, writes: int = 0,
         projected: bool = False, rss: float | None = 100.0) -> Cell:
    return Cell(strategy=s, workload=w, records=records, http_requests=req, commands=req,
                writes=writes, wall_s=wall, projected=projected, peak_rss_mb=rss)


def test_projection_is_latency_bound_when_requests_are_slow():
    # 500 ms per request is slower than the 2/s drain: latency decides.
    assert projected_seconds(100, 3.0, 0.5) == pytest.approx(53.0)


def test_projection_is_bucket_bound_when_requests_are_fast():
    # 10 ms per request: after the 48-request burst, 2 per second.
    assert projected_seconds(1048, 1.0, 0.01) == pytest.approx(500.0)
    assert projected_seconds(1048, 1.0, 0.01, "unlimited") == pytest.approx(11.48)


def test_small_runs_fit_in_the_burst():
    assert projected_seconds(40, 0.2, 0.0) == pytest.approx(0.2)


def test_targets_mark_each_engine_cell():
    cells = {
        ("c", "new_20"): cell("c", "new_20", 3, 1.5, records=20),
        ("d", "new_20"): cell("d", "new_20", 5, 9.0, records=20),
        ("c", "new_1000"): cell("c", "new_1000", 84, 45.0),
        ("c", "unchanged_1000"): cell("c", "unchanged_1000", 21, 11.0, writes=1),
        ("c", "new_20000"): cell("c", "new_20000", 1680, 900.0, records=20000, rss=600.0,
                                 projected=True),
        ("a", "new_1000"): cell("a", "new_1000", 4000, 2000.0, writes=2000),
    }
    got = {k: dict(v) for k, v in targets(cells).items()}
    assert got[("c", "new_20")] == {"≤4 req": True}
    assert got[("d", "new_20")] == {"≤4 req": False}
    assert got[("c", "new_1000")] == {"≤90 req": True, "≥75k/h": True}  # 80,000/h
    assert got[("c", "unchanged_1000")] == {"≤25 req, 0 writes": False}  # one write
    assert got[("c", "new_20000")] == {"~≥75k/h": True, "<500 MB": False, "linear": True}
    assert ("a", "new_1000") not in got


def test_linearity_fails_when_cost_per_reception_grows():
    cells = {("c", "new_1000"): cell("c", "new_1000", 80, 40.0),
             ("c", "new_5000"): cell("c", "new_5000", 480, 240.0, records=5000)}
    ok, text = linearity(cells)
    assert not ok and "80.0 (1,000) -> 96.0 (5,000)" in text and "40.0 s" in text
    cells[("c", "new_5000")] = cell("c", "new_5000", 410, 205.0, records=5000)
    assert linearity(cells)[0]
    cells[("c", "new_5000")] = cell("c", "new_5000", 410, 300.0, records=5000)
    assert not linearity(cells)[0]  # time per reception grew by half


def test_ratios_compare_with_both_baselines_of_the_same_workload():
    cells = {("a", "new_20"): cell("a", "new_20", 100, 50.0, records=20),
             ("b", "new_20"): cell("b", "new_20", 60, 30.0, records=20, projected=True),
             ("c", "new_20"): cell("c", "new_20", 4, 2.5, records=20)}
    r = ratios(cells, "c", "new_20")
    assert r["a"] == {"requests": 25.0, "time": 20.0, "projected": False}
    assert r["b"]["requests"] == 15.0 and r["b"]["projected"]
    assert ratios(cells, "a", "new_20") == {}


def test_table_has_one_row_per_cell_with_marks():
    cells = {("a", "new_20"): cell("a", "new_20", 100, 2500.0, records=20, projected=True),
             ("c", "new_20"): cell("c", "new_20", 3, 1.5, records=20)}
    table = render_table(cells, ["new_20"], {"new_20": "20 new"}).splitlines()
    assert len(table) == 4
    assert "~2,500 s (projected)" in table[2]
    assert "≤4 req ✓" in table[3] and "×33 / ~×1,667" in table[3]


def test_changed_workload_edits_one_reception_in_ten():
    from tools.ident_demo.clinic import create_schema, generate_clinic

    engine = sa.create_engine("sqlite://")
    create_schema(engine)
    generate_clinic(engine, seed=3, receptions=60, patients=30, branches=((1, "A"),))
    before = {r[0]: r[1:] for r in engine.connect().execute(sa.text(
        'SELECT "ID", "Comment", "ReceptionCanceled" FROM "Receptions"'))}
    counts = change_some(engine, at=datetime(2026, 11, 21, 18, 0))
    after = {r[0]: r[1:] for r in engine.connect().execute(sa.text(
        'SELECT "ID", "Comment", "ReceptionCanceled" FROM "Receptions"'))}
    changed = [rid for rid in before if before[rid] != after[rid]]
    assert len(changed) == 6 == counts["comment"] + counts["cancelled"]


def test_workload_sources():
    from pathlib import Path

    var = Path("/x")
    assert source_paths(var, WORKLOADS["new_20"])[0] is None
    earlier, measured = source_paths(var, WORKLOADS["unchanged_1000"])
    assert earlier == measured
    earlier, measured = source_paths(var, WORKLOADS["changed_1000"])
    assert earlier != measured and "changed" in measured.name


def test_seed_helpers():
    assert [len(g) for g in groups(list(range(45)), 20)] == [20, 20, 5]
    assert md5("Визит") == md5("Визит") != md5("Визит.")
