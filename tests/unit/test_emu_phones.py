"""findbycomm phone normalisation (bitrix24-wire.md)."""

from __future__ import annotations

import pytest

from b24emu.phones import normalize_phone


@pytest.mark.parametrize("spelling", [
    "+7 (999) 123-45-67", "89991234567", "8 999 123 45 67", "+7-999-123-45-67",
    "007 999 123 45 67", "011 7 999 123 45 67", "+7 999 123 45 67 доб. 123",
    "+7 999 123-45-67 ext 9", "8(999)1234567#55",
])
def test_common_spellings_of_one_number_match(spelling: str) -> None:
    assert normalize_phone(spelling) == "79991234567"


def test_8_is_kept_before_0_1_2_and_short_numbers_are_untouched() -> None:
    assert normalize_phone("80291234567") == "80291234567"
    assert normalize_phone("81234567890") == "81234567890"
    assert normalize_phone("8123") == "8123"
    assert normalize_phone("0123") == "0123"


def test_leading_zero_dropped_for_long_numbers() -> None:
    assert normalize_phone("0991234567") == "991234567"
    assert normalize_phone("") == "" and normalize_phone(None) == ""
