"""Where a GS1 key's company prefix lies, read from every spelling of the key."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veriledger.core.errors import GS1Error
from veriledger.core.gs1 import (
    build_digital_link,
    digital_link_from_epc_uri,
    element_strings_from_epc_uri,
    epc_uri_from_element_strings,
    parse_digital_link,
)
from veriledger.core.gs1.company_prefix import (
    PrefixBearing,
    claimable_prefixes,
    gs1_key,
    prefix_bearing,
    prefix_bearing_of,
)
from veriledger.core.gs1.identifiers import GTIN
from veriledger.modules.trace._hash_identifiers import _epc_to_elements


@pytest.mark.parametrize(
    ("ai", "value", "part"),
    [
        ("01", "04012345000016", "401234500001"),
        ("8006", "040123450000160102", "401234500001"),
        ("00", "340123450000000013", "4012345000000001"),
        ("8003", "04012345000016R1", "401234500001"),
        ("414", "4012345000108", "401234500010"),
        ("415", "4012345000108", "401234500010"),
        ("417", "4012345000108", "401234500010"),
        ("253", "4012345000016D1", "401234500001"),
        ("255", "401234500001612", "401234500001"),
        ("8017", "401234500000000012", "40123450000000001"),
        ("8018", "401234500000000012", "40123450000000001"),
        ("402", "40123450000000016", "4012345000000001"),
        ("8013", "4012345MODELMY", "4012345MODEL"),
        ("8004", "4012345CONT42", "4012345CONT42"),
        ("401", "4012345SHIP1", "4012345SHIP1"),
        ("8010", "4012345PART#1", "4012345PART#1"),
    ],
)
def test_prefix_bearing_part_of_each_key(ai: str, value: str, part: str) -> None:
    assert prefix_bearing(ai, value) == part


def test_only_keys_have_a_prefix_bearing_part() -> None:
    with pytest.raises(GS1Error):
        prefix_bearing("21", "SERIAL")


@pytest.mark.parametrize(
    ("part", "prefixes"),
    [
        ("401234500001", ["401234500001"[:n] for n in range(12, 3, -1)]),
        ("4012345CONT42", ["4012345", "401234", "40123", "4012"]),
        ("401", []),
        ("40A1234", []),
        ("", []),
    ],
)
def test_claimable_prefixes_are_leading_digits_longest_first(
    part: str, prefixes: list[str]
) -> None:
    assert claimable_prefixes(part) == prefixes


@given(
    st.sampled_from("012345678"),
    st.text("0123456789", min_size=12, max_size=12),
    st.text("ABC123", min_size=1, max_size=8),
)
def test_every_partition_of_an_sgtin_names_the_same_prefix_bearing_part(
    indicator: str, body: str, serial: str
) -> None:
    gtin = GTIN.parse(indicator + body + str(_check(indicator + body))).value
    parts = {
        prefix_bearing_of(epc_uri_from_element_strings(f"(01){gtin}(21){serial}", n))
        for n in range(6, 13)
    }
    parts.add(prefix_bearing_of(build_digital_link(f"(01){gtin}(21){serial}")))
    parts.add(prefix_bearing_of(f"(01){gtin}(21){serial}"))
    assert parts == {PrefixBearing("01", body)}


def _check(payload: str) -> int:
    from veriledger.core.gs1 import gs1_check_digit

    return gs1_check_digit(payload)


@pytest.mark.parametrize(
    ("uri", "ai", "value"),
    [
        ("urn:epc:id:ginc:401234.5SHIP1", "401", "4012345SHIP1"),
        ("urn:epc:id:gsin:401234.5000000001", "402", "40123450000000016"),
        ("urn:epc:id:pgln:40123450.0010", "417", "4012345000108"),
        ("urn:epc:id:itip:401234.0500001.01.02.P1", "8006", "040123450000160102"),
        ("urn:epc:id:upui:401234.0500001.TPX1", "01", "04012345000016"),
        ("urn:epc:id:cpi:401234.5PART%231.7", "8010", "4012345PART#1"),
        ("urn:epc:idpat:grai:401234.500001.*", "8003", "04012345000016"),
        ("urn:epc:idpat:gdti:401234.500001.*", "253", "4012345000016"),
        ("urn:epc:idpat:sgcn:401234.500001.*", "255", "4012345000016"),
        ("urn:epc:idpat:upui:401234.0500001.*", "01", "04012345000016"),
        ("urn:epc:idpat:itip:40123450.00001.01.02.*", "8006", "040123450000160102"),
        ("urn:epc:idpat:cpi:401234.5PART.*", "8010", "4012345PART"),
    ],
)
def test_more_epc_schemes_are_read_as_the_event_hash_reads_them(
    uri: str, ai: str, value: str
) -> None:
    elements = element_strings_from_epc_uri(uri)
    assert (elements[0].ai, elements[0].value) == (ai, value)
    # the CBV event hash has its own reading of EPC URIs: the two must agree
    assert [(e.ai, e.value) for e in elements] == _epc_to_elements(uri)
    link = parse_digital_link(digital_link_from_epc_uri(uri))
    assert link.path[0] == elements[0]


@pytest.mark.parametrize(
    "uri",
    [
        "urn:epc:id:gsin:401234.50000000012",  # 17 digits
        "urn:epc:id:itip:401234.0500001.1.02.P1",  # piece of one digit
        "urn:epc:id:cpi:401234.5PART.7A",  # serial not digits
        "urn:epc:idpat:grai:401234.500001.X",  # not a class pattern
        "urn:epc:id:pgln:401234.5000100",  # 13 digits
    ],
)
def test_more_epc_schemes_refuse_malformed_uris(uri: str) -> None:
    with pytest.raises(GS1Error):
        element_strings_from_epc_uri(uri)


@pytest.mark.parametrize(
    "spelling",
    [
        "urn:epc:id:sgtin:4012345.000001.S",
        "urn:epc:id:sgtin:401234.0500001.S",
        "urn:epc:id:sgtin:401234500001.0.S",
        "urn:epc:class:lgtin:40123450.00001.L",
        "urn:epc:idpat:sgtin:4012345.000001.*",
        "urn:epc:tag:sgtin-96:3.401234.0500001.5",
        "urn:epc:tag:sgtin-198:1.4012345.000001.S",
        "URN:EPC:id:sgtin:401234.0500001.S",
        "https://id.gs1.org/01/04012345000016/21/S",
        "https://brand.example/a/b/01/04012345000016/10/L?17=271231#x",
        "https://id.gs1.org/01/4012345000016",
        "HTTPS://ID.GS1.ORG/gtin/04012345000016/ser/S",
        "https://id.gs1.org/%30%31/04012345000016",
        "https://id.gs1.org/01/04012345000016?bad=%",
        "(01)04012345000016(21)S",
    ],
)
def test_spellings_of_one_gtin_give_one_key(spelling: str) -> None:
    assert gs1_key(spelling) is not None
    assert prefix_bearing_of(spelling) == PrefixBearing("01", "401234500001")


@pytest.mark.parametrize(
    ("pattern", "part"),
    [
        ("urn:epc:idpat:sgtin:401234.*.*", "401234"),
        ("urn:epc:idpat:sgtin:*.*.*", ""),
        ("urn:epc:idpat:sscc:4012345.*", "4012345"),
        ("urn:epc:idpat:itip:40123450.00001.*.*.*", "401234500001"),
    ],
)
def test_wildcard_patterns_cover_a_range(pattern: str, part: str) -> None:
    found = prefix_bearing_of(pattern)
    assert found is not None and found.pattern and found.part == part
    assert gs1_key(pattern) is None


@pytest.mark.parametrize(
    "identifier",
    [
        "urn:example:private:thing",
        "https://carrier.example/pallets/77",
        "https://id.gs1.org/01/04012345000017/21/S",  # wrong check digit: not a key
        "urn:epc:id:gid:95100000.12345.400",
        "urn:epc:tag:gid-96:95100000.12345.400",
        "(21)ONLYASERIAL",
        "",
    ],
)
def test_identifiers_that_are_not_gs1_keys_have_no_prefix(identifier: str) -> None:
    assert prefix_bearing_of(identifier) is None


@pytest.mark.parametrize(
    "epc",
    [
        "urn:epc:raw:96.x3074257BF7194E4000001A85",
        "urn:epc:class:sgtin:4012345.000001",
        "urn:epc:id:sgtin:4012345.00001.S",
        "urn:epc:idpat:sgtin:401234.*.7",
        "urn:epc:idpat:sgtin:40A234.*.*",
        "urn:epc:tag:sgtin+:1.401234.0500001.7",
        "urn:epc:tag:sgtin-96:401234.0500001.7",
        "urn:epc:pat:sgtin-96:3.401234.*.*",
    ],
)
def test_gs1_epc_uris_nobody_can_attribute_raise(epc: str) -> None:
    with pytest.raises(GS1Error):
        prefix_bearing_of(epc)


@given(st.text(max_size=60))
def test_fuzz_raises_only_gs1_errors(text: str) -> None:
    for candidate in (text, "urn:epc:" + text, "https://id.gs1.org/" + text):
        with contextlib.suppress(GS1Error):
            prefix_bearing_of(candidate)


@given(
    st.from_regex(
        r"\A(urn:epc:(id|idpat|class|tag):(sgtin|sscc|sgln|grai|giai|ginc|gsin|itip|upui|cpi|pgln"
        r"|lgtin|sgtin-96|x):[0-9.%A-F*]{0,30}|https://e\.x/(01|00|414|8006|gtin)/[0-9]{0,18})\Z",
        fullmatch=True,
    )
)
def test_fuzz_gs1_shaped_text_raises_only_gs1_errors(text: str) -> None:
    try:
        found = prefix_bearing_of(text)
    except GS1Error:
        return
    assert found is None or isinstance(found.part, str)
