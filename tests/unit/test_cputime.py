"""The task CPU line parts add up, and the benchmark reads back what the task wrote."""

from __future__ import annotations

import sys

from bench.cpu_split import parse, split
from identsync import cputime


def _burn(n: int = 300_000) -> int:
    return sum(i * i for i in range(n))


def test_the_line_splits_the_process_cpu_and_the_bench_reads_it():
    cputime._marks.clear()
    cputime.mark("dag_file_start")
    _burn()
    cputime.mark("dag_file_end")
    start = cputime.body_started()
    _burn()
    cputime.mark("first_request")
    _burn()
    got = parse(cputime.summary_line(start))
    assert got is not None and set(got) == {"airflow_before", "dag_file", "setup", "work",
                                            "process", "preloaded"}
    assert got["dag_file"] > 0 and got["setup"] > 0 and got["work"] > 0
    total = got["airflow_before"] + got["dag_file"] + got["setup"] + got["work"]
    assert abs(total - got["process"]) < 0.01
    # The tests import identsync.dag.tasks before the mark: as a warmed parent would.
    assert got["preloaded"] == (1.0 if "identsync.dag.tasks" in sys.modules else 0.0)


def test_a_body_without_a_request_is_all_work_and_marks_reset_per_body():
    cputime._marks.clear()
    cputime.mark("first_request")  # an earlier body's request in the same process
    start = cputime.body_started()
    _burn()
    got = parse(cputime.summary_line(start))
    assert got["setup"] == 0 and got["work"] > 0


def test_the_split_names_ours_and_airflows_share_per_task_instance():
    lines = [{"airflow_before": 0.5, "dag_file": 0.1, "setup": 0.05, "work": 0.25,
              "process": 0.9}] * 10
    out = split(lines, {"machine": 30.0, "emulator": 2.0, "postgres": 3.0, "bench": 1.0}, 12)
    assert out["per_ti_s"] == {"ours": 0.4, "airflow_task_process": 0.5,
                               "airflow_elsewhere": round((30 - 9 - 6) / 12, 3)}
    assert out["setup_median_s"] == 0.05
    assert parse("something else") is None and split([], {}, 0) == {}
    assert out["preloaded_share"] == 0.0


def test_the_line_says_whether_the_parent_had_imported_the_sync():
    assert parse("task cpu: dag_file 0.010 s, process 0.5 s; modules preloaded: yes") == {
        "dag_file": 0.01, "process": 0.5, "preloaded": 1.0}
    assert parse("task cpu: dag_file 0.200 s; modules preloaded: no")["preloaded"] == 0.0
    assert parse("task cpu: dag_file 0.200 s; modules preloaded: maybe") is None
