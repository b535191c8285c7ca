"""Bodies of the DAG's tasks: read the context, call the sync, hand small JSON back.

Every rule is in ``identsync.sync`` (``run``, ``prepare``, ``protocol``, ``summary``), the
same code the in-process engine runs. XCom carries chunk references, lookup maps, deal ids
and counts; source rows and records wait in the staging table keyed by run and chunk, kept
for ``retention_days`` so any task of a finished run can be cleared and run again.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from identsync.dag import runtime as rt

log = logging.getLogger("identsync.dag")

RAW_PAGE = 500  # source rows per staging row
# The extract's bound (its queries are bounded by the IDENT connection's timeout and
# lock_timeout, see identsync.ident.connect): a stuck read fails the try instead of holding
# the branch's only active run past the next schedule.
EXTRACT_TIMEOUT = timedelta(minutes=20)


def _chunk(ref: dict[str, Any]):
    """What a chunk task starts from: context, config, state, records, portal, run facts."""
    from airflow.sdk.exceptions import AirflowSkipException

    from identsync.records import SyncRecord
    from identsync.sync.protocol import ChunkRun

    ctx = rt.context()
    ctx["chunk_label"] = ref["label"]  # map_index_template shows "chunk 3/12: F1_1..F1_50"
    cfg = rt.config(ctx)
    state = rt.state(cfg)
    if ref.get("generation") != _prepared(state, ref["run_key"]).get("generation"):
        # A cleared run whose transform now makes fewer chunks: Airflow sizes the mapped
        # tasks by the upstream's XComs, stale ones of removed map indexes included.
        raise AirflowSkipException(f"{ref['label']}: from before this run was cleared; the "
                                   "chunks of its latest transform are synced instead")
    records = [SyncRecord.from_dict(d) for d in state.store.get_chunk(ref["run_key"],
                                                                       ref["chunk_no"])]
    ti = ctx.get("ti")
    # The age of the chunk's data (see ``transform``); absent in refs staged before it was kept.
    read_at = datetime.fromisoformat(ref["read_at"]) if ref.get("read_at") else None
    run = ChunkRun(rt.pipeline(ctx), ctx["run_id"], dry_run=rt.dry_run(ctx), label=ref["label"],
                   task_id=getattr(ti, "task_id", None), map_index=getattr(ti, "map_index", None),
                   read_at=read_at)
    return ctx, cfg, state, records, rt.portal(cfg), run


def _prepared(state: Any, key: str) -> dict[str, Any]:
    """What the run's latest transform staged besides the chunks (see ``transform``)."""
    return state.store.get_chunk(key + "#prepared", 0)[0]


