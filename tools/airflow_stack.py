"""A real Airflow stack as separate processes, the way users run it: api-server, scheduler,
dag-processor and, for CeleryExecutor, N ``airflow celery worker`` processes on the machine's
Redis. Used by tests/e2e/ and bench/scheduler.py; docker-compose.yaml carries the same
deployment settings (tests/unit/test_docker_compose.py compares them with this module).

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
"""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from identsync.config import POOL_SLOTS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# -- the settings: one place for this stack, the tests, the benchmark and docker-compose -----

#: [scheduler] task_instance_heartbeat_timeout. Airflow's default (300 s) lets a task whose
#: worker died sit "running" for 5 minutes before its retry is even scheduled. The task's
#: supervisor heartbeats every [workers] min_heartbeat_interval (5 s), so 30 s means six
#: heartbeats in a row were missed: a dead worker, not a slow API server.
HEARTBEAT_TIMEOUT_S = 30
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


def parallelism(plan: str) -> int:
    """[core] parallelism: every pool slot plus room for the serial steps."""
    return pool_slots(plan) + SERIAL_SLOTS


def worker_concurrency(plan: str) -> int:
    """Celery worker concurrency: one worker alone can run everything the scheduler sends
    (parallelism), so a dead worker costs capacity, never a queue of tasks nobody takes."""
    return parallelism(plan)


def deployment_settings(plan: str, executor: str = "CeleryExecutor") -> dict[str, str]:
    """Airflow settings, as environment variables, that every deployment of the sync needs:
    this stack and docker-compose.yaml use exactly these."""
    env = {
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__PARALLELISM": str(parallelism(plan)),
        # Per DAG run; at parallelism it never binds before the pool does, whatever Airflow's
        # default (16) becomes.
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism(plan)),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
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
        })
    return env


def worker_hostname() -> str:
    """[core] hostname_callable of the stack's Celery workers: each worker reports its own
    name in ``task_instance.hostname``, as two machines would (they share one here)."""
    return os.environ.get("IDENTSYNC_STACK_HOSTNAME") or socket.getfqdn()


# -- small helpers -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() if a is not None and b is not None else None


def _spread(values: Sequence[float | None]) -> dict[str, float | int | None]:
    xs = [v for v in values if v is not None]
    return {"n": len(xs), "p50": percentile(xs, 50), "p95": percentile(xs, 95),
            "max": max(xs) if xs else None, "sum": sum(xs)}


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow-core")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class StackError(RuntimeError):
    """The stack failed to start, or a wait timed out; the message says where to look."""


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 30) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


