"""The whole sync in one process: the DAG's steps in a loop, for tests, the benchmark, tools.

Nothing here is a second implementation: every rule lives in ``run`` (extract with the retry
queue and patient edits, fingerprints, rejections, watermark, run record), ``prepare``
(branch rules, chunks), ``protocol`` (the per-chunk steps) and ``summary``; the DAG's tasks
call exactly the same functions. Step results even make the same JSON round trip they make
through XCom. No Airflow import.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from identsync.config import SyncConfig
from identsync.records import SourceReception
from identsync.sync import protocol
from identsync.sync.chunking import chunk_label
from identsync.sync.ports import Portal
from identsync.sync.run import (
    extract_for_run,
    finish_run,
    full_check_due,
    note_rejections,
    prepare_for_run,
    synced_ids,
)
from identsync.sync.summary import RunSummary
from identsync.sync.window import Window

log = logging.getLogger("identsync.sync")


def _as_xcom(step: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(step))


def engine_run_id() -> str:
    return f"engine__{datetime.now(timezone.utc).isoformat()}"


def sync_rows(portal: Portal, state: Any, cfg: SyncConfig, rows: Sequence[SourceReception],
              *, pipeline: str = "identsync_engine", run_id: str | None = None,
              branch_id: int | None = None, window: Window | None = None,
              dry_run: bool = False, full_check: bool | None = None, retried: int = 0,
              read_at: datetime | None = None,
              sleep: Callable[[float], None] = time.sleep) -> RunSummary:
    """Sync extracted rows: prepare, then look up -> upsert -> comment per chunk."""
    t0 = time.monotonic()
    started = datetime.now(timezone.utc)
    run_id = run_id or engine_run_id()
    if full_check is None:
        full_check = full_check_due(state, cfg, pipeline, started)
    summary = RunSummary(pipeline=pipeline, run_id=run_id, dry_run=dry_run,
                         window=window.to_dict() if window else None)
    # The rows' age: what a chunk claims before writing, so a newer run's data is never
    # written over (see protocol). Rows handed in without one were read before this call.
    read_at = read_at or started
    prepared = prepare_for_run(rows, cfg, state, pipeline, branch_id, full_check=full_check,
                               read_at=read_at)
    note_rejections(state.store, pipeline, run_id, prepared.rejections, rows, dry_run=dry_run)
    summary.prepared(len(rows), (len(c) for c in prepared.chunks), prepared.rejections,
                     unchanged=prepared.unchanged, retried=retried,
                     superseded=prepared.superseded)
    upserts = []
    for i, records in enumerate(prepared.chunks):
        run = protocol.ChunkRun(pipeline, run_id, dry_run=dry_run,
                                label=chunk_label(i, len(prepared.chunks), records),
                                read_at=read_at)
        looked = _as_xcom(protocol.look_up(portal, state, cfg, records))
        upserted = _as_xcom(protocol.upsert(portal, state, cfg, records, looked, run,
                                            sleep=sleep))
        commented = _as_xcom(protocol.comment(portal, state, cfg, records, upserted, run,
                                              sleep=sleep))
        for step in (looked, upserted, commented):
            summary.add_step(step)
        upserts.append(upserted)
    summary.elapsed_s = time.monotonic() - t0
    finish_run(state, summary, window, synced_ids(upserts), full_check=full_check,
               started=started, read_at=read_at)
    return summary


def sync_window(ident_engine: Any, portal: Portal, state: Any, cfg: SyncConfig,
                start_local: datetime, end_local: datetime, *, branch_id: int | None = None,
                dry_run: bool = False, pipeline: str | None = None,
                full_check: bool | None = None,
                sleep: Callable[[float], None] = time.sleep) -> RunSummary:
    """Sync receptions changed in [start_local, end_local) (naive clinic-local times), plus
    the retry queue's due records and the receptions of patients edited in the window."""
    if branch_id is not None:
        cfg = cfg.for_branch(branch_id)
    window = Window(start_local.replace(tzinfo=cfg.tz).astimezone(timezone.utc),
                    end_local.replace(tzinfo=cfg.tz).astimezone(timezone.utc), "params")
    pipeline = pipeline or (cfg.pipeline_id(branch_id) if branch_id is not None
                            else "identsync_engine")
    read_at = datetime.now(timezone.utc)  # the watermark never passes it
    rows, retried = extract_for_run(ident_engine, state, cfg, pipeline, window, branch_id,
                                    dry_run=dry_run)
    summary = sync_rows(portal, state, cfg, rows, pipeline=pipeline, branch_id=branch_id,
                        window=window, dry_run=dry_run, full_check=full_check,
                        retried=retried, read_at=read_at, sleep=sleep)
    log.info("window %s..%s branch %s: %s", start_local, end_local, branch_id,
             {k: v for k, v in summary.to_dict()["counts"].items() if v})
    return summary
