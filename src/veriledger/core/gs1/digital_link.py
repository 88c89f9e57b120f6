"""GS1 Digital Link URIs: parse, validate, generate and canonicalise.

A Digital Link URI carries GS1 element strings in a web address:
``https://id.gs1.org/01/09506000134352/21/ABC?17=251231``. The path holds a primary
key (here the GTIN, AI 01) and its key qualifiers in a fixed order (serial, AI 21);
the query string holds data attributes (expiry date, AI 17). Anything before the primary
key is the stem, which the owner of the domain chooses.

Parsing follows gs1/gs1-syntax-engine (``src/c-lib/dl.c``), which implements the GS1
Digital Link URI syntax standard:

1. Only URI characters; the scheme is ``http`` or ``https`` (all lower or all upper
   case); the domain is not empty and has none of ``_~?#@!$&'()*+,;=%``.
2. The fragment (``#...``) is dropped; the query starts at the first ``?``.
3. From the end of the path, ``/AI/value`` pairs are walked backwards until one whose AI
   is a primary key; what precedes it is the stem. A segment that is not an AI stops
   the walk, so a path with no primary key is rejected.
4. Path values are percent-decoded (``+`` stays ``+``); query values too, with ``+``
   meaning space. A decoded NUL is refused.
5. Query parameters without ``=`` or with a non-numeric name (``linkType``) are kept
   aside as non-AI parameters; a numeric name must be a known AI, and its value must not
   be empty.
6. The path AIs must be a valid primary key / key qualifier sequence, no AI may appear
   twice, and each query AI must be allowed as a data attribute and must not be one
   that belongs in the path as a qualifier.
7. Every value is checked against the AI table, and the AIs must go together (see
   :mod:`.element_strings`).

Compressed Digital Link URIs (the binary, base64url form of gs1/digital-link.js) are
read and written by :mod:`.dl_compression`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from veriledger.core.errors import DigitalLinkError, GS1FormatError
from veriledger.core.gs1.ai_table import AIEntry, AITable, default_ai_table
from veriledger.core.gs1.element_strings import (
    ElementString,
    ai_field,
    as_element_strings,
    check_combinations,
    format_element_strings,
    validate_ai_value,
)
from veriledger.core.gs1.linters import DIGITS
from veriledger.core.gs1.options import STRICT, ParseOptions

CANONICAL_STEM = "https://id.gs1.org"
"""The stem of canonical Digital Link URIs, and the default when generating one."""

CANONICALIZE_OPTIONS = ParseOptions(permit_zero_suppressed_gtin=True)
"""Options :func:`canonicalize_digital_link` parses with by default: normalising a short
GTIN to 14 digits is part of its job."""

CONVENIENCE_ALPHAS = {
    "cpid": "8010", "cpsn": "8011", "cpv": "22", "gcn": "255", "gdti": "253",
    "giai": "8004", "ginc": "401", "gln": "414", "glnx": "254", "gmn": "8013",
    "grai": "8003", "gsin": "402", "gsrn": "8018", "gsrnp": "8017", "gtin": "01",
    "itip": "8006", "lot": "10", "party": "417", "refno": "8020", "ser": "21",
    "srin": "8019", "sscc": "00",
}  # fmt: skip
"""Deprecated short names for AIs in the path (``ParseOptions.permit_convenience_alphas``)."""

_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_URI_CHARACTERS = frozenset(_ALPHANUMERIC + "-._~:/?#[]@!$&'()*+,;=%")
_UNRESERVED = frozenset(_ALPHANUMERIC + "-._~")
_BAD_DOMAIN_CHARACTERS = frozenset("_~?#@!$&'()*+,;=%")
_HEX = "0123456789abcdefABCDEF"
_SCHEMES = ("https://", "HTTPS://", "http://", "HTTP://")
_SHORT_GTIN_LENGTHS = (8, 12, 13)


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link URI."""

    uri: str
    """The URI as given."""
    stem: str
    """Scheme, domain and any path before the primary key, without a trailing ``/``."""
    path: tuple[ElementString, ...]
    """The primary key, then its key qualifiers, in path order."""
    attributes: tuple[ElementString, ...]
    """The AIs of the query string, in the order they appear."""
    other_parameters: tuple[str, ...] = ()
    """Query parameters that are not AIs (``linkType=...``), as written."""

    @property
    def primary_key(self) -> ElementString:
        return self.path[0]

    @property
    def element_strings(self) -> tuple[ElementString, ...]:
        """Path AIs first, then query AIs in URI order."""
        return self.path + self.attributes

    @property
    def hri(self) -> str:
        """The element strings as ``(AI)value`` text."""
        return format_element_strings(self.element_strings)

    def to_uri(self, stem: str | None = None, options: ParseOptions = STRICT) -> str:
        """The URI rebuilt on ``stem`` (default :data:`CANONICAL_STEM`) with the same path;
        query attributes of predefined length first, then the others, each in order.

        Raises:
            DigitalLinkError: ``stem`` is not an http(s) scheme and domain.
        """
        return _emit(stem, self.path, _fixed_first(self.attributes, options), options)

    def canonical_uri(self, options: ParseOptions = STRICT) -> str:
        """The canonical form: stem ``https://id.gs1.org``, the same path, the query AIs
        sorted by AI, non-AI parameters dropped, values percent-encoded one way."""
        ordered = sorted(self.attributes, key=lambda e: e.ai)
        return _emit(CANONICAL_STEM, self.path, ordered, options)


