"""CBV 2.0 EPCIS Event Hash IDs: the reference vectors, JSON against XML, and invariances.

The vectors (``shared/data/epcis/event-hash``, see its README) were made by the reference
implementation at 5d2f1c3, which :data:`CBV_2_0_LEGACY` reproduces: every pre-hash string
and hash must match. The default profile, :data:`CBV_2_0`, follows the revised upstream
reading; it must match the newer upstream hashes recorded in the manifest, and agree with
the vectors on the events that reading did not change.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.shared_data import SHARED_DATA
from veriledger.core.errors import BadInputError
from veriledger.modules.trace import epcis_xml
from veriledger.modules.trace._hash_identifiers import canonical_digital_link
from veriledger.modules.trace.event_hash import (
    CBV_2_0,
    CBV_2_0_LEGACY,
    EpcisError,
    Profile,
    document_events,
    event_hash_id,
    hash_id,
    prehash,
)

EVENT_HASH = SHARED_DATA / "epcis" / "event-hash"
MANIFEST = json.loads((EVENT_HASH / "manifest.json").read_text())
CASES = {case["name"]: case for case in MANIFEST["cases"]}
NONSTANDARD = "nonstandard-ignore-fields"
REPOSITORY_X = "https://repository-x.example.com/"


# --- reading the vector files ---------------------------------------------------------------


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a vector input file, JSON-LD or XML, in document order."""
    if path.suffix == ".xml":
        return epcis_xml.document_events(path.read_bytes())
    return document_events(json.loads(path.read_text()))


def ignored_fields(path: Path) -> set[str]:
    """The event members a document asks the reference implementation to leave out.

    This is the reference implementation's ``repository-x:ignoreFields`` feature, which
    CBV 2.0 does not have; only the tests of ``nonstandard-ignore-fields/`` use it. JSON
    names are returned as written in the events, XML names as ``{namespace}localName``.
    """
    if path.suffix == ".xml":
        root = epcis_xml.parse(path.read_bytes())
        header = root.find(f"{{{REPOSITORY_X}}}ignoreFields")
        return set() if header is None else {child.tag for child in header}
    document = json.loads(path.read_text())
    prefix = next(
        name
        for context in document["@context"]
        if isinstance(context, dict)
        for name, iri in context.items()
        if iri == REPOSITORY_X
    )
    body = document["epcisBody"]
    holder = body.get("queryResults", document)
    return set(holder.get(f"{prefix}:ignoreFields", []))


def vector_events(case: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """A case's events, with the non-standard ignored fields removed where there are any."""
    path = EVENT_HASH / case["dir"] / name
    events = read_events(path)
    if case["dir"] == NONSTANDARD:
        drop = ignored_fields(path)
        events = [{k: v for k, v in event.items() if k not in drop} for event in events]
    return events


def lines(case: Mapping[str, Any], key: str) -> list[str]:
    return (EVENT_HASH / case["dir"] / case[key]).read_text().splitlines()


Select = Callable[[Mapping[str, Any], int], bool]


def _per_event(select: Select | None = None) -> list[Any]:
    """One test parameter per event of every input file of every case."""
    params = []
    for case in MANIFEST["cases"]:
        for name in case["inputs"]:
            for index in range(case["events"]):
                if select is None or select(case, index):
                    params.append(pytest.param(case["name"], name, index, id=f"{name}#{index}"))
    return params


def _revised(case: Mapping[str, Any], index: int) -> bool:
    return case["revised_upstream_cbv20"] is not None


def _unchanged(case: Mapping[str, Any], index: int) -> bool:
    revised = case["revised_upstream_cbv20"]
    return revised is not None and revised["same_as_pinned"][index]


# --- the reference vectors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inputs"),
    [(c["name"], c["inputs"]) for c in MANIFEST["cases"]],
    ids=[c["name"] for c in MANIFEST["cases"]],
)
def test_each_input_holds_the_listed_number_of_events(name: str, inputs: list[str]) -> None:
    case = CASES[name]
    for input_name in inputs:
        assert len(vector_events(case, input_name)) == case["events"], input_name
    assert len(lines(case, "prehashes")) == len(lines(case, "hashes")) == case["events"]


