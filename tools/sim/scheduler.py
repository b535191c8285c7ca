"""The clinic-life simulation under the real scheduler (the shorter variant of ``make sim``).

    python -m tools.sim.scheduler --days 4 --seed 1 [--history-days 2] [--big-visits 55]

The same clinic (``tools.sim.world``), managers, portal faults and reference model
(``tools.sim.model``) as ``tools.sim.run``, but every DAG run is made by a real Airflow stack
(``tools.airflow_stack``: ``airflow scheduler``, ``dag-processor`` and ``api-server`` on a
PostgreSQL metadata database, LocalExecutor), driven the way an operator drives it, through
the REST API the UI calls:

* each simulated day's syncs are manual runs triggered with ``date_from``/``date_to`` (both
  branches at once, as their schedules would run them) and waited for; a red run has its
  failed tasks cleared (the UI's "Clear", only failed) until it is green;
* a task or one map index of a finished run, chosen at random, is cleared with what runs
  after it (``clearTaskInstances``, as the UI's Clear of one task instance does);
* the sync DAGs are paused for a day: that day's runs are triggered all the same and stay
  queued (checked: no task starts), and run in order when the DAGs are unpaused next morning;
* a manual run without dates (from the watermark until now);
* and every operator action of ``tools.sim.run`` (outages, ranges in the future, "today",
  a finished range run again, ``stage_map`` changed, the deleted-reception DAGs).

The first days take the scheduler's actions in turn (clear, pause, no dates), so even a short
run does each once; later days draw them at random. After every day the portal is checked
against the model. A violation stops the run with the seed, the day, the day's events and
where the Airflow logs are (var/sim/scheduler-seed<N>/airflow/: task logs under ``logs/``,
the stack's processes under ``stack/``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from tests.chaos import harness as h
from tools import pgserver
from tools.airflow_stack import AirflowStack, StackError, clean_env, utcnow
from tools.sim.run import STATE_DB, Sim, arguments, say, summary_line, workspace

#: The scheduler makes no run of its own: every run is the operator's (REST API), so a seed
#: replays the same runs. A start date a year ahead keeps the timetables quiet on unpause.
QUIET_START = (date.today() + timedelta(days=366)).isoformat()
#: The actions only a scheduler has, done in turn on the first days, then drawn at random.
SCRIPT = ("clear", "pause", "nodates")
P_ACTION = {"clear": 0.35, "pause": 0.1, "nodates": 0.15}
MAX_CLEARS = 6  # a red run is cleared this many times before the simulation gives up
RUN_TIMEOUT = 600


@dataclass
class FinishedRun:
    """A green sync run, and the range (clinic time) a re-read of its window covers."""

    dag_id: str
    run_id: str
    since: datetime
    until: datetime


class Rest:
    """The REST API as the UI calls it, logged in as the stack's admin."""

    def __init__(self, stack: AirflowStack) -> None:
        self.base = f"http://127.0.0.1:{stack.api_port}"
        self._token: str | None = None

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        from tests.fixtures.ui import api_token

        for _ in range(2):
            if self._token is None:
                self._token = api_token(self.base)
            r = requests.request(method, f"{self.base}/api/v2{path}", json=body, timeout=60,
                                 headers={"Authorization": f"Bearer {self._token}"})
            if r.status_code == 401:  # the token expired: log in again
                self._token = None
                continue
            if not r.ok:
                raise StackError(f"{method} {path}: {r.status_code} {r.text[:500]}")
            return r.json()
        raise StackError(f"{method} {path}: refused twice after logging in")


