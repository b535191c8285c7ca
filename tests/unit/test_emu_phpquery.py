"""PHP parse_str / casts / json_encode shapes used by the emulator."""

from __future__ import annotations

import pytest

from b24emu.phpjson import dumps, php_json
from b24emu.phpquery import from_json, parse_str, php_bool, php_int, php_list


def test_nested_keys_build_arrays() -> None:
    assert parse_str("a[b][0][c]=1&a[b][0][d]=2") == {"a": {"b": {"0": {"c": "1", "d": "2"}}}}


def test_empty_brackets_append_after_largest_int_key() -> None:
    assert parse_str("a[]=x&a[]=y") == {"a": {"0": "x", "1": "y"}}
    assert parse_str("a[5]=x&a[]=y&a[k]=z&a[]=w") == {"a": {"5": "x", "6": "y", "k": "z",
                                                           "7": "w"}}


def test_last_value_wins_and_scalar_is_replaced_by_array() -> None:
    assert parse_str("a=1&a=2") == {"a": "2"}
    assert parse_str("a=1&a[x]=2") == {"a": {"x": "2"}}
    assert parse_str("a[x]=2&a=1") == {"a": "1"}


def test_plus_is_space_and_percent_2b_is_plus() -> None:
    assert parse_str("p=%2B7+999") == {"p": "+7 999"}


def test_php_name_mangling_and_odd_keys() -> None:
    assert parse_str("a.b=1&c d=2") == {"a_b": "1", "c_d": "2"}
    assert parse_str("z[=1") == {"z_": "1"}
    assert parse_str("[x]=1&=2&&k") == {"k": ""}
    assert parse_str("a[b]c=1") == {"a": {"b": "1"}}


def test_encoded_brackets_in_keys_still_nest() -> None:
    assert parse_str("fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B7") == {
        "fields": {"PHONE": {"0": {"VALUE": "+7"}}}}


@pytest.mark.parametrize(("value", "expected"), [
    ("false", True), ("0", False), ("", False), ("1", True), (0, False), (1, True),
    (None, False), (True, True), ("N", True), ({}, False), ({"0": "a"}, True),
])
def test_php_bool(value: object, expected: bool) -> None:
    assert php_bool(value) is expected


def test_php_int_and_list() -> None:
    assert php_int("12abc") == 12 and php_int("abc") == 0 and php_int(" 7") == 7
    assert php_list({"0": "a", "1": "b"}) == ["a", "b"] and php_list("x") == ["x"]
    assert php_list(None) == []


def test_from_json_turns_lists_into_php_arrays() -> None:
    assert from_json({"select": ["ID", "PHONE"], "n": 1}) == {
        "select": {"0": "ID", "1": "PHONE"}, "n": 1}


def test_php_json_quirks() -> None:
    assert php_json({}) == []
    assert php_json({"0": "a", "1": "b"}) == ["a", "b"]
    assert php_json({"1": "a", "0": "b"}) == {"1": "a", "0": "b"}  # not in 0..n-1 order
    assert php_json({"2": [], "x": {}}) == {"2": [], "x": []}
    assert dumps({"r": {"0": {"error": ""}}, "t": "Ё"}) == '{"r":[{"error":""}],"t":"Ё"}'.encode()
