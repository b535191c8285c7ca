"""The CPU a task process spends, Airflow's part and ours, in one log line per task instance
(``task cpu: ...``), so the benchmark names the next bottleneck by a number, not a guess.

Marks are process CPU-seconds (user + system) at a few moments: the DAG file's first and last
line, the body's start, the first request to the portal, the body's end. A task process is
forked for one task instance, so its CPU starts at zero: what comes before the DAG file is
Airflow's task runner, the DAG file is our imports and configuration, the body until the
first request is our set-up, the rest of the body is our work. What the process spends after
the body (XCom, reporting back) is Airflow's and is not in the line.
"""

from __future__ import annotations

import resource

_marks: dict[str, float] = {}
_preloaded: list[bool] = []


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mark(name: str) -> None:
    """Remember the CPU spent so far under ``name`` (the first time only)."""
    if name not in _marks:
        _marks[name] = process_cpu()
        if name == "dag_file_start":
            from identsync.preload import warm_start  # loaded with the plugins already

            _preloaded[:] = [warm_start()]


def body_started() -> float:
    """A task body begins: a process that runs several bodies (``airflow dags test``)
    measures each body's first request on its own."""
    _marks.pop("first_request", None)
    return process_cpu()


def summary_line(body_start: float) -> str:
    end = process_cpu()
    start, parsed = _marks.get("dag_file_start"), _marks.get("dag_file_end")
    dag_file = parsed - start if start is not None and parsed is not None else 0.0
    first = _marks.get("first_request")
    setup = first - body_start if first is not None and first >= body_start else 0.0
    parts = {"airflow_before": max(0.0, body_start - dag_file), "dag_file": dag_file,
             "setup": setup, "work": end - body_start - setup, "process": end}
    line = "task cpu: " + ", ".join(f"{k} {v:.3f} s" for k, v in parts.items())
    if _preloaded:
        line += "; modules preloaded: " + ("yes" if _preloaded[0] else "no")
    return line