# --- parsing -------------------------------------------------------------------------------


def parse_digital_link(
    uri: str, options: ParseOptions = STRICT, table: AITable | None = None
) -> DigitalLink:
    """Parse and validate a GS1 Digital Link URI (see the module docstring for the steps).

    ``table`` defaults to the AI table shipped with the package.

    Raises:
        DigitalLinkError: not an http(s) URI with a domain, no primary key in the path,
            an empty or NUL value, an unknown numeric query parameter, a bad key
            qualifier sequence, a repeated AI, or a query AI that is not a valid
            attribute.
        GS1FormatError: a value breaks its AI's format.
        CheckDigitError: a check digit is wrong.
        AICombinationError: the AIs do not go together.
    """
    table = table or default_ai_table()
    scheme, domain, path, query = _split_uri(uri)
    segments = path.split("/")  # segments[0] is the empty text before the first "/"
    start = _find_primary_key(segments, options, table)
    if start is None:
        raise DigitalLinkError("path", uri, "no GS1 Digital Link primary key in the path")
    stem = scheme + domain + "/".join(segments[:start])

    entries: dict[str, AIEntry] = {}
    path_elements: list[ElementString] = []
    for k in range(start, len(segments), 2):
        ai, entry = _resolve_path_ai(segments[k], options, table)
        value = _decode_value(ai, segments[k + 1], uri, "path", options, query_component=False)
        _check_length(entry, ai, value)
        entries.setdefault(ai, entry)
        path_elements.append(ElementString(ai, value))

    attributes: list[ElementString] = []
    others: list[str] = []
    for parameter in (query or "").split("&"):
        if not parameter:
            continue
        name, equals, raw = parameter.partition("=")
        if not equals or not name or any(ch not in DIGITS for ch in name):
            others.append(parameter)
            continue
        entry_or_none = table.lookup(name, options.permit_unknown_ais)
        if entry_or_none is None:
            raise DigitalLinkError(ai_field(name), uri, f"unknown AI ({name}) in the query")
        value = _decode_value(name, raw, uri, "query", options, query_component=True)
        _check_length(entry_or_none, name, value)
        entries.setdefault(name, entry_or_none)
        attributes.append(ElementString(name, value))

    validate_path_sequence([e.ai for e in path_elements], table)
    seen: set[str] = set()
    for element in path_elements + attributes:
        if element.ai in seen:
            raise DigitalLinkError(element.ai, uri, f"({element.ai}) appears more than once")
        seen.add(element.ai)
    path_ais = [e.ai for e in path_elements]
    for element in attributes:
        _check_attribute(element, entries[element.ai], path_ais, options, table)

    for element in path_elements + attributes:
        validate_ai_value(element.ai, element.value, options, table)
    check_combinations(path_elements + attributes, entries, options)
    return DigitalLink(uri, stem, tuple(path_elements), tuple(attributes), tuple(others))


