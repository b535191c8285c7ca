"""The sync-health read model: what operators see per branch, as plain JSON-able dicts.

Three things happen here and nowhere else: the state queries (last runs, open rejections,
the retry queue, all through :class:`~identsync.state.SyncState`), phone masking (a patient's
phone never leaves this module whole: ``+7 999 ***-**-67``), and the links into Airflow's UI
(the run page, a task's log page). No Airflow import: the FastAPI app passes the UI's root
path and says which pipelines the user may read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol
from urllib.parse import quote

import phonenumbers
import psycopg2.errors
from phonenumbers import NumberParseException, PhoneNumberFormat

__all__ = [
    "Links", "mask_phone", "mask_text", "run_row", "rejection_groups", "queue_rows",
    "pipeline_health", "health_report",
]

MASK = "*"
TRANSFORM_TASK = "transform"  # where a run records its rejections
SUMMARY_TASK = "run_summary"  # where a run logs its summary
COUNT_KEYS = (
    "extracted", "records", "rejected", "chunks",
    "contacts_created", "contacts_updated", "contacts_unchanged", "contacts_failed",
    "deals_created", "deals_updated", "deals_unchanged", "deals_kept_closed",
    "deals_protected", "deals_failed",
    "comments_posted", "comments_skipped", "comments_reconciled", "comments_failed",
    "comments_would_post",
)

# A date or time is kept as it is; a run of digits and phone punctuation with enough digits
# is a phone. The date alternative comes first so "2026-11-21 06:00" is never a phone.
_DATE = (r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
         r"|\d{1,2}\.\d{1,2}\.\d{4}(?:,? \d{1,2}:\d{2}(?::\d{2})?)?|\d{1,2}:\d{2}(?::\d{2})?")
_PHONEISH = r"\+?\(?\d[\d\s().\-/]{4,}\d"
_TEXT_RE = re.compile(rf"(?<![\w])(?:(?P<date>{_DATE})|(?P<phone>{_PHONEISH}))(?![\w])")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")


# --- masking ---------------------------------------------------------------------------------

def _star_digits(text: str, keep_last: int = 2) -> str:
    """Every digit but the last ``keep_last`` becomes ``*``; punctuation and letters stay."""
    total = len(_DIGIT.findall(text))
    seen = 0
    out = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep_last else MASK)
        else:
            out.append(ch)
    return "".join(out)


def mask_phone(raw: str | None, region: str = "RU") -> str | None:
    """A phone as operators may see it: country and area code, then only the last two digits.

    ``+7 999 123-45-67`` -> ``+7 999 ***-**-67``. Whatever does not parse as a phone keeps
    its letters and punctuation but loses every digit except the last two.
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not _DIGIT.search(text):
        return text
    parsed = None
    if not _LETTER.search(text):  # phonenumbers reads letters as keypad digits: x -> 9
        try:
            parsed = phonenumbers.parse(text, region)
        except NumberParseException:
            pass
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        groups = phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL).split(" ")
        if len(groups) >= 3:  # "+7", "999", "123-45-67": hide all after the area code
            return " ".join(groups[:2] + [_star_digits(" ".join(groups[2:]))])
        return _star_digits(" ".join(groups))
    return _star_digits(text)


def _phone_in_text(match: re.Match[str], region: str) -> str:
    if match.group("date"):
        return match.group(0)
    found = match.group("phone")
    digits = len(_DIGIT.findall(found))
    # Ids are bare digit runs (reception 1234567); phones are longer or punctuated.
    punctuated = bool(re.search(r"[\s().\-/+]", found))
    if digits >= 10 or (digits >= 7 and punctuated):
        return mask_phone(found, region) or ""
    return found


def _shown_forms(raw: str) -> set[str]:
    """How a raw phone may appear inside a message (as typed, trimmed, or shortened)."""
    printable = "".join(ch if ch.isprintable() else " " for ch in raw).strip()
    forms = {raw, raw.strip(), printable, unicodedata.normalize("NFKC", printable)}
    if len(printable) > 40:  # identsync.sync.phones shortens long values for messages
        forms.add(printable[:40] + "…")
    # A bare "123" would also hit ids and counts; no phone has fewer than five digits.
    return {f for f in forms if len(_DIGIT.findall(f)) >= 5}


