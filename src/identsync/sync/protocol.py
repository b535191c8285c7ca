"""The per-chunk protocol: look up -> plan and guarded upsert -> comments. One implementation.

The DAG's three mapped tasks each call one step; the in-process engine (tests, chaos run,
benchmark) calls the same three in a loop. Each step returns a small JSON-able dict: the DAG
hands it to the next task through XCom, the engine passes it along.

The rules kept here:

* ``look_up`` reads the phone guard's write sequence before looking, so the upsert can tell
  whether another run wrote one of its phones since;
* ``upsert`` holds advisory locks on the chunk's phones while it plans and writes, and
  looks again first when an earlier attempt died mid-write (after waiting until that write
  can no longer land: ``write_settle_seconds`` from its start), when this is a retry
  (``attempt > 1``), or when another run wrote one of its phones since the lookup. Each
  write request is marked in flight while it runs;
* a dry run plans and counts everything and writes nothing: no portal write, no write mark,
  no ledger entry;
* comments go to the deals this chunk created or found, through the exactly-once ledger;
  in a dry run, every new deal counts as one comment that would be posted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from identsync.config import SyncConfig
from identsync.records import LookupMap, SyncRecord
from identsync.sync.comments import CommentItem, post_comments
from identsync.sync.execute import upsert_chunk
from identsync.sync.lookup import run_lookup
from identsync.sync.ports import ChunkState, HeldPhones, Portal
from identsync.sync.summary import http_delta

log = logging.getLogger("identsync.sync")

Step = dict[str, Any]  # what a step returns (JSON-able)


def look_up(portal: Portal, state: ChunkState, cfg: SyncConfig,
            records: list[SyncRecord]) -> Step:
    """What the portal holds for the chunk: usually one batch request."""
    before = portal.stats.as_dict()
    seq = state.guard.current_seq()  # first: a write after this makes the lookup stale
    lookup = run_lookup(portal, records, cfg)
    return {"seq": seq, "lookup": lookup.to_dict(),
            "http": http_delta(before, portal.stats.as_dict())}


def _lookup_to_use(held: HeldPhones, looked: Mapping[str, Any], cfg: SyncConfig, *,
                   attempt: int, sleep: Callable[[float], None]) -> LookupMap | None:
    """The lookup to plan on, or None when the chunk must be looked up again first."""
    died = held.unfinished_write_age()
    if died is not None:
        wait = max(0.0, cfg.write_settle_seconds - died)
        log.warning("an earlier attempt died while writing these phones %.0fs ago; waiting "
                    "%.0fs for that write to land, then looking again", died, wait)
        sleep(wait)
        return None
    if attempt > 1:
        log.info("retry (attempt %d): looking the chunk up again before writing", attempt)
        return None
    if held.stale_since(int(looked["seq"])):
        log.info("another run wrote some of these phones since the lookup; looking again")
        return None
    return LookupMap.from_dict(looked["lookup"])


def upsert(portal: Portal, state: ChunkState, cfg: SyncConfig, records: list[SyncRecord],
           looked: Mapping[str, Any], *, attempt: int = 1, dry_run: bool = False,
           label: str = "", sleep: Callable[[float], None] = time.sleep) -> Step:
    """Create or update the chunk's contacts and deals under the phone locks."""
    before = portal.stats.as_dict()
    with state.guard.hold(r.phone for r in records) as held:
        lookup = _lookup_to_use(held, looked, cfg, attempt=attempt, sleep=sleep)
        result = upsert_chunk(portal, records, cfg, lookup, dry_run=dry_run,
                              around_write=held.writing, sleep=sleep)
    for err in result.errors:
        log.error("record %s: %s failed: %s %s", err.get("ident_id") or "-", err["step"],
                  err.get("code") or "", err["description"])
    for note in result.notes:
        log.warning(note)
    counts = {k: v for k, v in result.counts.items() if v}
    log.info("%s upsert: %s", label or f"{len(records)} records", counts)
    return {"deal_ids": result.deal_ids, "counts": counts, "errors": result.errors,
            "notes": result.notes, "http": http_delta(before, portal.stats.as_dict())}


def comment_items(records: list[SyncRecord], deal_ids: Mapping[str, int]) -> list[CommentItem]:
    return [CommentItem(deal_id=int(deal_ids[r.ident_id]), ident_id=r.ident_id, text=r.comment)
            for r in records if r.ident_id in deal_ids and r.comment]


def comment(portal: Portal, state: ChunkState, cfg: SyncConfig, records: list[SyncRecord],
            upserted: Mapping[str, Any], *, dry_run: bool = False, label: str = "",
            sleep: Callable[[float], None] = time.sleep) -> Step:
    """Post each deal's comment unless the ledger shows the same text is already there."""
    before = portal.stats.as_dict()
    deal_ids = upserted["deal_ids"]
    counts: Counter = post_comments(portal, state.ledger, comment_items(records, deal_ids),
                                    dry_run=dry_run, settle_s=cfg.write_settle_seconds,
                                    sleep=sleep)
    if dry_run:
        # New deals have no id yet: each of them would get its first comment.
        counts["comments_would_post"] += sum(
            1 for r in records if r.ident_id not in deal_ids and r.comment)
    counts = Counter({k: v for k, v in counts.items() if v})
    log.info("%s comments: %s", label or f"{len(records)} records", dict(counts))
    return {"counts": dict(counts), "http": http_delta(before, portal.stats.as_dict())}