@dataclass
class TaskRow:
    """One try of one task instance (current or from task_instance_history)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    hostname: str | None
    pid: int | None
    pool: str
    scheduled: datetime | None
    queued: datetime | None
    start: datetime | None
    end: datetime | None
    current: bool  # False: an earlier try, from task_instance_history
    backfill_id: int | None = None


@dataclass
class KillRecord:
    worker: str
    at: datetime
    pids: list[int] = field(default_factory=list)


# -- the stack ---------------------------------------------------------------------------------

class AirflowStack:
    """api-server + scheduler + dag-processor (+ Celery workers) on a scratch metadata DB.

    :param home: AIRFLOW_HOME (created); task logs under ``logs/``, process logs under
        ``stack/``.
    :param env: the environment with the DAG's connections and config (``scenario_env``, or
        ``tools.localairflow.airflow_env`` with ``base=clean_env()``); the stack's own
        settings go on top, and ``extra`` on top of those.
    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param workers: Celery workers (named ``worker-1`` ...), ignored for LocalExecutor.
    :param plan: the portal plan; sizes the pool, parallelism and worker concurrency.
    """

    def __init__(self, home: Path, env: Mapping[str, str], *, executor: str = "LocalExecutor",
                 workers: int = 2, plan: str = "standard", pool: str = "bitrix24",
                 concurrency: int | None = None, redis_db: int | None = None,
                 extra: Mapping[str, str] | None = None, name: str = "af_stack") -> None:
        if executor not in ("LocalExecutor", "CeleryExecutor"):
            raise ValueError(f"executor {executor!r}: LocalExecutor or CeleryExecutor")
        self.home = Path(home)
        self.executor = executor
        self.workers = workers if executor == "CeleryExecutor" else 0
        self.plan = plan
        self.pool = pool
        self.pool_slots = pool_slots(plan)
        self.concurrency = concurrency or worker_concurrency(plan)
        self.db_name = f"{name}_{uuid.uuid4().hex[:8]}"
        self.redis_db = redis_db
        self.api_port = free_port()
        self.procs: dict[str, Proc] = {}
        self.kills: list[KillRecord] = []
        self._base_env = dict(env)
        self._extra = dict(extra or {})
        self._redis_claimed = False
        self.env: dict[str, str] = {}

    # -- environment ---------------------------------------------------------------------------
    def _build_env(self) -> dict[str, str]:
        from tools import pgserver

        # Nothing from the developer's own Airflow settings leaks in; the caller's env
        # (connections, DAG folder, IDENTSYNC_CONFIG) is kept.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(self._base_env)
        env.update(deployment_settings(self.plan, self.executor))
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pgserver.sqlalchemy_url(self.db_name),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # Every process signs and checks the workers' tokens with the same secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(DAG_PROCESSOR_REFRESH_S),
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL":
                str(MIN_FILE_PROCESS_INTERVAL_S),
            # Other stacks may run on this machine: no fixed ports (8974, 8793) anywhere.
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        })
        if self.executor == "CeleryExecutor":
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": f"{REDIS_URL}/{self.redis_db}",
                "AIRFLOW__CELERY__RESULT_BACKEND":
                    "db+" + pgserver.sqlalchemy_url(self.db_name),
            })
        env.update(self._extra)
        return env

    @property
    def meta_dsn(self) -> str:
        from tools import pgserver

        return pgserver.database_url(self.db_name)

    @property
    def stack_dir(self) -> Path:
        return self.home / "stack"

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> AirflowStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, *, wait_for_dags: Sequence[str] = (), timeout: float = 300) -> None:
        """Metadata DB, pool, then every process; returns once the API answers (and the
        DAGs in ``wait_for_dags`` are parsed)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        if self.executor == "CeleryExecutor":
            self._claim_redis()
        self.env = self._build_env()
        self._create_metadata_db()
        # A CLI call costs seconds of start-up: let it run while the services start.
        pools = subprocess.Popen(
            [str(BIN / "airflow"), "pools", "set", self.pool, str(self.pool_slots),
             "Bitrix24 portal requests (POOL_SLOTS of the plan)"], env=self.env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._spawn("api-server", ["api-server", "--port", str(self.api_port),
                                   "--host", "127.0.0.1"])
        self._spawn("scheduler", ["scheduler", "--skip-serve-logs"])
        self._spawn("dag-processor", ["dag-processor"])
        for i in range(1, self.workers + 1):
            name = f"worker-{i}"
            self._spawn(name, ["celery", "worker", "--celery-hostname", f"{name}@%h",
                               "--concurrency", str(self.concurrency), "--skip-serve-logs",
                               "--without-mingle", "--without-gossip"],
                        extra={"IDENTSYNC_STACK_HOSTNAME": name,
                               "AIRFLOW__CORE__HOSTNAME_CALLABLE":
                                   "tools.airflow_stack.worker_hostname",
                               "PYTHONPATH": os.pathsep.join(
                                   p for p in (str(ROOT), self.env.get("PYTHONPATH")) if p)})
        out, _ = pools.communicate(timeout=timeout)
        if pools.returncode != 0:
            raise StackError(f"airflow pools set exited {pools.returncode}:\n{out[-4000:]}")
        self.wait_api(timeout=timeout)
        for dag_id in wait_for_dags:
            self.wait_dag(dag_id, timeout=timeout)

    def _create_metadata_db(self) -> None:
        """A fresh metadata database, cloned from a migrated template (``CREATE DATABASE ...
        TEMPLATE`` takes a quarter second; ``airflow db migrate`` takes 15 s on 2 cores). The
        template is made once per Airflow version, under an advisory lock."""
        import psycopg2

        from tools import pgserver

        template = "af_stack_tpl_" + _airflow_version().replace(".", "_")
        conn = psycopg2.connect(pgserver.database_url("postgres"), connect_timeout=10)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (template,))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{template}"')
                    env = {**self.env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                           pgserver.sqlalchemy_url(template)}
                    done = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env,
                                          cwd=ROOT, capture_output=True, text=True,
                                          timeout=600)
                    if done.returncode != 0:
                        cur.execute(f'DROP DATABASE "{template}"')
                        raise StackError("airflow db migrate failed:\n"
                                         + (done.stdout + done.stderr)[-4000:])
                cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}"')
                cur.execute(f'CREATE DATABASE "{self.db_name}" TEMPLATE "{template}"')
                cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", (template,))
        finally:
            conn.close()

    def _spawn(self, name: str, args: list[str], *,
               extra: Mapping[str, str] | None = None) -> Proc:
        log = self.stack_dir / f"{name}.log"
        env = {**self.env, **(extra or {})}
        with open(log, "ab") as out:
            popen = subprocess.Popen([str(BIN / "airflow"), *args], env=env, cwd=ROOT,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every process group, SIGKILL what is left (task runners included), drop the
        metadata database and flush the Redis database."""
        from tools import pgserver

        trees = {name: self._tree(p.popen.pid) for name, p in self.procs.items() if p.alive}
        for p in self.procs.values():
            if p.alive:
                _signal_group(p.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in self.procs.values():
            try:
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for name, pids in trees.items():
            _kill_tree(self.procs[name].popen.pid, pids)
        for p in self.procs.values():
            try:
                p.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._release_redis()
        try:
            pgserver.drop_database(self.db_name)
        except Exception as exc:  # teardown must not hide the test's own failure
            print(f"airflow_stack: could not drop {self.db_name}: {exc}", file=sys.stderr)

    # -- Redis ---------------------------------------------------------------------------------
    def _claim_redis(self) -> None:
        """Take an empty Redis database number (from 15 down) for this stack alone."""
        import redis

        token = f"{os.getpid()}:{self.db_name}"
        candidates = [self.redis_db] if self.redis_db is not None else range(15, 0, -1)
        for db in candidates:
            r = redis.Redis.from_url(f"{REDIS_URL}/{db}")
            try:
                if r.set(REDIS_CLAIM_KEY, token, nx=True):
                    if r.dbsize() == 1:
                        self.redis_db = db
                        self._redis_claimed = True
                        return
                    r.delete(REDIS_CLAIM_KEY)
            finally:
                r.close()
        raise StackError(f"no empty Redis database at {REDIS_URL} (tried {list(candidates)})")

    def _release_redis(self) -> None:
        if not self._redis_claimed:
            return
        import redis

        r = redis.Redis.from_url(f"{REDIS_URL}/{self.redis_db}")
        try:
            r.flushdb()
        finally:
            r.close()
        self._redis_claimed = False

    # -- CLI and waits -------------------------------------------------------------------------
    def airflow(self, *args: str, timeout: float = 300,
                check: bool = True) -> subprocess.CompletedProcess:
        """One ``airflow`` CLI command in the stack's environment."""
        proc = subprocess.run([str(BIN / "airflow"), *args], env=self.env, cwd=ROOT,
                              text=True, capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise StackError(f"airflow {' '.join(args[:3])} exited {proc.returncode}:\n"
                             f"{(proc.stdout + proc.stderr)[-4000:]}")
        return proc

    def check_alive(self) -> None:
        """Raise with the log tail of any stack process that exited on its own."""
        killed = {k.worker for k in self.kills}
        for p in self.procs.values():
            if not p.alive and p.name not in killed:
                raise StackError(f"{p.name} exited with {p.popen.returncode}; "
                                 f"log {p.log}:\n{p.tail()}")

    def wait_api(self, timeout: float = 180) -> None:
        import urllib.request

        url = f"http://127.0.0.1:{self.api_port}/api/v2/version"
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StackError(f"the API server did not answer {url} in {timeout:.0f} s:\n"
                                 f"{self.procs['api-server'].tail()}")
            time.sleep(1)

    def wait_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the dag-processor has serialized ``dag_id``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if self._query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,),
                           missing_ok=True):
                return
            if time.monotonic() > deadline:
                errors = self._query("SELECT filename, stacktrace FROM import_error",
                                     missing_ok=True)
                raise StackError(f"{dag_id} not parsed in {timeout:.0f} s; import errors "
                                 f"{errors}:\n{self.procs['dag-processor'].tail()}")
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.airflow("dags", "unpause", dag_id)

    def backfill(self, dag_id: str, from_date: str, to_date: str, *,
                 max_active_runs: int | None = None) -> int:
        """``airflow backfill create``; returns the backfill's id. Dates without an offset are
        UTC: give the clinic's midnight with its offset (``...T00:00:00+03:00``)."""
        args = ["backfill", "create", "--dag-id", dag_id, "--from-date", from_date,
                "--to-date", to_date]
        if max_active_runs is not None:
            args += ["--max-active-runs", str(max_active_runs)]
        self.airflow(*args)
        rows = self._query("SELECT max(id) FROM backfill WHERE dag_id = %s", (dag_id,))
        if not rows or rows[0][0] is None:
            raise StackError(f"backfill create for {dag_id} left no backfill row")
        return int(rows[0][0])

    def clear(self, dag_id: str, start: str, end: str) -> None:
        """``airflow tasks clear`` of every task of the runs with logical dates in
        [start, end]: the UI's "clear" of whole runs."""
        self.airflow("tasks", "clear", dag_id, "--yes", "--start-date", start,
                     "--end-date", end)

    def runs(self, dag_id: str, *, backfill_id: int | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT run_id, state, run_type, backfill_id, logical_date, start_date, "
               "end_date, queued_at FROM dag_run WHERE dag_id = %s")
        params: list[Any] = [dag_id]
        if backfill_id is not None:
            sql += " AND backfill_id = %s"
            params.append(backfill_id)
        cols = ("run_id", "state", "run_type", "backfill_id", "logical_date", "start_date",
                "end_date", "queued_at")
        return [dict(zip(cols, r)) for r in self._query(sql + " ORDER BY logical_date",
                                                        tuple(params))]

    def wait_finished(self, dag_id: str, *, backfill_id: int | None = None,
                      run_ids: Sequence[str] | None = None, expected_runs: int | None = None,
                      since: datetime | None = None, timeout: float = 600,
                      every: float = 2.0) -> list[dict[str, Any]]:
        """Until every run of ``dag_id`` (of one backfill, or the given ``run_ids``) is success
        or failed and at least ``expected_runs`` exist (and the backfill is closed); with
        ``since`` (runs cleared then), each must also have ended after it. Raises StackError
        with the runs' task states."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            runs = [r for r in self.runs(dag_id, backfill_id=backfill_id)
                    if run_ids is None or r["run_id"] in run_ids]
            done = [r for r in runs if r["state"] in TERMINAL
                    and (since is None or (r["end_date"] and r["end_date"] > since))]
            if (runs and len(done) == len(runs) and len(runs) >= (expected_runs or 0)
                    and (backfill_id is None or self._backfill_completed(backfill_id))):
                return runs
            if time.monotonic() > deadline:
                raise StackError(f"{dag_id}: runs not finished after {timeout:.0f} s\n"
                                 + self.describe(dag_id, backfill_id=backfill_id))
            time.sleep(every)

    def _backfill_completed(self, backfill_id: int) -> bool:
        """The scheduler closes a backfill a loop after its last run; only then may the
        next ``backfill create`` for the DAG be made."""
        rows = self._query("SELECT completed_at FROM backfill WHERE id = %s", (backfill_id,))
        return bool(rows and rows[0][0] is not None)

    def describe(self, dag_id: str, *, backfill_id: int | None = None) -> str:
        """Runs, their task states and the failed tries: what a timeout message needs."""
        lines = []
        for r in self.runs(dag_id, backfill_id=backfill_id):
            states = Counter(t.state for t in self.task_rows(dag_id, current_only=True)
                             if t.run_id == r["run_id"])
            lines.append(f"  {r['run_id']}: {r['state']} tasks {dict(states)}")
        failed = [t for t in self.task_rows(dag_id) if t.state in ("failed", "up_for_retry")]
        for t in sorted(failed, key=lambda t: -t.try_number)[:8]:
            lines.append(f"  failed try: {t.task_id}[{t.map_index}] try {t.try_number} on "
                         f"{t.hostname} ({t.run_id}): {self.failure_reason(t)}")
        for name in ("scheduler",):
            errors = [ln for ln in self.procs[name].tail(400).splitlines()
                      if "ERROR" in ln or "Traceback" in ln]
            if errors:
                lines.append(f"  {name} errors (last 5):\n    " + "\n    ".join(errors[-5:]))
        return "\n".join(lines) or "  (no runs)"

    @staticmethod
    def task_log_path(home: Path, t: TaskRow) -> Path:
        """Where Airflow's default log layout puts the log of one try."""
        path = Path(home, "logs", f"dag_id={t.dag_id}", f"run_id={t.run_id}",
                    f"task_id={t.task_id}")
        if t.map_index >= 0:
            path = path / f"map_index={t.map_index}"
        return path / f"attempt={t.try_number}.log"

    def task_log(self, t: TaskRow) -> Path:
        return self.task_log_path(self.home, t)

    def failure_reason(self, t: TaskRow) -> str:
        """The exception a failed try logged, in one line (or why there is none)."""
        try:
            lines = self.task_log(t).read_text(errors="replace").splitlines()
        except OSError:
            return "no task log (killed before it started?)"
        for line in lines:
            if '"level":"error"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            for detail in event.get("error_detail") or []:
                return f"{detail.get('exc_type')}: {str(detail.get('exc_value'))[:200]}"
            return str(event.get("event"))[:200]
        return "no error in its log"

    # -- workers -------------------------------------------------------------------------------
    def worker_names(self) -> list[str]:
        return [n for n in self.procs if n.startswith("worker-")]

    def kill_worker(self, name: str) -> KillRecord:
        """SIGKILL a Celery worker as a machine dies: its process group and every task runner
        below it (the supervisor puts each task runner in a process group of its own)."""
        proc = self.procs[name]
        pids = self._tree(proc.popen.pid)
        at = utcnow()
        _kill_tree(proc.popen.pid, pids)
        proc.popen.wait(timeout=30)
        record = KillRecord(name, at, pids)
        self.kills.append(record)
        return record

    @staticmethod
    def _tree(pid: int) -> list[int]:
        import psutil

        try:
            root = psutil.Process(pid)
            return [pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    # -- the metadata database -----------------------------------------------------------------
    def _query(self, sql: str, params: tuple[Any, ...] = (), *,
               missing_ok: bool = False) -> list[tuple[Any, ...]]:
        import psycopg2

        conn = psycopg2.connect(self.meta_dsn, connect_timeout=10)
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(sql, params)
                except psycopg2.errors.UndefinedTable:
                    if missing_ok:  # before `db migrate` has created it
                        return []
                    raise
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read of the metadata database (tests: XCom, rendered fields ...)."""
        return self._query(sql, params)

    def task_rows(self, dag_id: str, *, backfill_id: int | None = None,
                  current_only: bool = False) -> list[TaskRow]:
        """Every try of every task instance of ``dag_id``: the current one from
        task_instance, earlier ones from task_instance_history."""
        cols = ("ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number, ti.state, "
                "ti.hostname, ti.pid, ti.pool, ti.scheduled_dttm, ti.queued_dttm, ti.start_date, "
                "ti.end_date")
        where = "ti.dag_id = %s"
        params: list[Any] = [dag_id]
        if backfill_id is not None:
            where += " AND r.backfill_id = %s"
            params.append(backfill_id)
        join = "JOIN dag_run r ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id"
        rows = [TaskRow(*r[:13], current=True, backfill_id=r[13]) for r in self._query(
            f"SELECT {cols}, r.backfill_id FROM task_instance ti {join} WHERE {where}",
            tuple(params))]
        if not current_only:
            rows += [TaskRow(*r[:13], current=False, backfill_id=r[13]) for r in self._query(
                f"SELECT {cols}, r.backfill_id FROM task_instance_history ti {join} "
                f"WHERE {where}", tuple(params))]
        return rows

    def metrics(self, dag_id: str, *, backfill_id: int | None = None,
                since: datetime | None = None) -> dict[str, Any]:
        """Where the time went, from the metadata DB.

        Per try that ran: scheduled -> queued (waiting for a pool or parallelism slot),
        queued -> start (executor hand-over, worker pick-up, supervisor fork, until the task
        reports "running"), start -> end (DAG parse in the task process + the task body +
        reporting back); per task id; and first queued -> last end. ``since``: only tries
        queued after it (a re-run after a clear).
        """
        rows = [t for t in self.task_rows(dag_id, backfill_id=backfill_id)
                if t.queued is not None and (since is None or t.queued >= since)]
        ran = [t for t in rows if t.start is not None]
        by_task: dict[str, dict[str, Any]] = {}
        for task_id in sorted({t.task_id for t in ran}):
            ts = [t for t in ran if t.task_id == task_id]
            by_task[task_id] = {
                "tries": len(ts),
                "pool_wait": _spread([_seconds(t.scheduled, t.queued) for t in ts]),
                "queue": _spread([_seconds(t.queued, t.start) for t in ts]),
                "run": _spread([_seconds(t.start, t.end) for t in ts]),
            }
        first = min((t.queued for t in rows), default=None)
        last = max((t.end for t in rows if t.end is not None), default=None)
        queue = [_seconds(t.queued, t.start) for t in ran]
        run = [_seconds(t.start, t.end) for t in ran]
        pool_wait = [_seconds(t.scheduled, t.queued) for t in ran]
        current = [t for t in rows if t.current]
        return {
            "task_instances": len(current),
            "tries": len(rows),
            "retried": sum(1 for t in current if t.try_number > 1),
            "states": dict(Counter(t.state for t in current)),
            "hosts": dict(Counter(t.hostname for t in ran)),
            "first_queued": first.isoformat() if first else None,
            "last_end": last.isoformat() if last else None,
            "first_queued_to_last_end_s": _seconds(first, last),
            "ti_queue_p50_s": percentile([q for q in queue if q is not None], 50),
            "ti_queue_p95_s": percentile([q for q in queue if q is not None], 95),
            "ti_run_p50_s": percentile([r for r in run if r is not None], 50),
            "ti_run_p95_s": percentile([r for r in run if r is not None], 95),
            "ti_pool_wait_p50_s": percentile([w for w in pool_wait if w is not None], 50),
            "ti_pool_wait_p95_s": percentile([w for w in pool_wait if w is not None], 95),
            "by_task": by_task,
            "_last_end": last,
        }


# -- process signals ---------------------------------------------------------------------------

def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_tree(leader: int, pids: Sequence[int]) -> None:
    """SIGKILL the group of ``leader`` and every pid in ``pids`` with its own group (task
    runners): gathered beforehand, so nothing is reparented out of reach in between."""
    _signal_group(leader, signal.SIGKILL)
    for pid in pids:
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if pgid == pid:
            _signal_group(pid, signal.SIGKILL)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- where a task's run time goes: its log ----------------------------------------------------

#: Task log events (Airflow 3.3's task runner) that split start -> end into phases.
_PRE = "::group::Pre Execute"
_PARSED = "Worker startup parse complete"
_POST = "::group::Post Execute"
_DONE = "Done. Returned value"
PHASES = ("startup", "parse", "prepare", "body", "post", "report")


@dataclass
class TaskPhases:
    """One try's run split by its log: ``startup`` (start_date -> first log line: the task
    process begins), ``parse`` (bundle + DAG file), ``prepare`` (the rest of pre-execute:
    context, templates), ``body`` (the task's own code), ``post`` (XCom push), ``report``
    (last log line -> end_date: the state reaches the API server)."""

    task_id: str
    seconds: dict[str, float]
    body_start: datetime
    events: list[tuple[datetime, str, str]]  # (time, logger, event) of the body


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def task_phases(home: Path, rows: Sequence[TaskRow]) -> list[TaskPhases]:
    """The phases of every try in ``rows`` that has a log under ``home/logs``."""
    out = []
    for t in rows:
        if t.start is None or t.end is None:
            continue
        path = AirflowStack.task_log_path(home, t)
        try:
            lines = [json.loads(x) for x in path.read_text(errors="replace").splitlines()
                     if x.startswith("{")]
        except (OSError, ValueError):
            continue
        marks: dict[str, datetime] = {}
        body: list[tuple[datetime, str, str]] = []
        for ln in lines:
            ts, event = _parse_ts(ln["timestamp"]), str(ln.get("event", ""))
            marks.setdefault("first", ts)
            marks["last"] = ts
            if event == _PRE:
                marks.setdefault("pre", ts)
            elif event.startswith(_PARSED):
                marks.setdefault("parsed", ts)
            elif event == "::endgroup::" and "parsed" in marks and "body" not in marks:
                marks["body"] = ts
            elif event.startswith(_DONE) or event == _POST:
                marks.setdefault("done", ts)
            elif "body" in marks and "done" not in marks:
                body.append((ts, str(ln.get("logger", "")), event))
        if not {"first", "parsed", "body", "done"} <= marks.keys():
            continue
        cuts = [t.start, marks["first"], marks["parsed"], marks["body"], marks["done"],
                marks["last"], t.end]
        seconds = {name: max(0.0, (b - a).total_seconds())
                   for name, a, b in zip(PHASES, cuts, cuts[1:])}
        out.append(TaskPhases(t.task_id, seconds, marks["body"], body))
    return out


def phase_summary(phases: Sequence[TaskPhases]) -> dict[str, dict[str, float | int | None]]:
    """p50/p95/sum of each phase over ``phases``."""
    return {name: _spread([p.seconds[name] for p in phases]) for name in PHASES}


# -- the scenario: a generated clinic, backfilled day by day ---------------------------------

BRANCH_ID = 1
BRANCH_NAME = "Центральная"
TIMEZONE = "Europe/Moscow"


def clean_env() -> dict[str, str]:
    """This process's environment without the developer's own Airflow settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}


