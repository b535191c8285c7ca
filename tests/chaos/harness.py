"""Shared plumbing for the chaos tests and ``tools/chaos.py``.

* a generated IDENT clinic in a SQLite file (child processes and Airflow read it too);
* the fault mix of issue #6, scaled;
* a sync configuration copy with fast retries (``IDENTSYNC_CONFIG``);
* ``airflow dags test`` in a private AIRFLOW_HOME whose metadata DB is migrated once per
  process and copied (two homes let two ``dags test`` run at the same time);
* the engine in a child process (``tests/chaos/engine_child.py``), for kill tests;
* small emulator admin helpers over HTTP.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from b24emu.control import EmulatorControl
from tools import pgserver
from tools.localairflow import BIN, ROOT, airflow_base_env
from tools.localairflow import airflow_env as local_airflow_env

DEFAULT_CONFIG = ROOT / "dags" / "identsync.json"
START = date(2026, 11, 20)  # first day of every generated chaos clinic
EMU_TOKEN = "chaos-webhook-token"  # a sandbox token for the local emulator, not a secret

# Issue #6's mix: 10% 503, 5% 500, 3% dropped, 2% applied-then-failed, 1% slow.
FAULT_MIX: dict[str, float] = {
    "http_503": 0.10, "http_500": 0.05, "drop": 0.03,
    "applied_then_500": 0.01, "applied_then_drop": 0.01, "slow": 0.01,
}


def fault_rates(scale: float = 1.0, *, slow: bool = True) -> dict[str, float]:
    rates = {k: round(v * scale, 6) for k, v in FAULT_MIX.items()}
    if not slow:
        rates.pop("slow")
    return rates


# -- the source ------------------------------------------------------------------------------

def make_clinic(path: Path, *, seed: int, receptions: int, days: int, start: date,
                now: datetime, patients: int | None = None):
    """A generated clinic in a SQLite file; returns its SQLAlchemy engine."""
    import sqlalchemy as sa

    from tools.ident_demo.clinic import create_schema, generate_clinic

    if path.exists():
        path.unlink()
    engine = sa.create_engine(f"sqlite:///{path}")
    create_schema(engine)
    generate_clinic(engine, seed=seed, receptions=receptions,
                    patients=patients or max(20, receptions // 3), start=start, days=days,
                    now=now)
    return engine


# -- configuration ---------------------------------------------------------------------------

def write_config(path: Path, **overrides: Any) -> Path:
    """A copy of the DAGs' configuration with ``overrides`` applied."""
    raw = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw.update(overrides)
    path.write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# -- emulator admin (b24emu.control) ----------------------------------------------------------

