"""The error of the EPCIS readers, and the two readings of the CBV 2.0 Event Hash ID.

Re-exported by :mod:`veriledger.modules.trace.event_hash`; see its docstring for why
there are two profiles and where they differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from veriledger.core.errors import BadInputError


class EpcisError(BadInputError):
    """An EPCIS event or document cannot be read; ``field`` names the offending path.

    The path is written like ``sensorElementList[0].sensorReport[1].time``; it is empty
    when the whole input is at fault (not a JSON object, not well-formed XML).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True)
class Profile:
    """Which reading of the CBV 2.0 Event Hash ID rules to apply.

    Only :data:`CBV_2_0` and :data:`CBV_2_0_LEGACY` are meant to exist; the fields name
    each point where the two differ, so that the code says which rule it applies.
    """

    name: str
    """A label for logs and reports; not part of the hash."""
    gs1_vocabulary: str
    """Base URI of GS1 Web Vocabulary terms (sensor ``type``, ``exception``, ``gs1:``
    CURIEs); values under the other base are moved to this one."""
    canonical_order: bool
    """``epcList`` before ``parentID``, and ``bizTransactionList``, ``sourceList``,
    ``destinationList`` at their places in the canonical table (20-22). Otherwise the
    reference code's order: ``parentID`` first, and the three lists in the trailing block,
    sorted by name (so ``destinationList`` before ``ilmd`` before ``sourceList``)."""
    hash_certification_info: bool
    """Hash ``certificationInfo`` right after ``eventTimeZoneOffset``."""
    sensor_element_list_name: bool
    """Write the ``sensorElementList`` token before the sensor elements."""
    extensions_inline: bool
    """Write user extensions inside standard fields (``readPoint``, ``bizLocation``,
    ``sensorElement``, ``sensorMetadata``, ``sensorReport``) at the end of their parent.
    Otherwise they go to the trailing block, after ``ilmd``, each prefixed by the names of
    the fields that lead to it (``readPoint{ns}x=1``)."""
    legacy_escaping: bool
    """Percent-encode ``! ( ) *`` in Digital Link values."""
    exact_numbers: bool
    """Normalise numbers as exact decimals; otherwise through a binary double."""
    round_half_up: bool
    """Round timestamps to milliseconds half-up on the exact fraction; otherwise truncate
    to microseconds and round half-even."""
    suffix: str = "?ver=CBV2.0"
    """What follows the digest in the ``ni:`` URI."""


CBV_2_0: Final = Profile(
    name="CBV2.0",
    gs1_vocabulary="https://ref.gs1.org/voc/",
    canonical_order=True,
    hash_certification_info=False,
    sensor_element_list_name=False,
    extensions_inline=False,
    legacy_escaping=False,
    exact_numbers=True,
    round_half_up=True,
)
"""The revised CBV 2.0 reading (upstream after PR #123, 2026): the default."""

CBV_2_0_LEGACY: Final = Profile(
    name="CBV2.0-legacy",
    gs1_vocabulary="https://gs1.org/voc/",
    canonical_order=False,
    hash_certification_info=True,
    sensor_element_list_name=True,
    extensions_inline=True,
    legacy_escaping=True,
    exact_numbers=False,
    round_half_up=False,
)
"""The reference implementation at commit 5d2f1c3 (2025-10-17; release 1.9.3
behaviour), which made the published ``.hashes`` and ``.prehashes`` vectors."""
