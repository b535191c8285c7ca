"""What a whole run does before and after its chunks, once for the DAG and the engine.

* :func:`note_rejections` keeps each rejected reception with its reason and source row in
  the rejections table (an operator's to-do list; resolved when the record later syncs);
* :func:`finish_run` resolves the rejections of records that synced, moves the pipeline's
  watermark (only over a window contiguous with it, so a window synced out of order never
  hides a gap) and keeps the run's summary.

A dry run does neither: it writes nothing anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from identsync.records import Rejection, SourceReception
from identsync.state.store import StateStore
from identsync.sync.summary import RunSummary
from identsync.sync.window import Window

log = logging.getLogger("identsync.sync")


def note_rejections(store: StateStore, pipeline: str, run_id: str,
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


def finish_run(store: StateStore, summary: RunSummary, window: Window | None,
               synced: Iterable[str]) -> dict[str, Any]:
    """Resolve, move the watermark, keep the summary; returns the summary as a dict."""
    if not summary.dry_run:
        store.resolve(summary.pipeline, synced)
        if window is not None:
            summary.extra["watermark_moved"] = store.advance_watermark(
                summary.pipeline, window.start, window.end, summary.run_id)
    out = summary.to_dict()
    if not summary.dry_run:
        store.record_run(summary.pipeline, summary.run_id, out)
    return out


def synced_ids(upserts: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ident ids that have a deal after the run's upserts."""
    return [ident for u in upserts for ident in (u.get("deal_ids") or {})]
