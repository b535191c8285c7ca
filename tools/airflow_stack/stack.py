"""The stack itself: start, drive and stop api-server, scheduler, dag-processor and workers."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.airflow_stack.metadata import MetadataReader
from tools.airflow_stack.procs import (
    KillRecord,
    Proc,
    StackError,
    airflow_version,
    free_port,
    kill_tree,
    process_tree,
    signal_group,
    utcnow,
)
from tools.airflow_stack.settings import (
    BIN,
    DAG_PROCESSOR_REFRESH_S,
    MIN_FILE_PROCESS_INTERVAL_S,
    REDIS_CLAIM_KEY,
    REDIS_URL,
    ROOT,
    TERMINAL,
    deployment_settings,
    pool_slots,
    worker_concurrency,
)

# -- the stack ---------------------------------------------------------------------------------

class AirflowStack(MetadataReader):
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
                 extra: Mapping[str, str] | None = None, name: str = "af_stack",
                 slots: int | None = None) -> None:
        if executor not in ("LocalExecutor", "CeleryExecutor"):
            raise ValueError(f"executor {executor!r}: LocalExecutor or CeleryExecutor")
        self.home = Path(home)
        self.executor = executor
        self.workers = workers if executor == "CeleryExecutor" else 0
        self.plan = plan
        self.pool = pool
        self.pool_slots = slots or pool_slots(plan)  # slots: an experiment's other size
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
                                   "tools.airflow_stack.settings.worker_hostname",
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

        template = "af_stack_tpl_" + airflow_version().replace(".", "_")
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

        trees = {name: process_tree(p.popen.pid) for name, p in self.procs.items() if p.alive}
        for p in self.procs.values():
            if p.alive:
                signal_group(p.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in self.procs.values():
            try:
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for name, pids in trees.items():
            kill_tree(self.procs[name].popen.pid, pids)
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

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """One manual run (``airflow dags trigger``) with ``conf`` as the trigger form sends
        it; returns its run id."""
        run_id = f"manual__identsync_{uuid.uuid4().hex[:12]}"
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id,
                     "--conf", json.dumps(dict(conf or {})))
        return run_id

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

    # -- workers -------------------------------------------------------------------------------
    def worker_names(self) -> list[str]:
        return [n for n in self.procs if n.startswith("worker-")]

    def kill_worker(self, name: str) -> KillRecord:
        """SIGKILL a Celery worker as a machine dies: its process group and every task runner
        below it (the supervisor puts each task runner in a process group of its own)."""
        proc = self.procs[name]
        pids = process_tree(proc.popen.pid)
        at = utcnow()
        kill_tree(proc.popen.pid, pids)
        proc.popen.wait(timeout=30)
        record = KillRecord(name, at, pids)
        self.kills.append(record)
        return record
