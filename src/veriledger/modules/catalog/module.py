"""The catalog module: who owns which GS1 company prefix, products, and locations.

An organisation claims its GS1 company prefixes; from then on only it defines the
products of those GTINs and the locations of those GLNs, and brings into being the
items, logistic units, assets, documents... of any GS1 key under them (the trace
module checks). A prefix nobody has claimed is not blocked: its items are shown as
"brand not verified", which is how GS1's own examples are captured.

Ownership is decided on the normalised key, never on how an identifier is written:
:func:`owner_of_key` and :func:`claims_over` read the key's prefix-bearing part
(:mod:`veriledger.core.gs1.company_prefix`), and the longest claimed prefix that starts
it owns it. Claims never nest across organisations (:func:`claim_prefix`), so whichever
claim starts a key names the same organisation.

State::

    catalog/prefix/<prefix>      {"org", "since"}
    catalog/product/<gtin-14>    {"gtin", "name", "brand", "org", ...}
    catalog/location/<gln>       {"gln", "name", "address", "country", "lat", "lon", "org"}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from veriledger.chain.module import Context, Message, Module, Outcome, Rejection
from veriledger.chain.state import StateView
from veriledger.core.errors import BadInputError
from veriledger.core.gs1.check_digits import KeyType, validate_key
from veriledger.core.gs1.company_prefix import (
    PrefixBearing,
    claimable_prefixes,
    prefix_bearing,
    prefix_bearing_of,
)

NAME = "catalog"
PREFIX_TAKEN = 1
PREFIX_OVERLAPS = 2
BAD_IDENTIFIER = 3
NOT_PREFIX_OWNER = 4
LOCATION_TAKEN = 5
BAD_COORDINATES = 6
NOT_LOCATION_OWNER = 7
ERRORS = {
    PREFIX_TAKEN: "the GS1 company prefix is claimed by another organisation",
    PREFIX_OVERLAPS: "the prefix overlaps a prefix claimed by another organisation",
    BAD_IDENTIFIER: "not a valid GS1 key (length, digits or check digit)",
    NOT_PREFIX_OWNER: "only the organisation that claimed the GTIN's company prefix may define it",
    LOCATION_TAKEN: "the GLN is defined by another organisation",
    BAD_COORDINATES: "latitude and longitude must be decimal degrees within range",
    NOT_LOCATION_OWNER: "the GLN's company prefix is claimed by another organisation",
}
PREFIX = re.compile(r"[0-9]{4,12}")
DECIMAL = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,7})?")
BRAND_KINDS = frozenset({"brand", "manufacturer"})


@dataclass(frozen=True)
class ClaimPrefix:
    prefix: str


@dataclass(frozen=True)
class DefineProduct:
    gtin: str
    name: str
    brand: str = ""
    category: str = ""
    country_of_origin: str = ""
    description: str = ""
    name_zh: str = ""


@dataclass(frozen=True)
class DefineLocation:
    gln: str
    name: str
    address: str = ""
    country: str = ""
    lat: str = ""
    """Decimal degrees as text (bodies carry no floats), e.g. ``29.8683``."""
    lon: str = ""
    name_zh: str = ""


def _reject(code: int, detail: str = "") -> Rejection:
    return Rejection(NAME, code, detail or ERRORS[code])


def gtin14(value: str) -> str:
    """A GTIN-8/12/13/14 as 14 digits.

    Raises:
        Rejection: ``catalog/3`` not a valid GTIN.
    """
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise _reject(BAD_IDENTIFIER, f"gtin {value!r} is not 8, 12, 13 or 14 digits")
    padded = value.zfill(14)
    try:
        validate_key(padded, KeyType.GTIN_14)
    except BadInputError as exc:
        raise _reject(BAD_IDENTIFIER, f"gtin: {exc.diagnostics()}") from None
    return padded


def _owner_of_part(state: StateView, part: str) -> tuple[str, str] | None:
    for prefix in claimable_prefixes(part):
        claim = state.get(f"catalog/prefix/{prefix}")
        if claim is not None:
            return prefix, str(claim["org"])
    return None


def owner_of_key(state: StateView, ai: str, value: str) -> tuple[str, str] | None:
    """``(prefix, organisation)`` of the claim a normalised GS1 key falls under: the
    longest claimed prefix that starts the key's prefix-bearing part (a GTIN-14's digits
    after its indicator, an SSCC's after its extension digit, a GLN's from the first...).

    ``ai`` is the key's AI (``"01"``, ``"00"``, ``"414"``...) and ``value`` the key as
    normalised (a GTIN as 14 digits). None when nobody claimed its prefix.

    Raises:
        GS1FormatError: ``ai`` is not a GS1 primary key.
    """
    return _owner_of_part(state, prefix_bearing(ai, value))


def claims_over(state: StateView, bearing: PrefixBearing | None) -> list[tuple[str, str]]:
    """``(prefix, organisation)`` of every claim over the keys an identifier names
    (see :func:`~veriledger.core.gs1.company_prefix.prefix_bearing_of`): the claim its
    key falls under, or, for a wildcard pattern, also every claim inside the range it
    covers (``urn:epc:idpat:sgtin:401234.*.*`` reaches into a claim of ``4012345``).
    Empty for an identifier that is not a GS1 key, or that nobody's claim covers."""
    if bearing is None:
        return []
    found = _owner_of_part(state, bearing.part)
    claims = dict([found]) if found is not None else {}
    if bearing.pattern:
        for key, claim in state.scan(f"catalog/prefix/{bearing.part}"):
            claims[key.rsplit("/", 1)[1]] = str(claim["org"])
    return list(claims.items())


