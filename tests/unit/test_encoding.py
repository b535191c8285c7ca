"""PHP http_build_query compatibility, checked against the emulator's PHP parse_str."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b24emu.phpquery import parse_str
from identsync.bitrix24.encoding import encode_command, encode_params, scalar_text


def php_view(value: Any) -> Any:
    """What PHP holds after parse_str(http_build_query(value)); _ABSENT when dropped."""
    if value is None:
        return _ABSENT
    if isinstance(value, dict):
        out = {str(k): php_view(v) for k, v in value.items()}
        out = {k: v for k, v in out.items() if v is not _ABSENT}
        return out or _ABSENT  # PHP writes nothing for an empty array
    if isinstance(value, (list, tuple)):
        return php_view({i: v for i, v in enumerate(value)})
    return scalar_text(value)


_ABSENT = object()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=("Cs",))),
)
# Nested keys: anything PHP can read back (no brackets, not empty).
nested_keys = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="[]"), min_size=1)
# Top-level names: PHP rewrites ' ' and '.' to '_' there, so real parameter names avoid them.
top_keys = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_>=<!@%]{0,12}\Z")

values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        # Keys distinct as text: PHP has one key for 1 and "1", Python two.
        st.dictionaries(st.one_of(nested_keys, st.integers(0, 99)), inner, max_size=4)
        .filter(lambda d: len({str(k) for k in d}) == len(d)),
    ),
    max_leaves=20,
)
params_st = st.dictionaries(top_keys, values, max_size=5)


@settings(max_examples=200, deadline=None)
@given(params_st)
def test_round_trip_through_php_parse_str(params: dict[str, Any]) -> None:
    expected = php_view(params)
    assert parse_str(encode_params(params)) == ({} if expected is _ABSENT else expected)


@settings(max_examples=100, deadline=None)
@given(params_st, st.sampled_from(["crm.contact.add", "crm.deal.list", "crm.duplicate.findbycomm"]))
def test_batch_command_survives_both_parse_layers(params: dict[str, Any], method: str) -> None:
    # The batch body is parsed once; each command again with parse_url + parse_str.
    outer = parse_str(encode_params({"halt": 0, "cmd": {"k1": encode_command(method, params)}}))
    got_method, _, query = outer["cmd"]["k1"].partition("?")
    expected = php_view(params)
    assert got_method == method
    assert parse_str(query) == ({} if expected is _ABSENT else expected)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_reads_back_as_the_same_number(x: float) -> None:
    assert float(scalar_text(x)) == x


def test_plus_travels_as_percent_2b_and_space_as_plus() -> None:
    assert encode_params({"v": "+7 999"}) == "v=%2B7+999"
    assert parse_str(encode_params({"v": "+7 999"})) == {"v": "+7 999"}


def test_nested_phone_multifield_matches_php() -> None:
    q = encode_params({"fields": {"PHONE": [{"VALUE": "+79991234567", "VALUE_TYPE": "WORK"}]}})
    assert q == (
        "fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B79991234567"
        "&fields%5BPHONE%5D%5B0%5D%5BVALUE_TYPE%5D=WORK"
    )


def test_php_scalar_casts() -> None:
    assert encode_params({"a": True, "b": False, "c": 2.0, "d": 0.1, "e": Decimal("1.50")}) == (
        "a=1&b=0&c=2&d=0.1&e=1.50"
    )
    assert encode_params({"d": date(2026, 1, 2), "t": datetime(2026, 1, 2, 3, 4)}) == (
        "d=2026-01-02&t=2026-01-02T03%3A04%3A00"
    )


def test_none_and_empty_containers_are_dropped_like_php() -> None:
    assert encode_params({"a": None, "b": [], "c": {}, "d": {"x": None}, "e": "1"}) == "e=1"
    # A None inside a list keeps the other indexes (PHP numbers them before dropping).
    assert parse_str(encode_params({"ids": [1, None, 3]})) == {"ids": {"0": "1", "2": "3"}}


def test_unicode_is_utf8_percent_encoded() -> None:
    assert encode_params({"NAME": "Иван"}) == "NAME=%D0%98%D0%B2%D0%B0%D0%BD"


@pytest.mark.parametrize("bad", [{"": 1}, {"a[b]": 1}, {"f": {"": 1}}, {"f": {"x]": 1}}])
def test_keys_php_cannot_read_back_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        encode_params(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object()])
def test_unencodable_values_are_refused(bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        encode_params({"a": bad})


def test_command_needs_a_method_name() -> None:
    assert encode_command("crm.deal.get", {"id": 5}) == "crm.deal.get?id=5"
    with pytest.raises(ValueError):
        encode_command("", {})
