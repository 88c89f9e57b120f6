"""Identifiers cannot be used to dodge ownership: every ownership and authorisation check
works on the normalised GS1 key, whatever partition, scheme or URI spells it.

Each attack test asserts the refusal and that nothing was stored."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.modules.harness import Chain, tx
from veriledger.chain.state import MemoryState
from veriledger.core.encoding import b64encode
from veriledger.core.gs1 import (
    ElementString,
    build_digital_link,
    compress_digital_link,
    epc_uri_from_element_strings,
    gs1_check_digit,
)
from veriledger.modules import catalog
from veriledger.modules.authenticity import module as auth
from veriledger.modules.catalog.module import identifier_claims, owner_of_key
from veriledger.modules.trace import module as trace

ORGS = [
    ("brand", "brand", [("brand/ops", ["operator"])]),
    ("rival", "manufacturer", [("rival/ops", ["operator"])]),
    ("carrier", "logistics", [("carrier/ops", ["operator"])]),
    ("samr", "regulator", [("samr/ops", ["auditor"])]),
]
BRAND_PREFIX = "4012345"
GTIN = "04012345000016"
ITEM = "urn:epc:id:sgtin:4012345.000001.{}"
"""The brand's items, in the partition its prefix has (7 digits)."""
OTHER_PARTITION = "urn:epc:id:sgtin:401234.0500001.{}"
"""The same GTIN written with a 6-digit company prefix."""


def chain() -> Chain:
    c = Chain([catalog.MODULE, trace.MODULE, auth.MODULE], ORGS, start_ms=1_800_000_000_000)
    assert c.run(tx("brand/ops", "catalog.claim_prefix", {"prefix": BRAND_PREFIX}))[0][0]
    return c


def event(kind: str = "ObjectEvent", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "eventTime": "2026-10-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        **fields,
    }
    if kind == "ObjectEvent":
        body.setdefault("action", "ADD")
        body.setdefault("bizStep", "commissioning")
    return body


def commission(*epcs: str) -> dict[str, Any]:
    return event(epcList=list(epcs))


def capture(c: Chain, member: str, body: dict[str, Any]) -> tuple[bool, str | None, str | None]:
    return c.run(tx(member, "trace.capture", {"event": body}))[0]


def keys(c: Chain, prefix: str) -> list[str]:
    return [k for k, _ in c.state.scan(prefix)]


def assert_nothing_captured(c: Chain) -> None:
    assert keys(c, "trace/record/") == []
    assert keys(c, "trace/event/") == []
    assert keys(c, "trace/epc/") == []
    assert keys(c, "trace/lot/") == []


def assert_refused(result: tuple[bool, str | None, str | None], code: str) -> None:
    ok, got, reason = result
    assert not ok and got == code, result
    assert reason


# --- commissioning under another partition, scheme or spelling ---------------------------


def test_carrier_cannot_commission_brand_gtin_with_other_partition() -> None:
    c = chain()
    result = capture(c, "carrier/ops", commission(OTHER_PARTITION.format("S")))
    assert_refused(result, "trace/7")
    assert "4012345 belongs to brand" in (result[2] or "")
    assert_nothing_captured(c)
    # the brand itself may write its item in any partition
    assert capture(c, "brand/ops", commission(OTHER_PARTITION.format("S")))[0]


@pytest.mark.parametrize("length", range(6, 13))
def test_carrier_cannot_commission_brand_gtin_in_any_partition(length: int) -> None:
    c = chain()
    epc = epc_uri_from_element_strings(f"(01){GTIN}(21)P{length}", length)
    assert_refused(capture(c, "carrier/ops", commission(epc)), "trace/7")
    assert_nothing_captured(c)


def test_carrier_cannot_commission_brand_lot_class_with_other_partition() -> None:
    c = chain()
    lot_class = "urn:epc:class:lgtin:40123450.00001.L1"  # 8-digit partition
    body = event(quantityList=[{"epcClass": lot_class, "quantity": 5}])
    assert_refused(capture(c, "carrier/ops", body), "trace/7")
    assert_nothing_captured(c)


def test_carrier_cannot_commission_brand_gtin_through_class_pattern() -> None:
    c = chain()
    body = event(quantityList=[{"epcClass": "urn:epc:idpat:sgtin:401234.0500001.*", "quantity": 1}])
    assert_refused(capture(c, "carrier/ops", body), "trace/7")
    assert_nothing_captured(c)