def identifier_claims(state: StateView, identifier: str) -> list[tuple[str, str]]:
    """:func:`claims_over` the keys an identifier names, in whatever spelling (EPC URI of
    any partition, class or pattern URI, Digital Link URI, element strings).

    Raises:
        GS1Error: an EPC URI of a GS1 scheme that cannot be read (nobody can tell whose
            it is).
    """
    return claims_over(state, prefix_bearing_of(identifier))


def prefix_owner(state: StateView, gtin: str) -> tuple[str, str] | None:
    """``(prefix, organisation)`` of the claimed company prefix a GTIN falls under
    (:func:`owner_of_key` of the GTIN as 14 digits)."""
    return owner_of_key(state, "01", gtin.rjust(14, "0"))


def claim_prefix(state: StateView, msg: ClaimPrefix, ctx: Context) -> Outcome:
    """Claim a GS1 company prefix for the signer's organisation.

    Raises:
        Rejection: ``catalog/3`` not 4 to 12 digits; ``catalog/1`` claimed by another
            organisation; ``catalog/2`` it contains, or is contained in, another
            organisation's prefix.
    """
    if not PREFIX.fullmatch(msg.prefix):
        raise _reject(BAD_IDENTIFIER, f"prefix {msg.prefix!r} is not 4 to 12 digits")
    existing = state.get(f"catalog/prefix/{msg.prefix}")
    if existing is not None and existing["org"] != ctx.org:
        raise _reject(PREFIX_TAKEN, f"prefix {msg.prefix} is claimed by {existing['org']}")
    for length in range(4, len(msg.prefix)):
        shorter = state.get(f"catalog/prefix/{msg.prefix[:length]}")
        if shorter is not None and shorter["org"] != ctx.org:
            raise _reject(PREFIX_OVERLAPS, f"prefix {msg.prefix[:length]} is {shorter['org']}'s")
    for key, claim in state.scan(f"catalog/prefix/{msg.prefix}"):
        if claim["org"] != ctx.org:
            raise _reject(PREFIX_OVERLAPS, f"{key.rsplit('/', 1)[1]} is {claim['org']}'s")
    record = {"org": ctx.org, "since": ctx.block_height}
    return Outcome(
        {f"catalog/prefix/{msg.prefix}": record},
        ({"type": "catalog.prefix_claimed", "prefix": msg.prefix, "org": ctx.org},),
    )


