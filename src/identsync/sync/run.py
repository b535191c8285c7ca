"""What a whole run does before and after its chunks, once for the DAG and the engine.

* :func:`extract_for_run`: the receptions changed in the window, the receptions of patients
  edited in it, and the retry queue's due records (fresh from IDENT, whatever their dates);
* :func:`prepare_for_run`: :func:`~identsync.sync.prepare.prepare` with the fingerprint
  filter (unchanged records skip the lookup) unless this is a full check, which is due every
  ``full_check_days`` or asked for;
* :func:`note_rejections`: each rejected reception with its reason and source row in the
  rejections table (an operator's to-do list; resolved when the record later syncs);
* :func:`finish_run`: resolves the rejections of records that synced, takes queued records
  that transform now rejects out of the retry queue, moves the watermark (a scheduled window
  always, forward only; a backfill or a date range only when it touches the watermark, so a
  window synced out of order never hides a gap; never past the moment the run read IDENT;
  never for a load by appointment date), records a full check, keeps the summary;
* :func:`planned_not_in_window`: for a range by change time, the receptions planned in it
  that it did not sync.

A dry run writes nothing anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from identsync.config import SyncConfig
from identsync.mask import mask_row
from identsync.records import Rejection, SourceReception, SyncRecord
from identsync.state.fingerprints import fingerprint
from identsync.sync.prepare import orphan_scope, prepare
from identsync.sync.summary import RunSummary
from identsync.sync.window import Window

log = logging.getLogger("identsync.sync")


def extract_for_run(ident_engine: Any, state: Any, cfg: SyncConfig, pipeline: str,
                    window: Window, branch_id: int | None, *, dry_run: bool = False
                    ) -> tuple[list[SourceReception], int]:
    """(rows to sync, how many of them the retry queue brought back)."""
    from identsync.ident.extract import extract_by_ids, extract_receptions

    start_local, end_local = window.local_naive(cfg.tz)
    if window.source == "planned":  # going live: by appointment date, not change time
        from identsync.ident.planned import extract_planned

        rows = extract_planned(ident_engine, start_local, end_local, branch_id=branch_id,
                               unassigned_except=orphan_scope(cfg, branch_id))
    else:
        since = (start_local - timedelta(days=cfg.patient_receptions_days)
                 if cfg.patient_receptions_days else None)
        rows = list(extract_receptions(ident_engine, start_local, end_local,
                                       branch_id=branch_id,
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


def planned_not_in_window(ident_engine: Any, cfg: SyncConfig, window: Window,
                          branch_id: int | None, rows: Iterable[SourceReception]) -> int | None:
    """For a range given by change time (``date_from``/``date_to``): how many receptions of
    the branch planned in that range were not changed in it, so not synced (an appointment
    booked weeks ago for tomorrow). None for other windows."""
    if window.source != "params":
        return None
    from identsync.ident.planned import planned_ids

    start_local, end_local = window.local_naive(cfg.tz)
    seen = {r.reception_id for r in rows}
    return sum(1 for rid in planned_ids(ident_engine, start_local, end_local,
                                        branch_id=branch_id,
                                        unassigned_except=orphan_scope(cfg, branch_id))
               if rid not in seen)


def full_check_due(state: Any, cfg: SyncConfig, pipeline: str, now: datetime,
                   requested: bool = False) -> bool:
    if requested:
        return True
    last = state.fingerprints.last_full_check(pipeline)
    return last is None or now - last >= timedelta(days=cfg.full_check_days)


class RunPrepared(NamedTuple):
    """``prepare``'s result for a run, with the records left out as superseded counted."""

    chunks: list[list[SyncRecord]]
    rejections: list[Rejection]
    unchanged: int = 0  # nothing changed since they were written: skipped
    superseded: int = 0  # a run that read IDENT later wrote them: not written again


