"""Bodies of the DAG's tasks: Airflow context in, small JSON out, engine calls in between.

XCom carries only references and small maps (chunk refs, lookup maps, deal ids, counts);
source rows and records wait in the PostgreSQL staging table keyed by run and chunk.
Every task is safe to retry: extract and transform rewrite their staging rows, the upsert
looks again on retries (and when another run wrote the same phones), comments go through
the exactly-once ledger.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from identsync.settings import load_config
from identsync.sync.config import SyncConfig

log = logging.getLogger("identsync.dag")

MAX_MAP_LENGTH = 1024  # Airflow's [core] max_map_length default
RAW_PAGE = 500  # source rows per staging row group


# -- helpers -------------------------------------------------------------------------------

def _ctx() -> dict[str, Any]:
    from airflow.sdk import get_current_context

    return get_current_context()


def _pipeline(ctx: dict[str, Any]) -> str:
    return ctx["dag"].dag_id


def _run_key(ctx: dict[str, Any]) -> str:
    return f"{ctx['dag'].dag_id}/{ctx['run_id']}"


def _state(cfg: SyncConfig):
    from identsync.hooks.connections import state_dsn
    from identsync.sync.state import StateStore

    return StateStore(state_dsn(cfg.state_conn_id))


def _ensure_schemas(cfg: SyncConfig) -> None:
    """Create every state table once per run, in its first task, not in each mapped task."""
    from identsync.hooks.connections import state_dsn
    from identsync.sync.guard import PhoneGuard
    from identsync.sync.ledger import CommentLedger
    from identsync.sync.state import StateStore

    dsn = state_dsn(cfg.state_conn_id)
    for part in (StateStore(dsn), PhoneGuard(dsn), CommentLedger(dsn)):
        part.ensure_schema()


def _client(cfg: SyncConfig):
    from identsync.hooks.bitrix24 import Bitrix24Hook

    return Bitrix24Hook(bitrix24_conn_id=cfg.bitrix24_conn_id, plan=cfg.portal_plan).get_conn()


def _http(client: Any) -> dict[str, Any]:
    stats = client.stats.as_dict()
    stats.pop("by_method", None)
    return stats


def _dry_run(ctx: dict[str, Any]) -> bool:
    return bool((ctx.get("params") or {}).get("dry_run", False))


def _records(store: Any, ref: dict[str, Any]):
    from identsync.sync.records import SyncRecord

    return [SyncRecord.from_dict(d) for d in store.get_chunk(ref["run_key"], ref["chunk_no"])]


class _ChunkTask(NamedTuple):
    ctx: dict[str, Any]
    cfg: SyncConfig
    dsn: str
    store: Any
    records: list[Any]
    client: Any


def _chunk_task(ref: dict[str, Any]) -> _ChunkTask:
    """What every per-chunk task starts from: context, config, the chunk's records, a client."""
    from identsync.hooks.connections import state_dsn

    ctx = _ctx()
    # Read by map_index_template, so the UI shows "chunk 3/12: F1_1001..F1_1050".
    ctx["chunk_label"] = ref["label"]
    cfg = load_config()
    store = _state(cfg)
    return _ChunkTask(ctx, cfg, state_dsn(cfg.state_conn_id), store, _records(store, ref),
                      _client(cfg))


# -- tasks ---------------------------------------------------------------------------------

