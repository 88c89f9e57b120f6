"""EPC pure identity URIs against ../shared/data/gs1/epc_urn_conversions.json, plus properties."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shared_data import SHARED_DATA
from veriledger.core.errors import EPCURIError, GS1Error, VeriledgerError
from veriledger.core.gs1 import (
    GTIN,
    SGTIN,
    digital_link_from_epc_uri,
    element_strings_from_epc_uri,
    epc_uri_from_digital_link,
    epc_uri_from_element_strings,
    format_element_strings,
    gs1_check_digit,
)
from veriledger.core.gs1.linters import CSET82

VECTORS: dict[str, Any] = json.loads((SHARED_DATA / "gs1" / "epc_urn_conversions.json").read_text())
CONVERSIONS = VECTORS["conversions"]
INVALID = VECTORS["invalid"]


def test_vector_counts() -> None:
    assert len(CONVERSIONS) == VECTORS["counts"]["conversions"] == 16
    assert len(INVALID) == VECTORS["counts"]["invalid"] == 3


@pytest.mark.parametrize("case", CONVERSIONS, ids=[c["id"] for c in CONVERSIONS])
def test_conversion_vector(case: dict[str, Any]) -> None:
    length = case["gcp_length"]
    assert epc_uri_from_digital_link(case["dl_uri"], length) == case["epc_uri"]
    assert epc_uri_from_element_strings(case["element_string_hri"], length) == case["epc_uri"]
    if case["direction"] == "both":
        assert digital_link_from_epc_uri(case["epc_uri"]) == case["dl_uri"]
        elements = element_strings_from_epc_uri(case["epc_uri"])
        assert format_element_strings(elements) == case["element_string_hri"]
    else:
        # The GTIN pattern URI names a class of items; it still reads back to its GTIN.
        elements = element_strings_from_epc_uri(case["epc_uri"])
        assert format_element_strings(elements) == case["element_string_hri"]


@pytest.mark.parametrize("case", INVALID, ids=[c["id"] for c in INVALID])
def test_invalid_vector(case: dict[str, Any]) -> None:
    assert case["valid"] is False
    if "dl_uri" in case:
        with pytest.raises(GS1Error):
            epc_uri_from_digital_link(case["dl_uri"], case.get("gcp_length", 7))
    else:
        with pytest.raises(GS1Error):
            element_strings_from_epc_uri(case["epc_uri"])


@pytest.mark.parametrize(
    ("hri", "length", "epc"),
    [
        ("(01)09506000134352(10)LOT/1", 7, "urn:epc:class:lgtin:9506000.013435.LOT%2F1"),
        ("(414)0614141123452(254)5678", 7, "urn:epc:id:sgln:0614141.12345.5678"),
        ("(414)0614141123452", 12, "urn:epc:id:sgln:061414112345..0"),
        ("(8003)00614141123452ABC", 7, "urn:epc:id:grai:0614141.12345.ABC"),
        ("(8018)061414112345678902", 7, "urn:epc:id:gsrn:0614141.1234567890"),
        ('(8004)0614141A"%&/<>?', 7, "urn:epc:id:giai:0614141.A%22%25%26%2F%3C%3E%3F"),
        ("(00)106141412345678908", 12, "urn:epc:id:sscc:061414123456.17890"),
    ],
)
def test_other_schemes_round_trip(hri: str, length: int, epc: str) -> None:
    assert epc_uri_from_element_strings(hri, length) == epc
    assert format_element_strings(element_strings_from_epc_uri(epc)) == hri


@pytest.mark.parametrize(
    ("hri", "length", "message"),
    [
        ("(8003)00614141123452", 7, "without a serial"),
        ("(253)0614141123452", 7, "without a serial"),
        ("(255)4012345111118", 7, "without a serial"),
        ("(8004)0614A41", 7, "company prefix"),
        ("(414)0614141123452(254)0", 7, "no extension"),
        ("(8010)0614141ABC", 7, "no GS1 key"),
        ("(01)09506000134352", 13, "6 to 12"),
        ("(01)09506000134352", True, "6 to 12"),
    ],
)
def test_conversion_refusals(hri: str, length: int, message: str) -> None:
    with pytest.raises(EPCURIError, match=message):
        epc_uri_from_element_strings(hri, length)


@pytest.mark.parametrize(
    "uri",
    [
        "urn:epc:id:sgtin:9506000.013435",  # no serial
        "urn:epc:id:sgtin:9506000.013435.",  # empty serial
        "urn:epc:id:sgtin:950600.013435.A",  # 6 + 6 digits
        "urn:epc:id:sgtin:95060.0013435.A",  # 5-digit prefix
        "urn:epc:id:sgtin:9506000.01343x.A",
        "urn:epc:id:sgtin:9506000.013435.A/B",  # '/' must be escaped
        "urn:epc:id:sgtin:9506000.013435.A%41",  # only the seven escapes exist
        "urn:epc:id:sgtin:9506000.013435.ABCDEFGHIJKLMNOPQRSTU",  # serial of 21
        "urn:epc:id:sgcn:4012345.11111.56A8",  # GCN serials are digits
        "urn:epc:id:foo:1.2",
        "urn:epc:idpat:sgtin:9506000.013435.5",
        "URN:EPC:ID:SGTIN:9506000.013435.ABC",
        "https://id.gs1.org/01/09506000134352",
    ],
)
def test_malformed_epc_uris(uri: str) -> None:
    with pytest.raises(GS1Error):
        element_strings_from_epc_uri(uri)


# --- properties ----------------------------------------------------------------------------

gtins = st.text(alphabet="0123456789", min_size=13, max_size=13).map(
    lambda p: GTIN(p + str(gs1_check_digit(p)))
)
serials = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)


@settings(max_examples=300)
@given(gtins, serials, st.integers(6, 12))
def test_sgtin_to_epc_and_back(gtin: GTIN, serial: str, length: int) -> None:
    sgtin = SGTIN(gtin, serial)
    epc = epc_uri_from_element_strings(sgtin.element_strings(), length)
    prefix, item, _ = epc.removeprefix("urn:epc:id:sgtin:").split(".", 2)
    assert (len(prefix), len(item)) == (length, 13 - length)
    assert SGTIN.from_element_strings(element_strings_from_epc_uri(epc)) == sgtin
    assert epc_uri_from_digital_link(digital_link_from_epc_uri(epc), length) == epc


@given(st.text(max_size=60), st.integers(-2, 14))
def test_fuzz_raises_only_our_errors(text: str, length: int) -> None:
    for call in (
        lambda: element_strings_from_epc_uri(text),
        lambda: digital_link_from_epc_uri(text),
        lambda: epc_uri_from_element_strings(text, length),
        lambda: epc_uri_from_digital_link(text, length),
    ):
        with contextlib.suppress(VeriledgerError):
            call()


@given(
    st.from_regex(
        r"\Aurn:epc:(id|idpat|class):(sgtin|sscc|sgln|grai|giai|gsrnp?|gdti|sgcn|lgtin|x):[0-9.%A-Fa-f*/]{0,30}\Z"
    )
)
def test_fuzz_epc_shaped_text_raises_only_our_errors(text: str) -> None:
    with contextlib.suppress(VeriledgerError):
        element_strings_from_epc_uri(text)