def prepare_for_run(rows: Sequence[SourceReception], cfg: SyncConfig, state: Any,
                    pipeline: str, branch_id: int | None, *, full_check: bool,
                    read_at: datetime | None = None) -> RunPrepared:
    """``prepare`` with unchanged records left out (not on a full check), and records a run
    that read IDENT after ``read_at`` already wrote (always: this run's task was cleared
    after a newer run, its rows are older than what the portal shows; a full check must not
    write them either). The upsert checks again under the phone locks; leaving them out
    here only spares their lookup.

    A record refused by the portal never matches: its fingerprint is kept only after it got
    through in full, and it changed since the last time it did (or it would not have been
    written again).
    """
    newer: set[str] = set()

    def skipped(records: Sequence[SyncRecord]) -> set[str]:
        ids = [r.ident_id for r in records]
        newer.update(state.fingerprints.superseded(pipeline, read_at, ids))
        if newer:
            log.warning("%d records superseded by a newer run (it read IDENT after this "
                        "run's %s): not synced again: %s", len(newer), read_at,
                        sorted(newer)[:20])
        if full_check:
            return set(newer)
        rest = [r for r in records if r.ident_id not in newer]
        known = state.fingerprints.known(pipeline, [r.ident_id for r in rest])
        same = {r.ident_id for r in rest if known.get(r.ident_id) == fingerprint(r)}
        # A record waiting in the retry queue is written whatever its fingerprint says:
        # skipping it would count no try and leave it queued until the next full check.
        same = same - state.queue.pending(pipeline, same) if same else same
        return same | newer

    p = prepare(rows, cfg, branch_id=branch_id, unchanged=skipped)
    return RunPrepared(p.chunks, p.rejections, p.unchanged - len(newer), len(newer))


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
    wanted = {rj.reception_id for rj in rejections if rj.reception_id is not None}
    rejected_rows = {r.reception_id: r for r in rows if r.reception_id in wanted}
    for rj in rejections[:20]:  # the full detail stays in the rejections table, not the log
        log.warning("rejected %s: %s", rj.ident_id or rj.reception_id,
                    mask_row(rj.detail, rejected_rows.get(rj.reception_id)))
    if dry_run:
        return
    sources = {rid: r.to_dict() for rid, r in rejected_rows.items()}
    store.record_rejections(pipeline, run_id, rejections, sources)


def watermark_target(window: Window, read_at: datetime | None) -> datetime | None:
    """Where a run may move the watermark: the window's end, but never past the moment the
    run began reading IDENT (a change made later that day is not in what it read), and
    nowhere for a load by appointment date (it says nothing about change times)."""
    if window.source == "planned":
        return None
    end = window.end if read_at is None else min(window.end, read_at)
    return end if end > window.start else None


def finish_run(state: Any, summary: RunSummary, window: Window | None, synced: Iterable[str],
               *, full_check: bool = False, started: datetime | None = None,
               read_at: datetime | None = None) -> dict[str, Any]:
    """Resolve, move the watermark, note a full check, keep the summary; returns it as a dict.

    ``read_at``: when the run began reading IDENT (default ``started``); the watermark never
    passes it.
    """
    store = state.store
    read_at = read_at or started
    target = watermark_target(window, read_at) if window is not None else None
    if window is not None and window.source != "planned" and target != window.end:
        summary.extra["window_end_clamped"] = {
            "window_end": window.end.isoformat(),
            "watermark_at_most": None if target is None else target.isoformat()}
        log.info("the window ends at %s, after this run read IDENT (%s): the watermark moves "
                 "at most to the read time; later changes go to the next run", window.end,
                 read_at)
    if window is not None and window.unsynced_from is not None:
        summary.extra["unsynced"] = {"from": window.unsynced_from.isoformat(),
                                     "to": window.start.isoformat()}
        log.warning("changes between %s and %s were NOT synced: that gap is longer than "
                    "max_lookback_days; sync it with a backfill or a manual run with "
                    "date_from/date_to", window.unsynced_from, window.start)
    if not summary.dry_run:
        store.resolve(summary.pipeline, synced)
        # A queued record that transform now refuses (phone erased, patient deleted) leaves
        # the queue: it waits as an open rejection, not as a row due forever.
        summary.counts["queue_rejected"] += state.queue.rejected(
            summary.pipeline, summary.run_id,
            [(r.get("ident_id"), r.get("reception_id"), f"{r['reason']}: {r['detail']}")
             for r in summary.rejections])
        if window is not None:
            summary.extra["watermark_moved"] = (
                False if target is None else
                store.set_watermark(summary.pipeline, target, summary.run_id)
                if window.follows_watermark else
                store.advance_watermark(summary.pipeline, window.start, target,
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