@pytest.mark.parametrize(("name", "input_name", "index"), _per_event())
def test_prehash_matches_the_reference(name: str, input_name: str, index: int) -> None:
    case = CASES[name]
    event = vector_events(case, input_name)[index]
    assert prehash(event, profile=CBV_2_0_LEGACY) == lines(case, "prehashes")[index]


@pytest.mark.parametrize(("name", "input_name", "index"), _per_event())
def test_hash_matches_the_reference(name: str, input_name: str, index: int) -> None:
    case = CASES[name]
    event = vector_events(case, input_name)[index]
    assert event_hash_id(event, profile=CBV_2_0_LEGACY) == lines(case, "hashes")[index]


@pytest.mark.parametrize(("name", "input_name", "index"), _per_event(_revised))
def test_default_profile_matches_the_revised_upstream_hashes(
    name: str, input_name: str, index: int
) -> None:
    case = CASES[name]
    event = vector_events(case, input_name)[index]
    assert event_hash_id(event) == case["revised_upstream_cbv20"]["hashes"][index]


@pytest.mark.parametrize(("name", "input_name", "index"), _per_event(_unchanged))
def test_default_profile_keeps_the_hashes_the_revision_did_not_change(
    name: str, input_name: str, index: int
) -> None:
    case = CASES[name]
    event = vector_events(case, input_name)[index]
    assert event_hash_id(event) == lines(case, "hashes")[index]
    assert prehash(event) == lines(case, "prehashes")[index]


@pytest.mark.parametrize("name", [c["name"] for c in MANIFEST["cases"] if len(c["inputs"]) > 1])
@pytest.mark.parametrize("profile", [CBV_2_0, CBV_2_0_LEGACY], ids=lambda p: p.name)
def test_json_and_xml_inputs_give_one_hash(name: str, profile: Profile) -> None:
    case = CASES[name]
    results = {
        input_name: [prehash(e, profile=profile) for e in vector_events(case, input_name)]
        for input_name in case["inputs"]
    }
    first, *others = results.values()
    assert all(other == first for other in others)


def test_every_prehash_line_names_its_hash_line() -> None:
    for case in MANIFEST["cases"]:
        for pre, want in zip(lines(case, "prehashes"), lines(case, "hashes"), strict=True):
            assert hash_id(pre, CBV_2_0_LEGACY) == want


@pytest.mark.parametrize(
    "path",
    sorted(EVENT_HASH.rglob("*.prehashes.upstream-stale")),
    ids=lambda p: p.name,
)
def test_stale_upstream_prehashes_do_not_name_their_hashes(path: Path) -> None:
    """Where a stale upstream line differs from the regenerated one, it is wrong, not us."""
    regenerated = path.with_name(path.name.removesuffix(".upstream-stale"))
    hashes = path.with_name(path.name.replace(".prehashes.upstream-stale", ".hashes"))
    stale = [line for line in path.read_text().splitlines() if line]
    pairs = zip(
        stale, regenerated.read_text().splitlines(), hashes.read_text().split(), strict=True
    )
    for old, new, want in pairs:
        assert hash_id(new, CBV_2_0_LEGACY) == want
        assert (old == new) == (hash_id(old, CBV_2_0_LEGACY) == want)