def _window(ctx: dict[str, Any], cfg: Any, state: Any, key: str):
    """The run's window: resolved once, then the same on every try and after a clear.

    A backfill run syncs its whole block (``backfill_block_hours``) if it is the first of its
    backfill there, and is skipped otherwise: one cheap task instance instead of a dozen.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from identsync.sync.window import (
        Window,
        backfill_block,
        interval_applies,
        resolve_window,
        run_kind,
    )

    try:
        return Window.from_dict(state.store.get_chunk(key + "#window", 0)[0])
    except KeyError:
        pass
    params = ctx.get("params") or {}
    dag_run = ctx["dag_run"]
    use_interval = interval_applies(dag_run.run_type)
    now = datetime.now(timezone.utc)
    window = resolve_window(
        tz=cfg.tz, now=now, overlap=timedelta(minutes=cfg.overlap_minutes),
        run_type=dag_run.run_type, max_lookback=timedelta(days=cfg.max_lookback_days),
        interval_start=ctx.get("data_interval_start") if use_interval else None,
        interval_end=ctx.get("data_interval_end") if use_interval else None,
        date_from=params.get("date_from"), date_to=params.get("date_to"),
        plan_from=params.get("plan_from"), plan_to=params.get("plan_to"),
        watermark=state.store.get_watermark(rt.pipeline(ctx)))
    if run_kind(dag_run.run_type) == "backfill" and window.source == "backfill":
        start, end = backfill_block(window.start, cfg.backfill_block_hours, cfg.tz)
        clear = int(getattr(dag_run, "clear_number", 0) or 0)
        owner = _earlier_owner(ctx, cfg, state, (start, end)) if clear == 0 else None
        if owner is None:
            owner = state.blocks.claim(rt.pipeline(ctx), start, end, clear, ctx["run_id"])
        if owner != ctx["run_id"]:
            raise AirflowSkipException(
                f"this backfill's run {owner} syncs the whole block {start} .. {end} UTC, "
                f"which holds this run's interval: nothing left to do here")
        end = _backfill_span(ctx, cfg, state, (start, end), now, clear)
        window = Window(start, min(end, now), "backfill")
    state.store.put_chunks(key + "#window", [[window.to_dict()]])
    return window


def _earlier_owner(ctx: dict[str, Any], cfg: Any, state: Any,
                   block: tuple[datetime, datetime]) -> str | None:
    """The earlier run of the backfill that took this run's block, waiting for it while it is
    queued or running (about a minute at most): the backfill's first run takes the days of
    the runs after it, and a later run that claimed its own day first would split them."""
    from identsync.dag.backfill import wait_for_earlier

    if cfg.backfill_span_days <= 0:
        return None
    pipeline = rt.pipeline(ctx)
    return wait_for_earlier(ctx, block, timedelta(days=cfg.backfill_span_days),
                            lambda: state.blocks.owner(pipeline, block[0], 0))


def _backfill_span(ctx: dict[str, Any], cfg: Any, state: Any, block: tuple[datetime, datetime],
                   now: datetime, clear: int) -> datetime:
    """The end of this backfill run's window: its block and the blocks its backfill's later
    runs are queued for (``backfill_span_days`` ahead at most), claimed so those runs skip."""
    from identsync.dag.backfill import runs_pending
    from identsync.sync.window import backfill_span

    if cfg.backfill_span_days <= 0:
        return block[1]
    pipeline, run_id = rt.pipeline(ctx), ctx["run_id"]
    end = backfill_span(
        block, hours=cfg.backfill_block_hours, tz=cfg.tz,
        until=min(now, block[0] + timedelta(days=cfg.backfill_span_days)),
        pending=lambda s, e: runs_pending(ctx, s, e),
        claim=lambda s, e: state.blocks.claim(pipeline, s, e, clear, run_id) == run_id)
    if end > block[1]:
        log.info("backfill: this run also syncs %s .. %s UTC, the blocks of its backfill's "
                 "queued runs (they will skip): each reception is synced once", block[1], end)
    return end


def _preflight(ctx: dict[str, Any], cfg: Any, state: Any) -> None:
    """Every stage and field code of the configuration exists on the portal, or the run
    fails (ConfigError: not retried) naming each wrong key, its value and the valid ones."""
    from identsync.sync.preflight import verify_cached

    pipeline = rt.pipeline(ctx)
    if verify_cached(lambda: rt.portal(cfg), cfg, state.store, pipeline, now=time.time(),
                     source=f"the configuration of {pipeline}", remember=not rt.dry_run(ctx)):
        log.info("preflight: every stage and field of the configuration exists on the portal")


@rt.fail_fast
def extract_receptions(branch_id: int) -> dict[str, Any]:
    """Resolve the run's window and stage every reception to sync in it."""
    from identsync.dag.connections import ident_engine
    from identsync.sync.run import extract_for_run, full_check_due, planned_not_in_window

    ctx = rt.context()
    cfg = rt.config(ctx)
    state = rt.state(cfg)
    state.ensure_schema()
    key, pipeline = rt.run_key(ctx), rt.pipeline(ctx)
    _preflight(ctx, cfg, state)
    window = _window(ctx, cfg, state, key)
    start_local, end_local = window.local_naive(cfg.tz)
    log.info("window %s .. %s UTC (%s), clinic time %s .. %s, branch %s", window.start,
             window.end, window.source, start_local, end_local, branch_id)
    started = datetime.now(timezone.utc)
    full_check = full_check_due(state, cfg, pipeline, started,
                                bool((ctx.get("params") or {}).get("full_check")))
    t0 = time.monotonic()
    ident = ident_engine(cfg.ident_conn_id)
    rows, retried = extract_for_run(ident, state, cfg, pipeline, window, branch_id,
                                    dry_run=rt.dry_run(ctx))
    # A range by change time misses appointments booked earlier: say how many.
    missed = planned_not_in_window(ident, cfg, window, branch_id, rows)
    pages = [[r.to_dict() for r in rows[i:i + RAW_PAGE]] for i in range(0, len(rows), RAW_PAGE)]
    state.store.put_chunks(key + "#raw", pages)  # replaces what an earlier try staged
    log.info("extracted %d receptions (%d from the retry queue) in %.1fs, staged in %d pages%s",
             len(rows), retried, time.monotonic() - t0, len(pages),
             "; full check: every record is looked up" if full_check else "")
    return {"run_key": key, "window": window.to_dict(), "extracted": len(rows),
            "raw_pages": len(pages), "branch_id": branch_id, "retried": retried,
            "full_check": full_check, "started": started.isoformat(),
            "planned_not_in_window": missed}


