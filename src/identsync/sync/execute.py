"""Carry out a chunk's plan as batched writes, safe to retry.

Writes to Bitrix24 are not idempotent, so nothing here ever resends a write blindly. When a
write batch fails in a way that may have been applied (dropped connection, timeout, 5xx),
the chunk is looked up again and re-planned: what was applied is now found on the portal and
planned as "unchanged", what was not is planned again. A task retry does the same, because
the upsert task always starts from a fresh lookup on retries.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable

from identsync.bitrix24.batch import Ref
from identsync.config import SyncConfig
from identsync.errors import Bitrix24Error, Bitrix24TransportError, ChunkWriteFailed
from identsync.mask import mask_row
from identsync.records import Failure, LookupMap, SyncRecord
from identsync.sync.lookup import run_lookup
from identsync.sync.plan import ChunkPlan, plan_chunk

log = logging.getLogger(__name__)

MAX_ROUNDS = 4



@dataclass
class ChunkResult:
    deal_ids: dict[str, int] = field(default_factory=dict)  # ident_id -> deal id on the portal
    counts: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)  # records the portal refused
    notes: list[str] = field(default_factory=list)
    rounds: int = 0
    unchanged: set[str] = field(default_factory=set)  # existing deals left as they were


def _apply_results(plan: ChunkPlan, records: list[SyncRecord], br: Any,
                   result: ChunkResult) -> None:
    """Deal ids of the written records; refused ones become failures (and get no deal id,
    so no comment: a deal whose update failed must not get the text of a change it lacks)."""
    result.deal_ids.update(plan.deal_ids)
    reception = {r.ident_id: r.reception_id for r in records}
    by_id = {r.ident_id: r for r in records}
    failed_contacts = {}
    for c in plan.contacts:
        err = br.errors.get(c.ref)
        if err is not None:
            failed_contacts[c.ref] = err
            result.counts["contacts_failed"] += 1
            # The portal may quote the record (a name, the comment): masked with its values.
            result.failures.extend(Failure(i, reception.get(i), "contact", err.code,
                                           mask_row(err.description, by_id.get(i)))
                                   for i in c.ident_ids)
    for d in plan.deals:
        err = br.errors.get(d.ref)
        if err is not None:
            result.counts["deals_failed"] += 1
            result.failures.append(Failure(d.ident_id, reception.get(d.ident_id), "deal",
                                           err.code,
                                           mask_row(err.description, by_id.get(d.ident_id))))
            result.deal_ids.pop(d.ident_id, None)
            continue
        if d.kind == "create":
            result.deal_ids[d.ident_id] = int(br.results[d.ref])
        if d.contact_ref in failed_contacts:
            # The deal went in without its contact; the record is queued and the retry
            # links the contact (CONTACT_ID is filled when empty).
            said = mask_row(failed_contacts[d.contact_ref].description, by_id.get(d.ident_id))
            result.notes.append(f"{d.ident_id}: contact could not be created ({said}); "
                                "deal saved without a contact")


def write_commands(plan: ChunkPlan) -> dict[str, tuple[str, dict[str, Any]]]:
    """The plan's batch commands with the new contact's id as an explicit reference.

    The plan writes ``CONTACT_ID`` as ``$result[<contact ref>]`` text; the client sends
    every string as typed, so the one value meant as a reference becomes a ``Ref``. Every
    other value (names, comments, services typed by staff) stays literal text.
    """
    cmds = plan.commands()
    for d in plan.deals:
        if d.contact_ref is None:
            continue
        fields = cmds[d.ref][1].get("fields")
        if isinstance(fields, dict) and fields.get("CONTACT_ID") == f"$result[{d.contact_ref}]":
            fields["CONTACT_ID"] = Ref(d.contact_ref)
    return cmds


def settle(exc: Bitrix24Error, cfg: SyncConfig, sleep: Callable[[float], None]) -> None:
    """After a write whose answer was lost in transit, give the portal time to finish it.

    A Bitrix24 request may keep running for up to a minute after the client gave up (read
    timeout, dropped connection). Looking again before it finishes would miss its entities
    and create them twice. A 5xx answer means the portal is done, so no wait is needed.
    """
    if isinstance(exc, Bitrix24TransportError) and exc.maybe_applied and cfg.write_settle_seconds:
        log.warning("waiting %ss for the portal to finish a write whose answer was lost "
                    "before looking again", cfg.write_settle_seconds)
        sleep(cfg.write_settle_seconds)


def upsert_chunk(client: Any, records: list[SyncRecord], cfg: SyncConfig,
                 lookup: LookupMap | None = None, *, key: bytes, dry_run: bool = False,
                 around_write: Callable[[], AbstractContextManager[Any]] = nullcontext,
                 sleep: Callable[[float], None] = time.sleep) -> ChunkResult:
    """Plan and write one chunk. ``lookup=None`` looks up first (always do so on retries).

    ``around_write`` wraps every write request (the phone guard marks it in flight); a plan
    with nothing to write sends nothing and marks nothing.
    """
    result = ChunkResult()
    if not records:
        return result
    if lookup is None:
        lookup = run_lookup(client, records, cfg, key=key)
    for round_no in range(1, MAX_ROUNDS + 1):
        result.rounds = round_no
        plan = plan_chunk(records, lookup, cfg)
        result.unchanged = set(plan.unchanged_deals)
        if round_no == 1:
            result.counts.update(plan.counts)
            result.notes.extend(plan.notes)
        if dry_run or plan.writes == 0:
            result.deal_ids.update(plan.deal_ids)
            return result
        try:
            with around_write():
                br = client.batch(write_commands(plan))
        except Bitrix24Error as exc:
            if not exc.maybe_applied:
                raise
            settle(exc, cfg, sleep)
            log.warning("write batch for %d records may have been applied (%s); looking again "
                        "before writing anything (round %d/%d)", len(records), exc.code or
                        type(exc).__name__, round_no, MAX_ROUNDS)
            result.counts["write_rounds_replanned"] += 1
            lookup = run_lookup(client, records, cfg, key=key)
            continue
        _apply_results(plan, records, br, result)
        return result
    raise ChunkWriteFailed(
        f"writes for {records[0].ident_id}..{records[-1].ident_id} failed {MAX_ROUNDS} times "
        "in a may-have-been-applied way; nothing was duplicated, retry the task later"
    )