@pytest.mark.parametrize(
    "entry", MANIFEST["expected_equal"], ids=[e["file"] for e in MANIFEST["expected_equal"]]
)
@pytest.mark.parametrize("profile", [CBV_2_0, CBV_2_0_LEGACY], ids=lambda p: p.name)
def test_expected_equal_files_give_one_hash(entry: Mapping[str, Any], profile: Profile) -> None:
    events = read_events(EVENT_HASH / "expected_equal" / entry["file"])
    assert len(events) == entry["events"]
    hashes = {event_hash_id(event, profile=profile) for event in events}
    assert len(hashes) == 1
    if profile is CBV_2_0_LEGACY:  # informative in the manifest, and reproduced
        assert hashes == {entry["pinned_reference_hash"]}


@pytest.mark.parametrize("name", [c["name"] for c in MANIFEST["cases"] if c["dir"] == NONSTANDARD])
def test_ignore_fields_is_not_cbv_2_0(name: str) -> None:
    """Hashed as CBV 2.0 says, an event keeps the fields the reference was told to skip."""
    case = CASES[name]
    (input_name,) = case["inputs"]
    path = EVENT_HASH / case["dir"] / input_name
    drop = ignored_fields(path)
    for event, want in zip(read_events(path), lines(case, "hashes"), strict=True):
        carries = bool(drop & event.keys())
        assert (event_hash_id(event, profile=CBV_2_0_LEGACY) != want) == carries


# --- rules, one at a time -------------------------------------------------------------------

BASE: dict[str, Any] = {
    "@context": [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"example": "https://ns.example.com/epcis/"},
    ],
    "type": "ObjectEvent",
    "eventTime": "2020-03-04T11:00:30+01:00",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["urn:epc:id:sgtin:4012345.011111.9876"],
    "action": "OBSERVE",
    "bizStep": "shipping",
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


@pytest.mark.parametrize(
    ("written", "legacy", "revised"),
    [
        ("2020-03-04T11:00:30+01:00", "10:00:30.000", "10:00:30.000"),
        ("2020-03-04T10:00:30.1Z", "10:00:30.100", "10:00:30.100"),
        ("2020-03-04T10:00:30.1415Z", "10:00:30.142", "10:00:30.142"),
        ("2020-03-04T10:00:30.1425Z", "10:00:30.142", "10:00:30.143"),  # half-even / half-up
        ("2020-03-04T10:00:30.14249999Z", "10:00:30.142", "10:00:30.142"),
        ("2020-03-04T10:00:30.9996Z", "10:00:31.000", "10:00:31.000"),  # carries
        ("2020-03-04T10:00:30.000000-00:00", "10:00:30.000", "10:00:30.000"),
    ],
)
def test_timestamps_become_utc_milliseconds(written: str, legacy: str, revised: str) -> None:
    for profile, want in ((CBV_2_0_LEGACY, legacy), (CBV_2_0, revised)):
        text = prehash(with_(eventTime=written), profile=profile)
        assert f"eventTime=2020-03-04T{want}Z" in text


@pytest.mark.parametrize(
    "written", ["2020-03-04T11:00:30", "yesterday", "2020-02-30T11:00:30Z", "2020-03-04T11:00Z"]
)
def test_a_timestamp_without_offset_or_invalid_is_refused(written: str) -> None:
    with pytest.raises(EpcisError) as info:
        prehash(with_(eventTime=written))
    assert info.value.field == "eventTime"
    assert isinstance(info.value, BadInputError)


