"""Records -> chunks for the Bitrix24 executor. Pure and deterministic.

Invariant: all records sharing a phone land in the same chunk, so two chunks never race to
create the same contact.

Rules:
* Records are grouped by phone; each group is sorted by ident id (numerically: F1_999 before
  F1_1000) and groups are ordered by their first ident id. Groups are packed greedily, in that
  order, into chunks of at most ``size`` records; a group that does not fit in the current
  chunk starts a new one. Each chunk is finally sorted by ident id.
* A group larger than ``size`` but at most ``MAX_CHUNK`` (50, the Bitrix24 batch limit) gets a
  chunk of its own, bigger than ``size``: it is never split.
* A group larger than ``MAX_CHUNK`` (one phone on more than 50 receptions in one run, e.g. a
  clinic phone typed for walk-ins) cannot fit one batch. It is split into consecutive chunks
  of ``MAX_CHUNK``; ``split_phones(chunks)`` names such phones. Chunks are meant to run in
  list order; those sharing a phone must never run concurrently (the later one then finds
  the contact the earlier one created).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from identsync.records import SyncRecord

MAX_CHUNK = 50

_IDENT = re.compile(r"^F(\d+)_(\d+)$")


def ident_sort_key(ident_id: str) -> tuple[int, int, str]:
    """F<branch>_<id> ordered numerically; anything else after, by text."""
    m = _IDENT.match(ident_id)
    if m:
        return (int(m.group(1)), int(m.group(2)), "")
    return (1 << 62, 0, ident_id)


def _key(r: SyncRecord) -> tuple[int, int, str]:
    return ident_sort_key(r.ident_id)


def make_chunks(records: Iterable[SyncRecord], size: int) -> list[list[SyncRecord]]:
    """Chunks of at most ``size`` records, one phone never split (see module docstring)."""
    if not isinstance(size, int) or not 1 <= size <= MAX_CHUNK:
        raise ValueError(f"chunk size must be an integer from 1 to {MAX_CHUNK}")
    groups: dict[str, list[SyncRecord]] = {}
    for r in records:
        groups.setdefault(r.phone, []).append(r)
    ordered = sorted((sorted(g, key=_key) for g in groups.values()), key=lambda g: _key(g[0]))

    chunks: list[list[SyncRecord]] = []
    current: list[SyncRecord] = []
    for group in ordered:
        if len(group) > size:
            if current:
                chunks.append(current)
                current = []
            for i in range(0, len(group), MAX_CHUNK):
                chunks.append(group[i:i + MAX_CHUNK])
            continue
        if len(current) + len(group) > size:
            chunks.append(current)
            current = []
        current.extend(group)
    if current:
        chunks.append(current)
    return [sorted(c, key=_key) for c in chunks]


def split_phones(chunks: Sequence[Sequence[SyncRecord]]) -> set[str]:
    """Phones present in more than one chunk (only groups above MAX_CHUNK records)."""
    seen: dict[str, int] = {}
    split: set[str] = set()
    for i, chunk in enumerate(chunks):
        for r in chunk:
            if seen.setdefault(r.phone, i) != i:
                split.add(r.phone)
    return split


def chunk_label(i: int, n: int, chunk: Sequence[SyncRecord]) -> str:
    """``chunk 3/12: F1_1001..F1_1050`` for the 0-based index ``i`` of ``n`` chunks."""
    if not chunk:
        return f"chunk {i + 1}/{n}: empty"
    ids = sorted((r.ident_id for r in chunk), key=ident_sort_key)
    span = ids[0] if len(ids) == 1 else f"{ids[0]}..{ids[-1]}"
    return f"chunk {i + 1}/{n}: {span}"
