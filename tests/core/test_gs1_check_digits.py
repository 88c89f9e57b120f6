"""GS1 check digits and key validation against ../shared/data/gs1/check_digits.json."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.shared_data import SHARED_DATA
from veriledger.core.errors import CheckDigitError, GS1FormatError, VeriledgerError
from veriledger.core.gs1 import (
    KeyType,
    gs1_check_character_pair,
    gs1_check_digit,
    is_valid_key,
    validate_key,
    verify_check_character_pair,
    verify_check_digit,
)
from veriledger.core.gs1.check_digits import is_digits

VECTORS: dict[str, Any] = json.loads((SHARED_DATA / "gs1" / "check_digits.json").read_text())
KEYS = VECTORS["keys"]
PAYLOADS = VECTORS["payloads"]


def test_vector_counts() -> None:
    assert len(KEYS) == VECTORS["counts"]["keys"] == 51
    assert len(PAYLOADS) == VECTORS["counts"]["payloads"] == 4


@pytest.mark.parametrize("case", KEYS, ids=[c["id"] for c in KEYS])
def test_key_vector(case: dict[str, Any]) -> None:
    value, key_type = case["value"], case["key_type"]
    assert is_valid_key(value, key_type) is case["valid"]
    if case["valid"]:
        assert validate_key(value, KeyType(key_type)) == value
    else:
        with pytest.raises((GS1FormatError, CheckDigitError)) as info:
            validate_key(value, key_type)
        assert info.value.field == key_type
        assert info.value.value == value
    if value.isdigit() and "expected_check_digit" in case:
        assert gs1_check_digit(value[:-1]) == case["expected_check_digit"]


@pytest.mark.parametrize("case", PAYLOADS, ids=[c["id"] for c in PAYLOADS])
def test_payload_vector(case: dict[str, Any]) -> None:
    assert gs1_check_digit(case["payload"]) == case["expected_check_digit"]


def test_check_digit_error_names_field_and_digits() -> None:
    with pytest.raises(CheckDigitError) as info:
        validate_key("09506000134353", "GTIN-14")
    error = info.value
    assert str(error) == "GTIN-14: check digit 3 does not match the computed 2"
    assert (error.field, error.value, error.expected, error.got) == (
        "GTIN-14",
        "09506000134353",
        "2",
        "3",
    )


def test_unknown_key_type_and_non_ascii_digits() -> None:
    with pytest.raises(GS1FormatError, match="unknown key type"):
        validate_key("12345670", "GTIN-9")
    # Arabic-Indic digits pass str.isdigit() but are not GS1 digits.
    with pytest.raises(GS1FormatError):
        gs1_check_digit("\u0661\u0662\u0663")
    with pytest.raises(GS1FormatError):
        gs1_check_digit("")


def test_gmn_check_character_pair() -> None:
    # The GS1 General Specifications' GMN example: (8013)1987654Ad4X4bL5ttr2310c2K.
    assert gs1_check_character_pair("1987654Ad4X4bL5ttr2310c") == "2K"
    verify_check_character_pair("1987654Ad4X4bL5ttr2310c2K", "8013")
    with pytest.raises(CheckDigitError, match="check character pair 2L"):
        verify_check_character_pair("1987654Ad4X4bL5ttr2310c2L", "8013")
    with pytest.raises(GS1FormatError, match="CSET 82"):
        gs1_check_character_pair("abc def")


payloads = st.text(alphabet="0123456789", min_size=1, max_size=30)


@given(payloads)
def test_appended_check_digit_verifies(payload: str) -> None:
    verify_check_digit(payload + str(gs1_check_digit(payload)), "key")


@given(payloads, st.data())
def test_any_single_digit_change_is_caught(payload: str, data: st.DataObject) -> None:
    key = payload + str(gs1_check_digit(payload))
    position = data.draw(st.integers(0, len(key) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != key[position]]))
    changed = key[:position] + digit + key[position + 1 :]
    with pytest.raises(CheckDigitError):
        verify_check_digit(changed, "key")


@given(st.text(max_size=30), st.sampled_from([*KeyType, "GTIN-9", ""]))
def test_fuzz_key_validation_raises_only_our_errors(text: str, key_type: KeyType | str) -> None:
    for call in (
        lambda: validate_key(text, key_type),
        lambda: gs1_check_digit(text),
        lambda: verify_check_digit(text, "key"),
        lambda: verify_check_character_pair(text, "8013"),
    ):
        with contextlib.suppress(VeriledgerError):
            call()
    assert isinstance(is_valid_key(text, key_type), bool)


@pytest.mark.parametrize(
    ("value", "digits"),
    [("0123", True), ("", False), ("12a", False), ("１２", False), ("²", False), (None, False),
     (b"12", False)],
)  # fmt: skip
def test_only_ascii_digit_strings_are_digits(value: object, digits: bool) -> None:
    assert is_digits(value) is digits  # type: ignore[arg-type]
