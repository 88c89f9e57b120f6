"""EPC pure identity URIs and their GS1 keys (GS1 EPC Tag Data Standard, TDS 2.x).

An EPC URI splits a GS1 key at the end of the GS1 Company Prefix (GCP) and drops the
check digit: the GTIN ``09506000134352`` with serial ``ABC`` is
``urn:epc:id:sgtin:9506000.013435.ABC`` when its company prefix has 7 digits. Nothing in
the key says how long its company prefix is (that takes a lookup in GS1's prefix
registry), so every conversion to an EPC URI takes ``gcp_length`` from the caller. The
way back needs no length: the dot says where the prefix ends, and the check digit is
computed again.

Schemes and fields (GCP = company prefix, L = its length, 6 to 12 digits):

==========================  ================================================  ==========
URI                          fields after the scheme                           AIs
==========================  ================================================  ==========
``urn:epc:id:sgtin``         GCP . indicator + item reference . serial          (01) (21)
``urn:epc:idpat:sgtin``      GCP . indicator + item reference . ``*``           (01)
``urn:epc:class:lgtin``      GCP . indicator + item reference . lot             (01) (10)
``urn:epc:id:sscc``          GCP . extension digit + serial reference           (00)
``urn:epc:id:sgln``          GCP . location reference . extension (0: none)     (414) (254)
``urn:epc:id:grai``          GCP . asset type . serial                          (8003)
``urn:epc:id:giai``          GCP . individual asset reference                   (8004)
``urn:epc:id:gsrn``          GCP . service reference                            (8018)
``urn:epc:id:gsrnp``         GCP . service reference                            (8017)
``urn:epc:id:gdti``          GCP . document type . serial                       (253)
``urn:epc:id:sgcn``          GCP . coupon reference . serial                    (255)
``urn:epc:id:ginc``          GCP . consignment reference                        (401)
``urn:epc:id:gsin``          GCP . shipper reference                            (402)
``urn:epc:id:pgln``          GCP . party reference                              (417)
``urn:epc:id:itip``          GCP . indicator + item ref . piece . total . serial (8006) (21)
``urn:epc:id:upui``          GCP . indicator + item reference . TPX             (01) (235)
``urn:epc:id:cpi``           GCP . component/part reference . serial            (8010) (8011)
``urn:epc:idpat:<scheme>``   the class patterns CBV names: ``GCP.ref.*`` for    the key
                             grai, gdti, sgcn, upui, cpi; ``GCP.item.piece.
                             total.*`` for itip
==========================  ================================================  ==========

Only the first table's schemes are written (:func:`epc_uri_from_element_strings`);
the others are read, so that every spelling of a GS1 key comes to the same key.

Serials and other alphanumeric fields are written with the characters
``" % & / < > ?`` escaped as ``%22 %25 %26 %2F %3C %3E %3F``; every other GS1 CSET 82
character stands for itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from veriledger.core.errors import EPCURIError
from veriledger.core.gs1.ai_table import default_ai_table
from veriledger.core.gs1.check_digits import gs1_check_digit, is_digits
from veriledger.core.gs1.digital_link import build_from_valid, parse_digital_link
from veriledger.core.gs1.element_strings import (
    ElementString,
    as_element_strings,
    validate_element_strings,
)
from veriledger.core.gs1.options import STRICT, ParseOptions

MIN_GCP_LENGTH = 6
MAX_GCP_LENGTH = 12

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_PLAIN = frozenset(_ALNUM + "!'()*+,-.:;=_")
_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
_UNESCAPES = {code: ch for ch, code in _ESCAPES.items()}


# --- GS1 keys to EPC URIs ------------------------------------------------------------------


def epc_uri_from_element_strings(
    data: str | Iterable[ElementString], gcp_length: int, options: ParseOptions = STRICT
) -> str:
    """The EPC URI for the key in ``data`` (HRI text or element strings).

    The key is the first Digital Link primary key among the AIs; its qualifiers pick the
    scheme (see the module docstring). Other AIs (dates, attributes) are not part of
    the identity and are ignored.

    Raises:
        EPCURIError: ``gcp_length`` outside 6 to 12 or too long for the key, no key with
            an EPC scheme, a key that needs its serial for an EPC (GRAI, GDTI, GCN), a
            GIAI whose first ``gcp_length`` characters are not digits, or a GLN extension
            of ``0`` (which the SGLN reserves for "none").
        GS1FormatError, CheckDigitError, AICombinationError: ``data`` is not valid.
    """
    elements = as_element_strings(data, options)
    _check_gcp_length(gcp_length)
    values: dict[str, str] = {}
    for element in elements:
        values.setdefault(element.ai, element.value)
    table = default_ai_table()
    key = next(
        (e.ai for e in elements if (entry := table.lookup(e.ai)) and entry.is_primary_key),
        None,
    )
    if key is None or key not in _TO_EPC:
        found = ", ".join(f"({ai})" for ai in values)
        raise EPCURIError("element string", found, "no GS1 key with an EPC URI scheme")
    return _TO_EPC[key](values, gcp_length)


def epc_uri_from_digital_link(uri: str, gcp_length: int, options: ParseOptions = STRICT) -> str:
    """The EPC URI for the key of a Digital Link URI.

    Raises:
        DigitalLinkError, GS1FormatError, CheckDigitError, AICombinationError: the URI
            is not a valid Digital Link URI.
        EPCURIError: as :func:`epc_uri_from_element_strings`.
    """
    link = parse_digital_link(uri, options)
    return epc_uri_from_element_strings(link.element_strings, gcp_length, options)


def _check_gcp_length(gcp_length: int) -> None:
    if (
        isinstance(gcp_length, bool)
        or not isinstance(gcp_length, int)
        or not MIN_GCP_LENGTH <= gcp_length <= MAX_GCP_LENGTH
    ):
        raise EPCURIError(
            "gcp_length",
            str(gcp_length),
            f"GS1 Company Prefix length must be {MIN_GCP_LENGTH} to {MAX_GCP_LENGTH}",
        )


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in _PLAIN:
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        else:
            raise EPCURIError("epc", text, f"character {ch!r} cannot appear in an EPC URI")
    return "".join(out)


def _gtin_epc(values: dict[str, str], length: int) -> str:
    gtin = values["01"]
    prefix, item = gtin[1 : 1 + length], gtin[0] + gtin[1 + length : 13]
    if "21" in values:
        return f"urn:epc:id:sgtin:{prefix}.{item}.{_escape(values['21'])}"
    if "10" in values:
        return f"urn:epc:class:lgtin:{prefix}.{item}.{_escape(values['10'])}"
    return f"urn:epc:idpat:sgtin:{prefix}.{item}.*"


def _sscc_epc(values: dict[str, str], length: int) -> str:
    sscc = values["00"]
    return f"urn:epc:id:sscc:{sscc[1 : 1 + length]}.{sscc[0]}{sscc[1 + length : 17]}"


def _sgln_epc(values: dict[str, str], length: int) -> str:
    gln = values["414"]
    extension = values.get("254", "0")
    if "254" in values and extension == "0":
        raise EPCURIError("254", extension, "extension 0 means 'no extension' in an SGLN")
    return f"urn:epc:id:sgln:{gln[:length]}.{gln[length:12]}.{_escape(extension)}"


def _serial_part(ai: str, value: str, base: int, what: str) -> str:
    serial = value[base:]
    if not serial:
        raise EPCURIError(ai, value, f"a {what} without a serial component has no EPC URI")
    return serial


def _grai_epc(values: dict[str, str], length: int) -> str:
    grai = values["8003"]
    serial = _serial_part("8003", grai, 14, "GRAI")
    return f"urn:epc:id:grai:{grai[1 : 1 + length]}.{grai[1 + length : 13]}.{_escape(serial)}"


def _giai_epc(values: dict[str, str], length: int) -> str:
    giai = values["8004"]
    if not is_digits(giai[:length]) or len(giai) <= length:
        raise EPCURIError(
            "8004", giai, f"no {length}-digit company prefix followed by an asset reference"
        )
    return f"urn:epc:id:giai:{giai[:length]}.{_escape(giai[length:])}"


def _gsrn_epc(scheme: str, ai: str) -> Callable[[dict[str, str], int], str]:
    def convert(values: dict[str, str], length: int) -> str:
        gsrn = values[ai]
        return f"urn:epc:id:{scheme}:{gsrn[:length]}.{gsrn[length:17]}"

    return convert


def _document_epc(scheme: str, ai: str, what: str) -> Callable[[dict[str, str], int], str]:
    def convert(values: dict[str, str], length: int) -> str:
        value = values[ai]
        serial = _serial_part(ai, value, 13, what)
        return f"urn:epc:id:{scheme}:{value[:length]}.{value[length:12]}.{_escape(serial)}"

    return convert


_TO_EPC: dict[str, Callable[[dict[str, str], int], str]] = {
    "01": _gtin_epc,
    "00": _sscc_epc,
    "414": _sgln_epc,
    "8003": _grai_epc,
    "8004": _giai_epc,
    "8018": _gsrn_epc("gsrn", "8018"),
    "8017": _gsrn_epc("gsrnp", "8017"),
    "253": _document_epc("gdti", "253", "GDTI"),
    "255": _document_epc("sgcn", "255", "GCN"),
}


# --- EPC URIs to GS1 keys ------------------------------------------------------------------


def element_strings_from_epc_uri(uri: str) -> tuple[ElementString, ...]:
    """The element strings an EPC pure identity URI (or SGTIN pattern, or LGTIN class
    URI) stands for, with check digits computed.

    Raises:
        EPCURIError: an unknown prefix or scheme, the wrong number of fields, a numeric
            field with a non-digit, a company prefix outside 6 to 12 digits, fields that
            do not add up to the key's length, or a bad escape.
        GS1FormatError, AICombinationError: the resulting element strings break an AI's
            format (a serial too long, say).
    """
    if not isinstance(uri, str):
        raise EPCURIError("epc", repr(uri), "not a string")
    for prefix, schemes in _PREFIXES:
        if uri.startswith(prefix):
            scheme, colon, body = uri[len(prefix) :].partition(":")
            if colon and scheme in schemes:
                elements = schemes[scheme](scheme, body, uri)
                validate_element_strings(elements)
                return elements
            raise EPCURIError("epc", uri, f"unknown EPC scheme {scheme!r} after {prefix!r}")
    raise EPCURIError("epc", uri, "not an EPC URI (urn:epc:id:, urn:epc:idpat:sgtin:, ...)")


def digital_link_from_epc_uri(uri: str, stem: str | None = None) -> str:
    """The Digital Link URI (default stem ``https://id.gs1.org``) for an EPC URI.

    Raises:
        EPCURIError, GS1FormatError, AICombinationError: as
            :func:`element_strings_from_epc_uri`.
        DigitalLinkError: a bad ``stem``.
    """
    return build_from_valid(element_strings_from_epc_uri(uri), stem)


def _fields(scheme: str, body: str, uri: str, count: int) -> list[str]:
    fields = body.split(".", count - 1)
    if len(fields) != count:
        raise EPCURIError(scheme, uri, f"{len(fields)} dot-separated fields, want {count}")
    return fields


def _digits(scheme: str, uri: str, text: str, what: str, allow_empty: bool = False) -> str:
    if not (is_digits(text) or (allow_empty and text == "")):
        raise EPCURIError(scheme, uri, f"{what} {text!r} is not digits")
    return text


def _prefix(scheme: str, uri: str, text: str) -> str:
    _digits(scheme, uri, text, "company prefix")
    if not MIN_GCP_LENGTH <= len(text) <= MAX_GCP_LENGTH:
        raise EPCURIError(scheme, uri, f"company prefix has {len(text)} digits, want 6 to 12")
    return text


def _total(scheme: str, uri: str, parts: tuple[str, str], want: int, what: str) -> str:
    if len(parts[0]) + len(parts[1]) != want:
        raise EPCURIError(
            scheme,
            uri,
            f"company prefix and {what} have {len(parts[0]) + len(parts[1])} digits, want {want}",
        )
    return parts[0] + parts[1]


def _unescape(scheme: str, uri: str, text: str, what: str) -> str:
    if text and _PLAIN.issuperset(text):
        return text  # the usual serial or lot: nothing escaped, nothing to refuse
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            code = text[i : i + 3].upper()
            if code not in _UNESCAPES:
                raise EPCURIError(
                    scheme, uri, f"{what} has an escape {text[i : i + 3]!r} not allowed"
                )
            out.append(_UNESCAPES[code])
            i += 3
            continue
        if ch not in _PLAIN:
            raise EPCURIError(scheme, uri, f"{what} has the character {ch!r}, not allowed")
        out.append(ch)
        i += 1
    if not out:
        raise EPCURIError(scheme, uri, f"{what} is empty")
    return "".join(out)


def _with_check_digit(payload: str) -> str:
    return payload + str(gs1_check_digit(payload))


def _gtin_from(scheme: str, uri: str, prefix: str, item: str) -> str:
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, item, "indicator and item reference")
    _total(scheme, uri, (prefix, item), 13, "indicator and item reference")
    return _with_check_digit(item[0] + prefix + item[1:])


def _sgtin(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, item, serial = _fields(scheme, body, uri, 3)
    gtin = _gtin_from(scheme, uri, prefix, item)
    return ElementString("01", gtin), ElementString("21", _unescape(scheme, uri, serial, "serial"))


def _sgtin_pattern(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, item, star = _fields(scheme, body, uri, 3)
    if star != "*":
        raise EPCURIError(scheme, uri, "only the GTIN pattern GCP.item.* is supported")
    return (ElementString("01", _gtin_from(scheme, uri, prefix, item)),)


def _lgtin(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, item, lot = _fields(scheme, body, uri, 3)
    gtin = _gtin_from(scheme, uri, prefix, item)
    return ElementString("01", gtin), ElementString("10", _unescape(scheme, uri, lot, "lot"))


def _sscc(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, serial = _fields(scheme, body, uri, 2)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, serial, "extension and serial reference")
    _total(scheme, uri, (prefix, serial), 17, "extension and serial reference")
    return (ElementString("00", _with_check_digit(serial[0] + prefix + serial[1:])),)


def _sgln(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, location, extension = _fields(scheme, body, uri, 3)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, location, "location reference", allow_empty=True)
    gln = _with_check_digit(_total(scheme, uri, (prefix, location), 12, "location reference"))
    extension = _unescape(scheme, uri, extension, "extension")
    if extension == "0":
        return (ElementString("414", gln),)
    return ElementString("414", gln), ElementString("254", extension)


def _grai(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, asset_type, serial = _fields(scheme, body, uri, 3)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, asset_type, "asset type", allow_empty=True)
    base = _with_check_digit(_total(scheme, uri, (prefix, asset_type), 12, "asset type"))
    return (ElementString("8003", "0" + base + _unescape(scheme, uri, serial, "serial")),)


def _giai(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, reference = _fields(scheme, body, uri, 2)
    _prefix(scheme, uri, prefix)
    return (ElementString("8004", prefix + _unescape(scheme, uri, reference, "asset reference")),)


def _gsrn(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, service = _fields(scheme, body, uri, 2)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, service, "service reference")
    payload = _total(scheme, uri, (prefix, service), 17, "service reference")
    return (ElementString("8018" if scheme == "gsrn" else "8017", _with_check_digit(payload)),)


def _document(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, reference, serial = _fields(scheme, body, uri, 3)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, reference, "reference", allow_empty=True)
    base = _with_check_digit(_total(scheme, uri, (prefix, reference), 12, "reference"))
    ai = "253" if scheme == "gdti" else "255"
    return (ElementString(ai, base + _unescape(scheme, uri, serial, "serial")),)


def _star(scheme: str, uri: str, text: str) -> None:
    if text != "*":
        raise EPCURIError(
            scheme, uri, f"only the class pattern ending in .* is supported, not {text!r}"
        )


def _ginc(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, reference = _fields(scheme, body, uri, 2)
    _prefix(scheme, uri, prefix)
    return (ElementString("401", prefix + _unescape(scheme, uri, reference, "reference")),)


def _gsin(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, reference = _fields(scheme, body, uri, 2)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, reference, "shipper reference")
    payload = _total(scheme, uri, (prefix, reference), 16, "shipper reference")
    return (ElementString("402", _with_check_digit(payload)),)


def _pgln(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, party = _fields(scheme, body, uri, 2)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, party, "party reference", allow_empty=True)
    payload = _total(scheme, uri, (prefix, party), 12, "party reference")
    return (ElementString("417", _with_check_digit(payload)),)


def _itip_key(scheme: str, uri: str, fields: Sequence[str]) -> str:
    prefix, item, piece, total = fields
    gtin = _gtin_from(scheme, uri, prefix, item)
    for text, what in ((piece, "piece number"), (total, "total pieces")):
        _digits(scheme, uri, text, what)
        if len(text) != 2:
            raise EPCURIError(scheme, uri, f"{what} {text!r} is not two digits")
    return gtin + piece + total


def _itip(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    *fields, serial = _fields(scheme, body, uri, 5)
    return (
        ElementString("8006", _itip_key(scheme, uri, fields)),
        ElementString("21", _unescape(scheme, uri, serial, "serial")),
    )


def _upui(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, item, tpx = _fields(scheme, body, uri, 3)
    gtin = _gtin_from(scheme, uri, prefix, item)
    return ElementString("01", gtin), ElementString("235", _unescape(scheme, uri, tpx, "TPX"))


def _cpi_reference(scheme: str, uri: str, text: str) -> str:
    """A component/part reference: CSET 39, whose ``#`` an EPC URI writes ``%23``."""
    parts = re.split("%23", text, flags=re.IGNORECASE)
    out = "#".join(_unescape(scheme, uri, part, "reference") if part else "" for part in parts)
    if not out:
        raise EPCURIError(scheme, uri, "reference is empty")
    return out


def _cpi(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, reference, serial = _fields(scheme, body, uri, 3)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, serial, "serial")
    return (
        ElementString("8010", prefix + _cpi_reference(scheme, uri, reference)),
        ElementString("8011", serial),
    )


def _grai_pattern(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, asset_type, star = _fields(scheme, body, uri, 3)
    _star(scheme, uri, star)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, asset_type, "asset type", allow_empty=True)
    base = _with_check_digit(_total(scheme, uri, (prefix, asset_type), 12, "asset type"))
    return (ElementString("8003", "0" + base),)


def _document_pattern(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, reference, star = _fields(scheme, body, uri, 3)
    _star(scheme, uri, star)
    _prefix(scheme, uri, prefix)
    _digits(scheme, uri, reference, "reference", allow_empty=True)
    base = _with_check_digit(_total(scheme, uri, (prefix, reference), 12, "reference"))
    return (ElementString("253" if scheme == "gdti" else "255", base),)


def _itip_pattern(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    *fields, star = _fields(scheme, body, uri, 5)
    _star(scheme, uri, star)
    return (ElementString("8006", _itip_key(scheme, uri, fields)),)


def _cpi_pattern(scheme: str, body: str, uri: str) -> tuple[ElementString, ...]:
    prefix, reference, star = _fields(scheme, body, uri, 3)
    _star(scheme, uri, star)
    _prefix(scheme, uri, prefix)
    return (ElementString("8010", prefix + _cpi_reference(scheme, uri, reference)),)


_Decoder = Callable[[str, str, str], tuple[ElementString, ...]]
_PREFIXES: tuple[tuple[str, dict[str, _Decoder]], ...] = (
    (
        "urn:epc:id:",
        {
            "sgtin": _sgtin,
            "sscc": _sscc,
            "sgln": _sgln,
            "grai": _grai,
            "giai": _giai,
            "gsrn": _gsrn,
            "gsrnp": _gsrn,
            "gdti": _document,
            "sgcn": _document,
            "ginc": _ginc,
            "gsin": _gsin,
            "pgln": _pgln,
            "itip": _itip,
            "upui": _upui,
            "cpi": _cpi,
        },
    ),
    (
        "urn:epc:idpat:",
        {
            "sgtin": _sgtin_pattern,
            "grai": _grai_pattern,
            "gdti": _document_pattern,
            "sgcn": _document_pattern,
            "upui": _sgtin_pattern,
            "itip": _itip_pattern,
            "cpi": _cpi_pattern,
        },
    ),
    ("urn:epc:class:", {"lgtin": _lgtin}),
)