def mask_text(text: str | None, phones: Iterable[str | None] = (), region: str = "RU"
              ) -> str | None:
    """``text`` with the given phones (as typed in IDENT) and anything phone-like masked."""
    if text is None:
        return None
    out = str(text)
    for raw in phones:
        if not raw:
            continue
        masked = mask_phone(raw, region) or ""
        for form in sorted(_shown_forms(raw), key=len, reverse=True):
            out = out.replace(form, masked)
    return _TEXT_RE.sub(lambda m: _phone_in_text(m, region), out)


# --- links -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Links:
    """Paths into Airflow's own UI, under ``root`` (the path of ``[api] base_url``)."""

    root: str = "/"

    def _base(self) -> str:
        return self.root if self.root.endswith("/") else self.root + "/"

    def dag(self, dag_id: str) -> str:
        return f"{self._base()}dags/{quote(dag_id, safe='')}"

    def run(self, dag_id: str, run_id: str) -> str:
        # Run ids look like manual__2026-11-21T06:00:00+00:00; ':' and '+' may stay.
        return f"{self.dag(dag_id)}/runs/{quote(run_id, safe=':+@')}"

    def task_log(self, dag_id: str, run_id: str, task_id: str,
                 map_index: int | None = None) -> str:
        """The task instance page, which opens on its log."""
        url = f"{self.run(dag_id, run_id)}/tasks/{quote(task_id, safe='')}"
        if map_index is not None and map_index >= 0:
            url += f"/mapped/{int(map_index)}"
        return url


# --- rows ------------------------------------------------------------------------------------

class _Store(Protocol):
    def last_runs(self, pipeline: str, n: int = 10) -> list[dict[str, Any]]: ...
    def open_rejections(self, pipeline: str) -> list[dict[str, Any]]: ...


class _Queue(Protocol):
    def entries(self, pipeline: str, statuses: Any = ..., limit: int = ...
                ) -> list[dict[str, Any]]: ...


class StateReader(Protocol):
    """What the page reads of :class:`~identsync.state.SyncState`."""

    store: _Store
    queue: _Queue


