"""
### IDENT -> Bitrix24: receptions become deals, with one timeline comment per change

One DAG per clinic branch in `dags/identsync.json`. Each run syncs the receptions changed in
its window, the receptions of patients edited in it, and the records a previous run could not
write (the retry queue):

* **scheduled runs**: from the last successful run (or the interval's start, whichever is
  earlier) to the interval's end, so an outage leaves no gap;
* **backfills**: their day (`backfill_block_hours`), and the days the backfill's queued runs
  after it would sync (`backfill_span_days`), so each reception is synced once; those runs
  then skip;
* **manual runs**: `date_from` / `date_to` from the trigger form, else from the last
  successful run up to now; the watermark never passes the moment the run read IDENT;
* **going live**: `plan_from` / `plan_to` load every reception *planned* in that range,
  whatever its change time (see README, "Going live");
* **dry_run**: plans everything and writes nothing anywhere;
* **full_check**: looks every record up again, even those unchanged since they were written.

`extract_receptions -> transform -> batch_lookup[chunk] -> upsert_contacts_deals[chunk]
-> add_comments[chunk] -> run_summary`. Any task of a run younger than `retention_days` can be
cleared and run again: it does only what is still missing.

A second DAG per branch (`..._deleted`) looks for deals whose reception was deleted in IDENT.
"""

from __future__ import annotations

from identsync import cputime

cputime.mark("dag_file_start")  # a task process's CPU so far is Airflow's task runner

from datetime import datetime, time, timedelta
from typing import Any

import pendulum
from airflow.sdk import (
    CronDataIntervalTimetable,
    Param,
    dag,
    get_parsing_context,
    task,
    task_group,
)

from identsync.dag import alerts, tasks
from identsync.settings import load_config

# A bad configuration fails the import with every problem at once, the file's path first
# (identsync.config.ConfigProblems). The dag-processor records it; without one running, see it
# with `airflow dags list-import-errors --local` (without --local the command reads only what
# a dag-processor stored in the metadata database).
CONFIG = load_config()
CHUNK_LABEL = "{{ chunk_label }}"
DRY_RUN = Param(False, type="boolean", title="Dry run",
                description="Plan everything, write nothing anywhere.")


def default_args(cfg):
    args = {"owner": "identsync", "retries": cfg.retries,
            "retry_delay": timedelta(seconds=cfg.retry_delay_seconds),
            "retry_exponential_backoff": True, "max_retry_delay": timedelta(minutes=10)}
    failure_alert = alerts.on_failure(cfg.alerts)  # None unless configured
    if failure_alert is not None:
        args["on_failure_callback"] = failure_alert
    return args


def step(body, **kwargs):
    """A task of a body in identsync.dag.tasks. Its dict result is one XCom: from the return
    annotation Airflow would infer multiple_outputs and store every key again as an XCom of
    its own, an API call each (nine per upsert, 2,159 for the benchmark's 340 tasks)."""
    return task(body, multiple_outputs=False, **kwargs)


def start_date(cfg):
    return pendulum.instance(datetime.combine(cfg.start_date, time()), tz=cfg.timezone)


def build_sync(branch_id: int, branch_name: str):
    cfg = CONFIG.for_branch(branch_id)

    @dag(
        dag_id=cfg.pipeline_id(branch_id),
        dag_display_name=f"IDENT -> Bitrix24: {branch_name}",
        description=f"Sync IDENT receptions of branch {branch_id} into Bitrix24 deals",
        schedule=CronDataIntervalTimetable(cfg.schedule, timezone=cfg.timezone),
        start_date=start_date(cfg),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(cfg),
        tags=["ident", "bitrix24", f"branch-{branch_id}"],
        doc_md=__doc__,
        params={
            "date_from": Param(None, type=["null", "string"], title="Sync changes from",
                               description="Manual runs: YYYY-MM-DD or ISO datetime "
                                           "(clinic time). Empty: continue from the last run."),
            "date_to": Param(None, type=["null", "string"], title="Sync changes until",
                             description="Manual runs: YYYY-MM-DD (inclusive day) or ISO "
                                         "datetime. Empty: now."),
            "plan_from": Param(None, type=["null", "string"],
                               title="Load appointments from (going live)",
                               description="Manual runs: every reception PLANNED from this "
                                           "day (YYYY-MM-DD, clinic time), whatever its "
                                           "change time; with plan_to, without date_from/"
                                           "date_to. Does not move the watermark."),
            "plan_to": Param(None, type=["null", "string"],
                             title="Load appointments until (going live)",
                             description="Manual runs: the last day (inclusive) of the "
                                         "appointments to load, YYYY-MM-DD."),
            "dry_run": DRY_RUN,
            "full_check": Param(False, type="boolean", title="Full check",
                                description="Look every record up on the portal again, even "
                                            "those unchanged since they were written."),
        },
    )
    def sync():
        extracted = step(tasks.extract_receptions,
                         execution_timeout=tasks.EXTRACT_TIMEOUT)(branch_id=branch_id)
        chunks = step(tasks.transform)(extracted)
        steps: dict[str, Any] = {}

        # A mapped task group: chunk i's upsert starts as soon as chunk i's lookup is done
        # (and its comments after its upsert), not after every chunk's lookup. The group
        # adds no prefix, so the tasks keep their names.
        @task_group(group_id="chunk", prefix_group_id=False)
        def per_chunk(chunk):
            steps["lookups"] = step(tasks.batch_lookup, pool=cfg.pool,
                                    map_index_template=CHUNK_LABEL)(chunk)
            steps["upserts"] = step(tasks.upsert_contacts_deals, pool=cfg.pool,
                                    map_index_template=CHUNK_LABEL)(steps["lookups"])
            return step(tasks.add_comments, pool=cfg.pool,
                        map_index_template=CHUNK_LABEL)(steps["upserts"])

        comments = per_chunk.expand(chunk=chunks)
        # Skipped when the whole run is (a backfill run whose block another run syncs).
        step(tasks.run_summary, trigger_rule="none_failed_min_one_success")(
            extracted, chunks, steps["lookups"], steps["upserts"], comments)

    return sync()


def build_deleted(branch_id: int, branch_name: str):
    cfg = CONFIG.for_branch(branch_id)

    @dag(
        dag_id=cfg.deleted_pipeline_id(branch_id),
        dag_display_name=f"IDENT -> Bitrix24: {branch_name}, deleted receptions",
        description=f"Deals of receptions deleted in IDENT (branch {branch_id})",
        schedule=CronDataIntervalTimetable(cfg.reconcile_schedule, timezone=cfg.timezone),
        start_date=start_date(cfg),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(cfg),
        tags=["ident", "bitrix24", f"branch-{branch_id}", "reconcile"],
        doc_md=__doc__,
        params={"dry_run": DRY_RUN},
    )
    def deleted():
        step(tasks.reconcile_deleted, pool=cfg.pool)(branch_id=branch_id)

    return deleted()


# A task process parses this file to run one task of one DAG: build only that DAG (the
# scheduler and the DAG processor, which need them all, get no dag_id here).
_WANTED = get_parsing_context().dag_id
for _branch in CONFIG.branches:
    for _dag_id, _build in ((CONFIG.pipeline_id(_branch.id), build_sync),
                            (CONFIG.deleted_pipeline_id(_branch.id), build_deleted)):
        if _WANTED in (None, _dag_id):
            globals()[_dag_id] = _build(_branch.id, _branch.name)

cputime.mark("dag_file_end")  # what came since is our imports, configuration and DAG build