@rt.fail_fast
def transform(extracted: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows -> records (or rejections with reasons) -> chunks; returns chunk references."""
    from identsync.errors import ConfigError
    from identsync.records import SourceReception
    from identsync.sync.chunking import chunk_label
    from identsync.sync.run import note_rejections, prepare_for_run

    ctx = rt.context()
    cfg = rt.config(ctx)
    state = rt.state(cfg)
    key, pipeline = extracted["run_key"], rt.pipeline(ctx)
    rows = [SourceReception.from_dict(d) for page in range(extracted["raw_pages"])
            for d in state.store.get_chunk(key + "#raw", page)]
    # The rows were read when the extract started (also after this task is cleared, days
    # later): records a later run has written since are superseded, not written again.
    read_at = extracted["started"]
    prepared = prepare_for_run(rows, cfg, state, pipeline, extracted["branch_id"],
                               full_check=extracted["full_check"],
                               read_at=datetime.fromisoformat(read_at))
    note_rejections(state.store, pipeline, ctx["run_id"], prepared.rejections, rows,
                    dry_run=rt.dry_run(ctx))
    limit = rt.max_map_length()
    if len(prepared.chunks) > limit:
        raise ConfigError(
            f"{len(prepared.chunks)} chunks exceed Airflow's [core] max_map_length ({limit}): "
            "sync a shorter range (date_from/date_to, or plan_from/plan_to for a load "
            "by appointment date) or raise max_map_length")
    state.store.put_chunks(key, [[r.to_dict() for r in c] for c in prepared.chunks])
    generation = uuid.uuid4().hex  # new on every try and every clear of this task
    state.store.put_chunks(key + "#prepared", [[{
        "rejections": [rj.to_dict() for rj in prepared.rejections],
        "unchanged": prepared.unchanged, "superseded": prepared.superseded,
        "generation": generation}]])
    log.info("%d records in %d chunks (chunk size %d), %d rejected, %d unchanged (skipped)",
             sum(len(c) for c in prepared.chunks), len(prepared.chunks), cfg.chunk_size,
             len(prepared.rejections), prepared.unchanged)
    return [{"run_key": key, "chunk_no": i, "size": len(c), "generation": generation,
             "read_at": read_at, "label": chunk_label(i, len(prepared.chunks), c)}
            for i, c in enumerate(prepared.chunks)]


@rt.fail_fast
def batch_lookup(chunk: dict[str, Any]) -> dict[str, Any]:
    """What the portal holds for one chunk: usually one batch request."""
    from identsync.sync.protocol import look_up

    _, cfg, state, records, portal, _ = _chunk(chunk)
    return {"chunk": chunk, **look_up(portal, state, cfg, records)}


@rt.fail_fast
def upsert_contacts_deals(looked: dict[str, Any]) -> dict[str, Any]:
    """Create or update the chunk's contacts and deals; look again first when needed."""
    from identsync.sync.protocol import upsert

    chunk = looked["chunk"]
    ctx, cfg, state, records, portal, run = _chunk(chunk)
    return {"chunk": chunk, **upsert(portal, state, cfg, records, looked, run,
                                     attempt=rt.attempt(ctx))}


@rt.fail_fast
def add_comments(upserted: dict[str, Any]) -> dict[str, Any]:
    """Post each deal's comment once (ledger in PostgreSQL)."""
    from identsync.sync.protocol import comment

    chunk = upserted["chunk"]
    _, cfg, state, records, portal, run = _chunk(chunk)
    return {"chunk": chunk, **comment(portal, state, cfg, records, upserted, run)}


@rt.fail_fast
def run_summary(extracted: dict[str, Any], chunks: list[dict[str, Any]],
                lookups: list[dict[str, Any]] | None, upserts: list[dict[str, Any]] | None,
                comments: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Add everything up, log it, keep it, move the watermark, purge what outlived retention."""
    from identsync.sync.run import finish_run, synced_ids
    from identsync.sync.summary import RunSummary, format_summary
    from identsync.sync.window import Window

    ctx = rt.context()
    cfg = rt.config(ctx)
    state = rt.state(cfg)
    key, dry_run = extracted["run_key"], rt.dry_run(ctx)
    prepared = _prepared(state, key)
    summary = RunSummary(pipeline=rt.pipeline(ctx), run_id=ctx["run_id"],
                         window=extracted["window"], dry_run=dry_run)
    summary.prepared(extracted["extracted"], (c["size"] for c in chunks),
                     prepared["rejections"], unchanged=prepared["unchanged"],
                     retried=extracted["retried"], superseded=prepared.get("superseded", 0))

    def current(steps: Any) -> list[dict[str, Any]]:
        """This transform's chunks only: a cleared run may hold XComs of removed ones."""
        return [s for s in rt.all_mapped(steps)
                if s and s["chunk"].get("generation") == prepared.get("generation")]

    upserts = current(upserts)
    for step in (*current(lookups), *upserts, *current(comments)):
        summary.add_step(step)
    started = ctx["dag_run"].start_date
    summary.elapsed_s = (datetime.now(timezone.utc) - started).total_seconds() if started \
        else None
    window = Window.from_dict(extracted["window"])
    if extracted.get("planned_not_in_window") is not None:
        summary.extra["planned_not_in_window"] = extracted["planned_not_in_window"]
    if window.source == "planned":
        start_local, end_local = window.local_naive(cfg.tz)
        summary.extra["planned"] = {"from": start_local.isoformat(),
                                    "to": end_local.isoformat()}
    out = finish_run(state, summary, window, synced_ids(upserts),
                     full_check=extracted["full_check"],
                     started=datetime.fromisoformat(extracted["started"]))
    if out["counts"]["queue_dead"]:
        from identsync.dag import alerts

        dead = [e for e in state.queue.entries(summary.pipeline, ("dead",))
                if e["run_id"] == summary.run_id]
        log.error("%d records died in the retry queue in this run: %s", len(dead),
                  [e["ident_id"] for e in dead[:20]])
        alerts.dead_records(cfg.alerts, ctx, summary.pipeline, summary.run_id, dead)
    if dry_run:  # a dry run leaves nothing behind, not even its staged rows
        for suffix in ("", "#raw", "#prepared", "#window"):
            state.store.delete_run(key + suffix)
    else:
        purged = state.purge_expired(cfg.retention_days)
        if purged:
            log.info("purged what is older than %d days: %s", cfg.retention_days, purged)
    log.info("run summary\n%s", format_summary(out))
    return out


@rt.fail_fast
def reconcile_deleted(branch_id: int) -> dict[str, Any]:
    """Deals whose IDENT reception was deleted: moved to ``deleted_stage``, or listed."""
    from functools import partial

    from identsync.dag.connections import ident_engine
    from identsync.ident.extract import existing_reception_ids
    from identsync.sync.deleted import reconcile_deleted as reconcile

    ctx = rt.context()
    cfg = rt.config(ctx)
    state = rt.state(cfg)
    state.ensure_schema()
    _preflight(ctx, cfg, state)
    out = reconcile(rt.portal(cfg), state.ledger, cfg, branch_id,
                    partial(existing_reception_ids, ident_engine(cfg.ident_conn_id)),
                    dry_run=rt.dry_run(ctx))
    if not out["dry_run"]:
        state.store.record_run(rt.pipeline(ctx), ctx["run_id"], out)
    log.info("open deals %d, of deleted receptions %d, moved to %s: %d, failed %d",
             out["open_deals"], out["deleted"], out["target_stage"] or "(not configured: "
             "listed only)", out["moved"], len(out["failed"]))
    return out
