"""Records -> chunks for the Bitrix24 executor. Pure and deterministic.

Invariant: all records sharing a phone land in the same chunk, so two chunks never race to
create the same contact.

Rules:
* Records are grouped by phone; each group is sorted by ident id (numerically: F1_999 before
  F1_1000) and groups are ordered by their first ident id. Groups are packed in that order
  into chunks of at most ``size`` records, each into the first chunk with room for all of it
  (a new chunk if none has). Each chunk is finally sorted by ident id.
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
    room: list[int] = []  # places left in each chunk; 0 for one that takes nothing more
    for group in ordered:
        if len(group) > size:
            for i in range(0, len(group), MAX_CHUNK):
                chunks.append(group[i:i + MAX_CHUNK])
                room.append(0)
            continue
        # First fit: starting a new chunk whenever the last one was too small left one chunk
        # in ten part-empty (110 chunks for the benchmark's 5,000 receptions, 100 this way),
        # and every chunk costs three task instances.
        for i, free in enumerate(room):
            if free >= len(group):
                chunks[i].extend(group)
                room[i] -= len(group)
                break
        else:
            chunks.append(list(group))
            room.append(size - len(group))
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
