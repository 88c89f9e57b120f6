"""Compressed GS1 Digital Link URIs: ``https://id.gs1.org/HxHKVAdpQgZzjr-hCDKigI``.

A compressed URI keeps the stem and replaces the path and query with one base64url
segment, so a small QR code can still carry lot, serial and expiry. The bit layout is
the GS1 Digital Link 1.1 compression as gs1/digital-link.js and the GS1 compression
prototype implement it (the source of the test vectors), so their URIs and ours decode
alike:

- Each AI is written as 4 bits per digit, its length known from its first two digits.
  A pair of nibbles outside ``00``-``99`` is an optimisation code standing for a common
  AI sequence (:data:`OPTIMISATIONS`), or, with ``F`` first, a non-GS1 ``key=value``.
- A value is written part by part. The parts come from the AI table's components, merged
  as the prototype's format table has them (see :func:`_fields`): ``8003`` is N14 then
  X..16, ``8008`` is N8 then N..4. A fixed numeric part is a binary integer of just
  enough bits; a variable one is prefixed by its length. An alphanumeric part starts
  with a 3-bit encoding indicator: digits, lower or upper case hexadecimal, base64url or
  7-bit ASCII, whichever packs it tightest.
- The bits are zero-padded to a multiple of 6 and written in base64url without ``=``.

Two prototype bugs are not copied: an all-digit alphanumeric value keeps its leading
zeros, and long digit strings are exact integers rather than floating point.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass

from veriledger.core.errors import BadInputError, DigitalLinkError
from veriledger.core.gs1.ai_table import default_ai_table
from veriledger.core.gs1.digital_link import (
    CONVENIENCE_ALPHAS,
    build_digital_link,
    parse_digital_link,
    percent_decode,
    percent_encode,
)
from veriledger.core.gs1.element_strings import ElementString
from veriledger.core.gs1.options import ParseOptions

OPTIMISATIONS: dict[str, tuple[str, ...]] = {
    code: tuple(ais.split())
    for code, ais in {
        "0A": "01 22", "0B": "01 10", "0C": "01 21", "0D": "01 17", "0E": "01 7003",
        "0F": "01 30", "1A": "01 10 21 17", "1B": "01 15", "1C": "01 11", "1D": "01 16",
        "1E": "01 91", "1F": "01 10 15", "2A": "01 3100", "2B": "01 3101", "2C": "01 3102",
        "2D": "01 3103", "2E": "01 3104", "2F": "01 3105", "3A": "01 3200", "3B": "01 3201",
        "3C": "01 3202", "3D": "01 3203", "3E": "01 3204", "3F": "01 3205",
        "9A": "8010 8011", "9B": "8017 8019", "9C": "8018 8019", "9D": "414 254",
        "A0": "01 3920", "A1": "01 3921", "A2": "01 3922", "A3": "01 3923", "A4": "01 3924",
        "A5": "01 3925", "A6": "01 3926", "A7": "01 3927", "A8": "01 3928", "A9": "01 3929",
        "C0": "255 3900", "C1": "255 3901", "C2": "255 3902", "C3": "255 3903",
        "C4": "255 3904", "C5": "255 3905", "C6": "255 3906", "C7": "255 3907",
        "C8": "255 3908", "C9": "255 3909", "CA": "255 3940", "CB": "255 3941",
        "CC": "255 3942", "CD": "255 3943",
    }.items()
}  # fmt: skip
"""Optimisation codes of the GS1 compression prototype (``tableOpt``), in its order:
one code replaces the AIs of a sequence the data contains in full. Not derivable from
the AI table, and the order decides ties, so it is kept verbatim."""

_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64URL_INDEX = {ch: i for i, ch in enumerate(_BASE64URL)}
_HEX = "0123456789ABCDEF"
_NON_GS1 = 0xF
"""First nibble that flags a non-GS1 ``key=value`` pair."""
_NON_GS1_MAX = 127
"""Keys and values of non-GS1 pairs carry a 7-bit length."""
_DIGITS, _LOWER_HEX, _UPPER_HEX, _BASE64, _ASCII = range(5)
_LENIENT = ParseOptions(permit_zero_suppressed_gtin=True, permit_convenience_alphas=True)
"""What the compressors accept: the reference takes GTIN-13s and short names too."""
_SHORT_NAMES = {ai: name for name, ai in CONVENIENCE_ALPHAS.items()}
_QUERY_SAFE = frozenset(string.ascii_letters + string.digits + "-._~!$'()*,:@/?")
"""Characters a query value may hold as they are (RFC 3986), less ``&;=+#%``."""