@pytest.mark.parametrize("pattern", ["urn:epc:idpat:sgtin:401234.*.*", "urn:epc:idpat:sgtin:*.*.*"])
def test_carrier_cannot_commission_wildcard_pattern_reaching_into_brand_prefix(
    pattern: str,
) -> None:
    c = chain()
    body = event(quantityList=[{"epcClass": pattern, "quantity": 1}])
    assert_refused(capture(c, "carrier/ops", body), "trace/7")
    assert_nothing_captured(c)


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("https://id.gs1.org/01/04012345000016/21/DL1", "trace/7"),
        # GTIN-13, zero-suppressed: refused as unreadable before ownership is asked
        ("https://id.gs1.org/01/4012345000016/21/DL2", "trace/2"),
        ("https://shop.example/some/stem/01/04012345000016/21/DL3?17=271231", "trace/7"),
        ("HTTPS://ID.GS1.ORG/01/04012345000016/21/DL4", "trace/7"),
        ("https://id.gs1.org/gtin/04012345000016/ser/DL5", "trace/7"),  # short names
        ("https://id.gs1.org/%30%31/04012345000016/21/DL6", "trace/7"),  # escaped digits
        (compress_digital_link("https://id.gs1.org/01/04012345000016/21/DL7"), "trace/7"),
    ],
)
def test_carrier_cannot_commission_brand_gtin_spelled_as_digital_link(uri: str, code: str) -> None:
    c = chain()
    assert_refused(capture(c, "carrier/ops", commission(uri)), code)
    assert_nothing_captured(c)


@pytest.mark.parametrize(
    "epc",
    [
        "urn:epc:tag:sgtin-96:3.401234.0500001.7",  # a tag URI of the brand's item
        "URN:EPC:id:sgtin:401234.0500001.U",  # the URN namespace in capitals
    ],
)
def test_carrier_cannot_commission_brand_gtin_spelled_as_tag_or_capitalised_urn(
    epc: str,
) -> None:
    c = chain()
    assert_refused(capture(c, "carrier/ops", commission(epc)), "trace/7")
    assert_nothing_captured(c)


@pytest.mark.parametrize(
    "epc",
    [
        "urn:epc:raw:96.x3074257BF7194E4000001A85",
        "urn:epc:class:sgtin:4012345.000001",
        "urn:epc:tag:sgtin+:1.401234.0500001.7",
        "urn:epc:idpat:sgtin:401234.*.7",
    ],
)
def test_carrier_cannot_commission_gs1_epc_nobody_can_attribute(epc: str) -> None:
    c = chain()
    result = capture(c, "carrier/ops", commission(epc))
    assert_refused(result, "trace/7")
    assert "cannot tell" in (result[2] or "")
    assert_nothing_captured(c)


# Every GS1 key that carries a company prefix, each in a partition other than the brand's
# 7 digits (and as a Digital Link where its EPC form is the brand's own).
OTHER_KEYS = {
    "sscc": "urn:epc:id:sscc:401234.05000000001",
    "sgln": "urn:epc:id:sgln:401234.500010.0",
    "pgln": "urn:epc:id:pgln:40123450.0010",
    "grai": "urn:epc:id:grai:401234.500001.R1",
    "giai": "urn:epc:id:giai:401234.5CONT42",
    "gsrn": "urn:epc:id:gsrn:401234.50000000001",
    "gsrnp": "urn:epc:id:gsrnp:401234.50000000001",
    "gdti": "urn:epc:id:gdti:401234.500001.D1",
    "sgcn": "urn:epc:id:sgcn:401234.500001.11",
    "ginc": "urn:epc:id:ginc:401234.5SHIP1",
    "gsin": "urn:epc:id:gsin:401234.5000000001",
    "itip": "urn:epc:id:itip:401234.0500001.01.02.P1",
    "upui": "urn:epc:id:upui:401234.0500001.TPX1",
    "cpi": "urn:epc:id:cpi:401234.5PART%231.7",
    "grai-class": "urn:epc:idpat:grai:401234.500001.*",
    "gdti-class": "urn:epc:idpat:gdti:401234.500001.*",
    "itip-class": "urn:epc:idpat:itip:40123450.00001.01.02.*",
    "ginc-dl": "https://id.gs1.org/401/4012345SHIP2",
    "gsin-dl": "https://id.gs1.org/402/40123450000000016",
    "cpid-dl": "https://id.gs1.org/8010/4012345PART2/8011/9",
    "itip-dl": "https://id.gs1.org/8006/040123450000160102/21/P2",
    "pgln-dl": "https://id.gs1.org/417/4012345000108",
    "gmn-dl": "https://id.gs1.org/8013/4012345MODELMY",
}


