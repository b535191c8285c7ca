"""Splitting batches into requests of <= 50 without separating referenced commands."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identsync.bitrix24.batch import build_commands, find_references, split_commands
from identsync.bitrix24.encoding import encode_command


def contact_then_deal(n: int, interleaved: bool) -> dict[str, str]:
    contacts = {f"c{i}": ("crm.contact.add", {"fields": {"NAME": f"n{i}"}}) for i in range(n)}
    deals = {
        f"d{i}": ("crm.deal.add", {"fields": {"TITLE": "t", "CONTACT_ID": f"$result[c{i}]"}})
        for i in range(n)
    }
    if interleaved:
        cmds = {}
        for i in range(n):
            cmds[f"c{i}"], cmds[f"d{i}"] = contacts[f"c{i}"], deals[f"d{i}"]
    else:
        cmds = {**contacts, **deals}
    return build_commands(cmds)


def test_fifty_or_fewer_go_in_one_request_unchanged() -> None:
    cmds = contact_then_deal(25, interleaved=False)
    assert split_commands(cmds) == [cmds]
    assert split_commands({}) == []


@pytest.mark.parametrize("interleaved", [True, False])
def test_sixty_commands_keep_each_deal_with_its_contact(interleaved: bool) -> None:
    cmds = contact_then_deal(30, interleaved)
    parts = split_commands(cmds)
    assert [len(p) for p in parts] == [50, 10]
    where = {k: i for i, p in enumerate(parts) for k in p}
    assert sorted(where) == sorted(cmds)
    for i in range(30):
        assert where[f"c{i}"] == where[f"d{i}"]
    order = list(cmds)
    for p in parts:  # caller's order kept inside each request: contact before its deal
        assert list(p) == sorted(p, key=order.index)
    if not interleaved:
        assert list(parts[0]) == [f"c{i}" for i in range(25)] + [f"d{i}" for i in range(25)]


def test_every_reference_kind_and_transitive_chains_group_together() -> None:
    cmds = {f"x{i}": "crm.deal.list?start=0" for i in range(49)}
    cmds.update(
        {
            "a": "crm.deal.list?filter%5B%3EID%5D=0",
            "b": encode_command("crm.deal.list", {"start": "$next[a]"}),
            "c": encode_command("crm.deal.get", {"id": "$total[b]"}),
            "d": encode_command("crm.deal.get", {"id": "$error[c]", "x": "$time[c][start]"}),
        }
    )
    parts = split_commands(cmds)
    assert [len(p) for p in parts] == [49, 4]
    assert list(parts[1]) == ["a", "b", "c", "d"]


def test_references_inside_longer_strings_and_raw_query_strings_count() -> None:
    raw = "crm.deal.add?fields%5BTITLE%5D=deal+for+%24result%5Bc1%5D%5BNAME%5D"
    assert find_references(raw) == {"c1"}
    assert find_references("crm.deal.get?id=$result[k_2]") == {"k_2"}
    assert find_references("crm.deal.get?id=5") == set()


def test_a_group_larger_than_fifty_is_refused() -> None:
    cmds = {"k0": "crm.contact.list?start=0"}
    cmds.update({f"k{i}": f"crm.deal.get?id=$result[k{i - 1}]" for i in range(1, 51)})
    with pytest.raises(ValueError, match="51 batch commands reference each other"):
        split_commands(cmds)


def test_unknown_references_do_not_block_splitting() -> None:
    cmds = {f"k{i}": "crm.deal.get?id=$result[nowhere]" for i in range(60)}
    assert [len(p) for p in split_commands(cmds)] == [50, 10]


@pytest.mark.parametrize("key", ["0", "12", "-3", 7, "", "a b", "x[1]", "a&b"])
def test_keys_that_php_would_rewrite_or_that_break_references_are_refused(key: object) -> None:
    with pytest.raises(ValueError):
        build_commands({key: "profile?"})  # type: ignore[dict-item]


def test_integer_key_error_suggests_a_name() -> None:
    with pytest.raises(ValueError, match="'c5'"):
        build_commands({"5": ("crm.deal.get", {"id": 5})})


def test_nested_batch_and_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        build_commands({"b": ("batch", {})})
    with pytest.raises(TypeError):
        build_commands({"b": ["crm.deal.get", {}]})  # type: ignore[dict-item]
    assert build_commands({"01": "profile?"}) == {"01": "profile?"}  # PHP keeps "01" a string


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 160).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=n),
        )
    )
)
def test_split_invariants_hold_for_random_reference_graphs(case: tuple[int, list]) -> None:
    n, edges = case
    refs: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in edges:
        if a < 25 or b < 25:  # keep most groups small so the fit is usually possible
            refs[max(a, b)].add(min(a, b))
    cmds = {
        f"k{i}": "crm.deal.get?" + "&".join(f"r{j}=%24result%5Bk{j}%5D" for j in sorted(refs[i]))
        for i in range(n)
    }
    try:
        parts = split_commands(cmds)
    except ValueError:
        return  # a connected group over 50: refused, never split
    keys = [k for p in parts for k in p]
    assert sorted(keys) == sorted(cmds) and len(keys) == n
    assert all(1 <= len(p) <= 50 for p in parts)
    where = {k: i for i, p in enumerate(parts) for k in p}
    for i, targets in refs.items():
        for j in targets:
            assert where[f"k{i}"] == where[f"k{j}"]
    order = list(cmds)
    for p in parts:
        assert list(p) == sorted(p, key=order.index)
