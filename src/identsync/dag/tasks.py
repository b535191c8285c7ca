"""Bodies of the DAG's tasks: read the context, call the sync, hand small JSON back.

Every rule is in ``identsync.sync`` (``prepare``, ``protocol``, ``run``, ``summary``), the
same code the in-process engine runs. XCom carries chunk references, lookup maps, deal ids
and counts; source rows and records wait in the staging table keyed by run and chunk.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from identsync.dag import runtime as rt

log = logging.getLogger("identsync.dag")

RAW_PAGE = 500  # source rows per staging row


def _chunk(ref: dict[str, Any]):
    """What a chunk task starts from: context, config, state, the chunk's records, a portal."""
    from identsync.records import SyncRecord

    ctx = rt.context()
    ctx["chunk_label"] = ref["label"]  # map_index_template shows "chunk 3/12: F1_1..F1_50"
    cfg = rt.config(ctx)
    state = rt.state(cfg)
    records = [SyncRecord.from_dict(d) for d in state.store.get_chunk(ref["run_key"],
                                                                       ref["chunk_no"])]
    return ctx, cfg, state, records, rt.portal(cfg)


@rt.fail_fast
def extract_receptions(branch_id: int) -> dict[str, Any]:
    """Resolve the run's window and stage every reception changed in it."""
    from identsync.dag.connections import ident_engine
    from identsync.ident.extract import extract_receptions as extract
    from identsync.sync.prepare import orphan_scope
    from identsync.sync.window import interval_applies, resolve_window

    ctx = rt.context()
    cfg = rt.config(ctx)
    state = rt.state(cfg)
    state.ensure_schema()
    params = ctx.get("params") or {}
    use_interval = interval_applies(ctx["dag_run"].run_type)
    window = resolve_window(
        tz=cfg.tz, now=datetime.now(timezone.utc),
        overlap=timedelta(minutes=cfg.overlap_minutes),
        interval_start=ctx.get("data_interval_start") if use_interval else None,
        interval_end=ctx.get("data_interval_end") if use_interval else None,
        date_from=params.get("date_from"), date_to=params.get("date_to"),
        watermark=state.store.get_watermark(rt.pipeline(ctx)))
    start_local, end_local = window.local_naive(cfg.tz)
    log.info("window %s .. %s UTC (%s), clinic time %s .. %s, branch %s", window.start,
             window.end, window.source, start_local, end_local, branch_id)
    t0 = time.monotonic()
    rows = [r.to_dict() for r in extract(ident_engine(cfg.ident_conn_id), start_local,
                                         end_local, branch_id=branch_id,
                                         unassigned_except=orphan_scope(cfg, branch_id))]
    key = rt.run_key(ctx)
    pages = [rows[i:i + RAW_PAGE] for i in range(0, len(rows), RAW_PAGE)]
    state.store.put_chunks(key + "#raw", pages)  # replaces what an earlier try staged
    log.info("extracted %d receptions in %.1fs, staged in %d pages", len(rows),
             time.monotonic() - t0, len(pages))
    return {"run_key": key, "window": window.to_dict(), "extracted": len(rows),
            "raw_pages": len(pages), "branch_id": branch_id}


@rt.fail_fast
def transform(extracted: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows -> records (or rejections with reasons) -> chunks; returns chunk references."""
    from identsync.errors import ConfigError
    from identsync.records import SourceReception
    from identsync.sync.chunking import chunk_label
    from identsync.sync.prepare import prepare
    from identsync.sync.run import note_rejections

    ctx = rt.context()
    cfg = rt.config(ctx)
    store = rt.state(cfg).store
    key = extracted["run_key"]
    rows = [SourceReception.from_dict(d) for page in range(extracted["raw_pages"])
            for d in store.get_chunk(key + "#raw", page)]
    prepared = prepare(rows, cfg, branch_id=extracted["branch_id"])
    note_rejections(store, rt.pipeline(ctx), ctx["run_id"], prepared.rejections, rows,
                    dry_run=rt.dry_run(ctx))
    limit = rt.max_map_length()
    if len(prepared.chunks) > limit:
        raise ConfigError(
            f"{len(prepared.chunks)} chunks exceed Airflow's [core] max_map_length ({limit}): "
            "sync a shorter window (date_from/date_to) or raise max_map_length")
    store.put_chunks(key, [[r.to_dict() for r in c] for c in prepared.chunks])
    store.put_chunks(key + "#rejections", [[rj.to_dict() for rj in prepared.rejections]])
    log.info("%d records in %d chunks (chunk size %d), %d rejected",
             sum(len(c) for c in prepared.chunks), len(prepared.chunks), cfg.chunk_size,
             len(prepared.rejections))
    return [{"run_key": key, "chunk_no": i, "size": len(c),
             "label": chunk_label(i, len(prepared.chunks), c)}
            for i, c in enumerate(prepared.chunks)]


@rt.fail_fast
def batch_lookup(chunk: dict[str, Any]) -> dict[str, Any]:
    """What the portal holds for one chunk: usually one batch request."""
    from identsync.sync.protocol import look_up

    _, cfg, state, records, portal = _chunk(chunk)
    return {"chunk": chunk, **look_up(portal, state, cfg, records)}


@rt.fail_fast
def upsert_contacts_deals(looked: dict[str, Any]) -> dict[str, Any]:
    """Create or update the chunk's contacts and deals; look again first when needed."""
    from identsync.sync.protocol import upsert

    chunk = looked["chunk"]
    ctx, cfg, state, records, portal = _chunk(chunk)
    return {"chunk": chunk, **upsert(portal, state, cfg, records, looked,
                                     attempt=rt.attempt(ctx), dry_run=rt.dry_run(ctx),
                                     label=chunk["label"])}


@rt.fail_fast
def add_comments(upserted: dict[str, Any]) -> dict[str, Any]:
    """Post each deal's comment once (ledger in PostgreSQL)."""
    from identsync.sync.protocol import comment

    chunk = upserted["chunk"]
    ctx, cfg, state, records, portal = _chunk(chunk)
    return {"chunk": chunk, **comment(portal, state, cfg, records, upserted,
                                      dry_run=rt.dry_run(ctx), label=chunk["label"])}


@rt.fail_fast
def run_summary(extracted: dict[str, Any], chunks: list[dict[str, Any]],
                lookups: list[dict[str, Any]] | None, upserts: list[dict[str, Any]] | None,
                comments: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Add everything up, log it, keep it, and move the watermark (not on dry runs)."""
    from identsync.sync.run import finish_run, synced_ids
    from identsync.sync.summary import RunSummary, format_summary
    from identsync.sync.window import Window

    ctx = rt.context()
    cfg = rt.config(ctx)
    store = rt.state(cfg).store
    key = extracted["run_key"]
    summary = RunSummary(pipeline=rt.pipeline(ctx), run_id=ctx["run_id"],
                         window=extracted["window"], dry_run=rt.dry_run(ctx))
    summary.prepared(extracted["extracted"], (c["size"] for c in chunks),
                     store.get_chunk(key + "#rejections", 0))
    upserts = rt.all_mapped(upserts)
    for step in (*rt.all_mapped(lookups), *upserts, *rt.all_mapped(comments)):
        summary.add_step(step)
    started = ctx["dag_run"].start_date
    summary.elapsed_s = (datetime.now(timezone.utc) - started).total_seconds() if started \
        else None
    out = finish_run(store, summary, Window.from_dict(extracted["window"]), synced_ids(upserts))
    for suffix in ("", "#raw", "#rejections"):
        store.delete_run(key + suffix)
    log.info("run summary\n%s", format_summary(out))
    return out
