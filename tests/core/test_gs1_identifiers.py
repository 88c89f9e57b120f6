"""GS1 value types: each checks itself and turns into element strings, DL and EPC URIs."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veriledger.core.errors import CheckDigitError, GS1FormatError, VeriledgerError
from veriledger.core.gs1 import (
    GCN,
    GLN,
    GTIN,
    LGTIN,
    SGLN,
    SGTIN,
    SSCC,
    build_digital_link,
    epc_uri_from_element_strings,
    parse_digital_link,
    parse_element_strings,
)


@pytest.mark.parametrize(
    ("text", "gtin14"),
    [
        ("96385074", "00000096385074"),
        ("614141000036", "00614141000036"),
        ("5901234123457", "05901234123457"),
        ("09506000134352", "09506000134352"),
    ],
)
def test_gtin_normalises_to_14_digits(text: str, gtin14: str) -> None:
    gtin = GTIN.parse(text)
    assert str(gtin) == gtin14
    assert gtin.indicator == "0"
    assert gtin.element_strings() == parse_element_strings(f"(01){gtin14}")


@pytest.mark.parametrize("text", ["1234567", "123456789", "5901234123458", "59012341234a7", ""])
def test_gtin_rejects(text: str) -> None:
    with pytest.raises((GS1FormatError, CheckDigitError)):
        GTIN.parse(text)


def test_gtin_constructor_wants_14_digits() -> None:
    with pytest.raises(GS1FormatError, match="want 14"):
        GTIN("5901234123457")


def test_types_from_a_digital_link() -> None:
    link = parse_digital_link(
        "https://id.gs1.org/01/09506000134352/10/L1/21/S1?17=251231"
    ).element_strings
    assert SGTIN.from_element_strings(link) == SGTIN(GTIN("09506000134352"), "S1")
    assert LGTIN.from_element_strings(link) == LGTIN(GTIN("09506000134352"), "L1")
    assert str(SGTIN.from_element_strings(link)) == "(01)09506000134352(21)S1"
    sgln = SGLN.from_element_strings(parse_element_strings("(414)0614141123452(254)A"))
    assert sgln == SGLN(GLN("0614141123452"), "A")
    assert SGLN(GLN("0614141123452")).element_strings() == parse_element_strings(
        "(414)0614141123452"
    )
    sscc = SSCC.from_element_strings(parse_element_strings("(00)106141412345678908"))
    assert epc_uri_from_element_strings(sscc.element_strings(), 7) == (
        "urn:epc:id:sscc:0614141.1234567890"
    )
    gcn = GCN("40123451111185678")
    assert (gcn.coupon, gcn.serial) == ("4012345111118", "5678")
    assert build_digital_link(gcn.element_strings()) == "https://id.gs1.org/255/40123451111185678"


def test_missing_and_bad_parts() -> None:
    with pytest.raises(GS1FormatError, match=r"needs \(21\)"):
        SGTIN.from_element_strings(parse_element_strings("(01)09506000134352"))
    with pytest.raises(GS1FormatError):
        SGTIN(GTIN("09506000134352"), "x" * 21)
    with pytest.raises(GS1FormatError):
        LGTIN(GTIN("09506000134352"), "a b")
    with pytest.raises(CheckDigitError):
        SSCC("106141412345678909")
    with pytest.raises(CheckDigitError):
        GLN("0614141123453")
    with pytest.raises(GS1FormatError):
        SGLN(GLN("0614141123452"), "")


@given(st.text(max_size=30))
def test_fuzz_constructors_raise_only_our_errors(text: str) -> None:
    for make in (GTIN.parse, GTIN, SSCC, GLN, GCN, lambda t: SGTIN(GTIN("09506000134352"), t)):
        with contextlib.suppress(VeriledgerError):
            make(text)