def _ts(value: Any, tz: tzinfo | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if tz is not None and value.tzinfo is not None:
            value = value.astimezone(tz)
        return value.isoformat(timespec="seconds")
    return str(value)


def run_row(pipeline: str, run: Mapping[str, Any], links: Links, *,
            tz: tzinfo | None = None, region: str = "RU") -> dict[str, Any]:
    """One recorded run (``store.last_runs`` row) as the page shows it."""
    summary = run.get("summary") or {}
    counts = summary.get("counts") or {}
    http = summary.get("http") or {}
    window = summary.get("window") or {}
    run_id = str(run["run_id"])
    errors = [
        {"ident_id": e.get("ident_id"), "step": e.get("step"), "code": e.get("code"),
         "description": mask_text(e.get("description"), region=region)}
        for e in (summary.get("errors") or [])[:50]
    ]
    return {
        "run_id": run_id,
        "recorded_at": _ts(run.get("recorded_at"), tz),
        "dry_run": bool(summary.get("dry_run")),
        "window": {"start": _ts(window.get("start"), tz), "end": _ts(window.get("end"), tz),
                   "source": window.get("source")},
        "counts": {k: int(counts.get(k, 0) or 0) for k in COUNT_KEYS},
        "rejected_by_reason": dict(summary.get("rejected_by_reason") or {}),
        "http_requests": int(http.get("http_requests", 0) or 0),
        "commands": int(http.get("commands", 0) or 0),
        "retries": int(http.get("retries", 0) or 0),
        "limit_waits": int(http.get("limit_waits", 0) or 0),
        "elapsed_s": summary.get("elapsed_s"),
        "errors": errors,
        "error_count": len(summary.get("errors") or []),
        "notes": [mask_text(str(n), region=region) for n in (summary.get("notes") or [])[:20]],
        "run_url": links.run(pipeline, run_id),
        "log_url": links.task_log(pipeline, run_id, SUMMARY_TASK),
    }


def rejection_groups(pipeline: str, rejections: Iterable[Mapping[str, Any]], links: Links, *,
                     tz: tzinfo | None = None, region: str = "RU",
                     per_reason: int = 100) -> list[dict[str, Any]]:
    """Open rejections grouped by reason (largest group first), each record masked."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rejections:
        source = r.get("source") if isinstance(r.get("source"), Mapping) else {}
        raw_phone = source.get("mobile_phone")
        run_id = str(r.get("run_id") or "")
        groups.setdefault(str(r.get("reason") or "unknown"), []).append({
            "ident_id": r.get("ident_id"),
            "reception_id": r.get("reception_id"),
            "detail": mask_text(r.get("detail"), [raw_phone], region),
            "phone": mask_phone(raw_phone, region),
            "first_seen": _ts(r.get("first_seen"), tz),
            "last_seen": _ts(r.get("last_seen"), tz),
            "times_seen": r.get("times_seen"),
            "run_id": run_id or None,
            "run_url": links.run(pipeline, run_id) if run_id else None,
            "log_url": links.task_log(pipeline, run_id, TRANSFORM_TASK) if run_id else None,
        })
    out = [{"reason": reason, "count": len(rows), "records": rows[:per_reason],
            "more": max(0, len(rows) - per_reason)} for reason, rows in groups.items()]
    return sorted(out, key=lambda g: (-g["count"], g["reason"]))


def queue_rows(pipeline: str, entries: Iterable[Mapping[str, Any]], links: Links, *,
               tz: tzinfo | None = None, region: str = "RU") -> list[dict[str, Any]]:
    """Retry-queue entries (queued and dead) with their reason, tries and next try."""
    out = []
    for e in entries:
        run_id = str(e.get("run_id") or "")
        task_id = e.get("task_id")
        out.append({
            "ident_id": e.get("ident_id"),
            "reception_id": e.get("reception_id"),
            "status": e.get("status"),
            "step": e.get("step"),
            "code": e.get("code"),
            "description": mask_text(e.get("description"), region=region),
            "attempts": e.get("attempts"),
            "first_failed_at": _ts(e.get("first_failed_at"), tz),
            "last_failed_at": _ts(e.get("last_failed_at"), tz),
            "next_attempt_at": _ts(e.get("next_attempt_at"), tz),
            "run_id": run_id or None,
            "run_url": links.run(pipeline, run_id) if run_id else None,
            "log_url": (links.task_log(pipeline, run_id, str(task_id), e.get("map_index"))
                        if run_id and task_id else None),
        })
    return out


def _missing_table_is_empty(read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    # Before a pipeline's first run (or before an upgrade creates the queue table) there is
    # nothing to show, which is not an error. The page never creates tables itself.
    try:
        return read()
    except psycopg2.errors.UndefinedTable:
        return []


def pipeline_health(state: StateReader, pipeline: str, *, links: Links,
                    branch_id: int | None = None, branch_name: str | None = None,
                    tz: tzinfo | None = None, region: str = "RU", runs: int = 10,
                    per_reason: int = 100, queue_limit: int = 500) -> dict[str, Any]:
    """Everything the page shows for one pipeline (one branch's DAG)."""
    last = _missing_table_is_empty(lambda: state.store.last_runs(pipeline, runs))
    rejections = _missing_table_is_empty(lambda: state.store.open_rejections(pipeline))
    queue = _missing_table_is_empty(
        lambda: state.queue.entries(pipeline, ("queued", "dead"), queue_limit))
    q = queue_rows(pipeline, queue, links, tz=tz, region=region)
    return {
        "pipeline": pipeline,
        "branch_id": branch_id,
        "branch_name": branch_name,
        "dag_url": links.dag(pipeline),
        "runs": [run_row(pipeline, r, links, tz=tz, region=region) for r in last],
        "rejections": {
            "total": len(rejections),
            "by_reason": rejection_groups(pipeline, rejections, links, tz=tz, region=region,
                                          per_reason=per_reason),
        },
        "queue": {
            "queued": [e for e in q if e["status"] == "queued"],
            "dead": [e for e in q if e["status"] == "dead"],
        },
    }


class _Branch(Protocol):
    id: int
    name: str


class _Config(Protocol):
    branches: Any
    timezone: str
    default_region: str

    def pipeline_id(self, branch_id: int) -> str: ...


def health_report(cfg: _Config, state: StateReader, *, links: Links,
                  can_read: Callable[[str], bool] = lambda pipeline: True,
                  runs: int = 10, per_reason: int = 100) -> dict[str, Any]:
    """The page for every configured branch whose pipeline ``can_read`` allows."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(cfg.timezone)
    pipelines = []
    for branch in cfg.branches:
        pipeline = cfg.pipeline_id(branch.id)
        if not can_read(pipeline):
            continue
        pipelines.append(pipeline_health(
            state, pipeline, links=links, branch_id=branch.id, branch_name=branch.name, tz=tz,
            region=cfg.default_region, runs=runs, per_reason=per_reason))
    return {"timezone": cfg.timezone, "pipelines": pipelines}