@dataclass(frozen=True)
class _Field:
    """One encoded part of an AI value (merged table components)."""

    numeric: bool
    length: int
    """The exact length if fixed, else the maximum."""
    variable: bool


@functools.cache
def _fields(ai: str) -> tuple[_Field, ...]:
    """The parts an AI's value is encoded in, from its table entry.

    Bit-compatibility with the prototype's format table needs its simplifications: fixed
    runs of one kind are one part, and everything from the first variable or optional
    component on is one variable part, which takes in a fixed alphanumeric part before it
    (``7230`` is X..30, not X2 then X..28).
    """
    entry = default_ai_table().lookup(ai)
    if entry is None:
        raise DigitalLinkError(ai, ai, f"({ai}) is not in the AI table, so has no encoding")
    fields: list[_Field] = []
    components = list(entry.components)
    while components:
        c = components[0]
        if c.optional or c.min_length != c.max_length:
            numeric = all(t.charset == "N" for t in components)
            length = sum(t.max_length for t in components)
            if not numeric and fields and not fields[-1].numeric:
                length += fields.pop().length
            fields.append(_Field(numeric, length, True))
            break
        components.pop(0)
        numeric = c.charset == "N"
        if fields and not fields[-1].variable and fields[-1].numeric == numeric:
            fields[-1] = _Field(numeric, fields[-1].length + c.max_length, False)
        else:
            fields.append(_Field(numeric, c.max_length, False))
    return tuple(fields)


def _digit_bits(count: int) -> int:
    """Bits for a ``count``-digit number; the reference decoder reads one bit for none."""
    return max(1, int(10**count - 1).bit_length())