def define_product(state: StateView, msg: DefineProduct, ctx: Context) -> Outcome:
    """Define (or update) a product; only the owner of its company prefix may.

    Raises:
        Rejection: ``catalog/3`` bad GTIN; ``catalog/4`` the prefix is unclaimed or
            another organisation's.
    """
    gtin = gtin14(msg.gtin)
    owner = prefix_owner(state, gtin)
    if owner is None or owner[1] != ctx.org:
        who = f"claimed by {owner[1]}" if owner else "not claimed by anyone"
        raise _reject(NOT_PREFIX_OWNER, f"GTIN {gtin}: its company prefix is {who}")
    record = {
        "gtin": gtin,
        "name": msg.name,
        "brand": msg.brand,
        "category": msg.category,
        "country_of_origin": msg.country_of_origin,
        "description": msg.description,
        "name_zh": msg.name_zh,
        "org": ctx.org,
        "prefix": owner[0],
    }
    return Outcome(
        {f"catalog/product/{gtin}": record}, ({"type": "catalog.product", "gtin": gtin},)
    )


def _coordinate(value: str, limit: int, what: str) -> str:
    if value and (not DECIMAL.fullmatch(value) or abs(Decimal(value)) > limit):
        raise _reject(BAD_COORDINATES, f"{what} {value!r} is not decimal degrees within {limit}")
    return value


def define_location(state: StateView, msg: DefineLocation, ctx: Context) -> Outcome:
    """Define (or update) a location by its GLN. A GLN under a claimed company prefix
    is the prefix owner's to define; any other, the first definer's.

    Raises:
        Rejection: ``catalog/3`` bad GLN; ``catalog/7`` its company prefix is another
            organisation's; ``catalog/5`` defined by another organisation;
            ``catalog/6`` coordinates out of range.
    """
    try:
        validate_key(msg.gln, KeyType.GLN)
    except BadInputError as exc:
        raise _reject(BAD_IDENTIFIER, f"gln: {exc.diagnostics()}") from None
    owner = owner_of_key(state, "414", msg.gln)
    if owner is not None and owner[1] != ctx.org:
        raise _reject(
            NOT_LOCATION_OWNER, f"GLN {msg.gln}: company prefix {owner[0]} is {owner[1]}'s"
        )
    existing = state.get(f"catalog/location/{msg.gln}")
    if existing is not None and existing["org"] != ctx.org:
        raise _reject(LOCATION_TAKEN, f"GLN {msg.gln} is {existing['org']}'s")
    record = {
        "gln": msg.gln,
        "name": msg.name,
        "name_zh": msg.name_zh,
        "address": msg.address,
        "country": msg.country,
        "lat": _coordinate(msg.lat, 90, "lat"),
        "lon": _coordinate(msg.lon, 180, "lon"),
        "org": ctx.org,
    }
    return Outcome(
        {f"catalog/location/{msg.gln}": record}, ({"type": "catalog.location", "gln": msg.gln},)
    )


def product(state: StateView, params: Mapping[str, str]) -> Any:
    return state.get(f"catalog/product/{params.get('gtin', '').zfill(14)}")


def location(state: StateView, params: Mapping[str, str]) -> Any:
    return state.get(f"catalog/location/{params.get('gln', '')}")


MODULE = Module(
    name=NAME,
    messages=(
        Message(
            "catalog.claim_prefix",
            ClaimPrefix,
            claim_prefix,
            org_kinds=BRAND_KINDS,
            doc="A brand or manufacturer claims a GS1 company prefix.",
            checked_at_submission=True,
        ),
        Message(
            "catalog.define_product",
            DefineProduct,
            define_product,
            doc="The prefix owner defines a product by GTIN.",
            checked_at_submission=True,
        ),
        Message(
            "catalog.define_location",
            DefineLocation,
            define_location,
            doc="An organisation defines one of its locations by GLN.",
            checked_at_submission=True,
        ),
    ),
    queries={"product": product, "location": location},
    errors=ERRORS,
)
