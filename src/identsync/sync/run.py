"""What a whole run does before and after its chunks, once for the DAG and the engine.

* :func:`extract_for_run`: the receptions changed in the window, the receptions of patients
  edited in it, and the retry queue's due records (fresh from IDENT, whatever their dates);
* :func:`prepare_for_run`: :func:`~identsync.sync.prepare.prepare` with the fingerprint
  filter (unchanged records skip the lookup) unless this is a full check, which is due every
  ``full_check_days`` or asked for;
* :func:`note_rejections`: each rejected reception with its reason and source row in the
  rejections table (an operator's to-do list; resolved when the record later syncs);
* :func:`finish_run`: resolves the rejections of records that synced, moves the watermark
  (a scheduled window always, forward only; a backfill or a date range only when it touches
  the watermark, so a window synced out of order never hides a gap), records a full check,
  keeps the summary.

A dry run writes nothing anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from identsync.config import SyncConfig
from identsync.records import Rejection, SourceReception, SyncRecord
from identsync.state.fingerprints import fingerprint
from identsync.sync.prepare import Prepared, orphan_scope, prepare
from identsync.sync.summary import RunSummary
from identsync.sync.window import Window

log = logging.getLogger("identsync.sync")


def extract_for_run(ident_engine: Any, state: Any, cfg: SyncConfig, pipeline: str,
                    window: Window, branch_id: int | None, *, dry_run: bool = False
                    ) -> tuple[list[SourceReception], int]:
    """(rows to sync, how many of them the retry queue brought back)."""
    from identsync.ident.extract import extract_by_ids, extract_receptions

    start_local, end_local = window.local_naive(cfg.tz)
    since = (start_local - timedelta(days=cfg.patient_receptions_days)
             if cfg.patient_receptions_days else None)
    rows = list(extract_receptions(ident_engine, start_local, end_local, branch_id=branch_id,
                                   unassigned_except=orphan_scope(cfg, branch_id),
                                   patient_since=since))
    due = state.queue.due(pipeline)
    seen = {r.reception_id for r in rows}
    wanted = {rid for _, rid in due if rid is not None and rid not in seen}
    retried = [r for r in extract_by_ids(ident_engine, sorted(wanted))
               if branch_id is None or r.branch_id == branch_id]
    gone = [ident for ident, rid in due if rid is not None and rid in wanted
            and rid not in {r.reception_id for r in retried}]
    if gone:
        log.warning("%d queued records no longer exist in IDENT (deleted): %s", len(gone),
                    gone[:20])
        if not dry_run:
            state.queue.gone(pipeline, gone)
    if due:
        log.info("retry queue: %d records due, %d of them outside the window", len(due),
                 len(retried))
    return rows + retried, len(due) - len(gone)


def full_check_due(state: Any, cfg: SyncConfig, pipeline: str, now: datetime,
                   requested: bool = False) -> bool:
    if requested:
        return True
    last = state.fingerprints.last_full_check(pipeline)
    return last is None or now - last >= timedelta(days=cfg.full_check_days)


def prepare_for_run(rows: Sequence[SourceReception], cfg: SyncConfig, state: Any,
                    pipeline: str, branch_id: int | None, *, full_check: bool) -> Prepared:
    """``prepare`` with unchanged records left out (not on a full check).

    A record refused by the portal never matches: its fingerprint is kept only after it got
    through in full, and it changed since the last time it did (or it would not have been
    written again).
    """
    def unchanged(records: Sequence[SyncRecord]) -> set[str]:
        known = state.fingerprints.known(pipeline, [r.ident_id for r in records])
        return {r.ident_id for r in records if known.get(r.ident_id) == fingerprint(r)}

    return prepare(rows, cfg, branch_id=branch_id, unchanged=None if full_check else unchanged)


def note_rejections(store: Any, pipeline: str, run_id: str,
                    rejections: Sequence[Rejection], rows: Iterable[SourceReception], *,
                    dry_run: bool) -> None:
    if not rejections:
        return
    by_reason: dict[str, int] = {}
    for r in rejections:
        by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
    log.warning("rejected %d receptions: %s (each one with its source row in the rejections "
                "table)", len(rejections), by_reason)
    for rj in rejections[:20]:
        log.warning("rejected %s: %s", rj.ident_id or rj.reception_id, rj.detail)
    if dry_run:
        return
    wanted = {rj.reception_id for rj in rejections if rj.reception_id is not None}
    sources = {r.reception_id: r.to_dict() for r in rows if r.reception_id in wanted}
    store.record_rejections(pipeline, run_id, rejections, sources)


def finish_run(state: Any, summary: RunSummary, window: Window | None, synced: Iterable[str],
               *, full_check: bool = False, started: datetime | None = None) -> dict[str, Any]:
    """Resolve, move the watermark, note a full check, keep the summary; returns it as a dict."""
    store = state.store
    if window is not None and window.unsynced_from is not None:
        summary.extra["unsynced"] = {"from": window.unsynced_from.isoformat(),
                                     "to": window.start.isoformat()}
        log.warning("changes between %s and %s were NOT synced: that gap is longer than "
                    "max_lookback_days; sync it with a backfill or a manual run with "
                    "date_from/date_to", window.unsynced_from, window.start)
    if not summary.dry_run:
        store.resolve(summary.pipeline, synced)
        if window is not None:
            summary.extra["watermark_moved"] = (
                store.set_watermark(summary.pipeline, window.end, summary.run_id)
                if window.follows_watermark else
                store.advance_watermark(summary.pipeline, window.start, window.end,
                                        summary.run_id))
        if full_check and started is not None:
            state.fingerprints.full_check_done(summary.pipeline, started)
    summary.extra["full_check"] = full_check
    out = summary.to_dict()
    if not summary.dry_run:
        store.record_run(summary.pipeline, summary.run_id, out)
    return out


def synced_ids(upserts: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ident ids that have a deal after the run's upserts."""
    return [ident for u in upserts for ident in (u.get("deal_ids") or {})]
