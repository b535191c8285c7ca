"""Chunking: bounded chunks, one phone never in two chunks, deterministic, nothing lost."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identsync.records import SyncRecord
from identsync.sync.chunking import (
    MAX_CHUNK,
    chunk_label,
    ident_sort_key,
    make_chunks,
    split_phones,
)


def rec(rid: int, phone: str, branch: int = 1) -> SyncRecord:
    return SyncRecord(
        ident_id=f"F{branch}_{rid}", reception_id=rid, branch_id=branch, phone=phone,
        name="Анна", last_name="Иванова", second_name="", contact_fields={}, deal_fields={},
        stage_id="NEW", status="planned", comment="",
    )


def phones_per_chunk(chunks):
    return [{r.phone for r in c} for c in chunks]


@settings(max_examples=300, deadline=None)
@given(
    groups=st.lists(st.integers(1, 60), min_size=0, max_size=40),
    size=st.integers(1, MAX_CHUNK),
    seed=st.integers(0, 1000),
)
def test_invariants(groups: list[int], size: int, seed: int) -> None:
    records, rid = [], 1
    for g, count in enumerate(groups):
        for _ in range(count):
            records.append(rec(rid, f"+7916{g:07d}", branch=1 + rid % 2))
            rid += 1
    shuffled = records[:]
    random.Random(seed).shuffle(shuffled)
    chunks = make_chunks(shuffled, size)

    # all records kept, exactly once
    flat = [r for c in chunks for r in c]
    assert sorted(r.ident_id for r in flat) == sorted(r.ident_id for r in records)
    assert all(chunks)
    # bounded: a chunk is within size unless it holds one phone group alone
    for c in chunks:
        assert len(c) <= MAX_CHUNK
        assert len(c) <= size or len({r.phone for r in c}) == 1
    # a phone never spans chunks unless its group cannot fit one batch
    big = {f"+7916{g:07d}" for g, n in enumerate(groups) if n > MAX_CHUNK}
    assert split_phones(chunks) == big
    # deterministic regardless of input order
    assert make_chunks(records, size) == chunks
    # each chunk sorted by ident id
    for c in chunks:
        assert [ident_sort_key(r.ident_id) for r in c] == sorted(
            ident_sort_key(r.ident_id) for r in c)


def test_family_sharing_a_phone_stays_together() -> None:
    records = [rec(i, "+79160000001" if i in (3, 17, 42) else f"+7916{i:07d}")
               for i in range(1, 60)]
    chunks = make_chunks(records, 10)
    holding = [i for i, c in enumerate(chunks) if any(r.phone == "+79160000001" for r in c)]
    assert len(holding) == 1
    assert {r.reception_id for r in chunks[holding[0]]} >= {3, 17, 42}
    assert all(len(c) <= 10 for c in chunks)


def test_group_larger_than_size_gets_its_own_chunk() -> None:
    family = [rec(i, "+79160000001") for i in range(1, 8)]
    others = [rec(i, f"+7916{i:07d}") for i in range(100, 110)]
    chunks = make_chunks(family + others, 5)
    fam_chunks = [c for c in chunks if c[0].phone == "+79160000001"]
    assert len(fam_chunks) == 1 and len(fam_chunks[0]) == 7
    assert all(len(c) <= 5 for c in chunks if c is not fam_chunks[0])


def test_group_over_fifty_is_split_in_order_and_reported() -> None:
    records = [rec(i, "+74950000000") for i in range(1, 121)]
    chunks = make_chunks(records, 50)
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert chunks[0][0].ident_id == "F1_1" and chunks[2][-1].ident_id == "F1_120"
    assert split_phones(chunks) == {"+74950000000"}


def test_a_group_fills_an_earlier_chunk_that_has_room() -> None:
    # Families of 30, 30, 20, 20 records: two full chunks, not three.
    sizes = [30, 30, 20, 20]
    records, rid = [], 1
    for g, n in enumerate(sizes):
        records += [rec(rid + k, f"+7916{g:07d}") for k in range(n)]
        rid += n
    chunks = make_chunks(records, 50)
    assert [len(c) for c in chunks] == [50, 50]
    assert [sorted({r.phone for r in c}) for c in chunks] == [
        ["+79160000000", "+79160000002"], ["+79160000001", "+79160000003"]]


def test_a_split_groups_last_chunk_takes_no_other_phone() -> None:
    records = [rec(i, "+74950000000") for i in range(1, 61)] + [rec(100, "+74950000001")]
    chunks = make_chunks(records, 50)
    assert [len(c) for c in chunks] == [50, 10, 1]


def test_numeric_ident_order() -> None:
    chunks = make_chunks([rec(1000, "+1"), rec(999, "+2"), rec(5, "+3", branch=2)], 50)
    assert [r.ident_id for r in chunks[0]] == ["F1_999", "F1_1000", "F2_5"]


@pytest.mark.parametrize("size", [0, 51, -1])
def test_size_is_validated(size: int) -> None:
    with pytest.raises(ValueError):
        make_chunks([rec(1, "+1")], size)


def test_empty_input() -> None:
    assert make_chunks([], 10) == []


def test_chunk_label() -> None:
    chunk = [rec(1050, "+1"), rec(1001, "+2"), rec(1020, "+3")]
    assert chunk_label(2, 12, chunk) == "chunk 3/12: F1_1001..F1_1050"
    assert chunk_label(0, 1, [rec(7, "+1")]) == "chunk 1/1: F1_7"
