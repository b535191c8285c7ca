"""Where one benchmark cell's peak memory or CPU goes (issue #22), measured, not guessed.

    python -m bench.trace_cell memory --strategy c --workload new_1000
    python -m bench.trace_cell cpu --workload new_1000 [--latency-ms 500]
    ... --var /tmp/trace-var     (a scratch folder instead of bench/var)

Both run the cell as bench/run.py does (fresh portal and state, same child spec), with the
measured step in a probe child instead of bench/cell.py:

* memory: the (a)-(c) child's resident set after each phase (interpreter, bench.cell's
  imports, the imports of run_in_process, load_config, the sync) and its peak (VmHWM).
  The sync's own share is the last step; the rest is imports.
* cpu: user+sys CPU of the `airflow dags test` process, sampled from /proc every 50 ms and
  cut at the log's "[DAG TEST] starting" lines: before the first task (start-up and DAG
  parsing), the first task (it also starts the in-process API server), the chunk tasks,
  the last task plus exit. CPU, not wall time: this machine is shared.
"""

from __future__ import annotations

import argparse
import bisect
import importlib
import json
import logging
import os
import re
import resource
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+)Z")
TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index")
# What bench.cell's run_in_process imports before its sync, at this commit and older ones.
RUN_IMPORTS = ("bench.baselines", "identsync.bitrix24.client", "identsync.state",
               "identsync.sync.ledger", "identsync.sync.engine")
STATE_SCHEMA = "bench_trace"  # not bench_cell: a trace never clobbers a running bench


# -- the probe children ----------------------------------------------------------------------

