"""Content rules ("linters") that the syntax dictionary attaches to AI components.

A component such as ``N6,yymmdd`` first passes its character set check, then each named
linter. A linter here takes the component's text and returns ``None`` when it is fine,
or a short reason. They follow gs1/gs1-syntax-engine's ``src/c-lib/syntax/lint_*.c``;
the check-digit linters (``csum``, ``csumalpha``) live in :mod:`.check_digits` because
their failure carries the expected and the given digits.

Two linters are not implemented: ``couponcode`` and ``couponposoffer`` check the
North American coupon AIs (8110, 8112) field by field. Those values are still checked
against their character set and length; :data:`UNCHECKED_LINTERS` names them so a test
can tell a deliberate gap from a forgotten one.

Dates with a two-digit year (``yymmdd``) are read as 20YY. The syntax engine picks the
century from today's date, which only matters for 29 February 2000 versus 2100 and only
after 2049; a fixed century keeps these checks free of the clock.
"""

from __future__ import annotations

from collections.abc import Callable

from veriledger.core.gs1.ai_table import code_lists
from veriledger.core.gs1.check_digits import CSET82_ORDER

Linter = Callable[[str], str | None]

CSET82 = frozenset(CSET82_ORDER)
"""GS1 AI encodable character set 82: the characters allowed in ``X`` values."""
CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CSET64 = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def _first_outside(text: str, allowed: frozenset[str]) -> str | None:
    for ch in text:
        if ch not in allowed:
            return ch
    return None


def charset_reason(charset: str, text: str) -> str | None:
    """Why ``text`` breaks character set ``N``, ``X``, ``Y`` or ``Z``, or ``None``."""
    if charset == "Z":
        return _cset64(text)
    allowed, name = {
        "N": (DIGITS, "a digit"),
        "X": (CSET82, "in GS1 CSET 82"),
        "Y": (CSET39, "in GS1 CSET 39"),
    }[charset]
    bad = _first_outside(text, allowed)
    return None if bad is None else f"character {bad!r} is not {name}"


def _cset64(text: str) -> str | None:
    body = text.rstrip("=")
    pads = len(text) - len(body)
    # The same padding rule as gs1-syntax-engine's lint_cset64.c.
    if pads > 2 or (pads > 0 and len(text) % 3 != 0):
        return "invalid base64url padding"
    bad = _first_outside(body, CSET64)
    return None if bad is None else f"character {bad!r} is not in GS1 CSET 64"


def _non_digit(text: str) -> str | None:
    bad = _first_outside(text, DIGITS)
    return None if bad is None else f"character {bad!r} is not a digit"


def _gcppos(offset: int) -> Linter:
    def lint(text: str) -> str | None:
        # Without a prefix registry only the shortest possible GS1 Company Prefix (four
        # digits) can be checked: it must be digits.
        prefix = text[offset : offset + 4]
        if len(prefix) < 4 or _first_outside(prefix, DIGITS) is not None:
            return "does not start with a GS1 Company Prefix"
        return None

    return lint


def _one_of(allowed: str, what: str) -> Linter:
    def lint(text: str) -> str | None:
        return None if len(text) == 1 and text in allowed else f"{text!r} is not {what}"

    return lint


def _in_list(list_name: str, what: str) -> Linter:
    def lint(text: str) -> str | None:
        return None if text in code_lists()[list_name] else f"{text!r} is not {what}"

    return lint


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _yyyymmd0(text: str) -> str | None:
    if len(text) != 8:
        return "date must be 8 digits (YYYYMMDD)"
    if (reason := _non_digit(text)) is not None:
        return reason
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    if not 1 <= month <= 12:
        return f"month {text[4:6]} is not 01 to 12"
    if day > _days_in_month(year, month):
        return f"day {text[6:]} does not exist in {text[:4]}-{text[4:6]}"
    return None


def _yyyymmdd(text: str) -> str | None:
    reason = _yyyymmd0(text)
    if reason is None and text.endswith("00"):
        return "day 00 is not allowed here"
    return reason


def _yymmd0(text: str) -> str | None:
    if len(text) != 6:
        return "date must be 6 digits (YYMMDD)"
    if (reason := _non_digit(text)) is not None:
        return reason
    return _yyyymmd0("20" + text)


def _yymmdd(text: str) -> str | None:
    reason = _yymmd0(text)
    if reason is None and text.endswith("00"):
        return "day 00 is not allowed here"
    return reason


def _two_digits_upto(limit: int, what: str) -> Linter:
    def lint(text: str) -> str | None:
        if len(text) != 2 or _non_digit(text) is not None:
            return f"{what} must be two digits"
        return None if int(text) <= limit else f"{what} {text} is over {limit}"

    return lint


_hour = _two_digits_upto(23, "hour")
_minute = _two_digits_upto(59, "minute")
_second = _two_digits_upto(59, "second")


def _hhmi(text: str) -> str | None:
    if len(text) != 4:
        return "time must be 4 digits (HHMM)"
    return _hour(text[:2]) or _minute(text[2:])


