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


# -- reference groups larger than one request, literal text (issues 18.1 and 20.7) -----------

from identsync.bitrix24.batch import (  # noqa: E402
    BatchResult,
    Ref,
    plan_requests,
    portal_would_rewrite,
    prepare_commands,
    render,
)
from identsync.errors import CommandError  # noqa: E402


def new_patient(n_deals: int) -> dict[str, tuple]:
    cmds: dict[str, tuple] = {"c0": ("crm.contact.add", {"fields": {"NAME": "P"}})}
    cmds.update({f"d{i}": ("crm.deal.add", {"fields": {"CONTACT_ID": Ref("c0")}})
                 for i in range(n_deals)})
    return cmds


def test_a_contact_with_200_deals_is_planned_contact_first_in_five_requests() -> None:
    reqs = plan_requests(prepare_commands(new_patient(200)))
    assert [len(r.keys) for r in reqs] == [50, 50, 50, 50, 1]
    assert reqs[0].keys[0] == "c0" and not any(r.plain for r in reqs)
    assert [k for r in reqs for k in r.keys] == ["c0", *(f"d{i}" for i in range(200))]


def test_a_group_that_fits_travels_whole_as_before() -> None:
    cmds = {f"x{i}": ("crm.deal.get", {"id": i}) for i in range(45)}
    cmds.update(new_patient(9))  # 10 commands: does not fit after 45, starts a new request
    reqs = plan_requests(prepare_commands(cmds))
    assert [len(r.keys) for r in reqs] == [45, 10]


def test_render_leaves_same_request_references_to_the_portal_and_fills_in_earlier_ones() -> None:
    p = prepare_commands({"dup": ("crm.duplicate.findbycomm", {}),
                          "l": ("crm.contact.list", {"filter": {"@ID": Ref("dup", "CONTACT")},
                                                     "n": Ref("dup", kind="next")})})["l"]
    assert render(p, {"dup"}, BatchResult()) == (
        "crm.contact.list", {"filter": {"@ID": "$result[dup][CONTACT]"}, "n": "$next[dup]"})
    done = BatchResult(results={"dup": {"CONTACT": [5, 9]}}, nexts={"dup": 50})
    # exactly what the portal substitutes for a whole value: the raw value, arrays included
    assert render(p, set(), done) == ("crm.contact.list",
                                      {"filter": {"@ID": [5, 9]}, "n": 50})
    failed = BatchResult(errors={"dup": CommandError("dup", "ERROR_CORE", "refused")})
    err = render(p, set(), failed)
    assert isinstance(err, CommandError) and err.code == "REFERENCE_FAILED"
    assert "$result[dup][CONTACT]" in err.description and "refused" in err.description


@pytest.mark.parametrize("text", ["see $result[c0]", "$time[c0][start]", "$next[", "$total[x]",
                                  "a $error[c0] b", "$Result[c0]", "%$result[c0]%"])
def test_text_the_portal_would_rewrite_is_sent_as_a_plain_call(text: str) -> None:
    cmds = new_patient(3)
    cmds["d1"] = ("crm.deal.add", {"fields": {"CONTACT_ID": Ref("c0"),
                                              "COMMENTS": {"0": ["x", text]}}})
    prepared = prepare_commands(cmds)
    assert prepared["d1"].literal and not prepared["d0"].literal
    reqs = plan_requests(prepared)
    assert [(r.keys, r.plain) for r in reqs] == [(("c0", "d0", "d2"), False), (("d1",), True)]


@pytest.mark.parametrize("text", ["$ result[c0]", "result[c0]", "$results", "100$", None, 5])
def test_ordinary_values_stay_in_the_batch(text: object) -> None:
    assert not portal_would_rewrite({"fields": {"TITLE": text}})


def test_a_command_using_a_plain_call_waits_for_it() -> None:
    cmds = {"c0": ("crm.contact.add", {"fields": {"NAME": "$result[c0]"}}),
            "d0": ("crm.deal.add", {"fields": {"CONTACT_ID": Ref("c0")}}),
            "x": ("crm.deal.get", {"id": 1})}
    reqs = plan_requests(prepare_commands(cmds))
    assert [(r.keys, r.plain) for r in reqs] == [(("c0",), True), (("d0", "x"), False)]


def test_bad_references_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="not another command"):
        prepare_commands({"d": ("crm.deal.add", {"fields": {"CONTACT_ID": Ref("nope")}})})
    with pytest.raises(ValueError, match="cycle"):
        plan_requests(prepare_commands({"a": ("x.get", {"id": Ref("b")}),
                                        "b": ("x.get", {"id": Ref("a")})}))
    with pytest.raises(ValueError):
        Ref("c0", "a]b")


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 220).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2 * n),
    st.sets(st.integers(0, n - 1), max_size=5))))
def test_any_reference_graph_is_planned_in_dependency_order(case: tuple) -> None:
    n, edges, literal = case
    deps: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in edges:
        if a != b:
            deps[max(a, b)].add(min(a, b))
    cmds = {f"k{i}": ("crm.deal.add", {"fields": {
        "TITLE": "see $result[k0]" if i in literal else "t",
        **{f"R{j}": Ref(f"k{j}") for j in sorted(deps[i])}}}) for i in range(n)}
    reqs = plan_requests(prepare_commands(cmds))
    keys = [k for r in reqs for k in r.keys]
    assert sorted(keys) == sorted(cmds) and len(keys) == n
    assert all(1 <= len(r.keys) <= 50 for r in reqs)
    assert all(len(r.keys) == 1 for r in reqs if r.plain)
    assert {r.keys[0] for r in reqs if r.plain} == {f"k{i}" for i in literal}
    where = {k: (i, r.keys.index(k)) for i, r in enumerate(reqs) for k in r.keys}
    for i, targets in deps.items():
        for j in targets:  # used earlier in the same request, or in an earlier request
            assert where[f"k{j}"] < where[f"k{i}"]


def test_a_string_shaped_like_a_reference_is_text_and_says_so(caplog) -> None:
    cmds = new_patient(1)
    cmds["d0"] = ("crm.deal.add", {"fields": {"CONTACT_ID": "$result[c0]"}})
    with caplog.at_level("WARNING", logger="identsync.bitrix24"):
        prepared = prepare_commands(cmds)
    assert prepared["d0"].literal and prepared["d0"].refs == ()
    assert "pass Ref(...)" in caplog.text and "$result" not in caplog.text
