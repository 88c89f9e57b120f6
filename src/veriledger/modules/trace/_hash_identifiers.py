"""GS1 identifiers in the form the EPCIS Event Hash ID hashes: constrained canonical Digital Link.

CBV 2.0 ("EPCIS Event Hash ID", rules 17 and 18) turns every GS1 identifier in an event
into one spelling before hashing, so that an EPC URN and a Digital Link URI naming the
same thing hash alike:

- EPC pure identity URIs (``urn:epc:id:...``), EPC class URIs (``urn:epc:class:lgtin:...``)
  and EPC ID pattern URIs (``urn:epc:idpat:...``) become canonical GS1 Digital Link URIs
  on ``https://id.gs1.org`` (GS1 Tag Data Standard, GS1 Digital Link 1.2 section 4.11).
- A Digital Link URI on another domain moves to ``https://id.gs1.org``, loses its query
  string and fragment, uses numeric AIs rather than short names (``/gtin/`` -> ``/01/``),
  pads a GTIN to 14 digits, and keeps only the finest level of identification: a CPV
  (AI 22) is dropped, and so is a lot (AI 10) when a serial (AI 21) is present.

Only these key/qualifier combinations survive (anything else is left as written)::

    00  01  01/21  01/10  01/235  253  255  401  402  414  414/254  417
    8003  8004  8006  8006/21  8006/10  8010  8010/8011  8017  8018

Percent-encoding: values are decoded, checked against their GS1 character set, and
encoded again, so ``%2f``, ``%2F`` and a needless ``%41`` hash like their canonical form.
``" % & / < > ? #`` are always encoded; ``! ( ) *`` are encoded by the legacy profile and
left as they are by the revised one (RFC 3986 lets them stand in a path); ``+ , :`` are
encoded by both. (The reference code keeps an EPC URI's escapes as written, and leaves a
Digital Link URI with any escape unnormalised; the two agree on canonically escaped input.)

The functions here never raise: a value that is not a well-formed GS1 identifier is not
an identifier for hashing purposes, and the caller hashes it as written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*")
"""GS1 AI encodable character set 82 (General Specifications 7.11, figure 7.11-1)."""
_CSET39 = re.compile(r"[#\-/0-9A-Z]*")
"""GS1 AI encodable character set 39 (figure 7.11-2), for component/part identifiers."""
_ALWAYS_ENCODED = frozenset('"%&/<>?#')
_LEGACY_ENCODED = frozenset("!()*+,:")
_REVISED_ENCODED = frozenset("+,:")

# One character of an EPC URI component: a character allowed raw, or a %XX escape.
_EPC_CHAR = r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!'()*+,\-.:;=_])"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


@functools.lru_cache(maxsize=4096)  # a GTIN's digits recur in every event of its items
def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit for ``digits`` (General Specifications 7.9.1).

    Weights 3, 1, 3, ... from the rightmost digit; the check digit brings the weighted
    sum up to a multiple of ten. Requires ``digits`` to be ASCII digits.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _decode(text: str) -> str | None:
    """Undo %XX escapes; None for a stray ``%`` or a non-ASCII escape (GS1 values are ASCII)."""
    if "%" not in text:
        return text
    if "%" in _ESCAPE.sub("", text):
        return None
    if any(int(code, 16) >= 0x80 for code in _ESCAPE.findall(text)):
        return None
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)


@functools.cache
def _encoder(legacy: bool) -> Callable[[str], str]:
    extra = _LEGACY_ENCODED if legacy else _REVISED_ENCODED
    encoded = _ALWAYS_ENCODED | extra

    def encode(value: str) -> str:
        if encoded.isdisjoint(value):
            return value  # the usual serial: nothing to escape
        return "".join(f"%{ord(ch):02X}" if ch in encoded else ch for ch in value)

    return encode


def _is_digits(text: str, low: int, high: int) -> bool:
    return low <= len(text) <= high and text.isascii() and text.isdigit()


def _in_cset(text: str, charset: re.Pattern[str], low: int, high: int) -> bool:
    return low <= len(text) <= high and charset.fullmatch(text) is not None


def _gtin(company_prefix: str, indicator_and_item: str) -> str:
    """GTIN-14 from the two EPC fields: indicator digit, company prefix, item ref, check."""
    body = indicator_and_item[:1] + company_prefix + indicator_and_item[1:]
    return body + check_digit(body)


def _key(company_prefix: str, reference: str) -> str:
    """A numeric key with check digit: company prefix, reference, check digit."""
    body = company_prefix + reference
    return body + check_digit(body)


# --- EPC URIs ---------------------------------------------------------------------------------

_CP = r"(\d{6,12})"
_EPC_PATTERNS: dict[str, re.Pattern[str]] = {
    "sgtin": re.compile(rf"urn:epc:id:sgtin:{_CP}\.(\d{{1,7}})\.({_EPC_CHAR}{{1,60}})", re.ASCII),
    "sscc": re.compile(rf"urn:epc:id:sscc:{_CP}\.(\d{{5,11}})", re.ASCII),
    "sgln": re.compile(rf"urn:epc:id:sgln:{_CP}\.(\d{{0,6}})\.({_EPC_CHAR}{{1,60}})", re.ASCII),
    "grai": re.compile(rf"urn:epc:id:grai:{_CP}\.(\d{{0,6}})\.({_EPC_CHAR}{{0,48}})", re.ASCII),
    "giai": re.compile(rf"urn:epc:id:giai:{_CP}\.({_EPC_CHAR}{{1,72}})", re.ASCII),
    "gsrn": re.compile(rf"urn:epc:id:gsrn:{_CP}\.(\d{{5,11}})", re.ASCII),
    "gsrnp": re.compile(rf"urn:epc:id:gsrnp:{_CP}\.(\d{{5,11}})", re.ASCII),
    "gdti": re.compile(rf"urn:epc:id:gdti:{_CP}\.(\d{{0,6}})\.({_EPC_CHAR}{{0,51}})", re.ASCII),
    "cpi": re.compile(rf"urn:epc:id:cpi:{_CP}\.({_EPC_CHAR}{{1,72}})\.(\d{{1,12}})", re.ASCII),
    "sgcn": re.compile(rf"urn:epc:id:sgcn:{_CP}\.(\d{{0,6}})\.(\d{{0,12}})", re.ASCII),
    "ginc": re.compile(rf"urn:epc:id:ginc:{_CP}\.({_EPC_CHAR}{{1,72}})", re.ASCII),
    "gsin": re.compile(rf"urn:epc:id:gsin:{_CP}\.(\d{{4,10}})", re.ASCII),
    "itip": re.compile(
        rf"urn:epc:id:itip:{_CP}\.(\d{{1,7}})\.(\d\d)\.(\d\d)\.({_EPC_CHAR}{{1,60}})", re.ASCII
    ),
    "upui": re.compile(rf"urn:epc:id:upui:{_CP}\.(\d{{1,7}})\.({_EPC_CHAR}{{1,84}})", re.ASCII),
    "pgln": re.compile(rf"urn:epc:id:pgln:{_CP}\.(\d{{0,6}})", re.ASCII),
    "lgtin": re.compile(
        rf"urn:epc:class:lgtin:{_CP}\.(\d{{1,7}})\.({_EPC_CHAR}{{1,60}})", re.ASCII
    ),
    "idpat-sgtin": re.compile(rf"urn:epc:idpat:sgtin:{_CP}\.(\d{{1,7}})\.\*", re.ASCII),
    "idpat-upui": re.compile(rf"urn:epc:idpat:upui:{_CP}\.(\d{{1,7}})\.\*", re.ASCII),
    "idpat-grai": re.compile(rf"urn:epc:idpat:grai:{_CP}\.(\d{{0,6}})\.\*", re.ASCII),
    "idpat-gdti": re.compile(rf"urn:epc:idpat:gdti:{_CP}\.(\d{{0,6}})\.\*", re.ASCII),
    "idpat-sgcn": re.compile(rf"urn:epc:idpat:sgcn:{_CP}\.(\d{{0,6}})\.\*", re.ASCII),
    "idpat-cpi": re.compile(rf"urn:epc:idpat:cpi:{_CP}\.({_EPC_CHAR}{{1,72}})\.\*", re.ASCII),
    "idpat-itip": re.compile(
        rf"urn:epc:idpat:itip:{_CP}\.(\d{{1,7}})\.(\d\d)\.(\d\d)\.\*", re.ASCII
    ),
}


def _epc_to_elements(uri: str) -> list[tuple[str, str]] | None:
    """The (AI, value) pairs an EPC URI denotes, values decoded; None if it is not one.

    Each scheme fixes how many digits the company prefix and the reference share (13 for
    GTIN-based keys, 12 for GLN-based keys, 17 for SSCC and GSRN, 16 for GSIN), so a
    length mismatch means the URI is malformed.
    """
    kind, _, rest = uri[len("urn:epc:") :].partition(":")
    scheme = rest.partition(":")[0]
    name = f"idpat-{scheme}" if kind == "idpat" else scheme
    pattern = _EPC_PATTERNS.get(name)  # each pattern spells out its own urn:epc:<kind>:
    match = None if pattern is None else pattern.fullmatch(uri)
    if match is None:
        return None
    decoded = [_decode(group) for group in match.groups()]
    if any(value is None for value in decoded):
        return None
    return _elements_for(name, [value for value in decoded if value is not None])


def _elements_for(name: str, g: list[str]) -> list[tuple[str, str]] | None:
    cp = g[0]
    if name in ("sgtin", "lgtin", "upui", "itip", "idpat-sgtin", "idpat-upui", "idpat-itip"):
        if len(cp) + len(g[1]) != 13:
            return None
        gtin = _gtin(cp, g[1])
        tail = {
            "sgtin": [("21", g[-1])],
            "lgtin": [("10", g[-1])],
            "upui": [("235", g[-1])],
            "itip": [("21", g[-1])],
        }.get(name, [])
        if name in ("itip", "idpat-itip"):
            return [("8006", gtin + g[2] + g[3]), *tail]
        return [("01", gtin), *tail]
    if name in ("sscc", "gsrn", "gsrnp"):
        if len(cp) + len(g[1]) != 17:
            return None
        ai = {"sscc": "00", "gsrn": "8018", "gsrnp": "8017"}[name]
        body = g[1][:1] + cp + g[1][1:] if name == "sscc" else cp + g[1]
        return [(ai, body + check_digit(body))]
    if name in ("sgln", "pgln", "grai", "gdti", "sgcn", "idpat-grai", "idpat-gdti", "idpat-sgcn"):
        if len(cp) + len(g[1]) != 12:
            return None
        key = _key(cp, g[1])
        serial = g[2] if len(g) > 2 else ""
        if name == "sgln":
            return [("414", key)] if serial == "0" else [("414", key), ("254", serial)]
        if name == "pgln":
            return [("417", key)]
        if name in ("grai", "idpat-grai"):
            return [("8003", "0" + key + serial)]
        if name in ("gdti", "idpat-gdti"):
            return [("253", key + serial)]
        return [("255", key + serial)]
    if name == "gsin":
        if len(cp) + len(g[1]) != 16:
            return None
        return [("402", _key(cp, g[1]))]
    if name in ("giai", "ginc"):
        return [("8004" if name == "giai" else "401", cp + g[1])]
    if name in ("cpi", "idpat-cpi"):
        elements = [("8010", cp + g[1])]
        return [*elements, ("8011", g[2])] if name == "cpi" else elements
    return None


# --- Digital Link URIs ------------------------------------------------------------------------

_SHORT_NAMES = {
    "gtin": "01",
    "itip": "8006",
    "cpid": "8010",
    "gln": "414",
    "party": "417",
    "gsrnp": "8017",
    "gsrn": "8018",
    "gcn": "255",
    "sscc": "00",
    "gdti": "253",
    "ginc": "401",
    "gsin": "402",
    "grai": "8003",
    "giai": "8004",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
}
# Primary keys, with the key qualifiers the Digital Link grammar lets follow, in order.
_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "01": ("22", "10", "21", "235"),
    "8006": ("22", "10", "21"),
    "8010": ("8011",),
    "414": ("254",),
    "00": (),
    "253": (),
    "255": (),
    "401": (),
    "402": (),
    "417": (),
    "8003": (),
    "8004": (),
    "8017": (),
    "8018": (),
}
_DL_URI = re.compile(r"https?://[^/?#]+(/[^?#]*)(?:\?[^#]*)?(?:#.*)?")


def _dl_to_elements(uri: str) -> list[tuple[str, str]] | None:
    """The (AI, value) pairs of a Digital Link URI's path, values decoded; None otherwise."""
    match = _DL_URI.fullmatch(uri)
    if match is None:
        return None
    segments = match.group(1).split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is allowed
    names = [_SHORT_NAMES.get(s, s) for s in segments]
    for start, name in enumerate(names):
        if name not in _QUALIFIERS or (len(names) - start) % 2:
            continue
        pairs = [(names[i], segments[i + 1]) for i in range(start, len(names), 2)]
        allowed = _QUALIFIERS[name]
        order = [allowed.index(ai) if ai in allowed else -1 for ai, _ in pairs[1:]]
        if -1 in order or order != sorted(set(order)):
            return None
        decoded = [(ai, _decode(value)) for ai, value in pairs]
        if any(value is None or value == "" for _, value in decoded):
            return None
        return [(ai, value) for ai, value in decoded if value is not None]
    return None


