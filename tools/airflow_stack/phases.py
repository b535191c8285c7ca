"""Where a task's run time goes, read from its log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tools.airflow_stack.metadata import MetadataReader, TaskRow, _spread

#: Task log events (Airflow 3.3's task runner) that split start -> end into phases.
_PRE = "::group::Pre Execute"
_PARSED = "Worker startup parse complete"
_POST = "::group::Post Execute"
_DONE = "Done. Returned value"
PHASES = ("startup", "parse", "prepare", "body", "post", "report")


@dataclass
class TaskPhases:
    """One try's run split by its log: ``startup`` (start_date -> first log line: the task
    process begins), ``parse`` (bundle + DAG file), ``prepare`` (the rest of pre-execute:
    context, templates), ``body`` (the task's own code), ``post`` (XCom push), ``report``
    (last log line -> end_date: the state reaches the API server)."""

    task_id: str
    seconds: dict[str, float]
    body_start: datetime
    events: list[tuple[datetime, str, str]]  # (time, logger, event) of the body


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def task_phases(home: Path, rows: Sequence[TaskRow]) -> list[TaskPhases]:
    """The phases of every try in ``rows`` that has a log under ``home/logs``."""
    out = []
    for t in rows:
        if t.start is None or t.end is None:
            continue
        path = MetadataReader.task_log_path(home, t)
        try:
            lines = [json.loads(x) for x in path.read_text(errors="replace").splitlines()
                     if x.startswith("{")]
        except (OSError, ValueError):
            continue
        marks: dict[str, datetime] = {}
        body: list[tuple[datetime, str, str]] = []
        for ln in lines:
            ts, event = _parse_ts(ln["timestamp"]), str(ln.get("event", ""))
            marks.setdefault("first", ts)
            marks["last"] = ts
            if event == _PRE:
                marks.setdefault("pre", ts)
            elif event.startswith(_PARSED):
                marks.setdefault("parsed", ts)
            elif event == "::endgroup::" and "parsed" in marks and "body" not in marks:
                marks["body"] = ts
            elif event.startswith(_DONE) or event == _POST:
                marks.setdefault("done", ts)
            elif "body" in marks and "done" not in marks:
                body.append((ts, str(ln.get("logger", "")), event))
        if not {"first", "parsed", "body", "done"} <= marks.keys():
            continue
        cuts = [t.start, marks["first"], marks["parsed"], marks["body"], marks["done"],
                marks["last"], t.end]
        seconds = {name: max(0.0, (b - a).total_seconds())
                   for name, a, b in zip(PHASES, cuts, cuts[1:])}
        out.append(TaskPhases(t.task_id, seconds, marks["body"], body))
    return out


def phase_summary(phases: Sequence[TaskPhases]) -> dict[str, dict[str, float | int | None]]:
    """p50/p95/sum of each phase over ``phases``."""
    return {name: _spread([p.seconds[name] for p in phases]) for name in PHASES}


# -- the scenario: a generated clinic, backfilled day by day ---------------------------------
