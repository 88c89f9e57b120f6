"""Value normalisation for the CBV 2.0 Event Hash ID: one spelling per value.

Every value of an event is trimmed and then, in this order:

1. a bare vocabulary term, in a field that takes that vocabulary, becomes its web URI
   (``"shipping"`` in ``bizStep`` -> ``https://ref.gs1.org/cbv/BizStep-shipping``);
2. a CURIE whose prefix is known becomes the IRI it abbreviates (rule 15);
3. a GS1 Web Vocabulary IRI moves to the profile's base (``https://ref.gs1.org/voc/`` in
   the revised reading);
4. a legacy CBV URN becomes its web URI (rule 14,
   ``urn:epcglobal:cbv:bizstep:shipping`` -> ``https://ref.gs1.org/cbv/BizStep-shipping``);
5. a decimal number loses leading and trailing zeros (rules 6 and 7);
6. a GS1 identifier becomes a constrained canonical Digital Link URI (rules 17 and 18).

Timestamps are handled apart (rules 8 and 9): UTC, ``Z``, exactly three decimals.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from veriledger.modules.trace import _hash_vocabulary as vocab
from veriledger.modules.trace._hash_identifiers import canonical_digital_link
from veriledger.modules.trace._hash_profile import EpcisError, Profile

CURIE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*):(.*)", re.DOTALL)
"""``prefix:rest``; with a ``rest`` that starts with ``//`` it is an absolute IRI instead."""

_CBV_URNS: Final = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)
_GS1_VOCABULARY_BASES: Final = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/")

# The value kinds: which code list a field's bare terms come from, and their URI prefix.
_CBV_TERMS: Final[Mapping[str, tuple[frozenset[str], str]]] = {
    "bizStep": (vocab.BIZ_STEPS, "https://ref.gs1.org/cbv/BizStep-"),
    "disposition": (vocab.DISPOSITIONS, "https://ref.gs1.org/cbv/Disp-"),
    "bizTransactionType": (vocab.BIZ_TRANSACTION_TYPES, "https://ref.gs1.org/cbv/BTT-"),
    "sourceDestType": (vocab.SOURCE_DEST_TYPES, "https://ref.gs1.org/cbv/SDT-"),
    "component": (vocab.COMPONENTS, "https://ref.gs1.org/cbv/Comp-"),
}
_GS1_TERMS: Final[Mapping[str, frozenset[str]]] = {
    "measurementType": vocab.MEASUREMENT_TYPES,
    "sensorAlertType": vocab.SENSOR_ALERT_TYPES,
}
TIME: Final = "time"
"""The kind of a timestamp field."""
BOOLEAN: Final = "boolean"
"""The kind of ``booleanValue``: written ``true`` or ``false``."""


def canonical_value(
    text: str, path: str, profile: Profile, prefixes: Mapping[str, str], kind: str = ""
) -> str:
    """The normalised spelling of one value (see the module docstring for the steps).

    Parameters:
        text: the value as written.
        path: where it is, for errors.
        profile: the reading to apply.
        prefixes: the CURIE prefixes in scope for values.
        kind: ``TIME``, ``BOOLEAN``, a vocabulary (``bizStep``, ``disposition``,
            ``bizTransactionType``, ``sourceDestType``, ``component``, ``measurementType``,
            ``sensorAlertType``) or empty.

    Raises:
        EpcisError: a ``TIME`` value that is not an ``xsd:dateTimeStamp``.
    """
    text = text.strip()
    if not text:
        return ""
    if kind == TIME:
        return timestamp(text, path, half_up=profile.round_half_up)
    if kind == BOOLEAN and text.lower() in ("true", "1", "false", "0"):
        return "true" if text.lower() in ("true", "1") else "false"
    if kind in _CBV_TERMS and text in _CBV_TERMS[kind][0]:
        text = _CBV_TERMS[kind][1] + text
    elif kind in _GS1_TERMS and text in _GS1_TERMS[kind]:
        text = profile.gs1_vocabulary + text
    match = CURIE.fullmatch(text)
    if match and not match.group(2).startswith("//") and match.group(1) in prefixes:
        text = prefixes[match.group(1)] + match.group(2)
    for base in _GS1_VOCABULARY_BASES:
        if text.startswith(base):
            text = profile.gs1_vocabulary + text[len(base) :]
            break
    for urn, uri in _CBV_URNS:
        if text.startswith(urn):
            text = uri + text[len(urn) :]
            break
    text = number(text, exact=profile.exact_numbers)
    link = canonical_digital_link(text, legacy_escaping=profile.legacy_escaping)
    return text if link is None else link


_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MAX_EXPONENT: Final = 1000


def number(text: str, *, exact: bool) -> str:
    """A decimal number literal without sign ``+``, leading zeros or trailing zeros.

    ``26.0`` -> ``26``, ``+007`` -> ``7``, ``1e-7`` -> ``0.0000001``, ``-0`` -> ``0``.
    ``exact`` uses decimal arithmetic; otherwise the value goes through a binary double
    and is written as Python writes a float, as the legacy reference does (so digits
    beyond the 17th are lost there). Text that is not a number literal (including
    ``NaN``, ``inf`` and ``1_000``), and numbers whose exponent is beyond +-1000, are
    returned unchanged.
    """
    if not _NUMBER.fullmatch(text):
        return text
    value = Decimal(text)
    if abs(value.adjusted()) > _MAX_EXPONENT:
        return text
    if not exact:
        double = float(value)
        if not math.isfinite(double):
            return text
        return str(int(double)) if double.is_integer() else repr(double)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


_TIMESTAMP: Final = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))?",
    re.ASCII,
)


def timestamp(text: str, path: str, *, half_up: bool) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``: the instant in UTC, at millisecond precision.

    ``half_up`` rounds the exact fraction half-up (rule 9: ``.1415`` -> ``.142``,
    ``.1425`` -> ``.143``); otherwise it is truncated to microseconds and rounded
    half-even (``.1425`` -> ``.142``), as the legacy reference does. A carry moves into
    the seconds (``59.9996`` -> the next minute).

    Raises:
        EpcisError: not an ``xsd:dateTimeStamp`` (date, ``T``, time, optional fraction,
            then ``Z`` or ``+hh:mm``/``-hh:mm``), no offset, or no such date or time.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise EpcisError(path, f"{text!r} is not an xsd:dateTimeStamp")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu is None and sign is None:
        raise EpcisError(path, f"{text!r} has no UTC offset")
    try:
        offset = timedelta(0)
        if sign is not None:
            if int(off_m) > 59:
                raise ValueError(off_m)
            offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
        y, mo, d, h, mi, se = (int(v) for v in (year, month, day, hour, minute, second))
        moment = datetime(y, mo, d, h, mi, se, tzinfo=timezone(offset)).astimezone(UTC)
        digits = fraction or "0"
        if half_up:
            millis = int((Decimal("0." + digits) * 1000).quantize(Decimal(1), ROUND_HALF_UP))
        else:
            millis = round(int(digits[:6].ljust(6, "0")), -3) // 1000
        moment += timedelta(milliseconds=millis)
    except (ValueError, OverflowError):
        raise EpcisError(path, f"{text!r} is not a valid date and time") from None
    m = moment
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )
