"""
### IDENT -> Bitrix24: receptions become deals, with one timeline comment per change

One DAG per clinic branch in `dags/identsync.json`. Each run syncs the receptions changed in
its window:

* **scheduled runs and backfills**: the run's data interval (plus a small overlap);
* **manual runs**: `date_from` / `date_to` from the trigger form, else from the last
  successful run's watermark up to now;
* **dry_run**: plans everything and writes nothing; the summary says what would change.

`extract_receptions -> transform -> batch_lookup[chunk] -> upsert_contacts_deals[chunk]
-> add_comments[chunk] -> run_summary`. Every task is safe to retry from the UI.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from identsync.dag import tasks
from identsync.settings import load_config

CONFIG = load_config()  # a bad key fails the import with a message naming it

DEFAULT_ARGS = {
    "owner": "identsync",
    "retries": CONFIG.retries,
    "retry_delay": timedelta(seconds=CONFIG.retry_delay_seconds),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}
CHUNK_LABEL = "{{ chunk_label }}"


def build(branch_id: int, branch_name: str):
    cfg = CONFIG.for_branch(branch_id)

    @dag(
        dag_id=CONFIG.pipeline_id(branch_id),
        dag_display_name=f"IDENT -> Bitrix24: {branch_name}",
        description=f"Sync IDENT receptions of branch {branch_id} into Bitrix24 deals",
        schedule=CronDataIntervalTimetable(cfg.schedule, timezone=cfg.timezone),
        start_date=pendulum.instance(datetime.combine(cfg.start_date, time()), tz=cfg.timezone),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ident", "bitrix24", f"branch-{branch_id}"],
        doc_md=__doc__,
        params={
            "date_from": Param(None, type=["null", "string"], title="Sync changes from",
                               description="Manual runs: YYYY-MM-DD or ISO datetime "
                                           "(clinic time). Empty: continue from the last run."),
            "date_to": Param(None, type=["null", "string"], title="Sync changes until",
                             description="Manual runs: YYYY-MM-DD (inclusive day) or ISO "
                                         "datetime. Empty: now."),
            "dry_run": Param(False, type="boolean", title="Dry run",
                             description="Plan everything, write nothing."),
        },
    )
    def sync():
        extracted = task(tasks.extract_receptions)(branch_id=branch_id)
        chunks = task(tasks.transform)(extracted)
        lookups = task(tasks.batch_lookup, pool=CONFIG.pool,
                       map_index_template=CHUNK_LABEL).expand(chunk=chunks)
        upserts = task(tasks.upsert_contacts_deals, pool=CONFIG.pool,
                       map_index_template=CHUNK_LABEL).expand(looked=lookups)
        comments = task(tasks.add_comments, pool=CONFIG.pool,
                        map_index_template=CHUNK_LABEL).expand(upserted=upserts)
        task(tasks.run_summary, trigger_rule="none_failed")(
            extracted, chunks, lookups, upserts, comments)

    return sync()


for _branch in CONFIG.branches:
    globals()[CONFIG.pipeline_id(_branch.id)] = build(_branch.id, _branch.name)
