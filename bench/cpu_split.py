"""Where a cell's CPU went, per task instance: our code (the DAG file's imports and
configuration, the set-up before the first request, the work) and Airflow's (its task runner
in the same process, and everything else: scheduler, executor, supervisors, api-server), so
the next bottleneck is named by a number.

Each task process logs one ``task cpu:`` line (``identsync.dag.cpu``) with its own CPU split;
the machine's CPU comes from /proc/stat, the emulator's and PostgreSQL's from /proc/<pid>
(PostgreSQL's backends come and go: the postmaster's waited-for children count as well).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from statistics import median
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
#: identsync.dag.cpu.summary_line's format.
LINE = re.compile(r"^task cpu: (?P<pairs>(?:[a-z_]+ [0-9.]+ s(?:, )?)+)"
                  r"(?:; modules preloaded: (?P<preloaded>yes|no))?$")
OURS = ("dag_file", "setup", "work")
AIRFLOW_IN_TASK = ("airflow_before",)  # after the body: in "elsewhere" (not in the line)


def parse(event: str) -> dict[str, float] | None:
    m = LINE.match(event.strip())
    if not m:
        return None
    out = {}
    for pair in m.group("pairs").split(", "):
        name, value, _ = pair.split(" ")
        out[name] = float(value)
    if m.group("preloaded"):
        out["preloaded"] = 1.0 if m.group("preloaded") == "yes" else 0.0
    return out


def proc_stat() -> tuple[int, int]:
    """(all, idle) jiffies of the whole machine since boot, every CPU (idle + iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def machine_busy_s() -> float:
    """CPU-seconds the whole machine has been busy since boot (all CPUs)."""
    total, idle = proc_stat()
    return (total - idle) / TICK


def process_s(pid: int, *, children: bool = False) -> float:
    """CPU-seconds of one process (and of its children it has waited for)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[11..14] are utime, stime, cutime, cstime (man 5 proc, counted from field 3).
    own = int(fields[11]) + int(fields[12])
    waited = int(fields[13]) + int(fields[14]) if children else 0
    return (own + waited) / TICK


def postgres_s() -> float:
    """CPU-seconds of PostgreSQL: its running processes plus the exited backends the
    postmaster has reaped."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if comm.startswith("postgres"):
            total += process_s(int(entry.name), children=ppid == 1 or comm == "postgres")
    return total


class Meter:
    """Machine, emulator and PostgreSQL CPU between ``start()`` and ``stop()``."""

    def __init__(self, emulator_pid: int | None) -> None:
        self.pid = emulator_pid
        self.begin = self._read()
        self.delta: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {"machine": machine_busy_s(), "postgres": postgres_s(),
                "emulator": process_s(self.pid) if self.pid else 0.0,
                "bench": process_s(os.getpid())}

    def stop(self) -> dict[str, float]:
        end = self._read()
        self.delta = {k: round(max(0.0, end[k] - self.begin[k]), 2) for k in end}
        return self.delta


def split(lines: list[dict[str, float]], meter: dict[str, float], task_instances: int
          ) -> dict[str, Any]:
    """Per task instance: the means of our parts and Airflow's, the medians of the set-up,
    and the rest of the machine's CPU (Airflow outside the task processes)."""
    if not lines or not task_instances:
        return {}
    n = len(lines)

    def mean(key: str) -> float:
        return sum(x.get(key, 0.0) for x in lines) / n

    tasks_total = sum(x.get("process", 0.0) for x in lines)
    # Task instances without a line (skipped before the body, or failed) count as Airflow's.
    outside = meter.get("machine", 0.0) - tasks_total - meter.get("emulator", 0.0) \
        - meter.get("postgres", 0.0) - meter.get("bench", 0.0)
    per_ti = {
        "ours": round(sum(mean(k) for k in OURS), 3),
        "airflow_task_process": round(sum(mean(k) for k in AIRFLOW_IN_TASK), 3),
        "airflow_elsewhere": round(max(0.0, outside) / task_instances, 3),
    }
    return {
        "per_ti_s": per_ti,
        "ours_per_ti_s": {k: round(mean(k), 3) for k in OURS},
        "airflow_in_task_per_ti_s": {k: round(mean(k), 3) for k in AIRFLOW_IN_TASK},
        # The measure: from the body's start to its first request (tasks that send
        # none have 0 and are left out).
        "setup_median_s": round(median([x["setup"] for x in lines if x.get("setup")] or [0.0]),
                                3),
        "task_lines": n, "task_instances": task_instances,
        # Task processes that found the sync's modules imported by their parent.
        "preloaded_share": round(mean("preloaded"), 3),
        "machine_s": meter,
    }