_KEY_CHECKS: dict[str, Callable[[str], bool]] = {
    "00": lambda v: _is_digits(v, 18, 18),
    "01": lambda v: _is_digits(v, 14, 14),
    "253": lambda v: _is_digits(v[:13], 13, 13) and _in_cset(v[13:], _CSET82, 0, 17),
    "255": lambda v: _is_digits(v, 13, 25),
    "401": lambda v: _in_cset(v, _CSET82, 1, 30),
    "402": lambda v: _is_digits(v, 17, 17),
    "414": lambda v: _is_digits(v, 13, 13),
    "417": lambda v: _is_digits(v, 13, 13),
    "8003": lambda v: _is_digits(v[:14], 14, 14) and _in_cset(v[14:], _CSET82, 0, 16),
    "8004": lambda v: _in_cset(v, _CSET82, 1, 30),
    "8006": lambda v: _is_digits(v, 18, 18),
    "8010": lambda v: _in_cset(v, _CSET39, 1, 30),
    "8017": lambda v: _is_digits(v, 18, 18),
    "8018": lambda v: _is_digits(v, 18, 18),
}
"""Length and character set of each primary key's value (GS1 General Specifications)."""
_QUALIFIER_CHECKS: dict[str, Callable[[str], bool]] = {
    "21": lambda v: _in_cset(v, _CSET82, 1, 20),
    "10": lambda v: _in_cset(v, _CSET82, 1, 20),
    "235": lambda v: _in_cset(v, _CSET82, 1, 28),
    "254": lambda v: _in_cset(v, _CSET82, 1, 20),
    "8011": lambda v: _is_digits(v, 1, 12),
}


