"""Strict text encodings shared by every C2SP format.

Base64 here is RFC 4648 section 4 with padding, and it is canonical: a string that
decodes but does not re-encode to itself (stray bits, missing padding, whitespace)
is rejected, so one value has exactly one accepted spelling.
"""

from __future__ import annotations

import base64
import binascii
import re

from veriledger.core.errors import BadInputError

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
UINT64_MAX = (1 << 64) - 1


def b64encode(data: bytes) -> str:
    """Standard padded base64."""
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str, what: str, error: type[BadInputError] = BadInputError) -> bytes:
    """Decode canonical standard base64, raising ``error`` naming ``what`` otherwise."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise error(f"{what} is not valid base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise error(f"{what} is not canonical base64")
    return data


def parse_decimal(
    text: str, what: str, error: type[BadInputError] = BadInputError, limit: int = UINT64_MAX
) -> int:
    """Parse an ASCII decimal with no sign and no leading zeros, at most ``limit``."""
    if not _DECIMAL.fullmatch(text):
        raise error(f"{what} {text!r} is not a decimal without leading zeros")
    value = int(text)
    if value > limit:
        raise error(f"{what} {value} exceeds {limit}")
    return value
