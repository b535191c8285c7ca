"""A real Airflow stack as separate processes, the way users run it: api-server, scheduler,
dag-processor and, for CeleryExecutor, N ``airflow celery worker`` processes on the machine's
Redis. Used by tests/e2e/ and bench/scheduler.py; docker-compose.yaml carries the same
deployment settings (tests/unit/test_docker_compose.py compares them with settings.py).

    env = localairflow.airflow_env(home, emulator_url=..., token=..., ident_db=...,
                                   state_conn=pgserver.airflow_connection(dsn), config=cfg)
    with AirflowStack(home, env, executor="CeleryExecutor", workers=2, plan="standard") as st:
        st.unpause(DAG_ID)
        backfill_id = st.backfill(DAG_ID, "2026-11-20T00:00:00+03:00",
                                  "2026-11-22T00:00:00+03:00")
        st.wait_finished(DAG_ID, backfill_id=backfill_id, expected_runs=3, timeout=600)
        print(st.metrics(DAG_ID, backfill_id=backfill_id))

Every process gets its own process group and a log file under ``<home>/stack/``; the metadata
database is a scratch PostgreSQL database dropped on exit; the Celery broker is a Redis
database number claimed for the stack and flushed on exit.

Modules by job: ``settings`` (the deployment settings), ``procs`` (processes and signals),
``stack`` (start, drive, stop), ``metadata`` (what the metadata database and task logs say),
``phases`` (where a task's time goes), ``scenario`` (the clinic, config and env the e2e tests
and the benchmark share).
"""

from tools.airflow_stack.metadata import TaskRow, percentile
from tools.airflow_stack.phases import PHASES, TaskPhases, phase_summary, task_phases
from tools.airflow_stack.procs import KillRecord, StackError, free_port, utcnow
from tools.airflow_stack.scenario import (
    BRANCH_ID,
    BRANCH_NAME,
    TIMEZONE,
    clean_env,
    clinic_midnight,
    expected_records,
    make_clinic,
    scenario_config,
    scenario_env,
)
from tools.airflow_stack.settings import (
    BACKFILL_MAX_ACTIVE_RUNS,
    HEARTBEAT_DETECTION_S,
    HEARTBEAT_TIMEOUT_S,
    MAX_FAILED_HEARTBEATS,
    MIN_HEARTBEAT_INTERVAL_S,
    VISIBILITY_TIMEOUT_S,
    deployment_settings,
    parallelism,
    pool_slots,
    worker_concurrency,
    worker_hostname,
)
from tools.airflow_stack.stack import AirflowStack

__all__ = [
    "BACKFILL_MAX_ACTIVE_RUNS", "BRANCH_ID", "BRANCH_NAME", "HEARTBEAT_DETECTION_S", "HEARTBEAT_TIMEOUT_S",
    "MAX_FAILED_HEARTBEATS", "MIN_HEARTBEAT_INTERVAL_S", "PHASES",
    "TIMEZONE", "VISIBILITY_TIMEOUT_S", "AirflowStack", "KillRecord", "StackError", "TaskPhases",
    "TaskRow", "clean_env", "clinic_midnight", "deployment_settings", "expected_records",
    "free_port", "make_clinic", "parallelism", "percentile", "phase_summary", "pool_slots",
    "scenario_config", "scenario_env", "task_phases", "utcnow", "worker_concurrency",
    "worker_hostname",
]