@pytest.mark.parametrize("scheme", sorted(OTHER_KEYS))
def test_carrier_cannot_bring_brand_keys_of_any_type_into_being(scheme: str) -> None:
    c = chain()
    identifier = OTHER_KEYS[scheme]
    result = capture(c, "carrier/ops", commission(identifier))
    assert_refused(result, "trace/7")
    assert "belongs to brand" in (result[2] or ""), result
    assert_nothing_captured(c)
    assert capture(c, "brand/ops", commission(identifier))[0]


def test_carrier_cannot_make_brand_items_as_transformation_output_in_other_partition() -> None:
    c = chain()
    body = event(
        "TransformationEvent",
        inputEPCList=["urn:epc:id:sgtin:0614141.107346.1"],
        outputEPCList=[OTHER_PARTITION.format("T1")],
    )
    assert_refused(capture(c, "carrier/ops", body), "trace/7")
    assert_nothing_captured(c)


def test_private_and_unclaimed_identifiers_stay_unowned() -> None:
    c = chain()
    for identifier in (
        "urn:example:private:thing",
        "https://carrier.example/pallets/77",
        "urn:epc:id:sgtin:0614141.107346.2017",  # nobody claimed 0614141
        "urn:epc:idpat:sgtin:0614141.*.*",
    ):
        ok, code, reason = capture(c, "carrier/ops", commission(identifier))
        assert ok, (identifier, code, reason)


def test_carrier_may_still_observe_and_pack_brand_items_in_other_partition() -> None:
    c = chain()
    assert capture(c, "brand/ops", commission(ITEM.format("O1")))[0]
    observe = event(epcList=[OTHER_PARTITION.format("O1")], action="OBSERVE", bizStep="shipping")
    assert capture(c, "carrier/ops", observe)[0]
    assert len(trace.history(c.state, ITEM.format("O1"))) == 2


# --- recalls -------------------------------------------------------------------------------


def test_carrier_cannot_recall_brand_gtin_written_short() -> None:
    c = chain()
    for gtin in ("4012345000016", GTIN):
        result = c.run(tx("carrier/ops", "trace.recall", {"reason": "x", "gtin": gtin}))[0]
        assert_refused(result, "trace/9")
    assert keys(c, "trace/recall") == []
    ok = c.run(tx("brand/ops", "trace.recall", {"reason": "x", "gtin": "4012345000016"}))[0]
    assert ok[0], ok


def test_carrier_cannot_recall_brand_items_in_other_partition() -> None:
    c = chain()
    items = [OTHER_PARTITION.format("R1"), "urn:epc:id:sscc:401234.05000000001"]
    result = c.run(tx("carrier/ops", "trace.recall", {"reason": "x", "items": items}))[0]
    assert_refused(result, "trace/9")
    assert keys(c, "trace/recall") == []
    # the owner may, whichever partition and key type it writes
    assert c.run(tx("brand/ops", "trace.recall", {"reason": "x", "items": items}))[0][0]


def test_brand_cannot_recall_other_brands_items_by_listing_its_own_first() -> None:
    c = chain()
    assert c.run(tx("rival/ops", "catalog.claim_prefix", {"prefix": "5012345"}))[0][0]
    for bundled in (
        "urn:epc:id:sgtin:501234.0500001.X",  # the rival's, in another partition
        "urn:epc:id:sscc:5012345.0000000001",  # the rival's pallet
        "urn:example:private:thing",  # nobody's: only a regulator may recall it
    ):
        items = [ITEM.format("B1"), bundled]
        result = c.run(tx("brand/ops", "trace.recall", {"reason": "x", "items": items}))[0]
        assert_refused(result, "trace/9")
        assert bundled in (result[2] or "")
    assert keys(c, "trace/recall") == []
    assert keys(c, "trace/recalled") == []
    regulator = {"reason": "x", "items": [ITEM.format("B1"), "urn:example:private:thing"]}
    assert c.run(tx("samr/ops", "trace.recall", regulator))[0][0]


