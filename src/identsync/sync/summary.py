"""A run's summary: what each chunk step reported, added up once for the DAG and the engine.

The summary is a plain dict (XCom, the ``identsync_runs`` table, the health page); its
``counts`` always carry every key of :data:`SUMMARY_KEYS` so readers need no defaults.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from identsync.records import Rejection

SUMMARY_KEYS = (
    "extracted", "rejected", "records", "chunks", "unchanged_skipped", "superseded",
    "queue_retried", "queue_queued", "queue_recovered", "queue_dead", "queue_rejected",
    "contacts_created", "contacts_updated", "contacts_unchanged", "contacts_failed",
    "deals_created", "deals_updated", "deals_unchanged", "deals_kept_closed",
    "deals_protected", "deals_failed",
    "comments_posted", "comments_skipped", "comments_reconciled", "comments_failed",
    "comments_would_post",
)
MAX_LISTED = 200  # errors, notes and rejections kept in full in one summary


def http_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What a client did between two ``stats.as_dict()`` snapshots (``by_method`` left out)."""
    out: dict[str, Any] = {}
    for k, v in after.items():
        if isinstance(v, dict):
            continue
        d = v - before.get(k, 0)
        out[k] = round(d, 3) if isinstance(d, float) else d
    return out


@dataclass
class RunSummary:
    pipeline: str
    run_id: str
    window: dict[str, str] | None = None
    dry_run: bool = False
    counts: Counter = field(default_factory=Counter)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    http: Counter = field(default_factory=Counter)
    elapsed_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. watermark_moved

    def prepared(self, extracted: int, chunks: Iterable[int],
                 rejections: Iterable[Rejection | Mapping[str, Any]], *, unchanged: int = 0,
                 retried: int = 0, superseded: int = 0) -> None:
        """What extract and transform produced: rows, records, chunks, rejections, records
        skipped as unchanged or as superseded (a newer run wrote them: this is a cleared
        older run), and records the retry queue brought back."""
        sizes = list(chunks)
        rej = [r.to_dict() if isinstance(r, Rejection) else dict(r) for r in rejections]
        self.counts["extracted"] += extracted
        self.counts["chunks"] += len(sizes)
        self.counts["records"] += sum(sizes)
        self.counts["rejected"] += len(rej)
        self.counts["unchanged_skipped"] += unchanged
        self.counts["superseded"] += superseded
        self.counts["queue_retried"] += retried
        self.rejections.extend(rej)

    def add_step(self, step: Mapping[str, Any]) -> None:
        """Add one chunk step's result (any of look_up, upsert, comment, as dicts)."""
        self.counts.update({k: int(v) for k, v in (step.get("counts") or {}).items()})
        self.errors.extend(step.get("errors") or ())
        self.notes.extend(step.get("notes") or ())
        self.http.update(step.get("http") or {})

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r["reason"] for r in self.rejections).items()))

    def to_dict(self) -> dict[str, Any]:
        counts = {k: int(self.counts.get(k, 0)) for k in SUMMARY_KEYS}
        counts.update({k: int(v) for k, v in self.counts.items() if k not in counts})
        return {
            "dag_id": self.pipeline, "run_id": self.run_id, "dry_run": self.dry_run,
            "window": self.window, "counts": counts,
            "rejected_by_reason": self.rejected_by_reason,
            "rejections": self.rejections[:MAX_LISTED], "errors": self.errors[:MAX_LISTED],
            "notes": self.notes[:MAX_LISTED],
            "http": {k: round(v, 3) if isinstance(v, float) else v
                     for k, v in self.http.items()},
            "elapsed_s": None if self.elapsed_s is None else round(self.elapsed_s, 1),
            **self.extra,
        }


def format_summary(summary: Mapping[str, Any]) -> str:
    """The run summary as the task log and the demo print it."""
    c = summary["counts"]
    h = summary.get("http", {})
    w = summary.get("window") or {}
    lines = [
        f"{'DRY RUN - nothing written. ' if summary.get('dry_run') else ''}"
        f"window {w.get('start', '-')} .. {w.get('end', '-')} ({w.get('source', '-')})",
        f"receptions  extracted {c['extracted']}, rejected {c['rejected']}, unchanged "
        f"{c['unchanged_skipped']}, synced {c['records']} in {c['chunks']} chunks",
        f"contacts    created {c['contacts_created']}, updated {c['contacts_updated']}, "
        f"unchanged {c['contacts_unchanged']}, failed {c['contacts_failed']}",
        f"deals       created {c['deals_created']}, updated {c['deals_updated']}, "
        f"unchanged {c['deals_unchanged']}, kept closed {c['deals_kept_closed']}, "
        f"protected {c['deals_protected']}, failed {c['deals_failed']}",
        f"comments    posted {c['comments_posted']}, skipped {c['comments_skipped']}, "
        f"reconciled {c['comments_reconciled']}, failed {c['comments_failed']}"
        + (f", would post {c['comments_would_post']}" if summary.get("dry_run") else ""),
        f"retry queue retried {c['queue_retried']}, recovered {c['queue_recovered']}, "
        f"queued {c['queue_queued']}, dead {c['queue_dead']}, rejected {c['queue_rejected']}",
        f"bitrix24    {h.get('http_requests', 0)} HTTP requests, {h.get('commands', 0)} "
        f"commands, {h.get('limit_waits', 0)} limit waits ({h.get('wait_seconds', 0)} s), "
        f"{h.get('retries', 0)} retries",
    ]
    if summary.get("unsynced"):
        u = summary["unsynced"]
        lines.append(f"NOT SYNCED  {u['from']} .. {u['to']} (longer than max_lookback_days: "
                     "backfill it)")
    if summary.get("window_end_clamped"):
        c_ = summary["window_end_clamped"]
        lines.append(f"CLAMPED     the window ends {c_['window_end']}, after IDENT was read: "
                     f"watermark at most {c_['watermark_at_most'] or '(not moved)'}")
    if summary.get("planned_not_in_window"):
        lines.append(f"NOT IN WINDOW {summary['planned_not_in_window']} receptions planned in "
                     "this range were not changed in it: load them with plan_from/plan_to")
    if summary.get("planned"):
        p_ = summary["planned"]
        lines.append(f"PLANNED     receptions planned {p_['from']} .. {p_['to']} (clinic time), "
                     "whatever their change time; the watermark is not moved")
    if c.get("deals_kept_in_pipeline"):
        lines.append(f"PIPELINE    {c['deals_kept_in_pipeline']} deals are in another pipeline "
                     "than their branch's; the portal's API cannot move them: kept there and "
                     "updated (the notes name them)")
    if c.get("comments_adopted_from_old_script"):
        lines.append(f"OLD SCRIPT  {c['comments_adopted_from_old_script']} adopted deals already "
                     "showed their reception: no new comment (the old script's last one stands)")
    if c.get("superseded"):
        lines.append(f"SUPERSEDED  {c['superseded']} records were written by a run that read IDENT "
                     "later: left as they are (an older run's task was cleared)")
    if summary.get("rejected_by_reason"):
        lines.append(f"rejected    {summary['rejected_by_reason']}")
    if summary.get("elapsed_s") is not None:
        lines.append(f"elapsed     {summary['elapsed_s']} s")
    return "\n".join(lines)