@pytest.mark.parametrize(
    ("written", "want"),
    [(26.0, "26"), ("26.000", "26"), (0.1, "0.1"), ("+007", "7"), ("1e-7", "0.0000001")],
)
def test_numbers_lose_trailing_zeros(written: object, want: str) -> None:
    element = {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": written}
    assert f"quantity={want}uom=KGM" in prehash(with_(quantityList=[{**element, "uom": "KGM"}]))


def test_the_legacy_profile_rounds_long_numbers_through_a_double() -> None:
    event = with_(**{"example:code": "111100001111000011110000"})
    assert prehash(event).endswith("code=111100001111000011110000")
    assert prehash(event, profile=CBV_2_0_LEGACY).endswith("code=111100001111000003641344")


@pytest.mark.parametrize(
    "written",
    [
        "shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "cbv:BizStep-shipping",
        "  shipping ",
    ],
)
def test_vocabulary_spellings_hash_alike(written: str) -> None:
    assert event_hash_id(with_(bizStep=written)) == event_hash_id(BASE)


def test_a_bare_word_outside_its_vocabulary_stays_as_written() -> None:
    assert "bizStep=skipping" in prehash(with_(bizStep="skipping"))
    assert prehash(with_(**{"example:note": "shipping"})).endswith("}note=shipping")


@pytest.mark.parametrize(
    ("written", "want"),
    [
        ("urn:epc:id:sgtin:4012345.011111.9876", "https://id.gs1.org/01/04012345111118/21/9876"),
        (
            "https://example.com/01/04012345111118/21/9876?x=1#y",
            "https://id.gs1.org/01/04012345111118/21/9876",
        ),
        (
            "http://id.gs1.org/gtin/4012345111118/ser/9876",
            "https://id.gs1.org/01/04012345111118/21/9876",
        ),
        (
            "https://id.gs1.org/01/04012345111118/10/LOT/21/9876",
            "https://id.gs1.org/01/04012345111118/21/9876",
        ),
        (
            "https://id.gs1.org/01/04012345111118/22/2A/10/LOT",
            "https://id.gs1.org/01/04012345111118/10/LOT",
        ),
        ("https://id.gs1.org/01/12345670", "https://id.gs1.org/01/00000012345670"),
        (
            "https://id.gs1.org/01/0401234511111/21/9876",
            "https://id.gs1.org/01/00401234511111/21/9876",
        ),
        (
            "https://d.example/a/b/414/4012345000054/254/7",
            "https://id.gs1.org/414/4012345000054/254/7",
        ),
        ("urn:epc:id:sgtin:4012345.011111.a%2fb", "https://id.gs1.org/01/04012345111118/21/a%2Fb"),
    ],
)
def test_identifiers_become_constrained_canonical_digital_links(written: str, want: str) -> None:
    assert canonical_digital_link(written) == want


@pytest.mark.parametrize(
    "written",
    [
        "urn:epc:id:sgtin:4012345.01111.9876",  # 12 digits, not 13
        "urn:epc:id:gid:95100000.12345.400",  # no GS1 key
        "https://id.gs1.org/01/04012345111118/21/9876/10/LOT",  # qualifiers out of order
        "https://id.gs1.org/01/040123451111/21/9876/x",  # a path the grammar does not allow
        "https://example.com/products/42",
        "urn:epc:id:sgtin:4012345.011111.%E2%82%AC",  # not GS1 character set 82
    ],
)
def test_what_is_not_a_gs1_identifier_is_hashed_as_written(written: str) -> None:
    assert canonical_digital_link(written) is None
    assert f"epc={written}" in prehash(with_(epcList=[written]))


def test_identifier_spellings_hash_alike() -> None:
    dl = with_(epcList=["https://brand.example/01/04012345111118/21/9876?linkType=all"])
    assert event_hash_id(dl) == event_hash_id(BASE)


def test_the_two_profiles_escape_subdelims_differently() -> None:
    written = "urn:epc:id:sgtin:4012345.011111.a(b)!*"
    assert canonical_digital_link(written).endswith("/21/a(b)!*")  # type: ignore[union-attr]
    legacy = canonical_digital_link(written, legacy_escaping=True)
    assert legacy is not None and legacy.endswith("/21/a%28b%29%21%2A")


def test_parent_id_and_epc_list_take_the_order_of_each_profile() -> None:
    """The vectors are silent; the revised profile follows the canonical table."""
    event = {**with_(type="TransactionEvent"), "parentID": "urn:epc:id:sscc:4012345.0111111111"}
    assert prehash(event).index("epcList") < prehash(event).index("parentID")
    legacy = prehash(event, profile=CBV_2_0_LEGACY)
    assert legacy.index("parentID") < legacy.index("epcList")


def test_what_is_not_hashed_does_not_change_the_hash() -> None:
    noise = with_(
        eventID="ni:///sha-256;00?ver=CBV2.0",
        recordTime="2030-01-01T00:00:00Z",
        errorDeclaration={"declarationTime": "2030-01-01T00:00:00Z", "reason": "did_not_occur"},
        comment="a comment",
        **{"rdfs:comment": "another"},
    )
    assert event_hash_id(noise) == event_hash_id(BASE)


@pytest.mark.parametrize(
    "change",
    [
        {"action": "ADD"},
        {"eventTimeZoneOffset": "+02:00"},
        {"epcList": ["urn:epc:id:sgtin:4012345.011111.9877"]},
        {"example:extra": ""},
        {"readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"}},
        {"unknownField": "x"},
    ],
)
def test_any_hashed_change_changes_the_hash(change: dict[str, Any]) -> None:
    assert event_hash_id(with_(**change)) != event_hash_id(BASE)


