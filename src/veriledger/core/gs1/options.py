"""Parser options: strict by default, with each leniency named and off.

The defaults follow the GS1 standards as gs1/gs1-syntax-engine applies them. Each
option relaxes one rule for input written by older or laxer software; a caller turns one
on on purpose, and the name says what it lets through.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParseOptions:
    """How strictly element strings and Digital Link URIs are parsed."""

    permit_unknown_ais: bool = False
    """Accept AIs missing from the syntax dictionary (2 to 4 digits, length agreeing with
    the AIs that share their first two digits), with any CSET 82 value."""

    unknown_ai_as_dl_attr_allowed: bool = False
    """With ``permit_unknown_ais``, also accept such AIs as Digital Link query
    attributes."""

    permit_zero_suppressed_gtin: bool = False
    """Digital Link only: accept a GTIN-8, -12 or -13 as the value of (01) and pad it with
    zeros to 14 digits."""

    permit_convenience_alphas: bool = False
    """Digital Link only: accept the deprecated short names (``gtin``, ``ser``, ``lot``,
    ``sscc``, ``gln``, ...) in place of numeric AIs in the path."""

    check_requisites: bool = True
    """Reject element strings that lack an AI another one requires (the dictionary's
    ``req`` rules), such as (21) serial without (01) GTIN."""


STRICT = ParseOptions()
"""The default: every rule of the standard applies."""