# --- catalog and authenticity --------------------------------------------------------------


def test_rival_cannot_define_product_of_brand_gtin_written_short() -> None:
    c = chain()
    for gtin in ("4012345000016", GTIN):
        body = {"gtin": gtin, "name": "Fake jacket"}
        assert_refused(c.run(tx("rival/ops", "catalog.define_product", body))[0], "catalog/4")
    assert keys(c, "catalog/product/") == []


def test_carrier_cannot_define_location_under_brand_prefix() -> None:
    c = chain()
    gln = "4012345000108"
    body = {"gln": gln, "name": "Fake factory", "country": "DE"}
    result = c.run(tx("carrier/ops", "catalog.define_location", body))[0]
    assert_refused(result, "catalog/7")
    assert keys(c, "catalog/location/") == []
    assert c.run(tx("brand/ops", "catalog.define_location", body))[0][0]


def test_rival_cannot_register_codes_for_brand_gtin_written_short() -> None:
    c = chain()
    item = {"serial": "S1", "salt": b64encode(b"s" * 16), "code_hash": "ab" * 32}
    for gtin in ("4012345000016", "04012345000016"):
        body = {"gtin": gtin, "items": [item]}
        result = c.run(tx("rival/ops", "authenticity.register_codes", body))[0]
        assert_refused(result, "authenticity/3")
    assert keys(c, "authenticity/") == []


def test_prefix_claims_cannot_nest_across_organisations() -> None:
    c = chain()
    results = c.run(
        tx("rival/ops", "catalog.claim_prefix", {"prefix": BRAND_PREFIX}),  # the same
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "40123456"}),  # inside it
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "401234567890"}),  # deep inside
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "401234"}),  # around it
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "4012"}),  # far around it
    )
    assert [r[1] for r in results] == [
        "catalog/1",
        "catalog/2",
        "catalog/2",
        "catalog/2",
        "catalog/2",
    ]
    assert keys(c, "catalog/prefix/") == [f"catalog/prefix/{BRAND_PREFIX}"]
    # the brand may refine its own claim; a neighbour outside it is someone else's
    assert c.run(tx("brand/ops", "catalog.claim_prefix", {"prefix": "40123451"}))[0][0]
    assert c.run(tx("rival/ops", "catalog.claim_prefix", {"prefix": "4012346"}))[0][0]


def test_prefix_claims_in_one_block_cannot_nest() -> None:
    c = Chain([catalog.MODULE], ORGS)
    results = c.run(
        tx("brand/ops", "catalog.claim_prefix", {"prefix": "4012345"}),
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "40123"}),
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "401234599"}),
    )
    assert [r[1] for r in results] == [None, "catalog/2", "catalog/2"]
    assert keys(c, "catalog/prefix/") == ["catalog/prefix/4012345"]


# --- the property: ownership depends only on the normalised key ----------------------------

CLAIMS = {"4012345": "brand", "40123460": "rival", "501234567890": "rival", "0614": "carrier"}
STATE = MemoryState({f"catalog/prefix/{p}": {"org": o, "since": 1} for p, o in CLAIMS.items()})


def _with_check(payload: str) -> str:
    return payload + str(gs1_check_digit(payload))


@st.composite
def gs1_keys(draw: st.DrawFn) -> tuple[str, str, tuple[ElementString, ...]]:
    """(AI, normalised key, element strings) of a random key that an EPC URI can spell,
    its company prefix drawn near the claims so that ownership varies."""
    base = draw(st.sampled_from([*CLAIMS, "4012344", "0614141", "9999"]))
    body = (base + draw(st.text("0123456789", min_size=12, max_size=12)))[:12]
    kind = draw(st.sampled_from(["sgtin", "lgtin", "class", "sscc", "sgln", "grai", "gdti"]))
    serial = draw(st.text("ABC123", min_size=1, max_size=5))
    if kind in ("sgtin", "lgtin", "class"):
        gtin = _with_check(draw(st.sampled_from("01239")) + body)
        tail = {"sgtin": [ElementString("21", serial)], "lgtin": [ElementString("10", serial)]}
        return "01", gtin, (ElementString("01", gtin), *tail.get(kind, []))
    if kind == "sscc":
        sscc = _with_check(
            draw(st.sampled_from("0379"))
            + body
            + draw(st.text("0123456789", min_size=4, max_size=4))
        )
        return "00", sscc, (ElementString("00", sscc),)
    if kind == "sgln":
        gln = _with_check(body)
        return "414", gln, (ElementString("414", gln), ElementString("254", serial))
    if kind == "grai":
        grai = "0" + _with_check(body) + serial
        return "8003", grai, (ElementString("8003", grai),)
    gdti = _with_check(body) + serial
    return "253", gdti, (ElementString("253", gdti),)