def test_extension_keys_resolve_through_the_context_in_any_spelling() -> None:
    want = event_hash_id(with_(**{"example:myField": "v"}))
    same = [
        with_(**{"{https://ns.example.com/epcis/}myField": "v"}),
        with_(**{"https://ns.example.com/epcis/myField": "v"}),
        {**with_(**{"ex:myField": "v"}), "@context": [{"ex": "https://ns.example.com/epcis/"}]},
    ]
    assert all(event_hash_id(event) == want for event in same)
    bare = {k: v for k, v in with_(**{"example:myField": "v"}).items() if k != "@context"}
    assert event_hash_id(bare, context=BASE["@context"]) == want
    assert event_hash_id(bare) != want  # the prefix no longer resolves


def test_a_value_hashed_once_still_resolves_through_each_events_own_context() -> None:
    # Normalised values are memoised per set of declared prefixes; one event's
    # expansion must not leak into another's that declares the prefix otherwise.
    declared = {**with_(bizStep="ex:step"), "@context": [{"ex": "https://a.example/"}]}
    other = {**with_(bizStep="ex:step"), "@context": [{"ex": "https://b.example/"}]}
    undeclared = {k: v for k, v in with_(bizStep="ex:step").items() if k != "@context"}
    for _ in range(2):  # the second round reads from warm memos
        texts = [prehash(e) for e in (declared, other, undeclared)]
        assert "bizStep=https://a.example/step" in texts[0]
        assert "bizStep=https://b.example/step" in texts[1]
        assert "bizStep=ex:step" in texts[2]


def test_document_events_carry_the_document_context() -> None:
    document = {
        "@context": BASE["@context"],
        "type": "EPCISDocument",
        "epcisBody": {"eventList": [{k: v for k, v in BASE.items() if k != "@context"}]},
    }
    (event,) = document_events(document)
    assert event["@context"] == BASE["@context"]
    assert event_hash_id(event) == event_hash_id(BASE)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"eventTime": "2020-03-04T11:00:30Z"}, "type"),
        (with_(epcList=[None]), "epcList[0]"),
        (with_(readPoint="urn:epc:id:sgln:4012345.00001.0"), "readPoint"),
        (with_(bizTransactionList=[{"type": "po"}]), "bizTransactionList[0].bizTransaction"),
        (
            with_(sensorElementList=[{"sensorReport": [{"time": "soon"}]}]),
            "sensorElementList[0].sensorReport[0].time",
        ),
    ],
)
def test_malformed_events_name_the_offending_field(event: dict[str, Any], field: str) -> None:
    with pytest.raises(EpcisError) as info:
        event_hash_id(event)
    assert info.value.field == field


