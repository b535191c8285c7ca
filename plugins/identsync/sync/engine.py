"""The whole sync in one process: extract -> transform -> chunks -> lookup -> upsert -> comments.

The Airflow DAG runs the same steps as separate tasks; this module is what tests, the
benchmark and operators' tools call directly. Each step is a function of plain data.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from identsync.sync.comments import CommentItem, post_comments
from identsync.sync.config import SyncConfig
from identsync.sync.execute import upsert_chunk
from identsync.sync.records import LookupMap, Rejection, SourceReception, SyncRecord

log = logging.getLogger(__name__)

SUMMARY_KEYS = (
    "extracted", "rejected", "records", "chunks",
    "contacts_created", "contacts_updated", "contacts_unchanged", "contacts_failed",
    "deals_created", "deals_updated", "deals_unchanged", "deals_kept_closed",
    "deals_protected", "deals_failed",
    "comments_posted", "comments_skipped", "comments_reconciled", "comments_failed",
    "comments_would_post",
)


@dataclass
class SyncSummary:
    counts: Counter = field(default_factory=Counter)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    http: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    dry_run: bool = False

    def add(self, other: Counter | dict[str, int]) -> None:
        self.counts.update(other)

    def to_dict(self) -> dict[str, Any]:
        counts = {k: int(self.counts.get(k, 0)) for k in SUMMARY_KEYS}
        counts.update({k: int(v) for k, v in self.counts.items() if k not in counts})
        reasons = Counter(r["reason"] for r in self.rejections)
        return {"dry_run": self.dry_run, "counts": counts,
                "rejected_by_reason": dict(sorted(reasons.items())),
                "rejections": self.rejections[:200], "errors": self.errors[:200],
                "notes": self.notes[:200], "http": self.http,
                "elapsed_s": round(self.elapsed_s, 3)}


def stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the client did between two ``stats.as_dict()`` snapshots."""
    out: dict[str, Any] = {}
    for k, v in after.items():
        if isinstance(v, dict):
            old = before.get(k, {})
            out[k] = {m: n - old.get(m, 0) for m, n in v.items() if n - old.get(m, 0)}
        else:
            out[k] = round(v - before.get(k, 0), 3) if isinstance(v, float) else v - before.get(k, 0)
    return out


def prepare(rows: list[SourceReception], cfg: SyncConfig
            ) -> tuple[list[list[SyncRecord]], list[Rejection]]:
    """Transform rows and cut them into chunks (same phone => same chunk)."""
    from identsync.sync.chunking import make_chunks
    from identsync.sync.transform import transform_all

    records, rejections = transform_all(rows, cfg)
    return make_chunks(records, cfg.chunk_size), rejections


def comment_items(records: list[SyncRecord], deal_ids: dict[str, int]) -> list[CommentItem]:
    return [CommentItem(deal_id=deal_ids[r.ident_id], ident_id=r.ident_id, text=r.comment)
            for r in records if r.ident_id in deal_ids and r.comment]


def sync_chunk(client: Any, ledger: Any, records: list[SyncRecord], cfg: SyncConfig, *,
               lookup: LookupMap | None = None, dry_run: bool = False,
               summary: SyncSummary | None = None) -> SyncSummary:
    summary = summary or SyncSummary(dry_run=dry_run)
    result = upsert_chunk(client, records, cfg, lookup, dry_run=dry_run)
    summary.add(result.counts)
    summary.errors.extend(result.errors)
    summary.notes.extend(result.notes)
    items = comment_items(records, result.deal_ids)
    if dry_run:
        # New deals have no id yet: each of them would get its first comment.
        summary.counts["comments_would_post"] += sum(
            1 for r in records if r.ident_id not in result.deal_ids and r.comment)
    summary.add(post_comments(client, ledger, items, dry_run=dry_run,
                              settle_s=cfg.write_settle_seconds))
    return summary


def sync_rows(client: Any, ledger: Any, rows: list[SourceReception], cfg: SyncConfig, *,
              dry_run: bool = False) -> SyncSummary:
    t0 = time.monotonic()
    before = client.stats.as_dict()
    summary = SyncSummary(dry_run=dry_run)
    chunks, rejections = prepare(rows, cfg)
    summary.counts["extracted"] = len(rows)
    summary.counts["rejected"] = len(rejections)
    summary.counts["records"] = sum(len(c) for c in chunks)
    summary.counts["chunks"] = len(chunks)
    summary.rejections = [r.to_dict() for r in rejections]
    for chunk in chunks:
        sync_chunk(client, ledger, chunk, cfg, dry_run=dry_run, summary=summary)
    summary.http = stats_delta(before, client.stats.as_dict())
    summary.elapsed_s = time.monotonic() - t0
    return summary


def sync_window(ident_engine: Any, client: Any, ledger: Any, cfg: SyncConfig,
                start_local: datetime, end_local: datetime, *, branch_id: int | None = None,
                dry_run: bool = False) -> SyncSummary:
    """Sync receptions changed in [start_local, end_local) (naive clinic-local times)."""
    from identsync.ident.extract import extract_receptions

    rows = list(extract_receptions(ident_engine, start_local, end_local, branch_id=branch_id))
    summary = sync_rows(client, ledger, rows, cfg, dry_run=dry_run)
    log.info("window %s..%s branch %s: %s", start_local, end_local, branch_id,
             {k: v for k, v in summary.to_dict()["counts"].items() if v})
    return summary
