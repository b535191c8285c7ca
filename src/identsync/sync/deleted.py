"""Receptions deleted in IDENT: find their still-open deals, then move or list them.

A reception deleted in IDENT never shows up in a window again, so its deal would stay open
forever. On its own schedule (``reconcile_schedule``, daily by default) each branch lists its
open deals on the portal (the IDENT id field starts with ``F<branch>_``, stage semantics
"in process", in any pipeline: a deal kept in its old pipeline after a branch move or a
``category_id`` change is still the branch's) and asks IDENT which of their receptions still
exist. The others are moved to ``deleted_stage`` of the deal's own pipeline with a timeline
comment (posted once, through the comment ledger), or, when no stage is configured, only
listed in the summary. The sync's stage rules hold here too: a deal in a protected stage
(a manager's) or in a configured final stage is listed, never moved. Nothing is ever deleted
in Bitrix24. Safe to repeat: a moved deal is no longer open, and a stage update sets a value,
so doing it twice changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from identsync.config import SyncConfig
from identsync.sync.comments import CommentItem, post_comments
from identsync.sync.plan import stage_in
from identsync.sync.ports import Ledger, Portal
from identsync.sync.summary import http_delta

log = logging.getLogger("identsync.sync")

DELETED_COMMENT = "Приём удалён в IDENT (ID {reception_id}): сделка закрыта автоматически."


def open_branch_deals(portal: Portal, cfg: SyncConfig, branch_id: int) -> list[dict[str, Any]]:
    """Open deals (any pipeline) whose IDENT id is ``F<branch>_<reception id>``."""
    field = cfg.ident_id_field
    pattern = re.compile(rf"^F{branch_id}_(\d+)$")
    rows = portal.list_all("crm.deal.list",
                           filter={f"%{field}": f"F{branch_id}_", "STAGE_SEMANTIC_ID": "P"},
                           select=["ID", "STAGE_ID", "CATEGORY_ID", field])
    out = []
    for row in rows:
        m = pattern.match(str(row.get(field) or ""))
        if m:
            out.append({"deal_id": int(row["ID"]), "ident_id": m.group(0),
                        "reception_id": int(m.group(1)), "stage_id": row.get("STAGE_ID"),
                        "category_id": int(row.get("CATEGORY_ID") or 0)})
    return out


def held_by_rules(deal: dict[str, Any], cfg: SyncConfig) -> str | None:
    """Why the sync's stage rules keep this deal where it is (None: it may be moved)."""
    cat, stage = deal["category_id"], str(deal["stage_id"] or "")
    if stage in {stage_in(cat, s) for s in cfg.protected_stages}:
        return "protected"
    if stage in {stage_in(cat, s) for s in cfg.final_stages}:
        return "final"
    return None


def reconcile_deleted(portal: Portal, ledger: Ledger, cfg: SyncConfig, branch_id: int,
                      existing: Callable[[list[int]], set[int]], *,
                      dry_run: bool = False) -> dict[str, Any]:
    """Find the deals of deleted receptions and (when configured) move them; returns a summary.

    ``existing`` answers which reception ids still exist in IDENT.
    """
    before = portal.stats.as_dict()
    deals = open_branch_deals(portal, cfg, branch_id)
    alive = existing([d["reception_id"] for d in deals])
    gone = [d for d in deals if d["reception_id"] not in alive]
    target = cfg.stage_code(cfg.deleted_stage) if cfg.deleted_stage else None
    moved, failed = 0, []
    kept = [{**d, "kept": why} for d in gone if (why := held_by_rules(d, cfg))]
    movable = [d for d in gone if not held_by_rules(d, cfg)]
    if gone:
        log.warning("%d open deals belong to receptions deleted in IDENT: %s", len(gone),
                    [d["ident_id"] for d in gone[:20]])
    if kept:
        log.warning("%d of them stay where they are (protected or final stage): %s",
                    len(kept), [d["ident_id"] for d in kept[:20]])
    if movable and target and not dry_run:
        # The deleted stage of each deal's own pipeline: the portal refuses or ignores a
        # stage of another pipeline.
        br = portal.batch({f"d{d['deal_id']}": ("crm.deal.update", {
            "id": d["deal_id"], "fields": {"STAGE_ID": stage_in(d["category_id"], target)},
            "params": {"REGISTER_SONET_EVENT": "N"}}) for d in movable})
        failed = [{"ident_id": d["ident_id"], "code": br.errors[f"d{d['deal_id']}"].code,
                   "description": br.errors[f"d{d['deal_id']}"].description}
                  for d in movable if f"d{d['deal_id']}" in br.errors]
        moved_deals = [d for d in movable if f"d{d['deal_id']}" not in br.errors]
        moved = len(moved_deals)
        post_comments(portal, ledger, [
            CommentItem(d["deal_id"], d["ident_id"],
                        DELETED_COMMENT.format(reception_id=d["reception_id"]))
            for d in moved_deals], settle_s=cfg.write_settle_seconds)
    return {"branch_id": branch_id, "open_deals": len(deals), "deleted": len(gone),
            "moved": moved, "kept_by_stage_rules": len(kept), "target_stage": target, "dry_run": dry_run, "failed": failed,
            "deals": gone[:500], "http": http_delta(before, portal.stats.as_dict())}
