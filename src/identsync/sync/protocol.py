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
* a record the portal refuses (contact, deal or comment) goes to the retry queue with its
  reason; a refused deal gets no comment in this run. A refusal that says the webhook may
  not do this (ACCESS_DENIED and the like), or more refused records than
  ``fail_chunk_share`` of the chunk (and more than one), fails the task:
  :class:`PortalRejected`, not retried;
* ``comment`` posts to the deals this chunk created or found, through the exactly-once
  ledger; every record that got through in full leaves the queue and has its fingerprint
  kept (an unchanged record is then skipped before the lookup next time);
* a record that a run which read IDENT later already wrote is *superseded*: a cleared task of
  an older run (its rows are staged for ``retention_days``) must not put its older data over
  the newer one. ``upsert`` claims each record with the chunk's read time under the phone
  locks (``Fingerprints.claim``: compare and mark in one statement) and drops the superseded
  ones; ``comment`` checks again under the same locks, since a newer run may have written
  after this run's upsert. Superseded records are counted and logged, nothing is written,
  no comment posted;
* a dry run plans and counts everything and writes nothing anywhere: no portal write, no
  write mark, no ledger, queue or fingerprint entry. Every new deal counts as one comment
  that would be posted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from identsync.config import SyncConfig
from identsync.errors import AUTH_CODES, PortalRejected
from identsync.records import Failure, LookupMap, SyncRecord
from identsync.state.fingerprints import fingerprint
from identsync.sync.comments import CommentItem, post_comments
from identsync.sync.execute import upsert_chunk
from identsync.sync.lookup import run_lookup
from identsync.sync.ports import ChunkState, HeldPhones, Portal
from identsync.sync.summary import http_delta

log = logging.getLogger("identsync.sync")

Step = dict[str, Any]  # what a step returns (JSON-able)


@dataclass(frozen=True)
class ChunkRun:
    """Facts about the run a chunk belongs to (for the queue rows and the logs)."""

    pipeline: str
    run_id: str
    dry_run: bool = False
    label: str = ""
    task_id: str | None = None
    map_index: int | None = None
    # When the run began reading IDENT: the age of the chunk's data. None for a chunk staged
    # before read times were kept (it is written as before).
    read_at: datetime | None = None


def _superseded(state: ChunkState, run: ChunkRun, records: Sequence[SyncRecord], *,
                claim: bool) -> set[str]:
    """The chunk's records a newer run already wrote; with ``claim`` (a real upsert) the
    others are marked as written by this run's read time in the same statement."""
    ids = [r.ident_id for r in records]
    if claim and not run.dry_run:
        out = state.fingerprints.claim(run.pipeline, run.read_at, ids)
    else:
        out = state.fingerprints.superseded(run.pipeline, run.read_at, ids)
    if out:
        log.warning("%s: %d records superseded by a newer run (it read IDENT after this run's "
                    "%s): left as they are, nothing written: %s", run.label or "chunk",
                    len(out), run.read_at.isoformat() if run.read_at else "-", sorted(out)[:20])
    return out


def look_up(portal: Portal, state: ChunkState, cfg: SyncConfig,
            records: list[SyncRecord]) -> Step:
    """What the portal holds for the chunk: usually one batch request."""
    before = portal.stats.as_dict()
    seq = state.guard.current_seq()  # first: a write after this makes the lookup stale
    lookup = run_lookup(portal, records, cfg, key=state.hash_key)
    return {"seq": seq, "lookup": lookup.to_dict(),
            "http": http_delta(before, portal.stats.as_dict())}


def _lookup_to_use(held: HeldPhones, looked: Mapping[str, Any], cfg: SyncConfig, *,
                   key: bytes, attempt: int,
                   sleep: Callable[[float], None]) -> LookupMap | None:
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
    return LookupMap.from_dict(looked["lookup"], key=key)


def _refusals(state: ChunkState, cfg: SyncConfig, run: ChunkRun, failures: Sequence[Failure],
              chunk_size: int, counts: Counter) -> None:
    """Queue refused records; fail the task when the refusals say retrying cannot help."""
    if not failures:
        return
    for f in failures:
        log.error("record %s: %s refused by the portal: %s %s", f.ident_id, f.step,
                  f.code or "", f.description)
    if not run.dry_run:
        queued = state.queue.fail(run.pipeline, run.run_id, failures,
                                  base_minutes=cfg.retry_base_minutes,
                                  max_attempts=cfg.retry_max_attempts, task_id=run.task_id,
                                  map_index=run.map_index)
        counts["queue_queued"] += queued["queued"]
        counts["queue_dead"] += queued["dead"]
    denied = [f for f in failures if f.code.upper() in AUTH_CODES]
    if denied:
        raise PortalRejected(
            f"{run.label or 'chunk'}: the portal refused {denied[0].step} of {denied[0].ident_id}"
            f" with {denied[0].code} ({denied[0].description})",
            fix="the webhook's user lacks rights for CRM deals/contacts or the webhook lacks "
                "the crm scope: fix it on the portal; the refused records are queued and "
                "will be retried")
    refused = {f.ident_id for f in failures}
    # One refused record is that record's problem (it waits in the queue); more than the
    # configured share of a chunk points at the configuration or the portal.
    if len(refused) > max(1.0, cfg.fail_chunk_share * chunk_size):
        first = failures[0]
        raise PortalRejected(
            f"{run.label or 'chunk'}: the portal refused {len(refused)} of {chunk_size} "
            f"records (first: {first.ident_id} {first.step}: {first.code} "
            f"{first.description})",
            fix="this many refusals point at the configuration or the portal, not at one "
                "record: check deal_fields/contact_fields codes and required fields on the "
                "portal; the refused records are queued and retried by later runs")


