"""Where a GS1 key's company prefix lies, so that ownership never depends on spelling.

GS1 licenses a company prefix (4 to 12 digits) to one company, and every key that company
allocates carries it at a fixed place for the key's type. How long the prefix is, the
key does not say. An EPC URI writes a dot where its writer says the prefix ends, so
``urn:epc:id:sgtin:401234.0500001.S`` and ``urn:epc:id:sgtin:4012345.000001.S`` are one
item, GTIN 04012345000019 with serial S. A Digital Link URI, element strings and EPC class
and pattern URIs spell the same keys again. Whoever decides who owns an identifier must
therefore read it to its normalised primary key (:func:`gs1_key`) and look only at
that key's prefix-bearing part (:func:`prefix_bearing`): a claimed prefix owns the key
when it starts that part.

=====================  ===============  ============================================
key                    AI               prefix-bearing part
=====================  ===============  ============================================
GTIN-14                01               after the indicator digit, without the
                                        check digit
ITIP                   8006             its GTIN's
SSCC                   00               after the extension digit, without the
                                        check digit
GRAI                   8003             after the leading 0, up to its check digit
GLN, pay-to, PGLN      414, 415, 417    without the check digit
GDTI, GCN              253, 255         without the check digit and the serial
GSRN, GSRNP            8018, 8017       without the check digit
GSIN                   402              without the check digit
GMN                    8013             without the check character pair
GIAI, GINC, CPID       8004, 401, 8010  the whole key
=====================  ===============  ============================================

An EPC pattern URI with wildcards before its last field (``urn:epc:idpat:sgtin:
4012345.*.*``) names every key whose prefix-bearing part starts with its fixed digits
(:attr:`PrefixBearing.pattern`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from veriledger.core.errors import BadInputError, EPCURIError, GS1Error, GS1FormatError
from veriledger.core.gs1.check_digits import is_digits
from veriledger.core.gs1.digital_link import parse_digital_link
from veriledger.core.gs1.dl_compression import decompress_digital_link
from veriledger.core.gs1.element_strings import ElementString, parse_element_strings
from veriledger.core.gs1.epc import element_strings_from_epc_uri
from veriledger.core.gs1.options import ParseOptions

MIN_PREFIX_LENGTH = 4
MAX_PREFIX_LENGTH = 12

_PARTS: dict[str, tuple[int, int]] = {
    "01": (1, 13),
    "8006": (1, 13),
    "00": (1, 17),
    "8003": (1, 13),
    "414": (0, 12),
    "415": (0, 12),
    "417": (0, 12),
    "253": (0, 12),
    "255": (0, 12),
    "8017": (0, 17),
    "8018": (0, 17),
    "402": (0, 16),
    "8013": (0, -2),
    "8004": (0, 30),
    "401": (0, 30),
    "8010": (0, 30),
}
"""AI -> (start, end) of the prefix-bearing part of its key (see the module docstring)."""

GS1_EPC_SCHEMES: dict[str, str] = {
    "sgtin": "01",
    "lgtin": "01",
    "upui": "01",
    "itip": "8006",
    "sscc": "00",
    "sgln": "414",
    "pgln": "417",
    "grai": "8003",
    "giai": "8004",
    "gsrn": "8018",
    "gsrnp": "8017",
    "gdti": "253",
    "sgcn": "255",
    "ginc": "401",
    "gsin": "402",
    "cpi": "8010",
}
"""The EPC schemes whose identifiers are GS1 keys, with the key's AI. The others (``gid``,
``usdod``, ``adi``, ``bic``, ``imovn``) carry no GS1 company prefix."""
_GTIN_SCHEMES = frozenset({"sgtin", "lgtin", "upui", "itip"})
_CLASS_PATTERNS = frozenset({"sgtin", "upui", "itip", "grai", "gdti", "sgcn", "cpi"})
"""Schemes whose pattern with only its last field a wildcard names one class (one key)."""
_EPC_KINDS = ("id", "idpat", "class", "tag")

OWNERSHIP_OPTIONS = ParseOptions(permit_zero_suppressed_gtin=True, permit_convenience_alphas=True)
"""How an identifier is read to decide who owns it: every spelling a lenient reader would
take for a key counts, so zero-suppressed GTINs and ``/gtin/``-style short names too."""


@dataclass(frozen=True)
class PrefixBearing:
    """The prefix-bearing part of the GS1 key (or keys) an identifier names."""

    ai: str
    """The primary key's AI (``"01"`` for a GTIN, ``"00"`` for an SSCC...)."""
    part: str
    """The key's prefix-bearing part (:func:`prefix_bearing`); for a pattern, as much of it
    as the pattern fixes."""
    pattern: bool = False
    """True when the identifier names every key whose part starts with :attr:`part`
    (a pattern with wildcards before its last field), not one key."""