def _split_uri(uri: str) -> tuple[str, str, str, str | None]:
    """Scheme (with ``://``), domain, path (from its first ``/``) and query (or None)."""
    if not isinstance(uri, str):
        raise DigitalLinkError("uri", repr(uri), "not a string")
    if not uri:
        raise DigitalLinkError("uri", uri, "empty")
    for ch in uri:
        if ch not in _URI_CHARACTERS:
            raise DigitalLinkError("uri", uri, f"character {ch!r} is not allowed in a URI")
    scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise DigitalLinkError("scheme", uri, "scheme must be http or https")
    rest = uri[len(scheme) :]
    slash = rest.find("/")
    domain = rest if slash < 0 else rest[:slash]
    for ch in domain:
        if ch in _BAD_DOMAIN_CHARACTERS:
            raise DigitalLinkError("domain", uri, f"character {ch!r} is not allowed in a domain")
    if slash < 0 or not domain:
        raise DigitalLinkError("domain", uri, "no domain and path")
    path = rest[slash:].split("#", 1)[0]
    path, question, query = path.partition("?")
    return scheme, domain, path, (query if question else None)


def _lookup_path_ai(
    segment: str, options: ParseOptions, table: AITable
) -> tuple[str, AIEntry] | None:
    if (
        options.permit_convenience_alphas
        and 3 <= len(segment) <= 5
        and segment[0] not in DIGITS
        and segment in CONVENIENCE_ALPHAS
    ):
        ai = CONVENIENCE_ALPHAS[segment]
        entry = table.lookup(ai)
        return None if entry is None else (ai, entry)
    entry = table.lookup(segment, options.permit_unknown_ais)
    return None if entry is None else (segment, entry)


def _find_primary_key(segments: list[str], options: ParseOptions, table: AITable) -> int | None:
    """Index of the primary key's AI segment, walking ``/AI/value`` pairs from the end."""
    k = len(segments) - 2
    while k >= 1:
        found = _lookup_path_ai(segments[k], options, table)
        if found is None:
            return None
        if found[1].is_primary_key:
            return k
        k -= 2
    return None


def _resolve_path_ai(segment: str, options: ParseOptions, table: AITable) -> tuple[str, AIEntry]:
    found = _lookup_path_ai(segment, options, table)
    assert found is not None  # the backward walk has already looked every one up
    return found


def _decode_value(
    ai: str, raw: str, uri: str, where: str, options: ParseOptions, query_component: bool
) -> str:
    if not raw:
        raise DigitalLinkError(ai, uri, f"empty value for ({ai}) in the {where}")
    value = percent_decode(raw, query_component)
    if "\x00" in value:
        raise DigitalLinkError(ai, uri, f"value for ({ai}) in the {where} decodes to a NUL")
    if options.permit_zero_suppressed_gtin and ai == "01" and len(value) in _SHORT_GTIN_LENGTHS:
        value = value.rjust(14, "0")
    return value


def _check_length(entry: AIEntry, ai: str, value: str) -> None:
    """The length check done while extracting, before the fuller component checks."""
    if len(value) < entry.min_length:
        raise GS1FormatError(ai, value, f"value is too short ({len(value)} characters)")
    if len(value) > entry.max_length:
        raise GS1FormatError(ai, value, f"value is too long ({len(value)} characters)")