def wait_for_fault(base_url: str, method: str, *, source: str = "script",
                   timeout: float = 120.0, proc: subprocess.Popen | None = None) -> dict:
    """Wait until the emulator has injected a scripted fault (the test scripts one, on
    ``method``; the fault log names only the top method, usually "batch")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in EmulatorControl(base_url).stats()["fault_log"]:
            if entry["source"] == source:
                return entry
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the sync exited ({proc.returncode}) before the fault fired:\n"
                               + (proc.stdout.read() if proc.stdout else ""))
        time.sleep(0.02)
    raise TimeoutError(f"no {source} fault on {method} within {timeout}s")


# -- Airflow ---------------------------------------------------------------------------------

_MIGRATED: dict[str, Path] = {}
_MIGRATE_LOCK = threading.Lock()


def _base_env(home: Path) -> dict[str, str]:
    return airflow_base_env(home, extra={"AIRFLOW__CORE__UNIT_TEST_MODE": "False"})


def airflow_home(dest: Path) -> Path:
    """A fresh AIRFLOW_HOME with a migrated SQLite metadata DB (migrated once, copied)."""
    with _MIGRATE_LOCK:
        template = _MIGRATED.get("db")
        if template is None or not template.exists():
            tdir = Path(tempfile.mkdtemp(prefix="identsync-airflow-template-"))
            subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=_base_env(tdir),
                           cwd=ROOT, check=True, capture_output=True, text=True)
            template = tdir / "airflow.db"
            _MIGRATED["db"] = template
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, dest / "airflow.db")
    return dest


@dataclass
class SyncTarget:
    """Where a sync reads and writes: the IDENT file, the portal, the state DB, the config."""

    ident_path: Path
    emulator_url: str  # base URL, no token
    state_dsn: str
    config_path: Path
    plan: str = "enterprise"
    timeout: float | list[float] = 3.0

    @property
    def webhook(self) -> str:
        return f"{self.emulator_url}/rest/1/{EMU_TOKEN}/"


def airflow_env(home: Path, target: SyncTarget) -> dict[str, str]:
    return local_airflow_env(
        home, emulator_url=target.emulator_url, token=EMU_TOKEN, ident_db=target.ident_path,
        state_conn=pgserver.airflow_connection(target.state_dsn),
        plan=target.plan, bitrix_extra={"timeout": target.timeout}, config=target.config_path,
        extra={"AIRFLOW__CORE__UNIT_TEST_MODE": "False"})


@dataclass
class DagRun:
    dag_id: str
    returncode: int
    output: str
    task_failures: int  # task tries that failed (each followed by a retry or the run failing)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and "state=success" in self.output


_FAILED_TRY = re.compile(r"new_state=(up_for_retry|failed)")


def dags_test(env: dict[str, str], dag_id: str, conf: dict[str, Any] | None = None, *,
              log_path: Path | None = None, timeout: float = 900) -> DagRun:
    cmd = [str(BIN / "airflow"), "dags", "test", dag_id]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    if log_path is not None:
        log_path.write_text(out)
    return DagRun(dag_id, proc.returncode, out, len(_FAILED_TRY.findall(out)))


def dags_test_async(env: dict[str, str], dag_id: str, conf: dict[str, Any] | None,
                    log_path: Path) -> subprocess.Popen:
    cmd = [str(BIN / "airflow"), "dags", "test", dag_id]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=open(log_path, "w"),
                            stderr=subprocess.STDOUT, text=True)


# -- the engine in a child process -----------------------------------------------------------

def engine_child(target: SyncTarget, start: datetime, end: datetime, *,
                 branch: int | None = 1) -> subprocess.Popen:
    """Start ``engine_child.py`` (sync_window over the window); stdout ends with a JSON line."""
    args = {"ident": f"sqlite:///{target.ident_path}", "webhook": target.webhook,
            "dsn": target.state_dsn, "config": str(target.config_path),
            "start": start.isoformat(), "end": end.isoformat(), "branch": branch,
            "plan": target.plan, "timeout": target.timeout}
    return subprocess.Popen([sys.executable, "-m", "tests.chaos.engine_child",
                             json.dumps(args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def child_result(proc: subprocess.Popen, timeout: float = 300) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"engine child exited {proc.returncode} without a result:\n"
                           + out[-3000:])
    return json.loads(lines[-1][len("RESULT "):])


# -- day-by-day sync plan --------------------------------------------------------------------

def day_windows(start: date, days: int, *, margin_h: int = 26
                ) -> list[tuple[datetime | None, datetime, datetime]]:
    """(advance_to or None, window start, window end) for the initial sync and one per day.

    The clinic is generated as it is at 07:00 on the first day; each day it is advanced to
    20:00 and the changes since the previous sync are synced. The margin is a day and two
    hours, not minutes: ``advance_day`` back-dates the first status change of a reception it
    booked the day before (see test_findings.py), which a tighter window would miss.
    """
    from datetime import time as dtime
    from datetime import timedelta

    first = datetime.combine(start, dtime(7, 0))
    out: list[tuple[datetime | None, datetime, datetime]] = [
        (None, first - timedelta(days=60), first + timedelta(minutes=1))]
    prev = first
    for k in range(days):
        now = datetime.combine(start + timedelta(days=k), dtime(20, 0))
        out.append((now, prev - timedelta(hours=margin_h), now + timedelta(minutes=1)))
        prev = now
    return out


def generation_now(start: date) -> datetime:
    return day_windows(start, 1)[0][2].replace(minute=0)


def client_base(client: Any) -> str:
    """The emulator base URL behind a client (for admin calls), without the token."""
    return f"http://{client.portal}"


@dataclass
class EngineChaosResult:
    syncs: int = 0
    reruns: int = 0
    failures: list[str] | None = None
    summaries: list[dict[str, Any]] | None = None
    rejections: list[dict[str, Any]] | None = None
    client_retries: int = 0


def engine_chaos(ident_engine: Any, client: Any, state: Any, cfg: Any, *, start: date,
                 days: int, seed: int, max_reruns: int = 20) -> EngineChaosResult:
    """Sync day by day through the in-process engine; a failed window is synced again (what
    an Airflow retry or an operator's "clear" does), counting reruns."""
    from identsync.sync.engine import sync_window
    from tools.ident_demo.days import advance_day

    res = EngineChaosResult(failures=[], summaries=[], rejections=[])
    prev = generation_now(start)
    for advance_to, w_start, w_end in day_windows(start, days):
        if advance_to is not None:
            advance_day(ident_engine, seed=seed, now=advance_to, since=prev)
            prev = advance_to
        for branch in cfg.branches:
            # Scheduled runs are minutes apart: a slow write of the last run has landed.
            EmulatorControl(client_base(client)).settled()
            while True:
                res.syncs += 1
                try:
                    summary = sync_window(ident_engine, client, state, cfg, w_start, w_end,
                                          branch_id=branch.id)
                except Exception as exc:  # any failure: sync the window again
                    res.reruns += 1
                    res.failures.append(f"{type(exc).__name__}: {str(exc)[:160]}")
                    if res.reruns > max_reruns:
                        raise
                    continue
                res.summaries.append(summary.to_dict())
                res.rejections.extend(summary.rejections)
                break
    res.client_retries = client.stats.retries
    return res


def fast_client(emu, read_timeout: float = 1.0) -> Any:
    """A client whose read timeout is short (slow faults time out quickly) and whose read
    retries back off in tens of milliseconds."""
    from identsync.bitrix24.client import Bitrix24Client

    return Bitrix24Client(emu.webhook_url, plan="unlimited", timeout=(2.0, read_timeout),
                          backoff=0.05)