def test_deep_nesting_is_refused() -> None:
    value: Any = "x"
    for _ in range(100):
        value = {"example:n": value}
    with pytest.raises(EpcisError, match="deeper"):
        event_hash_id(with_(**{"example:deep": value}))
    with pytest.raises(EpcisError, match="arrays"):
        event_hash_id(with_(**{"@context": [[[BASE["@context"]]]]}))
    with pytest.raises(EpcisError, match="digits"):
        event_hash_id(with_(**{"example:n": 10**5000}))


def test_deep_xml_is_refused_or_read_without_recursion() -> None:
    deep = 100_000
    wrappers = "<extension>" * deep + "</extension>" * deep
    document = f"{XML_HEAD}<EPCISBody><EventList>{wrappers}</EventList></EPCISBody>"
    assert epcis_xml.document_events(document + "</epcis:EPCISDocument>") == []
    nested = "<e:a>" * 200 + "</e:a>" * 200
    event = (
        '<ObjectEvent xmlns:e="urn:x"><eventTime>2020-03-04T10:00:30Z</eventTime>'
        f"<eventTimeZoneOffset>+01:00</eventTimeZoneOffset>{nested}</ObjectEvent>"
    )
    with pytest.raises(EpcisError, match="deeper"):
        epcis_xml.document_events(event)


# --- XML --------------------------------------------------------------------------------------

XML_HEAD = '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0">'


@pytest.mark.parametrize(
    "attack",
    [
        # billion laughs
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
        # external entity (XXE)
        '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<foo>&xxe;</foo>",
        # external DTD
        '<?xml version="1.0"?><!DOCTYPE foo SYSTEM "http://example.com/a.dtd"><foo/>',
        # not well-formed, undeclared prefix, not EPCIS
        XML_HEAD + "<EPCISBody>",
        "<a:b/>",
        "<html/>",
    ],
)
def test_xml_attacks_and_garbage_are_refused(attack: str) -> None:
    with pytest.raises(EpcisError):
        epcis_xml.document_events(attack)


def test_xml_1_x_wrappers_and_attributes_are_read() -> None:
    document = (
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" '
        'xmlns:ex="https://ns.example.com/epcis/"><EPCISBody><EventList><extension>'
        "<TransformationEvent><eventTime>2020-03-04T10:00:30Z</eventTime>"
        "<eventTimeZoneOffset>+01:00</eventTimeZoneOffset>"
        "<baseExtension><eventID>urn:uuid:1</eventID></baseExtension>"
        "<outputEPCList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></outputEPCList>"
        "<extension><ilmd><ex:a ex:b='1'>t</ex:a></ilmd></extension>"
        "</TransformationEvent></extension></EventList></EPCISBody></epcis:EPCISDocument>"
    )
    (event,) = epcis_xml.document_events(document)
    assert event["type"] == "TransformationEvent"
    assert event["eventID"] == "urn:uuid:1"
    assert event["ilmd"] == {
        "{https://ns.example.com/epcis/}a": {"{https://ns.example.com/epcis/}b": "1", "#text": "t"}
    }
    assert prehash(event).endswith(
        "ilmd{https://ns.example.com/epcis/}a=t{https://ns.example.com/epcis/}b=1"
    )


# --- invariances ------------------------------------------------------------------------------


def shuffled(value: Any, rnd: random.Random, key: str = "") -> Any:
    """The same JSON value with its object members and (unordered) arrays reordered."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd, k) for k, v in items}
    if isinstance(value, list):
        items = [shuffled(v, rnd, key) for v in value]
        if key != "@context":  # every EPCIS array is a set; a context list is ordered
            rnd.shuffle(items)
        return items
    return value


JSON_EVENTS = [
    event
    for case in MANIFEST["cases"]
    for name in case["inputs"]
    if not name.endswith(".xml")
    for event in vector_events(case, name)
]


@given(st.sampled_from(JSON_EVENTS), st.integers(min_value=0))
def test_member_and_list_order_do_not_matter(event: dict[str, Any], seed: int) -> None:
    permuted = shuffled(event, random.Random(seed))
    for profile in (CBV_2_0, CBV_2_0_LEGACY):
        assert prehash(permuted, profile=profile) == prehash(event, profile=profile)


def gtin14(company_prefix: str, item: str) -> str:
    """A naive GS1 check digit, independent of the implementation's."""
    body = item[0] + company_prefix + item[1:]
    weights = [3 if i % 2 == 0 else 1 for i in range(len(body))][::-1]
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + str(-total % 10)