def _zero(text: str) -> str | None:
    return None if text and set(text) == {"0"} else f"{text!r} must be zero"


def _nonzero(text: str) -> str | None:
    if (reason := _non_digit(text)) is not None:
        return reason
    return None if set(text) != {"0"} else "must not be zero"


def _nozeroprefix(text: str) -> str | None:
    if text.startswith("0"):
        return "must not start with 0"
    return _non_digit(text)


def _hasnondigit(text: str) -> str | None:
    return None if _first_outside(text, DIGITS) is not None else "must contain a non-digit"


def _hyphen(text: str) -> str | None:
    return None if text and set(text) == {"-"} else f"{text!r} must be '-'"


def _pcenc(text: str) -> str | None:
    i = 0
    while i < len(text):
        if text[i] == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                return "'%' must start a percent-encoded byte (%XX)"
            i += 2
        i += 1
    return None


def _pieceoftotal(text: str) -> str | None:
    if (reason := _non_digit(text)) is not None:
        return reason
    if not text or len(text) % 2:
        return "piece and total must have the same number of digits"
    half = len(text) // 2
    piece, total = int(text[:half]), int(text[half:])
    if piece == 0:
        return "piece number is zero"
    if total == 0:
        return "total number of pieces is zero"
    return None if piece <= total else f"piece {piece} exceeds the total {total}"


def _posinseqslash(text: str) -> str | None:
    position, slash, end = text.partition("/")
    if not slash or not position or not end or _non_digit(position + end) is not None:
        return "must be <position>/<total>"
    if position.startswith("0") or end.startswith("0"):
        return "position and total must not start with 0"
    return None if int(position) <= int(end) else f"position {position} exceeds {end}"


def _coordinate(limit: int, what: str) -> Linter:
    def lint(text: str) -> str | None:
        if len(text) != 10 or _non_digit(text) is not None:
            return f"{what} must be 10 digits"
        return None if int(text) <= limit else f"{what} {text} is out of range"

    return lint


def _iso3166999(text: str) -> str | None:
    if text == "999" or text in code_lists()["iso3166_numeric"]:
        return None
    return f"{text!r} is not an ISO 3166 numeric country code or 999"


def _iban(text: str) -> str | None:
    if len(text) < 4:
        return "IBAN is too short"
    if text[:2] not in code_lists()["iso3166_alpha2"]:
        return f"IBAN country code {text[:2]!r} is not ISO 3166 alpha-2"
    if len(text) > 34:
        return "IBAN is longer than 34 characters"
    if len(text) <= 10:
        return "IBAN is too short"
    digits = []
    for ch in text[4:] + text[:4]:
        if ch in DIGITS:
            digits.append(ch)
        elif "A" <= ch <= "Z":
            digits.append(str(ord(ch) - ord("A") + 10))
        else:
            return f"character {ch!r} is not allowed in an IBAN"
    return None if int("".join(digits)) % 97 == 1 else "IBAN check digits are wrong"


def _importeridx(text: str) -> str | None:
    if len(text) != 1:
        return "importer index must be one character"
    return None if text in CSET64 else f"{text!r} is not a valid importer index"


LINTERS: dict[str, Linter] = {
    "gcppos1": _gcppos(0),
    "gcppos2": _gcppos(1),
    "yymmdd": _yymmdd,
    "yymmd0": _yymmd0,
    "yyyymmdd": _yyyymmdd,
    "yyyymmd0": _yyyymmd0,
    "hh": _hour,
    "mi": _minute,
    "ss": _second,
    "hhmi": _hhmi,
    "zero": _zero,
    "nonzero": _nonzero,
    "nozeroprefix": _nozeroprefix,
    "hasnondigit": _hasnondigit,
    "hyphen": _hyphen,
    "yesno": _one_of("01", "0 or 1"),
    "winding": _one_of("019", "a winding direction (0, 1 or 9)"),
    "iso5218": _one_of("0129", "an ISO 5218 sex code (0, 1, 2 or 9)"),
    "pcenc": _pcenc,
    "pieceoftotal": _pieceoftotal,
    "posinseqslash": _posinseqslash,
    "latitude": _coordinate(1_800_000_000, "latitude"),
    "longitude": _coordinate(3_600_000_000, "longitude"),
    "iso3166": _in_list("iso3166_numeric", "an ISO 3166 numeric country code"),
    "iso3166999": _iso3166999,
    "iso3166alpha2": _in_list("iso3166_alpha2", "an ISO 3166 alpha-2 country code"),
    "iso4217": _in_list("iso4217_numeric", "an ISO 4217 numeric currency code"),
    "packagetype": _in_list("package_types", "a package type code"),
    "mediatype": _in_list("media_types", "an AIDC media type"),
    "iban": _iban,
    "importeridx": _importeridx,
}
"""Linters by the name the syntax dictionary uses."""

CHECKSUM_LINTERS = frozenset({"csum", "csumalpha"})
"""Handled by the element string validator with :mod:`.check_digits`."""

UNCHECKED_LINTERS = frozenset({"couponcode", "couponposoffer"})
"""Named by the dictionary but not implemented (see the module docstring)."""
