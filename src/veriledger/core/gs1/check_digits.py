"""GS1 check digits, and validation of the all-digit GS1 keys that end in one.

Every numeric GS1 key (GTIN, SSCC, GLN, GSRN, GSIN, and the first 13 digits of a GDTI,
GRAI or GCN) ends in a mod-10 check digit so that a mistyped or misread digit is caught
before it names the wrong thing. The GS1 Model Number (AI 8013) instead ends in a pair
of check characters computed over CSET 82 with prime weights.

References: GS1 General Specifications section 7.9.1 (mod-10) and 7.9.5 (check
character pair); gs1/gs1-syntax-engine ``lint_csum.c`` and ``lint_csumalpha.c``.
"""

from __future__ import annotations

import enum
import functools

from veriledger.core.errors import CheckDigitError, GS1FormatError


def is_digits(text: str) -> bool:
    """True when ``text`` is non-empty and only ASCII digits (``str.isdigit`` admits
    other scripts' digits, which GS1 does not: hence ``isascii`` first)."""
    return isinstance(text, str) and text.isascii() and text.isdigit()


def gs1_check_digit(payload: str, field: str = "payload") -> int:
    """The mod-10 check digit for ``payload`` (the digits before the check digit).

    From the rightmost payload digit leftwards the weights are 3, 1, 3, 1, ...; the
    check digit brings the weighted sum up to a multiple of ten.

    Raises:
        GS1FormatError: ``payload`` is empty or not all ASCII digits.
    """
    if not is_digits(payload):
        raise GS1FormatError(field, payload, f"{payload!r} is not a string of digits")
    return _mod10(payload)


@functools.lru_cache(maxsize=4096)  # a GTIN or GLN payload recurs in every event naming it
def _mod10(payload: str) -> int:
    total = 3 * sum(map(int, payload[::-2])) + sum(map(int, payload[-2::-2]))
    return (10 - total % 10) % 10


def verify_check_digit(value: str, field: str) -> None:
    """Check that the last digit of ``value`` is the check digit of the rest.

    Raises:
        GS1FormatError: fewer than two characters, or a non-digit.
        CheckDigitError: the last digit is not the computed check digit.
    """
    if len(value) < 2 or not is_digits(value):
        raise GS1FormatError(field, value, f"{value!r} is not a string of at least two digits")
    expected = gs1_check_digit(value[:-1], field)
    if int(value[-1]) != expected:
        raise CheckDigitError(field, value, str(expected), value[-1])


# --- check character pair (GMN, AI 8013) ----------------------------------------------------

CSET82_ORDER = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
"""GS1 AI encodable character set 82, in the order that gives each character its value."""
_CSET82_WEIGHT = {ch: i for i, ch in enumerate(CSET82_ORDER)}
_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
    89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179,
    181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271,
    277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379,
    383, 389, 397, 401, 409, 419, 421, 431, 433, 439, 443, 449, 457, 461, 463, 467, 479,
    487, 491, 499, 503, 509,
)  # fmt: skip


def gs1_check_character_pair(data: str, field: str = "payload") -> str:
    """The two check characters (from CSET 32) for ``data`` (CSET 82 characters).

    The sum of the characters' CSET 82 positions, weighted by increasing primes from the
    right, modulo 1021, split into two 5-bit halves.

    Raises:
        GS1FormatError: a character outside CSET 82, or ``data`` longer than 97.
    """
    if len(data) > len(_PRIMES):
        raise GS1FormatError(field, data, f"too long for a check character pair ({len(data)})")
    total = 0
    for i, ch in enumerate(reversed(data)):
        weight = _CSET82_WEIGHT.get(ch)
        if weight is None:
            raise GS1FormatError(field, data, f"character {ch!r} is not in GS1 CSET 82")
        total += weight * _PRIMES[i]
    total %= 1021
    return _CSET32[total >> 5] + _CSET32[total & 31]


def verify_check_character_pair(value: str, field: str) -> None:
    """Check that the last two characters of ``value`` are its check character pair.

    Raises:
        GS1FormatError: shorter than two characters, or outside CSET 82.
        CheckDigitError: the pair does not match.
    """
    if len(value) < 2:
        raise GS1FormatError(field, value, "too short for a check character pair")
    expected = gs1_check_character_pair(value[:-2], field)
    if value[-2:] != expected:
        raise CheckDigitError(field, value, expected, value[-2:], "check character pair")


# --- keys ----------------------------------------------------------------------------------


class KeyType(enum.Enum):
    """All-digit GS1 keys that end in a mod-10 check digit, valued by their name."""

    GTIN_8 = "GTIN-8"
    GTIN_12 = "GTIN-12"
    GTIN_13 = "GTIN-13"
    GTIN_14 = "GTIN-14"
    SSCC = "SSCC"
    GLN = "GLN"
    GSRN = "GSRN"
    GSIN = "GSIN"

    @property
    def length(self) -> int:
        """The number of digits, check digit included."""
        return _KEY_LENGTHS[self]


_KEY_LENGTHS = {
    KeyType.GTIN_8: 8,
    KeyType.GTIN_12: 12,
    KeyType.GTIN_13: 13,
    KeyType.GTIN_14: 14,
    KeyType.SSCC: 18,
    KeyType.GLN: 13,
    KeyType.GSRN: 18,
    KeyType.GSIN: 17,
}


def validate_key(value: str, key_type: KeyType | str) -> str:
    """Return ``value`` if it is a well-formed key of ``key_type``: right length, ASCII
    digits only, and a correct check digit.

    ``key_type`` is a :class:`KeyType` or its name (``"GTIN-13"``, ``"SSCC"``, ...).

    Raises:
        GS1FormatError: unknown key type, wrong length or a non-digit.
        CheckDigitError: the check digit is wrong.
    """
    kind = _key_type(key_type)
    field = kind.value
    if not is_digits(value):
        raise GS1FormatError(field, value, f"{value!r} is not a string of digits")
    if len(value) != kind.length:
        raise GS1FormatError(field, value, f"{len(value)} digits, want {kind.length}")
    verify_check_digit(value, field)
    return value


def is_valid_key(value: str, key_type: KeyType | str) -> bool:
    """Whether :func:`validate_key` accepts ``value``."""
    try:
        validate_key(value, key_type)
    except (GS1FormatError, CheckDigitError):
        return False
    return True


def _key_type(key_type: KeyType | str) -> KeyType:
    if isinstance(key_type, KeyType):
        return key_type
    for kind in KeyType:
        if kind.value == key_type:
            return kind
    names = ", ".join(k.value for k in KeyType)
    raise GS1FormatError("key type", str(key_type), f"unknown key type (known: {names})")