def scenario_env(home: Path, *, emulator_url: str, token: str, ident_db: Path, state_dsn: str,
                 plan: str, config: Path) -> dict[str, str]:
    """The DAG's three connections and its config, as ``tools.localairflow`` gives them."""
    from tools import localairflow, pgserver

    return localairflow.airflow_env(
        home, emulator_url=emulator_url, token=token, ident_db=ident_db,
        state_conn=pgserver.airflow_connection(state_dsn), plan=plan, config=config,
        base=clean_env())


def scenario_config(path: Path, *, first_day: date, plan: str, **overrides: Any) -> Path:
    """A copy of dags/identsync.json for one branch, synced day by day (midnight to
    midnight, clinic time), retried quickly."""
    cfg = json.loads((ROOT / "dags" / "identsync.json").read_text(encoding="utf-8"))
    cfg.update({
        "branches": [{"id": BRANCH_ID, "name": BRANCH_NAME}], "timezone": TIMEZONE,
        "schedule": "0 0 * * *", "start_date": (first_day - timedelta(days=1)).isoformat(),
        "overlap_minutes": 0, "retries": 3, "retry_delay_seconds": 2, "portal_plan": plan,
    })
    cfg.update(overrides)
    path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def clinic_midnight(day: date) -> str:
    """``day`` 00:00 in the clinic's zone, with its offset: what ``backfill create`` needs
    (a date without an offset is UTC midnight, and the clinic's first day would be skipped)."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(TIMEZONE)).isoformat()


def make_clinic(path: Path, *, seed: int, receptions: int, first_day: date, days: int,
                cover_until: date | None = None, now: datetime | None = None,
                patients: int | None = None) -> Any:
    """A generated clinic (one branch) whose every reception changed on a day the backfill
    covers, ``first_day`` .. ``cover_until`` (default: the last day); returns its engine.

    The generator books receptions up to three weeks ahead, so some would have no change in
    the backfilled days at all; each reception is therefore also saved again (its
    ``DateTimeChanged``) on its own day at 00:05, or on ``cover_until`` if it lies later. Then
    the portal must hold exactly the source: every invariant applies to all of it. Patient
    cards are dated well before ``first_day`` (the generator dates them ``first_day`` 00:00,
    which would put every patient's receptions into the first day's run), so each day's run
    carries that day's changes.
    """
    import sqlalchemy as sa

    from identsync.ident import schema as s
    from tools.ident_demo.clinic import create_schema, generate_clinic

    last = first_day + timedelta(days=days - 1)
    cover_until = cover_until or last
    now = now or datetime.combine(cover_until, datetime.min.time()) + timedelta(hours=21)
    engine = sa.create_engine(f"sqlite:///{path}")
    create_schema(engine)
    generate_clinic(engine, seed=seed, receptions=receptions,
                    patients=patients or max(50, receptions // 4), start=first_day, days=days,
                    now=now, branches=((BRANCH_ID, BRANCH_NAME),))
    r = s.Receptions.c
    with engine.begin() as conn:
        conn.execute(sa.update(s.Patients).values(
            DateTimeChanged=datetime.combine(first_day, datetime.min.time())
            - timedelta(days=60)))
        rows = conn.execute(sa.select(r.ID, r.PlanStart, r.DateTimeChanged)).all()
        touched = []
        for rid, plan_start, changed in rows:
            day = min(max(plan_start.date(), first_day), cover_until)
            at = min(datetime.combine(day, datetime.min.time()) + timedelta(minutes=5), now)
            if changed is None or changed < at:
                touched.append({"rid": rid, "at": at})
        if touched:
            conn.execute(sa.update(s.Receptions).where(r.ID == sa.bindparam("rid"))
                         .values(DateTimeChanged=sa.bindparam("at")), touched)
    return engine


def expected_records(engine: Any, cfg: Any, first_day: date, end_day: date) -> list[Any]:
    """The records the branch's DAG must sync for [first_day, end_day) clinic time:
    ``extract_receptions`` + ``prepare``, as the DAG's tasks call them."""
    from identsync.ident.extract import extract_receptions
    from identsync.sync.prepare import orphan_scope, prepare

    start = datetime.combine(first_day, datetime.min.time())
    end = datetime.combine(end_day, datetime.min.time())
    rows = list(extract_receptions(engine, start, end, branch_id=BRANCH_ID,
                                   unassigned_except=orphan_scope(cfg, BRANCH_ID)))
    return [rec for chunk in prepare(rows, cfg, branch_id=BRANCH_ID).chunks for rec in chunk]