class SchedulerSim(Sim):
    REPLAY = "tools.sim.scheduler"

    def __init__(self, args: argparse.Namespace, work: Path, dsn: str) -> None:
        super().__init__(args, work, dsn)
        from tests.fixtures.ui import admin_login

        self.ops = random.Random(args.seed * 104729 + 3)  # the scheduler's actions only
        self.finished: list[FinishedRun] = []
        self.paused: list[tuple[dict[str, str], list[tuple[str, str]]]] = []
        home = work / "airflow"
        self.stack = AirflowStack(home, self.env, executor="LocalExecutor", plan="standard",
                                  extra=admin_login(home), name="af_sim")
        self.rest: Rest | None = None

    # -- the stack ---------------------------------------------------------------------------
    def _write_config(self) -> None:
        self.raw["start_date"] = QUIET_START
        super()._write_config()

    def _runner_env(self, work: Path, target: h.SyncTarget) -> dict[str, str]:
        from tools import localairflow

        return localairflow.airflow_env(
            work / "airflow", emulator_url=target.emulator_url, token=h.EMU_TOKEN,
            ident_db=target.ident_path, state_conn=pgserver.airflow_connection(target.state_dsn),
            plan=target.plan, bitrix_extra={"timeout": target.timeout},
            config=target.config_path, base=clean_env())

    def sync_dags(self) -> list[str]:
        return [f"ident_to_bitrix24_branch_{b['id']}" for b in self.raw["branches"]]

    def start_stack(self) -> None:
        t0 = time.monotonic()
        self.stack.start()
        self.rest = Rest(self.stack)
        for b in self.raw["branches"]:
            for dag_id in (f"ident_to_bitrix24_branch_{b['id']}",
                           f"ident_to_bitrix24_branch_{b['id']}_deleted"):
                self.stack.wait_dag(dag_id)
                self.set_paused(dag_id, False)
        say(f"Airflow stack up in {time.monotonic() - t0:.0f} s "
            f"(logs under {self.stack.home})")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        assert self.rest is not None
        self.rest("PATCH", f"/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None) -> str:
        assert self.rest is not None
        run = self.rest("POST", f"/dags/{dag_id}/dagRuns",
                        {"logical_date": None, "conf": dict(conf or {})})
        self.tally.runs += 1
        return str(run["dag_run_id"])

    def wait_green(self, runs: list[tuple[str, str]], label: str,
                   since: datetime | None = None) -> None:
        """Wait for every run; a red one has its failed tasks cleared (the UI's Clear, only
        failed) and is waited for again, up to MAX_CLEARS times."""
        assert self.rest is not None
        for dag_id, run_id in runs:
            after = since
            for _ in range(MAX_CLEARS + 1):
                (run,) = self.stack.wait_finished(dag_id, run_ids=[run_id], since=after,
                                                  timeout=RUN_TIMEOUT, every=1.0)
                if run["state"] == "success":
                    break
                self.tally.reruns += 1
                after = utcnow()
                self.rest("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear",
                          {"dry_run": False, "only_failed": True})
            else:
                raise RuntimeError(f"{dag_id} {run_id} ({label}): still red after "
                                   f"{MAX_CLEARS} clears\n{self.stack.describe(dag_id)}\n"
                                   f"task logs under {self.stack.home / 'logs'}")

    # -- the runner hooks of tools.sim.run ---------------------------------------------------
    def sync_all(self, conf: dict[str, Any] | None, label: str) -> None:
        """Both branches at once, as their schedules run them; then wait for both."""
        self.emu.control.settled()
        since, until = self._model_range(conf)
        runs = [(dag_id, self.trigger(dag_id, conf)) for dag_id in self.sync_dags()]
        self.wait_green(runs, label)
        self.finished += [FinishedRun(d, r, since, until) for d, r in runs]

    def dag_run(self, dag_id: str, conf: dict[str, Any] | None, label: str) -> None:
        self.emu.control.settled()
        self.wait_green([(dag_id, self.trigger(dag_id, conf))], label)

    def _model_range(self, conf: dict[str, Any] | None) -> tuple[datetime, datetime]:
        """What a read of the run's window covers, in clinic time: its dates (a date alone
        is its whole day), or from the last green sync until now (no dates)."""
        if conf and conf.get("date_from"):
            lo, hi = conf["date_from"], conf.get("date_to") or self._clinic_now().isoformat()
            since = datetime.fromisoformat(lo)
            until = datetime.fromisoformat(hi)
            if len(hi) == 10:  # a date: the whole day
                until += timedelta(days=1)
            return since, until
        assert self.synced_to is not None
        return self.synced_to - timedelta(minutes=self.raw["overlap_minutes"]), \
            self._clinic_now()

    def _clinic_now(self) -> datetime:
        return datetime.now(ZoneInfo(self.raw["timezone"])).replace(tzinfo=None)

    # -- a day -------------------------------------------------------------------------------
    def day(self, k: int, last: bool) -> list[str]:
        log: list[str] = []
        if self.paused:
            self.resume(log)
        action = self._action(k, last)
        if action == "pause":
            return log + self.paused_day(k, last)
        log += super().day(k, last)
        if self.day_began is None:  # an outage: nothing ran today
            return log
        if action == "clear" and self.finished:
            self.clear_a_task(k, log)
        elif action == "nodates":
            self.sync_all(None, f"d{k:03d}_nodates")
            assert self.synced_to is not None
            self.model.synced(self.world, *self._model_range(None))
            self.tally.count(self.tally.operator, "manual run without dates (REST)")
            log.append("operator: manual run without dates")
        return log

    def _action(self, k: int, last: bool) -> str | None:
        if k < len(SCRIPT):
            action: str | None = SCRIPT[k]
        else:
            x, action = self.ops.random(), None
            for name, p in P_ACTION.items():
                if x < p:
                    action = name
                    break
                x -= p
        return None if action == "pause" and last else action

    def paused_day(self, k: int, last: bool) -> list[str]:
        """The sync DAGs are paused all day: the clinic lives, managers work, the operator's
        runs are triggered and must stay queued; they run when the DAGs are unpaused."""
        day = self.start + timedelta(days=k)
        until = datetime.combine(day, datetime.min.time()) + timedelta(hours=22)
        log = self.world.live_day(day)
        self.managers(log)
        self.day_began = None
        assert self.synced_to is not None
        since = self.synced_to - timedelta(minutes=self.raw["overlap_minutes"])
        conf = self.range_conf(since, until)
        for dag_id in self.sync_dags():
            self.set_paused(dag_id, True)
        runs = [(dag_id, self.trigger(dag_id, conf)) for dag_id in self.sync_dags()]
        time.sleep(5)  # several scheduler loops: a paused DAG's run must not start
        started = self.stack.query(
            "SELECT dag_id, task_id FROM task_instance WHERE run_id = ANY(%s) AND "
            "start_date IS NOT NULL", ([r for _, r in runs],))
        if started:
            raise RuntimeError(f"day {k}: tasks of paused DAGs started: {started}")
        self.paused.append((conf, runs))
        self.tally.count(self.tally.operator, "sync DAGs paused a day (runs queued)")
        log.append(f"operator: sync DAGs paused; runs {since:%m-%d %H:%M} .. "
                   f"{until:%m-%d %H:%M} queued")
        self.end_of_day_chores(k, last, f"d{k:03d}", log)
        return log

    def resume(self, log: list[str]) -> None:
        """Unpause: the queued runs run, in order, before today's."""
        for dag_id in self.sync_dags():
            self.set_paused(dag_id, False)
        for conf, runs in self.paused:
            self.wait_green(runs, "after the pause")
            since, until = self._model_range(conf)
            self.model.synced(self.world, since, until)
            self.past_confs.append(conf)
            self.finished += [FinishedRun(d, r, since, until) for d, r in runs]
            self.synced_to = until
            log.append(f"operator: sync DAGs unpaused; the queued runs of {since:%m-%d %H:%M}"
                       f" .. {until:%m-%d %H:%M} ran")
        self.paused = []

    def clear_a_task(self, k: int, log: list[str]) -> None:
        """A task, or one map index, of a finished run, cleared with what runs after it
        through the REST API as the UI's Clear does; the run must turn green again and the
        portal still hold what the model says. A cleared extract reads its window again
        (the world as it is now); any later task works from what its run staged."""
        assert self.rest is not None
        run = self.ops.choice(self.finished)
        tis = self.rest("GET", f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances"
                        "?limit=1000")["task_instances"]
        done = sorted((t["task_id"], t["map_index"]) for t in tis
                      if t["state"] in ("success", "skipped"))
        if not done:
            return
        task_id, map_index = self.ops.choice(done)
        target: Any = task_id if map_index < 0 else [task_id, map_index]
        cleared_at = utcnow()
        self.rest("POST", f"/dags/{run.dag_id}/clearTaskInstances", {
            "dry_run": False, "dag_run_id": run.run_id, "task_ids": [target],
            "include_downstream": True, "include_upstream": False, "only_failed": False,
            "reset_dag_runs": True})
        self.wait_green([(run.dag_id, run.run_id)], f"d{k:03d}_clear", since=cleared_at)
        if task_id == "extract_receptions":
            self.model.synced(self.world, run.since, run.until)
        what = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        self.tally.count(self.tally.operator, "task of a finished run cleared (REST)")
        log.append(f"operator: cleared {what} of {run.dag_id} {run.run_id} "
                   f"({run.since:%m-%d %H:%M} .. {run.until:%m-%d %H:%M}) and downstream")

    def verify(self, k: int, log: list[str]) -> None:
        try:
            super().verify(k, log)
        except SystemExit:
            print(f"Airflow logs: tasks under {self.stack.home / 'logs'}, the stack's "
                  f"processes under {self.stack.stack_dir}")
            raise


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv, "clinic-life simulation under the real scheduler", days=4,
                     history_days=2, big_visits=55)
    work, schema, dsn = workspace(f"scheduler-seed{args.seed}", "simsched", args.seed)
    t0 = time.monotonic()
    sim = SchedulerSim(args, work, dsn)
    try:
        sim.start_stack()
        sim.go_live()
        for k in range(args.days):
            log = sim.day(k, last=k == args.days - 1)
            sim.tally.days += 1
            sim.verify(k, log)
            ops = "; ".join(x.split(": ", 1)[1] for x in log if x.startswith("operator: "))
            say(f"day {k} ({sim.start + timedelta(days=k)}): {len(log)} events, model held "
                f"({time.monotonic() - t0:.0f} s){'; ' + ops if ops else ''}")
        print(summary_line(sim, "clinic-life simulation under the real scheduler", t0))
        return 0
    finally:
        sim.stack.stop()
        sim.emu.stop()
        if not args.keep:
            pgserver.drop_schema(STATE_DB, schema)


if __name__ == "__main__":
    sys.exit(main())