def upsert(portal: Portal, state: ChunkState, cfg: SyncConfig, records: list[SyncRecord],
           looked: Mapping[str, Any], run: ChunkRun, *, attempt: int = 1,
           sleep: Callable[[float], None] = time.sleep) -> Step:
    """Create or update the chunk's contacts and deals under the phone locks."""
    before = portal.stats.as_dict()
    with state.guard.hold(r.phone for r in records) as held:
        lookup = _lookup_to_use(held, looked, cfg, key=state.hash_key, attempt=attempt,
                                sleep=sleep)
        # Under the phone locks, right before writing: a newer run holding these phones
        # has finished its claim and write, one after us waits for ours.
        superseded = _superseded(state, run, records, claim=True)
        result = upsert_chunk(portal, [r for r in records if r.ident_id not in superseded],
                              cfg, lookup, key=state.hash_key, dry_run=run.dry_run,
                              around_write=held.writing, sleep=sleep)
    for note in result.notes:
        log.warning(note)
    counts = Counter({k: v for k, v in result.counts.items() if v})
    counts["superseded"] += len(superseded)
    _refusals(state, cfg, run, result.failures, len(records), counts)
    log.info("%s upsert: %s", run.label or f"{len(records)} records", dict(counts))
    return {"deal_ids": result.deal_ids, "unchanged": sorted(result.unchanged),
            "counts": dict(counts),
            "errors": [f.to_dict() for f in result.failures],
            "failed": sorted({f.ident_id for f in result.failures}), "notes": result.notes,
            "http": http_delta(before, portal.stats.as_dict())}


def comment_items(records: list[SyncRecord], deal_ids: Mapping[str, int],
                  unchanged: Collection[str] = ()) -> list[CommentItem]:
    """The chunk's comments. A deal the upsert left unchanged already shows the record, so
    where the old script's comment is its last one, ours would say nothing new (quiet)."""
    return [CommentItem(deal_id=int(deal_ids[r.ident_id]), ident_id=r.ident_id, text=r.comment,
                        quiet_if_imported=r.ident_id in unchanged)
            for r in records if r.ident_id in deal_ids and r.comment]


def comment(portal: Portal, state: ChunkState, cfg: SyncConfig, records: list[SyncRecord],
            upserted: Mapping[str, Any], run: ChunkRun, *,
            sleep: Callable[[float], None] = time.sleep) -> Step:
    """Post each deal's comment unless the ledger shows the same text is already there."""
    before = portal.stats.as_dict()
    refused: dict[int, tuple[str, str]] = {}
    with_deal = [r for r in records if r.ident_id in upserted["deal_ids"]]
    # The phone locks again: a newer run's upsert of these records waits until our comments
    # are in, and one that wrote since our upsert (this task cleared alone, days later) is
    # seen here: its record's text is the one the deal shows, ours is never posted.
    with state.guard.hold(r.phone for r in with_deal):
        superseded = _superseded(state, run, with_deal, claim=False)
        deal_ids = {i: d for i, d in upserted["deal_ids"].items() if i not in superseded}
        items = comment_items(records, deal_ids, set(upserted.get("unchanged") or ()))
        counts: Counter = post_comments(portal, state.ledger, items,
                                        dry_run=run.dry_run, settle_s=cfg.write_settle_seconds,
                                        sleep=sleep, refused=refused)
    counts["superseded"] += len(superseded)
    if run.dry_run:
        # New deals have no id yet: each of them would get its first comment.
        counts["comments_would_post"] += sum(
            1 for r in records if r.ident_id not in upserted["deal_ids"] and r.comment)
    by_deal = {int(deal_ids[r.ident_id]): r for r in records if r.ident_id in deal_ids}
    failures = [Failure(by_deal[d].ident_id, by_deal[d].reception_id, "comment", code, text)
                for d, (code, text) in sorted(refused.items())]
    counts = Counter({k: v for k, v in counts.items() if v})
    _refusals(state, cfg, run, failures, len(records), counts)
    if not run.dry_run:
        # Through in full: a deal, no refusal in either step. Out of the queue, and
        # remembered so an unchanged record skips the lookup next time.
        not_done = set(upserted.get("failed") or ()) | {f.ident_id for f in failures}
        done = [r for r in records if r.ident_id in deal_ids and r.ident_id not in not_done]
        counts["queue_recovered"] += state.queue.recovered(run.pipeline,
                                                           [r.ident_id for r in done])
        state.fingerprints.record(run.pipeline, {r.ident_id: fingerprint(r) for r in done},
                                  read_at=run.read_at)
    counts = Counter({k: v for k, v in counts.items() if v})
    log.info("%s comments: %s", run.label or f"{len(records)} records", dict(counts))
    return {"counts": dict(counts), "errors": [f.to_dict() for f in failures],
            "http": http_delta(before, portal.stats.as_dict())}
