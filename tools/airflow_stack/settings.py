"""The deployment settings: one place for this stack, the tests, the benchmark and
docker-compose.yaml."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from identsync.config import POOL_SLOTS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# -- the settings: one place for this stack, the tests, the benchmark and docker-compose -----

#: [scheduler] task_instance_heartbeat_timeout. Airflow's default (300 s) lets a task whose
#: worker died sit "running" for 5 minutes before its retry is even scheduled. The task's
#: supervisor heartbeats every [workers] min_heartbeat_interval (1 s, below), so 30 s means
#: thirty heartbeats in a row were missed: a dead worker, not a slow API server.
HEARTBEAT_TIMEOUT_S = 30
#: [workers] min_heartbeat_interval (default 5 s). It is also how long Airflow 3.3.2's task
#: supervisor sleeps when its task process has closed its sockets but cannot be reaped yet: its
#: loop then waits the whole interval on nothing. Here a quarter to a half of all task
#: processes hit that race (the kernel closes a process's files before it becomes reapable;
#: 93 of 200 forks in a plain Python test), so each held its executor slot 5 s after its task
#: ended: in the `*/30` backfill 61 of its 215 task instances reached the API server 5 s late
#: (20,433 receptions/h; with 1 s: 28,264/h, `bench/README.md`). With 1 s the wait is 1 s at
#: most; the price, a heartbeat per second per running task (ours run 1-3 s), did not show in
#: the API server's CPU.
MIN_HEARTBEAT_INTERVAL_S = 1
#: `airflow backfill create --max-active-runs`, as README recommends. A backfill of the `*/30`
#: schedule is 48 runs a day, and all but the first of each span skip in one task instance, but
#: each run spends about 5 s in the scheduler's hands (started, its task queued and run, the
#: skip propagated, the run ended) however short its task: 6 runs at once (the task slots)
#: gave 28,264 receptions/h for the benchmark's 3 days, 16 gave 39,288/h (bench/README.md).
#: More runs than task slots cost nothing: their tasks queue like any other.
BACKFILL_MAX_ACTIVE_RUNS = 16
#: [celery] celery_config_options: Airflow's Celery settings plus one module the worker imports
#: at start (identsync.celery_config, identsync.preload).
CELERY_CONFIG_OPTIONS = "identsync.celery_config.CELERY_CONFIG"
#: [workers] max_failed_heartbeats (default 3): failed heartbeats in a row before a task kills
#: itself. 15 at 1 s keeps the tolerance of an unreachable API server of the defaults (3 x 5 s).
MAX_FAILED_HEARTBEATS = 15
#: [scheduler] task_instance_heartbeat_timeout_detection_interval (default 10 s): how often the
#: scheduler looks for such tasks. Detection after a kill: at most timeout + this = 40 s.
HEARTBEAT_DETECTION_S = 10
#: [celery_broker_transport_options] visibility_timeout. Redis hands an unacknowledged message
#: to another worker after this long; with acks_late (the provider's default) a message stays
#: unacknowledged while its task runs, so this must exceed the longest queue wait + run of any
#: task (a retry that waits out write_settle_seconds, then throttled writes: minutes), or a
#: *running* task is started a second time. A dead worker's task is recovered by the
#: heartbeat timeout (a new try, a new message), never by this redelivery; the old message,
#: should it come back, is refused by the API server. One hour: far above any task, far below
#: the provider's implicit 24 h, so a message stranded by a dead worker leaves Redis the
#: same hour.
VISIBILITY_TIMEOUT_S = 3600
#: Task slots beyond the pool: extract_receptions, transform and run_summary take no pool slot
#: and must not queue behind the portal tasks of other runs.
SERIAL_SLOTS = 2
#: [dag_processor] refresh_interval (default 300 s): how often the bundle is listed for new or
#: removed DAG files. Ours is there at start, so this only matters for config edits during a
#: session; 30 s keeps a freshly started stack responsive without re-listing every loop.
DAG_PROCESSOR_REFRESH_S = 30
#: [dag_processor] min_file_process_interval (default 30 s): re-parsing the DAG file costs a
#: core-second each time on a 2-core machine; nothing changes it while a stack runs.
MIN_FILE_PROCESS_INTERVAL_S = 300
#: Where the broker lives: the machine's Redis (a database number is claimed per stack).
REDIS_URL = os.environ.get("IDENTSYNC_REDIS", "redis://127.0.0.1:6379")
REDIS_CLAIM_KEY = "identsync:airflow_stack:owner"
TERMINAL = ("success", "failed")


def pool_slots(plan: str) -> int:
    """Pool size for a portal plan (``identsync.config.POOL_SLOTS``): the sync's only
    concurrency limit towards the portal."""
    return POOL_SLOTS[plan]


def parallelism(plan: str, executor: str = "LocalExecutor") -> int:
    """[core] parallelism: every pool slot plus room for the serial steps; with Celery, a
    pool's worth more. A Celery task outlives its task instance by its supervisor's exit
    (log upload, 1-4 s here) and keeps its executor slot until then: with pool + 2 the
    executor ran out of slots while the pool was idle 60% of the time (47,032 receptions/h,
    standard plan); with this room, 66,048/h, the LocalExecutor's figure. The pool still
    bounds what talks to the portal."""
    return task_slots(pool_slots(plan), executor)


def task_slots(pool: int, executor: str = "LocalExecutor") -> int:
    """[core] parallelism for a pool of ``pool`` slots (``parallelism``'s rule, for any size)."""
    return pool + SERIAL_SLOTS + (pool if executor == "CeleryExecutor" else 0)


def worker_concurrency(plan: str) -> int:
    """Celery worker concurrency: one worker alone can run everything the scheduler sends
    (parallelism), so a dead worker costs capacity, never a queue of tasks nobody takes."""
    return parallelism(plan, "CeleryExecutor")


def deployment_settings(plan: str, executor: str = "CeleryExecutor") -> dict[str, str]:
    """Airflow settings, as environment variables, that every deployment of the sync needs:
    this stack and docker-compose.yaml use exactly these."""
    env = {
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__PARALLELISM": str(parallelism(plan, executor)),
        # Per DAG run; at parallelism it never binds before the pool does, whatever Airflow's
        # default (16) becomes.
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism(plan, executor)),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": str(MIN_HEARTBEAT_INTERVAL_S),
        "AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS": str(MAX_FAILED_HEARTBEATS),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL":
            str(HEARTBEAT_DETECTION_S),
    }
    if executor == "CeleryExecutor":
        env.update({
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT":
                str(VISIBILITY_TIMEOUT_S),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency(plan)),
            # Explicit: the provider's defaults today, and what the sizing above assumes (a
            # worker reserves no task it cannot start at once).
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
            # The worker loads Airflow's plugins before it forks its pool, as the scheduler
            # does for LocalExecutor: task processes start warm (identsync.preload).
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG_OPTIONS,
        })
    return env


def worker_hostname() -> str:
    """[core] hostname_callable of the stack's Celery workers: each worker reports its own
    name in ``task_instance.hostname``, as two machines would (they share one here)."""
    return os.environ.get("IDENTSYNC_STACK_HOSTNAME") or socket.getfqdn()


