"""GS1 Digital Link URIs against ../shared/data/gs1/digital_link_uris.json, plus properties."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shared_data import SHARED_DATA
from veriledger.core.errors import (
    BadInputError,
    CheckDigitError,
    DigitalLinkError,
    GS1Error,
    GS1FormatError,
    VeriledgerError,
)
from veriledger.core.gs1 import (
    CANONICALIZE_OPTIONS,
    ElementString,
    ParseOptions,
    build_digital_link,
    canonicalize_digital_link,
    compress_digital_link,
    decompress_digital_link,
    format_element_strings,
    gs1_check_digit,
    is_compressed_digital_link,
    is_valid_path_sequence,
    parse_digital_link,
    parse_element_strings,
    validate_path_sequence,
)
from veriledger.core.gs1.digital_link import percent_encode
from veriledger.core.gs1.linters import CSET82

VECTORS: dict[str, Any] = json.loads((SHARED_DATA / "gs1" / "digital_link_uris.json").read_text())
PARSE = VECTORS["parse"]
GENERATE = VECTORS["generate"]
CANONICALIZE = VECTORS["canonicalize"]
SEQUENCES = VECTORS["path_sequences"]
COMPRESSION = VECTORS["compression"]


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in cases]


def test_vector_counts() -> None:
    counts = VECTORS["counts"]
    assert (len(PARSE), len(GENERATE), len(CANONICALIZE), len(SEQUENCES), len(COMPRESSION)) == (
        counts["parse"],
        counts["generate"],
        counts["canonicalize"],
        counts["path_sequences"],
        counts["compression"],
    )
    assert Counter(c["valid"] for c in PARSE) == {True: 70, False: 50}


# --- parse ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", PARSE, ids=_ids(PARSE))
def test_parse_vector(case: dict[str, Any]) -> None:
    options = ParseOptions(**case.get("options", {}))
    if not case["valid"]:
        with pytest.raises(GS1Error):
            parse_digital_link(case["uri"], options)
        return
    link = parse_digital_link(case["uri"], options)
    assert [[e.ai, e.value] for e in link.element_strings] == case["element_strings"]
    assert link.hri == case["element_string_hri"]
    # The HRI is itself a valid element string that means the same.
    assert parse_element_strings(link.hri, options) == link.element_strings


OPTION_CASES = [c for c in PARSE if c.get("options") and c["valid"]]


@pytest.mark.parametrize("case", OPTION_CASES, ids=_ids(OPTION_CASES))
def test_lenient_cases_are_rejected_by_the_strict_default(case: dict[str, Any]) -> None:
    with pytest.raises(GS1Error):
        parse_digital_link(case["uri"])


@pytest.mark.parametrize(
    ("case_id", "options", "error"),
    [
        # These four give a check-digit reason but use a short name (/gln/ ...) without
        # saying so in "options"; with the option on, the check digit is what fails.
        ("dl-parse-146", ParseOptions(permit_convenience_alphas=True), CheckDigitError),
        ("dl-parse-152", ParseOptions(permit_convenience_alphas=True), CheckDigitError),
        ("dl-parse-154", ParseOptions(permit_convenience_alphas=True), CheckDigitError),
        ("dl-parse-156", ParseOptions(permit_convenience_alphas=True), CheckDigitError),
        # Their GTIN-8 fails first in strict mode; with short GTINs allowed, the stated
        # reason is what fails.
        ("dl-parse-136", ParseOptions(permit_zero_suppressed_gtin=True), DigitalLinkError),
        ("dl-parse-139", ParseOptions(permit_zero_suppressed_gtin=True), CheckDigitError),
    ],
)
def test_invalid_cases_fail_for_their_stated_reason_when_lenient(
    case_id: str, options: ParseOptions, error: type[GS1Error]
) -> None:
    (case,) = [c for c in PARSE if c["id"] == case_id]
    with pytest.raises(error):
        parse_digital_link(case["uri"], options)


def test_parse_keeps_stem_path_attributes_and_other_parameters() -> None:
    link = parse_digital_link(
        "https://brand.example.com/some/prefix/01/09506000134352/21/A%2FB"
        "?linkType=gs1:pip&17=251231#frag"
    )
    assert link.stem == "https://brand.example.com/some/prefix"
    assert link.primary_key == ElementString("01", "09506000134352")
    assert link.path[1] == ElementString("21", "A/B")
    assert link.attributes == (ElementString("17", "251231"),)
    assert link.other_parameters == ("linkType=gs1:pip",)
    assert link.to_uri() == "https://id.gs1.org/01/09506000134352/21/A%2FB?17=251231"


@pytest.mark.parametrize(
    ("uri", "field", "message"),
    [
        (
            "https://id.gs1.org/01/09506000134353",
            "01",
            "check digit 3 does not match the computed 2",
        ),
        ("https://id.gs1.org/01/09506000134352?10=A", "10", "must be in the path"),
        ("https://id.gs1.org/01/09506000134352?21=A", "21", "not a valid Digital Link attribute"),
        ("https://id.gs1.org/01/09506000134352/21/A/10/B", "01", "in that order"),
        ("https://id.gs1.org/01/09506000134352?8200=http", "8200", "not a valid Digital Link"),
        ("https://id.gs1.org/01/09506000134352/21/A%00", "21", "NUL"),
    ],
)
def test_errors_name_the_field(uri: str, field: str, message: str) -> None:
    with pytest.raises(GS1Error, match=message) as info:
        parse_digital_link(uri)
    assert info.value.field == field


# --- generate, canonicalize, path sequences ------------------------------------------------


@pytest.mark.parametrize("case", GENERATE, ids=_ids(GENERATE))
def test_generate_vector(case: dict[str, Any]) -> None:
    if not case["valid"]:
        with pytest.raises(DigitalLinkError):
            build_digital_link(case["element_string_hri"], case["stem"])
        return
    uri = build_digital_link(case["element_string_hri"], case["stem"])
    assert uri == case["expected_uri"]
    # What was generated parses back to the same element strings (identical repeats
    # collapse, and the order may change).
    given_elements = set(parse_element_strings(case["element_string_hri"]))
    assert set(parse_digital_link(uri).element_strings) == given_elements


@pytest.mark.parametrize("case", CANONICALIZE, ids=_ids(CANONICALIZE))
def test_canonicalize_vector(case: dict[str, Any]) -> None:
    link = parse_digital_link(case["uri"], CANONICALIZE_OPTIONS)
    assert link.hri == case["expected_element_string_hri"]
    if "expected_canonical_uri" in case:
        assert canonicalize_digital_link(case["uri"]) == case["expected_canonical_uri"]
        assert link.canonical_uri() == case["expected_canonical_uri"]


@pytest.mark.parametrize("case", SEQUENCES, ids=_ids(SEQUENCES))
def test_path_sequence_vector(case: dict[str, Any]) -> None:
    assert is_valid_path_sequence(case["path_ais"]) is case["valid"]
    if case["valid"]:
        validate_path_sequence(case["path_ais"])
    else:
        with pytest.raises(DigitalLinkError):
            validate_path_sequence(case["path_ais"])


LENIENT_DL = ParseOptions(permit_convenience_alphas=True, permit_zero_suppressed_gtin=True)


@pytest.mark.parametrize("case", COMPRESSION, ids=_ids(COMPRESSION))
def test_compression_vector(case: dict[str, Any]) -> None:
    options = case.get("options", {})
    if case["op"] == "compress":
        compressed = compress_digital_link(case["input"], **options)
        assert compressed == case["expected"]
        assert is_compressed_digital_link(compressed)
        # The same AIs and non-GS1 parameters come back.
        given_link = parse_digital_link(case["input"], LENIENT_DL)
        back = parse_digital_link(decompress_digital_link(compressed))
        assert back.canonical_uri() == given_link.canonical_uri()
        assert back.other_parameters == given_link.other_parameters
    elif case["op"] == "decompress":
        assert decompress_digital_link(case["input"], **options) == case["expected"]
    else:
        assert case["op"] == "is_compressed"
        assert is_compressed_digital_link(case["input"]) is case["expected"]


def _gs1_key(payload: str) -> str:
    return payload + str(gs1_check_digit(payload))


@pytest.mark.parametrize(
    "uri",
    [
        # All-digit alphanumerics keep their leading zeros (the prototype drops them);
        # 20 digits exceed a float's precision.
        "https://id.gs1.org/01/09506000134352/10/007/21/12345678901234567890",
        # Each alphanumeric encoding: lower and upper hex, base64url, 7-bit ASCII.
        "https://id.gs1.org/01/09506000134352/22/a1b2/10/A1B2/21/aB-_z?99=x%26y%2Fz",
        # Optional components: absent GCN serial (zero digits), absent GDTI serial,
        # an 8008 date-time with and without its optional tail.
        f"https://id.gs1.org/255/{_gs1_key('061414100001')}",
        f"https://id.gs1.org/253/{_gs1_key('061414100001')}",
        "https://id.gs1.org/01/09506000134352?8008=2503311230",
        "https://id.gs1.org/01/09506000134352?8008=25033112",
        # Optimisation codes for other keys, and a custom path in the stem.
        f"https://example.com/a/b/414/{_gs1_key('061414100001')}/254/X1",
        "https://id.gs1.org/01/09506000134352/10/L1/21/S1?17=251231&3103=000189",
    ],
)
def test_compression_round_trips(uri: str) -> None:
    link = parse_digital_link(uri)
    for use_optimisations in (True, False):
        compressed = compress_digital_link(uri, use_optimisations)
        assert compressed.startswith(link.stem + "/")
        assert decompress_digital_link(compressed) == link.to_uri(link.stem)


def test_optimisations_shorten_the_uri() -> None:
    uri = "https://id.gs1.org/01/09506000134352/10/L1/21/S1?17=251231"
    assert len(compress_digital_link(uri)) < len(compress_digital_link(uri, False))


@pytest.mark.parametrize(
    ("call", "uri", "message"),
    [
        (compress_digital_link, "https://a/01/09506000134352?a.b=1", "base64url key"),
        (compress_digital_link, "https://a/01/09506000134352?flag", "base64url key"),
        (compress_digital_link, "https://a/01/09506000134352?k=%C3%A9", "ASCII"),
        (decompress_digital_link, "https://a/01/09506000134352", "already an uncompressed"),
        (decompress_digital_link, "https://a/", "not base64url"),
        (decompress_digital_link, "https://a/HxHKVAdpQgZzjr", "ends in the middle"),
        (decompress_digital_link, "https://a/qw", "unknown optimisation code"),
        (decompress_digital_link, "https://a/BQ", "no AI starts with 05"),
        (decompress_digital_link, "https://a/HxHKVAdpQgZzjr-hCDKigJ", "padding bits"),
    ],
)
def test_compression_errors_name_the_problem(call: Any, uri: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        call(uri)
    assert not is_compressed_digital_link(uri)


def test_other_parameters_can_stay_uncompressed() -> None:
    uri = "https://a/01/09506000134352?linkType=gs1:pip&flag"
    compressed = compress_digital_link(uri, compress_other_key_value_pairs=False)
    assert compressed.endswith("?linkType=gs1:pip&flag")
    assert decompress_digital_link(compressed) == uri


def test_canonical_form_is_a_fixed_point() -> None:
    uri = "https://example.com/a/01/614141123452/10/ABC?99=x&17=251231&linkType=all"
    canonical = canonicalize_digital_link(uri)
    assert canonical == "https://id.gs1.org/01/00614141123452/10/ABC?17=251231&99=x"
    assert canonicalize_digital_link(canonical) == canonical


def test_stems_are_checked() -> None:
    for stem in ("ftp://example.com", "https://", "https://ex ample.com", "https://a?b"):
        with pytest.raises(DigitalLinkError) as info:
            build_digital_link("(01)09506000134352", stem)
        assert info.value.field == "stem"
    assert build_digital_link("(01)09506000134352", "http://a/b/") == "http://a/b/01/09506000134352"


def test_generate_needs_a_primary_key() -> None:
    with pytest.raises(DigitalLinkError, match="no Digital Link primary key"):
        build_digital_link("(99)ABC")


# --- properties ----------------------------------------------------------------------------

DIGITS = "0123456789"
# Values for AIs without the percent-encoding linter: any CSET 82 character.
x_values = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)


def _with_check_digit(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=length - 1, max_size=length - 1).map(
        lambda p: p + str(gs1_check_digit(p))
    )


dates = st.dates().map(lambda d: d.strftime("%y%m%d"))


@st.composite
def element_string_sets(draw: st.DrawFn) -> list[ElementString]:
    """Valid element strings around one primary key, in a random order."""
    kind = draw(st.sampled_from(["gtin", "sscc", "gln", "gsrn", "gdti", "gcn", "grai"]))
    out: list[ElementString] = []
    if kind == "gtin":
        out.append(ElementString("01", draw(_with_check_digit(14))))
        if draw(st.booleans()):
            out.append(ElementString("235", draw(x_values)))
        else:
            for ai in ("22", "10", "21"):
                if draw(st.booleans()):
                    out.append(ElementString(ai, draw(x_values)))
        for ai in ("11", "15", "17"):
            if draw(st.booleans()):
                out.append(ElementString(ai, draw(dates)))
    elif kind == "sscc":
        out.append(ElementString("00", draw(_with_check_digit(18))))
        if draw(st.booleans()):
            out.append(ElementString("02", draw(_with_check_digit(14))))
            out.append(ElementString("37", draw(st.text(alphabet=DIGITS, min_size=1, max_size=8))))
    elif kind == "gln":
        out.append(ElementString("414", draw(_with_check_digit(13))))
        if draw(st.booleans()):
            out.append(ElementString("254", draw(x_values)))
    elif kind == "gsrn":
        out.append(ElementString("8018", draw(_with_check_digit(18))))
        if draw(st.booleans()):
            out.append(
                ElementString("8019", draw(st.text(alphabet=DIGITS, min_size=1, max_size=10)))
            )
    elif kind == "gdti":
        out.append(
            ElementString("253", draw(_with_check_digit(13)) + draw(x_values.map(lambda v: v[:17])))
        )
    elif kind == "gcn":
        serial = draw(st.text(alphabet=DIGITS, max_size=12))
        out.append(ElementString("255", draw(_with_check_digit(13)) + serial))
    else:
        serial = draw(st.text(alphabet=sorted(CSET82), max_size=16))
        out.append(ElementString("8003", "0" + draw(_with_check_digit(13)) + serial))
    for ai in ("90", "91", "99"):
        if draw(st.booleans()):
            out.append(ElementString(ai, draw(x_values)))
    return draw(st.permutations(out))


@settings(max_examples=300)
@given(element_string_sets(), st.sampled_from([None, "https://example.com/x/", "HTTP://a.b"]))
def test_element_strings_to_digital_link_and_back(
    elements: list[ElementString], stem: str | None
) -> None:
    hri = format_element_strings(elements)
    assert parse_element_strings(hri) == tuple(elements)
    uri = build_digital_link(hri, stem)
    link = parse_digital_link(uri)
    assert Counter(link.element_strings) == Counter(elements)
    assert build_digital_link(link.element_strings, stem) == uri
    assert link.to_uri(stem) == uri
    canonical = link.canonical_uri()
    assert canonicalize_digital_link(canonical) == canonical


SHORT_NAMES = ParseOptions(permit_convenience_alphas=True)


@st.composite
def gtin_digital_links(draw: st.DrawFn) -> str:
    """A valid Digital Link: a GTIN, optional qualifiers, a few query AIs and a non-GS1
    parameter, on one of several stems."""
    stem = draw(st.sampled_from(["https://id.gs1.org", "https://example.com/x/y", "HTTP://a.b"]))
    path = f"/01/{draw(_with_check_digit(14))}"
    for ai in ("22", "10", "21"):
        if draw(st.booleans()):
            path += f"/{ai}/{percent_encode(draw(x_values))}"
    query = [f"{ai}={draw(dates)}" for ai in ("11", "15", "17") if draw(st.booleans())]
    if draw(st.booleans()):
        query.append(f"3103={draw(st.text(alphabet=DIGITS, min_size=6, max_size=6))}")
    for ai in ("90", "91", "99"):
        if draw(st.booleans()):
            query.append(f"{ai}={percent_encode(draw(x_values), query_component=True)}")
    if draw(st.booleans()):
        query.append("linkType=gs1:pip")
    query = draw(st.permutations(query))
    return stem + path + ("?" + "&".join(query) if query else "")


@settings(max_examples=150)
@given(gtin_digital_links(), st.booleans(), st.booleans())
def test_compression_round_trip_property(
    uri: str, use_optimisations: bool, compress_others: bool
) -> None:
    compressed = compress_digital_link(uri, use_optimisations, compress_others)
    assert is_compressed_digital_link(compressed)
    assert not is_compressed_digital_link(uri)
    back = decompress_digital_link(compressed)
    assert canonicalize_digital_link(back) == canonicalize_digital_link(uri)
    link = parse_digital_link(uri)
    assert parse_digital_link(back).other_parameters == link.other_parameters
    assert parse_digital_link(back).stem == link.stem
    short = decompress_digital_link(compressed, use_short_names=True)
    assert "/gtin/" in short
    assert parse_digital_link(short, SHORT_NAMES).canonical_uri() == link.canonical_uri()


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(max_size=80),
        st.text(alphabet=BASE64URL, max_size=40).map(lambda t: "https://a.example/" + t),
        st.text(alphabet=BASE64URL, max_size=40).map(lambda t: "https://a.example/H" + t),
    )
)
def test_fuzz_decompress_raises_only_bad_input(text: str) -> None:
    with contextlib.suppress(BadInputError):
        decompress_digital_link(text)
    with contextlib.suppress(BadInputError):
        decompress_digital_link(text, use_short_names=True)
    assert is_compressed_digital_link(text) in (True, False)


VALID_URIS = [c["uri"] for c in PARSE if c["valid"]]
URI_ALPHABET = sorted(set("".join(VALID_URIS)) | set("%?&=#/+ é\x00<"))


def _try(call: Any, *args: Any) -> None:
    with contextlib.suppress(VeriledgerError):
        call(*args)


@settings(max_examples=400)
@given(
    st.sampled_from(VALID_URIS),
    st.lists(
        st.tuples(st.integers(0, 200), st.sampled_from(URI_ALPHABET), st.sampled_from("rid")),
        max_size=4,
    ),
)
def test_fuzz_mutated_uris_raise_only_our_errors(
    uri: str, edits: list[tuple[int, str, str]]
) -> None:
    for position, char, op in edits:
        i = position % (len(uri) + 1)
        uri = {
            "r": uri[:i] + char + uri[i + 1 :],
            "i": uri[:i] + char + uri[i:],
            "d": uri[:i] + uri[i + 1 :],
        }[op]
    lenient = ParseOptions(
        permit_unknown_ais=True,
        unknown_ai_as_dl_attr_allowed=True,
        permit_zero_suppressed_gtin=True,
        permit_convenience_alphas=True,
        check_requisites=False,
    )
    for options in (ParseOptions(), lenient):
        _try(parse_digital_link, uri, options)
        _try(canonicalize_digital_link, uri, options)


@given(st.text(max_size=80))
def test_fuzz_random_text_raises_only_our_errors(text: str) -> None:
    _try(parse_digital_link, text)
    _try(canonicalize_digital_link, text)
    _try(build_digital_link, text)
    _try(build_digital_link, "(01)09506000134352", text)
    _try(validate_path_sequence, text.split("/"))


@given(
    st.from_regex(
        r"\A(https?|HTTPS?)://[a-z0-9.]{0,6}(/[0-9a-z%+]{0,15}){0,8}(\?[0-9a-zA-Z=&%+]{0,30})?\Z"
    )
)
def test_fuzz_uri_shaped_text_raises_only_our_errors(text: str) -> None:
    _try(parse_digital_link, text, ParseOptions(permit_unknown_ais=True))
    _try(parse_digital_link, text)


def test_short_gtin_is_a_format_error() -> None:
    with pytest.raises(GS1FormatError):
        parse_digital_link("https://a/01/1234")
