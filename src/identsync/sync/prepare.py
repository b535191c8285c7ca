"""Source rows of one branch -> records in chunks, plus rejections. Pure.

The DAG's ``transform`` task and the in-process engine both call :func:`prepare`; the
branch rules live here once:

* each branch has its own pipeline (DAG); a branch's run keeps only its own receptions;
* receptions of a branch missing from the configuration (or of no branch at all) would be
  synced by nobody, so the FIRST configured branch's pipeline extracts them too
  (:func:`orphan_scope`) and reports them as rejections with the reason to act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from identsync.config import SyncConfig
from identsync.records import Rejection, SourceReception, SyncRecord
from identsync.sync.chunking import make_chunks
from identsync.sync.transform import transform_all


class Prepared(NamedTuple):
    chunks: list[list[SyncRecord]]
    rejections: list[Rejection]
    unchanged: int = 0  # records skipped because nothing changed since they were written


def orphan_scope(cfg: SyncConfig, branch_id: int | None) -> list[int] | None:
    """Branch ids whose receptions the extract must NOT add as orphans, or None (add none).

    Only the first configured branch reports receptions no branch pipeline would see.
    """
    if branch_id is None or cfg.branches[0].id != branch_id:
        return None
    return [b.id for b in cfg.branches]


def split_foreign_branches(records: Iterable[SyncRecord], branch_id: int, cfg: SyncConfig
                           ) -> tuple[list[SyncRecord], list[Rejection]]:
    """Keep the branch's own records; those of unconfigured branches become rejections."""
    configured = {b.id for b in cfg.branches}
    keep: list[SyncRecord] = []
    rejected: list[Rejection] = []
    for r in records:
        if r.branch_id == branch_id:
            keep.append(r)
        elif r.branch_id not in configured:
            rejected.append(Rejection(
                reception_id=r.reception_id, ident_id=r.ident_id, reason="unconfigured_branch",
                detail=f"{r.ident_id}: IDENT branch {r.branch_id} is not in the configuration "
                       "(add it to branches to sync it)"))
    return keep, rejected


def prepare(rows: Iterable[SourceReception], cfg: SyncConfig, *,
            branch_id: int | None = None,
            unchanged: Callable[[Sequence[SyncRecord]], set[str]] | None = None) -> Prepared:
    """Transform, apply the branch rules (when ``branch_id`` is given) and chunk.

    ``unchanged`` names the records whose wanted state equals what was last written in full
    (see ``state.fingerprints``): they are left out of the chunks and only counted.
    """
    records, rejections = transform_all(rows, cfg)
    if branch_id is not None:
        records, foreign = split_foreign_branches(records, branch_id, cfg)
        rejections = rejections + foreign
    skipped = unchanged(records) if unchanged is not None and records else set()
    if skipped:
        records = [r for r in records if r.ident_id not in skipped]
    return Prepared(make_chunks(records, cfg.chunk_size), rejections, len(skipped))