def prefix_bearing(ai: str, value: str) -> str:
    """The part of a normalised GS1 key that its company prefix starts.

    Requires ``value`` to be a valid value of ``ai`` (a GTIN as 14 digits).

    Raises:
        GS1FormatError: ``ai`` is not a GS1 primary key.
    """
    where = _PARTS.get(ai)
    if where is None:
        raise GS1FormatError(ai, value, f"({ai}) is not a GS1 key with a company prefix")
    return value[where[0] : where[1]]


def claimable_prefixes(part: str) -> list[str]:
    """The company prefixes that could own a key with this prefix-bearing ``part``,
    longest first: its leading 4 to 12 characters, digits only."""
    digits = len(part[:MAX_PREFIX_LENGTH])
    for i, ch in enumerate(part[:MAX_PREFIX_LENGTH]):
        if not ("0" <= ch <= "9"):
            digits = i
            break
    return [part[:n] for n in range(digits, MIN_PREFIX_LENGTH - 1, -1)]


def gs1_key(identifier: str) -> ElementString | None:
    """The normalised primary key an identifier names, in any of its spellings.

    Reads EPC pure identity, class, class-pattern and tag URIs (every GS1 scheme), GS1
    Digital Link URIs (compressed or not, short names and zero-suppressed GTINs
    allowed) and element strings (``(01)...``). A GTIN comes back as 14 digits.

    Returns:
        The key (its AI and value), or None when the identifier is not a GS1 key: a
        private URI, a web address with no GS1 key, an EPC of a non-GS1 scheme, or a
        wildcard pattern (see :func:`prefix_bearing_of`).

    Raises:
        GS1Error: an EPC URI of a GS1 scheme that cannot be read (it might name a key,
            and nobody can tell whose).
    """
    found = _read(identifier)
    return found if isinstance(found, ElementString) else None


@functools.lru_cache(maxsize=65_536)  # an item's identifier recurs in every event naming it
def prefix_bearing_of(identifier: str) -> PrefixBearing | None:
    """The prefix-bearing part of the key an identifier names (:func:`gs1_key`), or of
    the keys a wildcard EPC pattern names (``urn:epc:idpat:sgtin:4012345.*.*`` fixes
    ``4012345``; ``urn:epc:idpat:sgtin:*.*.*`` fixes nothing).

    Returns:
        None when the identifier is not a GS1 key (as :func:`gs1_key`).

    Raises:
        GS1Error: as :func:`gs1_key`.
    """
    found = _read(identifier)
    if isinstance(found, ElementString):
        return PrefixBearing(found.ai, prefix_bearing(found.ai, found.value))
    return found


def _read(identifier: str) -> ElementString | PrefixBearing | None:
    if not isinstance(identifier, str):
        return None
    if identifier[:8].lower() == "urn:epc:":
        return _read_epc("urn:epc:" + identifier[8:])
    if identifier[:7].lower() == "http://" or identifier[:8].lower() == "https://":
        return _read_web(identifier)
    if identifier.startswith("("):
        try:
            elements = parse_element_strings(identifier)
        except GS1Error:
            return None
        return _primary(elements)
    return None