SERIAL = st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=20)
NOTE = st.text(alphabet=string.ascii_letters + string.digits + " -_.,;/()&<>\"'", max_size=30)


@st.composite
def object_events(draw: st.DrawFn) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """One ObjectEvent three ways: JSON-LD with URNs, XML, and JSON with Digital Links."""
    company_prefix = draw(st.from_regex(r"[1-9][0-9]{6}", fullmatch=True))
    item = draw(st.from_regex(r"[0-9]{6}", fullmatch=True))
    serials = draw(st.lists(SERIAL, min_size=1, max_size=5, unique=True))
    seconds = draw(st.integers(0, 59))
    millis = draw(st.integers(0, 999))
    step = draw(st.sampled_from(["shipping", "receiving", "packing"]))
    notes = draw(st.lists(NOTE, max_size=3))
    urns = [f"urn:epc:id:sgtin:{company_prefix}.{item}.{s}" for s in serials]
    links = [f"https://id.gs1.org/01/{gtin14(company_prefix, item)}/21/{s}" for s in serials]
    event: dict[str, Any] = {
        "@context": [{"ex": "https://ns.example.com/epcis/"}],
        "type": "ObjectEvent",
        "eventTime": f"2021-06-01T12:00:{seconds:02d}.{millis:03d}+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": urns,
        "action": "OBSERVE",
        "bizStep": step,
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:1:2"}],
        "ex:note": notes,
    }
    xml = (
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
        'xmlns:e="https://ns.example.com/epcis/"><EPCISBody><EventList><ObjectEvent>'
        f"<eventTime>2021-06-01T10:00:{seconds:02d}.{millis:03d}000Z</eventTime>"
        "<eventTimeZoneOffset>+02:00</eventTimeZoneOffset><epcList>"
        + "".join(f"<epc>{escape(u)}</epc>" for u in reversed(urns))
        + f"</epcList><action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:{step}</bizStep>"
        '<bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:po">'
        "urn:epcglobal:cbv:bt:1:2</bizTransaction></bizTransactionList>"
        + "".join(f"<e:note>{escape(n)}</e:note>" for n in notes)
        + "</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"
    )
    return event, xml, {**event, "epcList": links}


@given(object_events())
def test_json_xml_and_digital_link_spellings_of_an_event_hash_alike(
    spellings: tuple[dict[str, Any], str, dict[str, Any]],
) -> None:
    event, xml, linked = spellings
    (from_xml,) = epcis_xml.document_events(xml)
    for profile in (CBV_2_0, CBV_2_0_LEGACY):
        want = prehash(event, profile=profile)
        assert prehash(from_xml, profile=profile) == want
        assert prehash(linked, profile=profile) == want


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = sorted(
    {key for event in JSON_EVENTS for key in event}
    | {"sensorElementList", "persistentDisposition", "quantityList", "ilmd", "example:x"}
)


@given(st.sampled_from(JSON_EVENTS), st.sampled_from(FIELDS), JSON_VALUES)
def test_any_json_gives_a_hash_or_an_epcis_error(
    event: dict[str, Any], field: str, value: Any
) -> None:
    try:
        text = prehash({**event, field: value})
    except EpcisError:
        return
    assert hashlib.sha256(text.encode()).hexdigest()


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_give_events_or_an_epcis_error(data: bytes | str) -> None:
    with contextlib.suppress(EpcisError):
        epcis_xml.document_events(XML_HEAD.encode() + data if isinstance(data, bytes) else data)