def extract_receptions(branch_id: int) -> dict[str, Any]:
    """Resolve the run's window and stage every reception changed in it."""
    from identsync.hooks.connections import ident_engine
    from identsync.ident.extract import extract_receptions as extract
    from identsync.sync.window import interval_applies, resolve_window

    ctx = _ctx()
    cfg = load_config()
    _ensure_schemas(cfg)
    store = _state(cfg)
    params = ctx.get("params") or {}
    use_interval = interval_applies(ctx["dag_run"].run_type)
    window = resolve_window(
        tz=cfg.tz, now=datetime.now(timezone.utc),
        overlap=timedelta(minutes=cfg.overlap_minutes),
        interval_start=ctx.get("data_interval_start") if use_interval else None,
        interval_end=ctx.get("data_interval_end") if use_interval else None,
        date_from=params.get("date_from"), date_to=params.get("date_to"),
        watermark=store.get_watermark(_pipeline(ctx)),
    )
    start_local, end_local = window.local_naive(cfg.tz)
    log.info("window %s .. %s UTC (%s), clinic time %s .. %s, branch %s", window.start,
             window.end, window.source, start_local, end_local, branch_id)
    t0 = time.monotonic()
    # The first configured branch also reports receptions no branch DAG would see.
    orphans = [b.id for b in cfg.branches] if cfg.branches[0].id == branch_id else None
    rows = [r.to_dict() for r in extract(ident_engine(cfg.ident_conn_id), start_local,
                                         end_local, branch_id=branch_id,
                                         unassigned_except=orphans)]
    run_key = _run_key(ctx)
    store.delete_run(run_key)  # a retried extract starts clean
    pages = [rows[i:i + RAW_PAGE] for i in range(0, len(rows), RAW_PAGE)]
    store.put_chunks(run_key + "#raw", pages)
    log.info("extracted %d receptions in %.1fs, staged in %d pages", len(rows),
             time.monotonic() - t0, len(pages))
    return {"run_key": run_key, "window": window.to_dict(), "extracted": len(rows),
            "raw_pages": len(pages), "branch_id": branch_id}