def _check_attribute(
    element: ElementString,
    entry: AIEntry,
    path_ais: list[str],
    options: ParseOptions,
    table: AITable,
) -> None:
    ai = element.ai
    if not _allowed_as_attribute(entry, options):
        raise DigitalLinkError(ai, element.value, f"({ai}) is not a valid Digital Link attribute")
    for i in range(1, len(path_ais) + 1):
        if table.is_path_sequence([*path_ais[:i], ai, *path_ais[i:]]):
            raise DigitalLinkError(
                ai, element.value, f"({ai}) must be in the path as a key qualifier"
            )


def _allowed_as_attribute(entry: AIEntry, options: ParseOptions) -> bool:
    if entry.known:
        return entry.dl_data_attribute
    return options.unknown_ai_as_dl_attr_allowed


def percent_decode(text: str, query_component: bool = False) -> str:
    """Decode ``%XX`` escapes as the syntax engine does: a ``%`` not followed by two hex
    digits stays as it is, and in a query component ``+`` means space. Each byte becomes
    one character (Latin-1), so anything outside ASCII later fails the character set."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and i + 2 < len(text) and text[i + 1] in _HEX and text[i + 2] in _HEX:
            out.append(int(text[i + 1 : i + 3], 16))
            i += 3
            continue
        out.extend(b" " if query_component and ch == "+" else ch.encode("utf-8"))
        i += 1
    return out.decode("latin-1")


# --- path sequences ------------------------------------------------------------------------


def is_valid_path_sequence(ais: Sequence[str], table: AITable | None = None) -> bool:
    """Whether ``ais`` is a primary key followed by key qualifiers in an allowed order."""
    return (table or default_ai_table()).is_path_sequence(ais)


def validate_path_sequence(ais: Sequence[str], table: AITable | None = None) -> None:
    """Raise unless ``ais`` is a primary key and key qualifiers in an allowed order.

    Raises:
        DigitalLinkError: naming the first AI out of place and what was allowed.
    """
    table = table or default_ai_table()
    if table.is_path_sequence(ais):
        return
    text = "/".join(ais)
    if not ais:
        raise DigitalLinkError("path", text, "no primary key")
    key = ais[0]
    entry = table.lookup(key)
    if entry is None or entry.dl_qualifiers is None:
        raise DigitalLinkError(key, text, f"({key}) is not a Digital Link primary key")
    allowed = list(dict.fromkeys(q for alt in entry.dl_qualifiers for q in alt))
    if not allowed:
        raise DigitalLinkError(key, text, f"({key}) takes no key qualifiers")
    for ai in ais[1:]:
        if ai not in allowed:
            listed = ", ".join(allowed)
            raise DigitalLinkError(
                ai, text, f"({ai}) is not a key qualifier of ({key}) (allowed: {listed})"
            )
    orders = " or ".join("/".join(alt) for alt in entry.dl_qualifiers)
    raise DigitalLinkError(
        key, text, f"key qualifiers of ({key}) must be a subset of {orders}, in that order"
    )


# --- generating ----------------------------------------------------------------------------


def build_digital_link(
    data: str | Iterable[ElementString],
    stem: str | None = None,
    options: ParseOptions = STRICT,
) -> str:
    """A Digital Link URI for element strings (HRI text or :class:`ElementString` items).

    As gs1-syntax-engine does it: the first AI that is a primary key goes in the path,
    with the longest qualifier sequence the data fills (the first such in the table's
    order on a tie); every other AI goes in the query, those of predefined length
    first, each group in input order. Identical repeats are written once.

    Raises:
        GS1FormatError, CheckDigitError, AICombinationError: the element strings are
            not valid.
        DigitalLinkError: no primary key, an AI left for the query that is not a valid
            attribute, or a bad ``stem``.
    """
    return build_from_valid(as_element_strings(data, options), stem, options)


def build_from_valid(
    elements: Sequence[ElementString], stem: str | None = None, options: ParseOptions = STRICT
) -> str:
    """:func:`build_digital_link` for element strings already validated as a whole (an
    EPC URI's, say), which are not validated again.

    Raises:
        DigitalLinkError: as :func:`build_digital_link`.
    """
    first: dict[str, ElementString] = {}
    for element in elements:
        first.setdefault(element.ai, element)
    best = _path_ais(tuple(first))
    if not best:
        raise DigitalLinkError(
            "element string",
            format_element_strings(elements),
            "no Digital Link primary key among the AIs",
        )
    path = [first[ai] for ai in best]
    rest = [first[ai] for ai in first if ai not in best]
    return _emit(stem, path, _fixed_first(rest, options), options)


@functools.lru_cache(maxsize=1024)  # the layout depends only on which AIs are present
def _path_ais(ais: tuple[str, ...]) -> tuple[str, ...]:
    """The AIs that go in the path: the first primary key and its longest qualifier
    sequence the data fills (empty when there is no primary key)."""
    table = default_ai_table()
    key = next((ai for ai in ais if (entry := table.lookup(ai)) and entry.is_primary_key), None)
    if key is None:
        return ()
    best: tuple[str, ...] = (key,)
    for sequence in table.path_sequences_by_key.get(key, ()):
        if len(sequence) > len(best) and all(ai in ais for ai in sequence[1:]):
            best = sequence
    return best


def _fixed_first(elements: Iterable[ElementString], options: ParseOptions) -> list[ElementString]:
    table = default_ai_table()
    listed = list(elements)

    def predefined(e: ElementString) -> bool:
        entry = table.lookup(e.ai, options.permit_unknown_ais)
        return entry is not None and entry.predefined_length

    return [e for e in listed if predefined(e)] + [e for e in listed if not predefined(e)]


def _emit(
    stem: str | None,
    path: Sequence[ElementString],
    attributes: Sequence[ElementString],
    options: ParseOptions,
) -> str:
    base = _check_stem(CANONICAL_STEM if stem is None else stem)
    table = default_ai_table()
    parts = [base]
    for element in path:
        parts.append(f"/{element.ai}/{percent_encode(element.value)}")
    query = []
    for element in attributes:
        entry = table.lookup(element.ai, options.permit_unknown_ais)
        if entry is None or not _allowed_as_attribute(entry, options):
            raise DigitalLinkError(
                element.ai,
                element.value,
                f"({element.ai}) is not a valid Digital Link attribute",
            )
        query.append(f"{element.ai}={percent_encode(element.value, query_component=True)}")
    if query:
        parts.append("?" + "&".join(query))
    return "".join(parts)


@functools.lru_cache(maxsize=64)  # one stem serves every link a node builds
def _check_stem(stem: str) -> str:
    """The stem without one trailing ``/``, if it is an http(s) scheme, domain and path."""
    if "?" in stem or "#" in stem:
        raise DigitalLinkError("stem", stem, "a stem may not have a query or fragment")
    trimmed = stem[:-1] if stem.endswith("/") else stem
    try:
        _split_uri(trimmed + "/")  # the domain check needs a path after it
    except DigitalLinkError as e:
        raise DigitalLinkError("stem", stem, e.reason) from None
    return trimmed


def percent_encode(value: str, query_component: bool = False) -> str:
    """Percent-encode all but RFC 3986 unreserved characters (upper-case hex); in a query
    component a space becomes ``+``."""
    if _UNRESERVED.issuperset(value):
        return value
    out = []
    for ch in value:
        if ch in _UNRESERVED:
            out.append(ch)
        elif ch == " " and query_component:
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def canonicalize_digital_link(uri: str, options: ParseOptions = CANONICALIZE_OPTIONS) -> str:
    """The canonical form of a Digital Link URI (see :meth:`DigitalLink.canonical_uri`).

    Raises:
        DigitalLinkError, GS1FormatError, CheckDigitError, AICombinationError: as
            :func:`parse_digital_link`.
    """
    return parse_digital_link(uri, options).canonical_uri(options)
