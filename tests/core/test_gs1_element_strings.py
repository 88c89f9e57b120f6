"""GS1 element strings (HRI) and the AI table's format, linter and pairing rules."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriledger.core.errors import (
    AICombinationError,
    CheckDigitError,
    GS1FormatError,
    VeriledgerError,
)
from veriledger.core.gs1 import (
    ElementString,
    ParseOptions,
    default_ai_table,
    format_element_strings,
    parse_element_strings,
    validate_ai_value,
    validate_element_strings,
)
from veriledger.core.gs1.linters import CSET82


def test_parse_and_format() -> None:
    elements = parse_element_strings("(01)09506000134352(17)251231(10)AB\\(C)D")
    assert elements == (
        ElementString("01", "09506000134352"),
        ElementString("17", "251231"),
        ElementString("10", "AB(C)D"),
    )
    assert format_element_strings(elements) == "(01)09506000134352(17)251231(10)AB\\(C)D"


@pytest.mark.parametrize(
    ("text", "error", "field", "message"),
    [
        ("", GS1FormatError, "element string", "empty"),
        ("01)x", GS1FormatError, "element string", "expected '\\('"),
        ("(01", GS1FormatError, "element string", "no '\\)'"),
        ("(89)ABC", GS1FormatError, "89", "unknown AI"),
        ("(01)", GS1FormatError, "01", "empty value"),
        ("(01)0950600013435", GS1FormatError, "01", "13 characters, want 14"),
        (
            "(01)09506000134353",
            CheckDigitError,
            "01",
            "check digit 3 does not match the computed 2",
        ),
        ("(01)09506000134352(10)AB CD", GS1FormatError, "10", "CSET 82"),
        ("(01)09506000134352(17)251301", GS1FormatError, "17", "month"),
        ("(01)09506000134352(17)250229", GS1FormatError, "17", "day 29"),
        ("(01)09506000134352(7003)2501012400", GS1FormatError, "7003", "hour 24"),
        ("(00)106141412345678908(4321)2", GS1FormatError, "4321", "0 or 1"),
        ("(00)106141412345678908(4307)XX", GS1FormatError, "4307", "alpha-2"),
        ("(8013)1987654Ad4X4bL5ttr2310c2L", CheckDigitError, "8013", "check character pair"),
        ("(21)ABC", AICombinationError, "21", "requires"),
        ("(01)09506000134352(02)09506000134352(37)1", AICombinationError, "01", "together"),
        ("(01)09506000134352(3103)000195(3102)000195", AICombinationError, "3103", "together"),
        ("(01)09506000134352(01)09506000134369", AICombinationError, "01", "different values"),
    ],
)
def test_rejections_name_the_ai(
    text: str, error: type[VeriledgerError], field: str, message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        parse_element_strings(text)
    assert getattr(info.value, "field", None) == field


@pytest.mark.parametrize(
    "text",
    [
        "(8013)1987654Ad4X4bL5ttr2310c2K",  # the GS1 GMN example
        "(01)09506000134352(17)240229",  # 2024 is a leap year
        "(01)09506000134352(11)000229",  # 2000 too
        "(01)09506000134352(17)251200",  # yymmd0 allows day 00
        "(415)5412345678908(8020)ABC123(8007)GB82WEST12345698765432",  # IBAN
        "(00)106141412345678908(4330)000095-",
        "(01)09506000134352(01)09506000134352",  # identical repeats are fine
        "(8018)106141412345678908(7259)ABC(7258)1/2",
        "(01)09506000134352(422)276",
    ],
)
def test_accepted(text: str) -> None:
    assert format_element_strings(parse_element_strings(text)) == text


def test_unknown_ais_and_requisites_are_options() -> None:
    lenient = ParseOptions(permit_unknown_ais=True)
    assert parse_element_strings("(89)ABC", lenient) == (ElementString("89", "ABC"),)
    # A three-digit AI under the two-digit prefix 99 would clash with (99).
    with pytest.raises(GS1FormatError):
        parse_element_strings("(999)ABC", lenient)
    # Unknown AIs under a predefined-length prefix keep that length.
    assert parse_element_strings("(419)1234567890123", lenient)
    with pytest.raises(GS1FormatError):
        parse_element_strings("(419)12", lenient)
    assert parse_element_strings("(21)ABC", ParseOptions(check_requisites=False))


def test_validate_element_strings_needs_some() -> None:
    with pytest.raises(GS1FormatError):
        validate_element_strings([])
    with pytest.raises(GS1FormatError):
        validate_ai_value("01", 12345678901231)  # type: ignore[arg-type]


cset82 = st.sampled_from(sorted(CSET82))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["90", "91", "92", "99"]), st.text(cset82, min_size=1, max_size=30)
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    )
)
def test_hri_round_trip(pairs: list[tuple[str, str]]) -> None:
    elements = tuple(ElementString(ai, value) for ai, value in pairs)
    assert parse_element_strings(format_element_strings(elements)) == elements


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_fuzz_raises_only_our_errors(text: str) -> None:
    for options in (ParseOptions(), ParseOptions(permit_unknown_ais=True, check_requisites=False)):
        with contextlib.suppress(VeriledgerError):
            parse_element_strings(text, options)


@settings(max_examples=300)
@given(st.from_regex(r"\A(\([0-9]{1,5}\)[ -~]{0,25}){1,4}\Z"))
def test_fuzz_hri_shaped_text_raises_only_our_errors(text: str) -> None:
    for options in (ParseOptions(), ParseOptions(permit_unknown_ais=True)):
        with contextlib.suppress(VeriledgerError):
            parse_element_strings(text, options)


@settings(max_examples=300)
@given(st.sampled_from(sorted(default_ai_table().entries)), st.text(max_size=40))
def test_fuzz_every_ai_value_raises_only_our_errors(ai: str, value: str) -> None:
    with contextlib.suppress(VeriledgerError):
        validate_ai_value(ai, value)