@st.composite
def spellings(
    draw: st.DrawFn, elements: tuple[ElementString, ...], short_gtins: bool = True
) -> str:
    """One way of writing the key: an EPC URI in any partition its digits allow, or a
    Digital Link on any stem (short GTINs zero-suppressed), or element strings."""
    how = draw(st.sampled_from(["epc", "dl", "stem", "hri"]))
    if how == "epc":
        return epc_uri_from_element_strings(elements, draw(st.integers(6, 12)))
    if how == "hri":
        return "".join(str(e) for e in elements)
    stem = (
        None
        if how == "dl"
        else draw(st.sampled_from(["https://shop.example", "http://a.example/x/y"]))
    )
    uri = build_digital_link(elements, stem)
    first = elements[0]
    if short_gtins and first.ai == "01" and first.value.startswith("0") and draw(st.booleans()):
        uri = uri.replace(f"/01/{elements[0].value}", f"/01/{elements[0].value[1:]}")
    return uri


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_ownership_depends_only_on_the_normalised_key(data: st.DataObject) -> None:
    ai, key, elements = data.draw(gs1_keys())
    spelled = data.draw(spellings(elements))
    owner = owner_of_key(STATE, ai, key)
    assert identifier_claims(STATE, spelled) == ([owner] if owner else [])
    # the longest claim that starts the prefix-bearing digits, and nothing else
    digits = key[1:] if ai in ("01", "00", "8003") else key
    expected = max((p for p in CLAIMS if digits.startswith(p)), key=len, default=None)
    assert owner == ((expected, CLAIMS[expected]) if expected else None)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_capture_refuses_exactly_where_the_key_is_another_organisations(
    data: st.DataObject,
) -> None:
    ai, key, elements = data.draw(gs1_keys())
    spelled = data.draw(spellings(elements, short_gtins=False))
    c = Chain([catalog.MODULE, trace.MODULE], ORGS, start_ms=1_800_000_000_000)
    c.state.apply(dict(STATE.scan("catalog/prefix/")))
    owner = owner_of_key(STATE, ai, key)
    ok, code, reason = capture(c, "carrier/ops", commission(spelled))
    if owner is None or owner[1] == "carrier":
        assert ok, (spelled, code, reason)
    else:
        assert code == "trace/7", (spelled, code, reason)
        assert_nothing_captured(c)


@pytest.mark.slow
def test_item_page_of_brand_gtin_commissioned_in_other_partition_shows_no_carrier(
    demo_url: str, demo_node: Any
) -> None:
    """End to end: the carrier's commissioning is refused over HTTP, and the page data of
    that item names no journey, so nothing the carrier wrote is shown under the brand."""
    import httpx
    import orjson

    from veriledger.node.demo_journeys import CONTEXT
    from veriledger.sdk import ApiError, Client

    creds = orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())
    carrier = Client(demo_url, token=creds["swiftfreight"]["swiftfreight/chen"])
    body = {"@context": CONTEXT, **commission(OTHER_PARTITION.format("E2E1"))}
    with pytest.raises(ApiError) as refused:
        carrier.submit("trace.capture", {"event": body})
    assert refused.value.status == 422
    assert refused.value.problem["code"] == "trace/7"
    page = httpx.get(
        f"{demo_url}/api/v1/items",
        params={"uri": "https://id.gs1.org/01/04012345000016/21/E2E1"},
    ).json()
    assert page["item"] == "https://id.gs1.org/01/04012345000016/21/E2E1"
    assert page["journey"] == []
    assert page["authenticity"] is False