# --- bits ----------------------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.bits: list[str] = []

    def put(self, value: int, width: int) -> None:
        if width:
            self.bits.append(format(value, f"0{width}b"))

    def text(self, text: str, length_bits: int) -> None:
        """An alphanumeric part: encoding indicator, length (if variable), characters."""
        encoding = _encoding_of(text)
        self.put(encoding, 3)
        self.put(len(text), length_bits)
        if encoding == _DIGITS:
            self.put(int(text), _digit_bits(len(text)))
        elif encoding == _BASE64:
            for ch in text:
                self.put(_BASE64URL_INDEX[ch], 6)
        elif encoding == _ASCII:
            for ch in text:
                self.put(ord(ch), 7)
        else:
            for ch in text:
                self.put(_HEX.index(ch.upper()), 4)

    def base64url(self) -> str:
        bits = "".join(self.bits)
        bits += "0" * (-len(bits) % 6)
        return "".join(_BASE64URL[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def _encoding_of(text: str) -> int:
    if not text:
        return _ASCII  # as the reference does: its patterns need one character
    if text.isdigit() and text.isascii():
        return _DIGITS
    if all(ch in "0123456789ABCDEF" for ch in text):
        return _UPPER_HEX
    if all(ch in "0123456789abcdef" for ch in text):
        return _LOWER_HEX
    if all(ch in _BASE64URL_INDEX for ch in text):
        return _BASE64
    return _ASCII


class _Reader:
    def __init__(self, token: str) -> None:
        self.token = token
        self.bits = "".join(format(_BASE64URL_INDEX[ch], "06b") for ch in token)
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.bits) - self.pos

    def fail(self, reason: str) -> DigitalLinkError:
        return DigitalLinkError("compressed", self.token, reason)

    def take(self, width: int) -> int:
        if width > self.remaining:
            raise self.fail("the compressed data ends in the middle of a value")
        value = int(self.bits[self.pos : self.pos + width] or "0", 2)
        self.pos += width
        return value

    def digits(self, count: int) -> str:
        value = self.take(_digit_bits(count))
        if value >= 10**count:
            raise self.fail(f"number {value} does not fit in {count} digits")
        return str(value).zfill(count) if count else ""

    def text(self, length_bits: int, max_length: int) -> str:
        encoding = self.take(3)
        count = self.take(length_bits) if length_bits else max_length
        if count > max_length:
            raise self.fail(f"length {count} is over the maximum {max_length}")
        if encoding == _DIGITS:
            return self.digits(count)
        if encoding == _LOWER_HEX:
            return "".join(_HEX[self.take(4)] for _ in range(count)).lower()
        if encoding == _UPPER_HEX:
            return "".join(_HEX[self.take(4)] for _ in range(count))
        if encoding == _BASE64:
            return "".join(_BASE64URL[self.take(6)] for _ in range(count))
        if encoding == _ASCII:
            return "".join(chr(self.take(7)) for _ in range(count))
        raise self.fail(f"unknown encoding indicator {encoding:03b}")


# --- values --------------------------------------------------------------------------------


def _write_element(out: _Writer, element: ElementString) -> None:
    position = 0
    for field in _fields(element.ai):
        end = len(element.value) if field.variable else position + field.length
        part, position = element.value[position:end], end
        length_bits = field.length.bit_length() if field.variable else 0
        if field.numeric:
            out.put(len(part), length_bits)
            out.put(int(part or "0"), _digit_bits(len(part)))
        else:
            out.text(part, length_bits)


def _read_value(reader: _Reader, ai: str) -> str:
    parts = []
    for field in _fields(ai):
        length_bits = field.length.bit_length() if field.variable else 0
        if not field.numeric:
            parts.append(reader.text(length_bits, field.length))
            continue
        count = reader.take(length_bits) if field.variable else field.length
        if count > field.length:
            raise reader.fail(f"({ai}): length {count} is over the maximum {field.length}")
        parts.append(reader.digits(count))
    return "".join(parts)


def _read_ai(reader: _Reader, first: str) -> str:
    length = default_ai_table().prefix_lengths.get(first)
    if length is None:
        raise reader.fail(f"no AI starts with {first}")
    ai = first
    while len(ai) < length:
        digit = reader.take(4)
        if digit > 9:
            raise reader.fail(f"AI {ai}{digit:X}... is not all digits")
        ai += str(digit)
    if default_ai_table().lookup(ai) is None:
        raise reader.fail(f"unknown AI ({ai})")
    return ai


def _decode(token: str) -> tuple[list[ElementString], list[tuple[str, str]]]:
    """The AIs and the non-GS1 ``key=value`` pairs a compressed segment holds, in order."""
    if not token or any(ch not in _BASE64URL_INDEX for ch in token):
        raise DigitalLinkError("compressed", token, "last path segment is not base64url")
    reader = _Reader(token)
    elements: list[ElementString] = []
    others: list[tuple[str, str]] = []
    while reader.remaining >= 6:  # fewer bits than one base64url character are padding
        h1, h2 = reader.take(4), reader.take(4)
        if h1 <= 9 and h2 <= 9:
            ai = _read_ai(reader, f"{h1}{h2}")
            elements.append(ElementString(ai, _read_value(reader, ai)))
        elif (code := f"{h1:X}{h2:X}") in OPTIMISATIONS:
            elements.extend(
                ElementString(ai, _read_value(reader, ai)) for ai in OPTIMISATIONS[code]
            )
        elif h1 == _NON_GS1:
            key_length = h2 << 3 | reader.take(3)
            key = "".join(_BASE64URL[reader.take(6)] for _ in range(key_length))
            if not key:
                raise reader.fail("a non-GS1 key is empty")
            others.append((key, reader.text(7, _NON_GS1_MAX)))
        else:
            raise reader.fail(f"unknown optimisation code {code}")
    if reader.take(reader.remaining):
        raise reader.fail("padding bits are not zero")
    return elements, others


# --- URIs ----------------------------------------------------------------------------------


def compress_digital_link(
    uri: str, use_optimisations: bool = True, compress_other_key_value_pairs: bool = True
) -> str:
    """The compressed form of a Digital Link URI, on the same stem.

    Short names (``/gtin/``) and GTIN-8/12/13 are accepted, as the reference accepts
    them. Non-GS1 query parameters (``linkType=...``) go into the compressed segment, or
    with ``compress_other_key_value_pairs=False`` stay as a query string, as written; a
    fragment is dropped.

    Raises:
        DigitalLinkError: not a Digital Link URI, or a non-GS1 parameter that cannot be
            compressed (no ``=``, a key outside base64url, a value that is not ASCII,
            either over 127 characters); see also :func:`.parse_digital_link`.
        GS1FormatError, CheckDigitError, AICombinationError: as :func:`.parse_digital_link`.
    """
    link = parse_digital_link(uri, _LENIENT)
    out = _Writer()
    remaining = sorted(e.ai for e in link.element_strings)
    values = {e.ai: e for e in link.element_strings}
    while use_optimisations:
        fits = [code for code, ais in OPTIMISATIONS.items() if set(ais) <= set(remaining)]
        if not fits:
            break
        best = max(fits, key=lambda code: len("".join(OPTIMISATIONS[code])))
        for nibble in best:
            out.put(int(nibble, 16), 4)
        for ai in OPTIMISATIONS[best]:
            _write_element(out, values[ai])
            remaining.remove(ai)
    for ai in remaining:
        for digit in ai:
            out.put(int(digit), 4)
        _write_element(out, values[ai])
    query = ""
    if compress_other_key_value_pairs:
        for parameter in link.other_parameters:
            _write_other(out, parameter)
    elif link.other_parameters:
        query = "?" + "&".join(link.other_parameters)
    return f"{link.stem}/{out.base64url()}{query}"


def _write_other(out: _Writer, parameter: str) -> None:
    key, equals, raw = parameter.partition("=")
    value = percent_decode(raw, query_component=True)
    if not equals or not key or any(ch not in _BASE64URL_INDEX for ch in key):
        reason = "only key=value with a base64url key (A-Z a-z 0-9 - _) can be compressed"
    elif len(key) > _NON_GS1_MAX or len(value) > _NON_GS1_MAX:
        reason = f"key and value may have at most {_NON_GS1_MAX} characters"
    elif not value.isascii():
        reason = "only an ASCII value can be compressed"
    else:
        out.put(_NON_GS1, 4)
        out.put(len(key), 7)
        for ch in key:
            out.put(_BASE64URL_INDEX[ch], 6)
        out.text(value, 7)
        return
    raise DigitalLinkError("query", parameter, f"parameter {parameter!r}: {reason}")


def decompress_digital_link(uri: str, use_short_names: bool = False) -> str:
    """The uncompressed Digital Link URI on the same stem.

    The path is the primary key and the longest qualifier sequence the data fills; the
    query holds the other AIs (predefined length first), then the non-GS1 pairs, then
    any query string the compressed URI had. ``use_short_names`` writes the deprecated
    ``/gtin/``, ``/lot/`` ... in the path, for older readers that expect them. Only a fully
    compressed URI is understood, not one with an uncompressed primary key before it.

    Raises:
        DigitalLinkError: an uncompressed URI, a last path segment that is not valid
            compressed data, or a bad stem or query.
        GS1FormatError, CheckDigitError, AICombinationError: the decoded AIs are not a
            valid Digital Link.
    """
    if not isinstance(uri, str):
        raise DigitalLinkError("uri", repr(uri), "not a string")
    if _parses(uri):
        raise DigitalLinkError("uri", uri, "already an uncompressed Digital Link")
    head, question, query = uri.split("#", 1)[0].partition("?")
    stem, _, token = head.rpartition("/")
    elements, others = _decode(token)
    result = build_digital_link(elements, stem)
    if use_short_names:
        result = _with_short_names(result)
    extra = [f"{k}={_query_value(v)}" for k, v in others]
    extra += [p for p in query.split("&") if p] if question else []
    if extra:
        result += ("&" if "?" in result else "?") + "&".join(extra)
    parse_digital_link(result, _LENIENT)  # the appended query must leave it valid
    return result


def _query_value(value: str) -> str:
    """Percent-encoded only where a query needs it, so ``linkType=gs1:pip`` reads as
    it was written."""
    return "".join(ch if ch in _QUERY_SAFE else percent_encode(ch, True) for ch in value)


def _with_short_names(uri: str) -> str:
    link = parse_digital_link(uri)
    _, question, query = uri.partition("?")
    path = "".join(f"/{_SHORT_NAMES.get(e.ai, e.ai)}/{percent_encode(e.value)}" for e in link.path)
    return f"{link.stem}{path}{question}{query}"


def _parses(uri: str) -> bool:
    try:
        parse_digital_link(uri, _LENIENT)
    except BadInputError:
        return False
    return True


def is_compressed_digital_link(uri: str) -> bool:
    """Whether ``uri`` is a compressed Digital Link that decompresses to a valid one;
    checked by decompressing, since any base64url segment looks compressed."""
    try:
        decompress_digital_link(uri)
    except BadInputError:
        return False
    return True