def _primary(elements: tuple[ElementString, ...]) -> ElementString | None:
    element = next((e for e in elements if e.ai in _PARTS), None)
    if element is not None and element.ai == "01":
        element = ElementString("01", element.value.rjust(14, "0"))
    return element


_UNRESERVED_ESCAPE = re.compile(r"%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])")


def _read_web(uri: str) -> ElementString | None:
    """The key of a Digital Link URI; its query and fragment are read only if they are
    valid (they describe, not identify). The scheme's case and escaped unreserved
    characters (``%30`` for ``0``) do not change what a URI names (RFC 3986, 6.2.2)."""
    scheme, _, rest = uri.partition("://")
    rest = _UNRESERVED_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), rest)
    candidates = [scheme.lower() + "://" + rest]
    bare = candidates[0].split("#", 1)[0].split("?", 1)[0]
    if bare != candidates[0]:
        candidates.append(bare)
    for candidate in candidates:
        try:
            return _primary(parse_digital_link(candidate, OWNERSHIP_OPTIONS).path)
        except GS1Error:
            pass
    try:
        return _primary(parse_digital_link(decompress_digital_link(bare)).path)
    except BadInputError:
        return None


def _read_epc(uri: str) -> ElementString | PrefixBearing | None:
    kind, _, rest = uri[len("urn:epc:") :].partition(":")
    scheme, colon, body = rest.partition(":")
    if kind == "raw":
        raise EPCURIError("epc", uri, "a raw EPC URI does not say which GS1 key it is")
    if kind not in _EPC_KINDS or not colon:
        raise EPCURIError("epc", uri, f"not an EPC URI this ledger reads (kind {kind!r})")
    if kind == "tag":
        # urn:epc:tag:sgtin-96:<filter>.<GCP>.<item>.<serial>: the pure identity minus
        # the encoding and the filter value.
        encoding, scheme = scheme, scheme.split("-", 1)[0].rstrip("+")
        if scheme not in GS1_EPC_SCHEMES:
            return None
        if encoding.endswith("+"):
            raise EPCURIError("epc", uri, f"tag URIs of the {encoding} encoding are not read")
        filter_value, dot, body = body.partition(".")
        if not dot or not is_digits(filter_value):
            raise EPCURIError("epc", uri, "a tag URI starts with a filter value and a dot")
        uri, kind = f"urn:epc:id:{scheme}:{body}", "id"
    if scheme not in GS1_EPC_SCHEMES:
        return None
    fields = body.split(".")
    if kind == "idpat" and "*" in fields:
        class_pattern = fields.index("*") == len(fields) - 1 and scheme in _CLASS_PATTERNS
        if not class_pattern:
            return _wildcards(uri, scheme, fields)
    return _primary(element_strings_from_epc_uri(uri))


def _wildcards(uri: str, scheme: str, fields: list[str]) -> PrefixBearing:
    """A pattern with wildcards before its last field: the digits its fixed fields give."""
    first = fields.index("*")
    if any(f != "*" for f in fields[first:]):
        raise EPCURIError(scheme, uri, "a wildcard may be followed only by wildcards")
    fixed = fields[:first]
    if fixed and not (is_digits(fixed[0]) and 6 <= len(fixed[0]) <= 12):
        raise EPCURIError(scheme, uri, "the company prefix of a pattern is 6 to 12 digits")
    part = "".join(fixed[:1])
    if len(fixed) > 1:
        reference = fixed[1][1:] if scheme in _GTIN_SCHEMES else fixed[1]
        if not is_digits(fixed[1]):
            raise EPCURIError(scheme, uri, f"reference {fixed[1]!r} is not digits")
        part += reference
    return PrefixBearing(GS1_EPC_SCHEMES[scheme], part, pattern=True)
