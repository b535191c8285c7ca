"""Phone normalisation: every way people type a number -> one E.164; bad ones -> reasons."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identsync.sync.phones import REASON_CODES, PhoneError, normalize_phone

SAME_MOBILE = [
    "+7 (916) 123-45-67", "89161234567", "9161234567", "8-916-123-45-67", "+79161234567",
    "8 (916) 123 45 67", "7 916 123-45-67", " +7 916 123 45 67 ", "8(916)1234567",
    "8 916 1234567", "+7-916-123-45-67", "8\u00a0916\u00a0123\u00a045\u00a067",
    "８９１６１２３４５６７", "8.916.123.45.67", "8 916 123-45-67 доб. 12",
    "+7 916 123 45 67 ext. 9", "89161234567x12", "8 916 123 45 67 #5",
    "89161234567; 84957654321", "8 916 123-45-67, другой: 8 495 765-43-21",
    "+7 916 123 45 67\n", "8 916 123 45 67 вн. 204",
]


@pytest.mark.parametrize("raw", SAME_MOBILE)
def test_spellings_of_one_mobile_number_agree(raw: str) -> None:
    assert normalize_phone(raw, "RU") == "+79161234567"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (495) 123-45-67", "+74951234567"),  # Moscow landline
        ("+380 44 123 4567", "+380441234567"),  # foreign number keeps its country
        ("810 49 30 12345678", "+493012345678"),  # Russian international prefix
        ("+49 30 12345678", "+493012345678"),
    ],
)
def test_landlines_and_foreign_numbers(raw: str, expected: str) -> None:
    assert normalize_phone(raw, "RU") == expected


def test_default_region_decides_numbers_without_country_code() -> None:
    assert normalize_phone("030 12345678", "DE") == "+493012345678"
    assert normalize_phone("+7 916 123-45-67", "DE") == "+79161234567"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "no_phone"),
        ("", "no_phone"),
        ("   \t", "no_phone"),
        (" , ; ", "no_phone"),
        ("89I6I234567", "phone_has_letters"),
        ("нет телефона", "phone_has_letters"),
        ("8 999 xxx-xx-xx", "phone_has_letters"),
        ("8 916 123 45 67 доб. Иван", "phone_has_letters"),
        ("12-34-5", "phone_too_short"),
        ("123456", "phone_too_short"),
        ("+7 916 123 45 67 89 01 23", "phone_too_long"),
        ("+7 000 000 00 00", "invalid_phone"),
        ("'89161234567", "invalid_phone"),
        ("8*916*123*45*67", "invalid_phone"),
        ("8 800 555-35-35", "unsupported_phone_type"),
        ("--", "no_phone"),
    ],
)
def test_bad_phones_give_reason_codes(raw: str | None, reason: str) -> None:
    with pytest.raises(PhoneError) as info:
        normalize_phone(raw, "RU")
    assert info.value.reason_code == reason
    assert reason in REASON_CODES
    assert info.value.detail  # a sentence an operator can read


def test_error_detail_shows_the_value_printably_and_briefly() -> None:
    with pytest.raises(PhoneError) as info:
        normalize_phone("abc\x07" + "9" * 100, "RU")
    assert "\x07" not in info.value.detail
    assert len(info.value.detail) < 120


@given(st.text(max_size=40))
def test_never_raises_anything_but_phone_error(raw: str) -> None:
    try:
        out = normalize_phone(raw, "RU")
    except PhoneError as exc:
        assert exc.reason_code in REASON_CODES
    else:
        assert out.startswith("+") and out[1:].isdigit() and 8 <= len(out) <= 16
        assert normalize_phone(out, "RU") == out  # idempotent