def _constrain(elements: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """Keep the finest identification level and check each value; None if not allowed."""
    key_ai, key = elements[0]
    qualifiers = dict(elements[1:])
    if key_ai == "01" and len(key) in (8, 12, 13):
        key = key.rjust(14, "0")
    qualifiers.pop("22", None)
    if "21" in qualifiers:
        qualifiers.pop("10", None)
    if len(qualifiers) > 1:
        return None
    if not _KEY_CHECKS[key_ai](key):
        return None
    for ai, value in qualifiers.items():
        check = _QUALIFIER_CHECKS.get(ai)
        if check is None or not check(value):
            return None
    return [(key_ai, key), *qualifiers.items()]


@functools.lru_cache(maxsize=65_536)  # locations and containers repeat across events
def canonical_digital_link(value: str, *, legacy_escaping: bool = False) -> str | None:
    """The constrained canonical GS1 Digital Link URI for an EPC or Digital Link URI.

    Parameters:
        value: an EPC pure identity, class or pattern URI, or a Digital Link URI.
        legacy_escaping: also percent-encode ``! ( ) *``, as the legacy reference
            implementation does.

    Returns:
        The ``https://id.gs1.org/...`` URI, or None when ``value`` is no GS1 identifier
        this function knows, or is malformed.
    """
    if value.startswith("urn:epc:"):
        elements = _epc_to_elements(value)
    elif value.startswith(("http://", "https://")):
        elements = _dl_to_elements(value)
    else:
        return None
    if not elements:
        return None
    constrained = _constrain(elements)
    if constrained is None:
        return None
    encode = _encoder(legacy_escaping)
    return "https://id.gs1.org" + "".join(f"/{ai}/{encode(v)}" for ai, v in constrained)
