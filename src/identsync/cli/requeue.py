"""`identsync requeue`: give dead records of the retry queue a fresh set of tries, due now.

By branch (``--branch 1``, repeatable), by record (``--record F1_123``, repeatable) or every
branch (``--all``). The next run of each branch picks them up.
"""

from __future__ import annotations

from typing import Any


def requeue(queue: Any, cfg: Any, *, branches: list[int] | None, records: list[str] | None,
            out: Any = print) -> int:
    """Requeue per branch; returns the number of records given new tries."""
    ids = sorted(set(records)) if records else None
    chosen = branches or [b.id for b in cfg.branches]
    total = 0
    for branch_id in chosen:
        cfg.branch(branch_id)  # an unknown branch is a ConfigError naming it
        pipeline = cfg.pipeline_id(branch_id)
        n = queue.requeue(pipeline, ids)
        total += n
        out(f"branch {branch_id} ({pipeline}): {n} dead record(s) queued again")
    if ids is not None and total < len(ids):
        out(f"{len(ids) - total} of the {len(ids)} named record(s) were not dead in these "
            "branches (already queued, recovered, or unknown)")
    return total