def transform(extracted: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows -> sync records (or rejections with reasons) -> chunks; returns chunk refs."""
    from identsync.sync.chunking import chunk_label, make_chunks
    from identsync.sync.records import SourceReception
    from identsync.sync.transform import transform_all

    ctx = _ctx()
    cfg = load_config()
    store = _state(cfg)
    run_key = extracted["run_key"]
    rows = [SourceReception.from_dict(d)
            for page in range(extracted["raw_pages"])
            for d in store.get_chunk(run_key + "#raw", page)]
    records, rejections = transform_all(rows, cfg)
    records, foreign = split_foreign_branches(records, extracted["branch_id"], cfg)
    rejections = rejections + foreign
    if rejections:
        by_id = {r.reception_id: r.to_dict() for r in rows}
        store.record_rejections(_pipeline(ctx), ctx["run_id"], rejections,
                                {rj.reception_id: by_id.get(rj.reception_id)
                                 for rj in rejections if rj.reception_id is not None})
        reasons = Counter(r.reason for r in rejections)
        log.warning("rejected %d of %d receptions: %s (details in the run summary and the "
                    "rejections table)", len(rejections), len(rows), dict(reasons))
        for rj in rejections[:20]:
            log.warning("rejected %s: %s", rj.ident_id or rj.reception_id, rj.detail)
    chunks = make_chunks(records, cfg.chunk_size)
    if len(chunks) > MAX_MAP_LENGTH:
        raise ValueError(
            f"{len(chunks)} chunks exceed Airflow's max_map_length ({MAX_MAP_LENGTH}): sync a "
            "shorter window (date_from/date_to) or raise [core] max_map_length")
    store.put_chunks(run_key, [[r.to_dict() for r in c] for c in chunks])
    refs = [{"run_key": run_key, "chunk_no": i, "size": len(c),
             "label": chunk_label(i, len(chunks), c)} for i, c in enumerate(chunks)]
    log.info("%d records in %d chunks (chunk size %d), %d rejected", len(records), len(chunks),
             cfg.chunk_size, len(rejections))
    return refs


def split_foreign_branches(records: list, branch_id: int, cfg: SyncConfig):
    """Records of branches missing from the configuration become rejections."""
    from identsync.sync.records import Rejection

    configured = {b.id for b in cfg.branches}
    keep, rejected = [], []
    for r in records:
        if r.branch_id == branch_id:
            keep.append(r)
        elif r.branch_id not in configured:
            rejected.append(Rejection(
                reception_id=r.reception_id, ident_id=r.ident_id, reason="unconfigured_branch",
                detail=f"{r.ident_id}: IDENT branch {r.branch_id} is not in the configuration "
                       "(add it to branches to sync it)"))
    return keep, rejected


def batch_lookup(chunk: dict[str, Any]) -> dict[str, Any]:
    """What the portal holds for one chunk: usually one batch request."""
    from identsync.sync.guard import PhoneGuard
    from identsync.sync.lookup import run_lookup

    t = _chunk_task(chunk)
    seq = PhoneGuard(t.dsn).current_seq()
    lookup = run_lookup(t.client, t.records, t.cfg)
    return {"chunk": chunk, "seq": seq, "lookup": lookup.to_dict(), "http": _http(t.client)}


def upsert_contacts_deals(looked: dict[str, Any]) -> dict[str, Any]:
    """Create or update the chunk's contacts and deals; look again first when needed."""
    from identsync.sync.execute import upsert_chunk
    from identsync.sync.guard import PhoneGuard
    from identsync.sync.records import LookupMap

    chunk = looked["chunk"]
    ctx, cfg, dsn, _, records, client = _chunk_task(chunk)
    dry_run = _dry_run(ctx)
    guard = PhoneGuard(dsn)
    with guard.hold([r.phone for r in records]) as held:
        lookup: LookupMap | None = LookupMap.from_dict(looked["lookup"])
        died = held.unfinished_write_age()
        if died is not None:
            wait = max(0.0, cfg.write_settle_seconds - died)
            log.warning("an earlier attempt died while writing these phones %.0fs ago; waiting "
                        "%.0fs for that write to land, then looking again", died, wait)
            time.sleep(wait)
            lookup = None
        elif ctx["ti"].try_number > 1:
            log.info("retry (try %d): looking the chunk up again before writing",
                     ctx["ti"].try_number)
            lookup = None
        elif held.stale_since(looked["seq"]):
            log.info("another run wrote some of these phones since the lookup; looking again")
            lookup = None
        if not dry_run:
            held.begin_write()
        try:
            result = upsert_chunk(client, records, cfg, lookup, dry_run=dry_run)
        finally:
            if not dry_run:
                held.touch()
    for err in result.errors:
        log.error("record %s: %s failed: %s %s", err.get("ident_id") or "-", err["step"],
                  err.get("code") or "", err["description"])
    for note in result.notes:
        log.warning(note)
    counts = {k: v for k, v in result.counts.items() if v}
    log.info("%s: %s", chunk["label"], counts)
    return {"chunk": chunk, "deal_ids": result.deal_ids, "counts": counts,
            "errors": result.errors, "notes": result.notes, "http": _http(client)}


def add_comments(upserted: dict[str, Any]) -> dict[str, Any]:
    """Post each deal's comment once (ledger in PostgreSQL)."""
    from identsync.sync.comments import post_comments
    from identsync.sync.engine import comment_items
    from identsync.sync.ledger import CommentLedger

    chunk = upserted["chunk"]
    ctx, cfg, dsn, _, records, client = _chunk_task(chunk)
    ledger = CommentLedger(dsn)
    dry_run = _dry_run(ctx)
    items = comment_items(records, {k: int(v) for k, v in upserted["deal_ids"].items()})
    counts = Counter(post_comments(client, ledger, items, dry_run=dry_run,
                                   settle_s=cfg.write_settle_seconds))
    if dry_run:
        counts["comments_would_post"] += sum(
            1 for r in records if r.ident_id not in upserted["deal_ids"] and r.comment)
    counts = {k: v for k, v in counts.items() if v}
    log.info("%s: %s", chunk["label"], counts)
    return {"chunk": chunk, "counts": counts, "http": _http(client)}


def _all(mapped: Any) -> list[Any]:
    # Index by length: iterating Airflow's lazy XCom list probes one past the end and logs
    # a confusing "XCom not found" error in the task log.
    if not mapped:
        return []
    return [mapped[i] for i in range(len(mapped))]


def run_summary(extracted: dict[str, Any], chunks: list[dict[str, Any]],
                lookups: list[dict[str, Any]] | None, upserts: list[dict[str, Any]] | None,
                comments: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Add everything up, log it, keep it, and move the watermark (not on dry runs)."""
    from identsync.sync.engine import SUMMARY_KEYS
    from identsync.sync.window import Window

    ctx = _ctx()
    cfg = load_config()
    store = _state(cfg)
    dry_run = _dry_run(ctx)
    lookups, upserts, comments = _all(lookups), _all(upserts), _all(comments)
    counts: Counter = Counter()
    http: Counter = Counter()
    errors: list[dict[str, Any]] = []
    for part in (*upserts, *comments):
        counts.update(part.get("counts", {}))
    for part in (*lookups, *upserts, *comments):
        http.update(part.get("http", {}))
    for part in upserts:
        errors.extend(part.get("errors", []))
    counts["extracted"] = extracted["extracted"]
    counts["chunks"] = len(chunks)
    counts["records"] = sum(c["size"] for c in chunks)
    counts["rejected"] = counts["extracted"] - counts["records"]
    rejections = store.open_rejections(_pipeline(ctx))
    run_rejections = [r for r in rejections if r.get("run_id") == ctx["run_id"]]
    window = Window.from_dict(extracted["window"])
    summary = {
        "dag_id": _pipeline(ctx), "run_id": ctx["run_id"], "dry_run": dry_run,
        "window": extracted["window"],
        "counts": {**{k: int(counts.get(k, 0)) for k in SUMMARY_KEYS},
                   **{k: int(v) for k, v in counts.items() if k not in SUMMARY_KEYS}},
        "rejected_by_reason": dict(Counter(r["reason"] for r in run_rejections)),
        "errors": errors[:100],
        "http": {k: round(v, 3) if isinstance(v, float) else v for k, v in http.items()},
        "elapsed_s": round((datetime.now(timezone.utc) - ctx["dag_run"].start_date
                            ).total_seconds(), 1) if ctx["dag_run"].start_date else None,
    }
    if not dry_run:
        synced = [ident for u in upserts for ident in u.get("deal_ids", {})]
        store.resolve(_pipeline(ctx), synced)
        moved = store.set_watermark(_pipeline(ctx), window.end, ctx["run_id"])
        summary["watermark_moved"] = moved
    store.record_run(_pipeline(ctx), ctx["run_id"], summary)
    store.delete_run(extracted["run_key"])
    store.delete_run(extracted["run_key"] + "#raw")
    log.info("run summary\n%s", format_summary(summary))
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    c = summary["counts"]
    h = summary.get("http", {})
    lines = [
        f"{'DRY RUN - nothing written. ' if summary.get('dry_run') else ''}"
        f"window {summary['window']['start']} .. {summary['window']['end']} "
        f"({summary['window']['source']})",
        f"receptions  extracted {c['extracted']}, rejected {c['rejected']}, "
        f"synced {c['records']} in {c['chunks']} chunks",
        f"contacts    created {c['contacts_created']}, updated {c['contacts_updated']}, "
        f"unchanged {c['contacts_unchanged']}, failed {c['contacts_failed']}",
        f"deals       created {c['deals_created']}, updated {c['deals_updated']}, "
        f"unchanged {c['deals_unchanged']}, kept closed {c['deals_kept_closed']}, "
        f"protected {c['deals_protected']}, failed {c['deals_failed']}",
        f"comments    posted {c['comments_posted']}, skipped {c['comments_skipped']}, "
        f"reconciled {c['comments_reconciled']}, failed {c['comments_failed']}"
        + (f", would post {c['comments_would_post']}" if summary.get("dry_run") else ""),
        f"bitrix24    {h.get('http_requests', 0)} HTTP requests, {h.get('commands', 0)} "
        f"commands, {h.get('limit_waits', 0)} limit waits ({h.get('wait_seconds', 0)} s), "
        f"{h.get('retries', 0)} retries",
    ]
    if summary.get("rejected_by_reason"):
        lines.append(f"rejected    {summary['rejected_by_reason']}")
    if summary.get("elapsed_s") is not None:
        lines.append(f"elapsed     {summary['elapsed_s']} s")
    return "\n".join(lines)