def _rss_mb(field: str = "VmRSS") -> int:
    """This process's resident set now (VmRSS) or at its peak (VmHWM). Not ru_maxrss: Linux
    carries that across exec from the forked parent (self-contained, for older trees)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


def probe_memory(spec: dict[str, Any]) -> dict[str, Any]:
    phases = [("interpreter", _rss_mb(), len(sys.modules))]
    import bench.cell as cell

    phases.append(("bench.cell imports", _rss_mb(), len(sys.modules)))
    for name in RUN_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # an older commit's layout (traced from a `git archive`)
            pass
    from identsync.settings import load_config

    phases.append(("run_in_process imports", _rss_mb(), len(sys.modules)))
    load_config()
    phases.append(("load_config", _rss_mb(), len(sys.modules)))
    out = cell.run_in_process(spec)
    phases.append(("sync", _rss_mb(), len(sys.modules)))
    return {**out, "phases": phases,
            "peak_mb": _rss_mb("VmHWM")}


def _cpu_s(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = stat[stat.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / TICK


def probe_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    import bench.cell as cell

    series: list[tuple[float, float]] = []

    def sampled_run(args: list[str], **kw: Any) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(args, **kw)
        while proc.poll() is None:
            cpu = _cpu_s(proc.pid)
            if cpu is not None:
                series.append((time.time(), cpu))
            time.sleep(0.05)
        return subprocess.CompletedProcess(args, proc.returncode)

    cell.subprocess.run = sampled_run  # run_dag's one call: `airflow dags test`
    out = cell.run_dag(spec)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {**out, "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
            "split": split_cpu(Path(spec["log"]), series)}


# -- the CPU split ---------------------------------------------------------------------------

def task_starts(log: Path) -> list[tuple[float, str]]:
    starts = []
    for line in log.read_text(errors="replace").splitlines():
        ts, task = LOG_TS.match(line), TASK_START.search(line)
        if ts and task:
            at = datetime.fromisoformat(ts.group(1)).replace(tzinfo=timezone.utc)
            starts.append((at.timestamp(), task.group(1)))
    return starts


def split_cpu(log: Path, series: list[tuple[float, float]]) -> dict[str, Any]:
    times = [t for t, _ in series]

    def cpu_at(t: float) -> float:
        i = min(max(bisect.bisect_left(times, t), 1), len(series) - 1)
        (t0, c0), (t1, c1) = series[i - 1], series[i]
        return c0 if t1 <= t0 else c0 + (c1 - c0) * min(max((t - t0) / (t1 - t0), 0), 1)

    starts = task_starts(log)
    bounds = [cpu_at(t) for t, _ in starts] + [series[-1][1]]
    per_ti = [b - a for a, b in zip(bounds, bounds[1:])]
    middle = per_ti[1:-1]
    return {"before_first_task_s": round(bounds[0], 2),
            "first_task_s": round(per_ti[0], 2), "first_task": starts[0][1],
            "middle_tasks": len(middle), "middle_tasks_s": round(sum(middle), 2),
            "per_middle_task_s": round(sum(middle) / max(len(middle), 1), 3),
            "last_task_and_exit_s": round(per_ti[-1], 2), "last_task": starts[-1][1]}


# -- the driver ------------------------------------------------------------------------------

def run_cell(mode: str, strategy: str, wkey: str, latency_ms: float, var: Path
             ) -> dict[str, Any]:
    from bench import run
    from bench.workloads import WORKLOADS, ensure_workload

    run.VAR, run.STATE_SCHEMA = var, STATE_SCHEMA
    run.ensure_state_db()
    ensure_workload(var, WORKLOADS[wkey])
    (var / "logs").mkdir(parents=True, exist_ok=True)  # run.child makes it; this one does not
    plain_child = run.child

    def child(spec: dict[str, Any], log_name: str) -> dict[str, Any]:
        if spec["phase"] != "measure":
            return plain_child(spec, log_name)
        proc = subprocess.run([sys.executable, "-m", "bench.trace_cell", f"probe-{mode}"],
                              input=json.dumps(spec), cwd=run.ROOT, stdout=subprocess.PIPE,
                              text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    run.child = child
    emu = run.Emulator()
    try:
        plan = "standard" if latency_ms else "unlimited"
        return run.run_once(emu, strategy, wkey, plan, latency_ms)
    finally:
        emu.stop()


def report(mode: str, out: dict[str, Any]) -> None:
    print(f"{out['records']} records, {out['http_requests']} requests, "
          f"wall {out['wall_s']:.1f} s")
    if mode == "memory":
        for name, mb, mods in out["phases"]:
            print(f"  after {name:24s} {mb:4d} MB  {mods:5d} modules")
        print(f"  peak (ru_maxrss)                {out['peak_mb']:4d} MB")
        return
    s = out["split"]
    print(f"  airflow dags test CPU {out['cpu_s']:.1f} s (user+sys), DAG run "
          f"{out.get('dag_run_s')} s wall")
    print(f"  before the first task   {s['before_first_task_s']:6.2f} s")
    print(f"  first task ({s['first_task']})  {s['first_task_s']:6.2f} s")
    print(f"  {s['middle_tasks']} tasks between   {s['middle_tasks_s']:6.2f} s "
          f"({s['per_middle_task_s']:.3f} s each)")
    print(f"  last task ({s['last_task']}) and exit {s['last_task_and_exit_s']:6.2f} s")


def main(argv: list[str]) -> int:
    if argv and argv[0].startswith("probe-"):
        spec = json.loads(sys.stdin.read())
        probe = probe_memory if argv[0] == "probe-memory" else probe_cpu
        print(json.dumps(probe(spec)), flush=True)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["memory", "cpu"])
    ap.add_argument("--strategy", default="c", choices=["a", "b", "c"],
                    help="memory only; cpu always traces (d)")
    ap.add_argument("--workload", default="new_1000")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="0: unlimited plan, instant portal (default)")
    ap.add_argument("--var", type=Path, default=Path(__file__).resolve().parent / "var")
    args = ap.parse_args(argv)
    strategy = "d" if args.mode == "cpu" else args.strategy
    logging.getLogger("identsync").setLevel(logging.WARNING)  # the portal set-up's calls
    out = run_cell(args.mode, strategy, args.workload, args.latency_ms, args.var)
    report(args.mode, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
