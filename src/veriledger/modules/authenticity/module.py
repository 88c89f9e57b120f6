"""The authenticity module: serialised items' verification codes, consumer scans, NFC taps.

A brand prints a secret code under a scratch-off layer on each item and registers,
per item, only a salted hash of it: ``code_hash`` = hex SHA-256 of (salt ‖ UTF-8
``"<gtin14>/<serial>/<code>"``), with a public 16-byte salt. A consumer scans and
types the code; the relay member (the consumer gateway) computes the hash with the
item's salt and signs ``authenticity.scan``: the code itself never reaches the
ledger, and the consumer is only a pseudonymous ``scanner`` id.

A scan is never rejected for a wrong code: a wrong code is a result, recorded. The
verdict is computed from state (:func:`verdict`), never stored as truth:

- ``genuine-first``: the code matches and no earlier scan matched;
- ``suspected-clone``: the code matches but was verified before (count, first
  verification's time and place);
- ``unknown-code``: the item is registered and the code is wrong;
- ``unknown-item``: nothing is registered under that GTIN and serial.

Anomalies come with it: ``impossible-travel`` (from the previous matching scan,
faster than 1000 km/h), ``unexpected-country`` (the item's trace history never
reached a location in that country), ``recalled`` and ``not-yet-sold``. Distances
are computed with integer fixed-point arithmetic only, so every node agrees.

NFC tags (NXP NTAG 424 DNA, SUN messages) are verified by the relay node with
:mod:`veriledger.core.nfc_sun` (the keys are secret, never on the ledger); the rule
only demands that the tag's read counter strictly increases, so a replayed tap URL
is caught. Taps and scans are checked at submission too (:func:`admit_tap`,
:func:`admit_scan`): a replayed tap or a malformed scan is refused before it is
ordered, and leaves no rejected transaction in the log.

What a consumer's page says about an item comes from :func:`registered` (did the
brand bring this serial into being on the ledger?) and :func:`checks` (how often, and
first when and where, its code was verified), never from the scan messages alone.

State (``<serial>`` percent-encoded, so a ``/`` in a serial cannot split a key)::

    authenticity/item/<gtin14>/<serial>            {"salt", "code_hash", "org", "prefix", ...}
    authenticity/tally/<gtin14>/<serial>           {"scans", "matches", "first_match", "last_match"}
    authenticity/scan/<gtin14>/<serial>/<n:08d>    {"match", "scanner", "country", "lat", ...}
    authenticity/nfc/<gtin14>/<serial>             {"counter", "taps", "time"}
    authenticity/tap/<gtin14>/<serial>/<counter:08d> {"scanner", "country", "place", ...}
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from veriledger.chain.module import Context, Message, Module, Outcome, Rejection
from veriledger.chain.state import StateView
from veriledger.core.encoding import b64decode_strict
from veriledger.core.errors import BadInputError, CounterReplayError
from veriledger.core.gs1 import element_strings_from_epc_uri, is_valid_key
from veriledger.core.gs1.digital_link import percent_encode
from veriledger.core.gs1.linters import charset_reason
from veriledger.core.nfc_sun import check_counter
from veriledger.modules.catalog.module import gtin14, prefix_owner
from veriledger.modules.trace import cbv
from veriledger.modules.trace.module import (
    events_for,
    history,
    iso_ms,
    item_key,
    recalls_affecting,
    stored_event,
)

NAME = "authenticity"
BAD_GTIN = 1
BAD_SERIAL = 2
NOT_BRAND_OWNER = 3
ALREADY_REGISTERED = 4
BAD_SALT = 5
BAD_CODE_HASH = 6
BAD_ITEM_COUNT = 7
BAD_SCAN_FIELD = 8
BAD_COUNTER = 9
REPLAYED_COUNTER = 10
ERRORS = {
    BAD_GTIN: "not a valid GTIN (8, 12, 13 or 14 digits with a good check digit)",
    BAD_SERIAL: "a serial is 1 to 20 characters of GS1 CSET 82",
    NOT_BRAND_OWNER: "the GTIN's company prefix is claimed by another organisation",
    ALREADY_REGISTERED: "a verification code is already registered for this item",
    BAD_SALT: "salt must be canonical base64 of 16 bytes",
    BAD_CODE_HASH: "code_hash must be 64 lowercase hex characters (SHA-256)",
    BAD_ITEM_COUNT: "register between 1 and 1000 items per message",
    BAD_SCAN_FIELD: (
        "scanner must be non-empty, country an ISO 3166-1 alpha-2 code or empty, "
        "lat and lon decimal degrees within range or both empty"
    ),
    BAD_COUNTER: "the NFC read counter is outside 0..2^24-1",
    REPLAYED_COUNTER: "the NFC read counter is not above the last accepted one: a replayed tap",
}

SALT_LENGTH = 16
MAX_ITEMS = 1000
MAX_SERIAL = 20
HEX64 = re.compile(r"[0-9a-f]{64}")
COUNTRY = re.compile(r"[A-Z]{2}")
DEGREES = re.compile(r"(-?)([0-9]{1,3})(?:\.([0-9]{1,7}))?")
MAX_SPEED_KMH = 1000
MIN_TRAVEL_M = 100_000
"""Below 100 km, geolocation noise (IP, cell, coarse GPS) is not evidence of travel."""
RETAIL_SELLING = "retail_selling"

GENUINE_FIRST = "genuine-first"
SUSPECTED_CLONE = "suspected-clone"
UNKNOWN_CODE = "unknown-code"
UNKNOWN_ITEM = "unknown-item"


# --- bodies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeItem:
    serial: str
    salt: str
    """Canonical base64 of 16 random bytes, public."""
    code_hash: str
    """Hex SHA-256 of (salt ‖ UTF-8 ``"<gtin14>/<serial>/<code>"``), see :func:`code_hash`."""


@dataclass(frozen=True)
class RegisterCodes:
    gtin: str
    items: list[CodeItem]


@dataclass(frozen=True)
class Scan:
    gtin: str
    serial: str
    code_hash: str
    """Computed by the relay from the typed code and the item's public salt."""
    scanner: str
    """The consumer's pseudonymous id (never personal data)."""
    country: str = ""
    """ISO 3166-1 alpha-2 code of where the scan happened, or empty if unknown."""
    lat: str = ""
    """Decimal degrees as text (bodies carry no floats), or empty if unknown."""
    lon: str = ""
    place: str = ""
    """A human-readable place, e.g. ``Shanghai``."""


@dataclass(frozen=True)
class Tap:
    gtin: str
    serial: str
    counter: int
    """The SUN read counter (SDMReadCtr) the relay verified with the tag's MAC."""
    scanner: str
    country: str = ""
    place: str = ""


# --- pure helpers ------------------------------------------------------------------------


def code_hash(salt: bytes, gtin14: str, serial: str, code: str) -> str:
    """Hex SHA-256 of ``salt || UTF-8 "<gtin14>/<serial>/<code>"``."""
    return hashlib.sha256(salt + f"{gtin14}/{serial}/{code}".encode()).hexdigest()


def _reject(code: int, detail: str = "") -> Rejection:
    return Rejection(NAME, code, detail or ERRORS[code])


def _gtin(value: str) -> str:
    try:
        return gtin14(value)
    except Rejection as exc:
        raise _reject(BAD_GTIN, exc.reason) from None


def _serial(value: str) -> str:
    reason = charset_reason("X", value) if value else "is empty"
    if reason is None and len(value) > MAX_SERIAL:
        reason = f"is longer than {MAX_SERIAL} characters"
    if reason is not None:
        raise _reject(BAD_SERIAL, f"serial {value!r}: {reason}")
    return value


def _key_part(serial: str) -> str:
    return percent_encode(serial)


def item_record_key(gtin: str, serial: str) -> str:
    return f"authenticity/item/{gtin}/{_key_part(serial)}"


def tally_key(gtin: str, serial: str) -> str:
    return f"authenticity/tally/{gtin}/{_key_part(serial)}"


def scan_key(gtin: str, serial: str, n: int) -> str:
    return f"authenticity/scan/{gtin}/{_key_part(serial)}/{n:08d}"


def nfc_key(gtin: str, serial: str) -> str:
    return f"authenticity/nfc/{gtin}/{_key_part(serial)}"


def item_uri(gtin: str, serial: str) -> str:
    """The item's canonical GS1 Digital Link, as the trace module keys it."""
    return item_key(f"https://id.gs1.org/01/{gtin}/21/{percent_encode(serial)}")


def gln_from_sgln(uri: str) -> str | None:
    """The 13-digit GLN (with its check digit) of ``urn:epc:id:sgln:CP.LOC.EXT``.

    A Digital Link ``.../414/<gln>...`` is read too; anything else gives ``None``.
    """
    if uri.startswith("urn:epc:id:sgln:"):
        try:
            elements = element_strings_from_epc_uri(uri)
        except BadInputError:
            return None
        return next((e.value for e in elements if e.ai == "414"), None)
    found = re.search(r"/414/([0-9]{13})(?:[/?]|$)", uri)
    if found and is_valid_key(found.group(1), "GLN"):
        return found.group(1)
    return None


def degrees_e7(value: str, limit: int, what: str) -> int | None:
    """Decimal degrees as an integer count of 10^-7 degrees; ``None`` for empty.

    Raises:
        Rejection: ``authenticity/8`` not decimal degrees within ``limit``.
    """
    if not value:
        return None
    found = DEGREES.fullmatch(value)
    if found is None:
        raise _reject(BAD_SCAN_FIELD, f"{what} {value!r} is not decimal degrees")
    sign, whole, fraction = found.groups()
    units = int(whole) * 10**7 + int((fraction or "").ljust(7, "0"))
    if units > limit * 10**7:
        raise _reject(BAD_SCAN_FIELD, f"{what} {value!r} is beyond {limit} degrees")
    return -units if sign else units


# Integer fixed-point trigonometry: Python integers behave the same on every platform,
# unlike libm's sin and cos, so the rule's distances are identical on every node.
_F = 10**18
_PI = 3_141_592_653_589_793_238
_EARTH_RADIUS_M = 6_371_000


def _sin(x: int) -> int:
    """sin of ``x / 10^18`` radians, times 10^18 (Taylor series after range reduction)."""
    x = (x + _PI) % (2 * _PI) - _PI
    total = term = x
    n = 1
    while term and n < 60:
        term = -term * x * x // ((2 * n) * (2 * n + 1) * _F * _F)
        total += term
        n += 1
    return total


def _cos(x: int) -> int:
    return _sin(x + _PI // 2)


def _e7_to_rad(units: int) -> int:
    return units * _PI // (180 * 10**7)


def distance_m(lat1: int, lon1: int, lat2: int, lon2: int) -> int:
    """Great-circle (haversine) distance in metres between points in 10^-7 degrees."""
    p1, p2 = _e7_to_rad(lat1), _e7_to_rad(lat2)
    dp, dl = p2 - p1, _e7_to_rad(lon2) - _e7_to_rad(lon1)
    s_dp, s_dl = _sin(dp // 2), _sin(dl // 2)
    a = s_dp * s_dp // _F + _cos(p1) * _cos(p2) // _F * s_dl // _F * s_dl // _F
    # the largest d with sin^2(d / 2R) <= a, by bisection (sin^2 rises on [0, pi R])
    low, high = 0, _PI * _EARTH_RADIUS_M // _F + 1
    while low < high:
        mid = (low + high + 1) // 2
        s = _sin(mid * _F // (2 * _EARTH_RADIUS_M))
        if s * s // _F <= a:
            low = mid
        else:
            high = mid - 1
    return low


# --- verdicts and anomalies --------------------------------------------------------------


def _tally(state: StateView, gtin: str, serial: str) -> dict[str, Any]:
    tally = state.get(tally_key(gtin, serial))
    if tally is None:
        return {"scans": 0, "matches": 0, "first_match": None, "last_match": None}
    return dict(tally)


def _bizstep(event: Mapping[str, Any]) -> str | None:
    step = event.get("bizStep")
    return cbv.bare(step, cbv.BIZ_STEPS_PREFIXES) if isinstance(step, str) else None


def _countries(state: StateView, events: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for record in events:
        for field in ("bizLocation", "readPoint"):
            where = record["event"].get(field)
            if not (isinstance(where, dict) and isinstance(where.get("id"), str)):
                continue
            gln = gln_from_sgln(where["id"])
            location = state.get(f"catalog/location/{gln}") if gln else None
            if location is not None and location.get("country"):
                found.add(str(location["country"]).upper())
    return found


def _travel(
    previous: Mapping[str, Any], lat: int | None, lon: int | None, time_ms: int | None
) -> dict[str, Any] | None:
    if lat is None or lon is None or time_ms is None:
        return None
    if not previous.get("lat") or not previous.get("lon"):
        return None
    try:
        plat = degrees_e7(previous["lat"], 90, "lat")
        plon = degrees_e7(previous["lon"], 180, "lon")
    except Rejection:
        return None
    if plat is None or plon is None:
        return None
    metres = distance_m(plat, plon, lat, lon)
    elapsed = max(time_ms - int(previous["time"]), 0)
    # speed > 1000 km/h  <=>  metres / elapsed_ms * 3600 > 1000
    if metres < MIN_TRAVEL_M or metres * 3600 <= MAX_SPEED_KMH * elapsed:
        return None
    return {
        "anomaly": "impossible-travel",
        "distance_km": metres // 1000,
        "elapsed_ms": elapsed,
        "speed_kmh": metres * 3600 // elapsed if elapsed else None,
        "from": previous.get("place", ""),
        "from_country": previous.get("country", ""),
    }


def verdict(
    state: StateView,
    gtin: str,
    serial: str,
    code_hash: str,
    *,
    country: str = "",
    lat: int | None = None,
    lon: int | None = None,
    time_ms: int | None = None,
) -> dict[str, Any]:
    """What a scan of ``code_hash`` now gets: computed from state, never stored as truth.

    ``gtin`` is a GTIN-14. The count of a ``suspected-clone`` includes this scan (the
    second scan of a code has count 2). ``country``, ``lat``/``lon`` (10^-7 degrees)
    and ``time_ms`` of the scan enable the ``unexpected-country`` and
    ``impossible-travel`` anomalies; ``recalled`` and ``not-yet-sold`` need only state.
    """
    record = state.get(item_record_key(gtin, serial))
    if record is None:
        return {"verdict": UNKNOWN_ITEM, "anomalies": []}
    owner = prefix_owner(state, gtin)
    out: dict[str, Any] = {
        "brand_verified": owner is not None and owner[1] == record["org"],
        "brand_org": record["org"],
    }
    anomalies: list[dict[str, Any]] = []
    tally = _tally(state, gtin, serial)
    if code_hash != record["code_hash"]:
        out["verdict"] = UNKNOWN_CODE
    elif not tally["matches"]:
        out["verdict"] = GENUINE_FIRST
        out["count"] = 1
    else:
        first = state.get(scan_key(gtin, serial, tally["first_match"])) or {}
        last = state.get(scan_key(gtin, serial, tally["last_match"])) or {}
        out["verdict"] = SUSPECTED_CLONE
        out["count"] = tally["matches"] + 1
        out["first"] = {
            "time": first.get("time"),
            "at": iso_ms(int(first.get("time", 0))),
            "place": first.get("place", ""),
            "country": first.get("country", ""),
        }
        travel = _travel(last, lat, lon, time_ms)
        if travel is not None:
            anomalies.append(travel)
    events = history(state, item_uri(gtin, serial))
    if country:
        reached = _countries(state, events)
        if reached and country.upper() not in reached:
            anomalies.append(
                {"anomaly": "unexpected-country", "country": country, "reached": sorted(reached)}
            )
    recalls = recalls_affecting(state, item_uri(gtin, serial))
    if recalls:
        anomalies.append(
            {
                "anomaly": "recalled",
                "recalls": [r["id"] for r in recalls],
                "reasons": [r["reason"] for r in recalls],
            }
        )
    if not any(_bizstep(r["event"]) == RETAIL_SELLING for r in events):
        anomalies.append({"anomaly": "not-yet-sold"})
    out["anomalies"] = anomalies
    return out


def _brings_into_being(event: Mapping[str, Any], role: str) -> bool:
    """Whether ``event`` creates the identifier it names in ``role``: commissioning, an
    ObjectEvent ``ADD``, or a transformation's output (the same events the trace rule
    allows only the prefix owner to record)."""
    if _bizstep(event) == "commissioning":
        return role in ("epc", "output")
    if event.get("type") == "TransformationEvent":
        return role == "output"
    return event.get("type") == "ObjectEvent" and event.get("action") == "ADD" and role == "epc"


def brought_into_being(state: StateView, key: str, org: str) -> bool:
    """Whether ``org`` recorded an event that brings the item ``key`` (a canonical item
    key, :func:`~veriledger.modules.trace.module.item_key`) into being."""
    for hash_id, role in events_for(state, key):
        record = stored_event(state, hash_id)
        if (
            record is not None
            and record.get("org") == org
            and _brings_into_being(record["event"], role)
        ):
            return True
    return False


def registered(state: StateView, gtin: str, serial: str) -> bool:
    """Whether the brand put this serialised item on the ledger: the organisation that
    claimed the GTIN's company prefix recorded the event that brought the serial into
    being (commissioning, see :func:`brought_into_being`).

    This is what "brand verified" means for one item, and the code registration alone
    is not enough: ``register_codes`` takes any serial (and, under an unclaimed prefix,
    comes from anyone), so a registered code proves a label, not that the brand made
    the item. A commissioning event is the brand's own signed statement that this
    serial exists; under a claimed prefix nobody else may record one (``trace/7``).
    An unclaimed prefix has no brand, so nothing under it is registered. Whether a
    code can be checked is a separate question (:func:`query_item`).
    """
    owner = prefix_owner(state, gtin)
    return owner is not None and brought_into_being(state, item_uri(gtin, serial), owner[1])


def checks(state: StateView, gtin: str, serial: str) -> dict[str, Any]:
    """The item's earlier code checks, as the page shows them before anyone types a
    code ("checked 3 times, first on ... in ..."): ``count`` of scans whose code
    matched, and the first one's ``first_time`` (RFC 3339) and ``first_place`` (its
    place, else its country, else None: never a placeholder)."""
    tally = _tally(state, gtin, serial)
    if not tally["matches"] or tally["first_match"] is None:
        return {"count": 0, "first_time": None, "first_place": None}
    first = state.get(scan_key(gtin, serial, tally["first_match"])) or {}
    when = first.get("time")
    return {
        "count": int(tally["matches"]),
        "first_time": iso_ms(int(when)) if isinstance(when, int) else None,
        "first_place": first.get("place") or first.get("country") or None,
    }


# --- rules -------------------------------------------------------------------------------


def register_codes(state: StateView, msg: RegisterCodes, ctx: Context) -> Outcome:
    """Register the salted hashes of up to 1000 items' verification codes.

    Only the owner of the GTIN's claimed company prefix may; if nobody has claimed
    it, the registration is accepted and shown as brand-unverified.

    Raises:
        Rejection: ``authenticity/1`` bad GTIN; ``authenticity/7`` no items or more
            than 1000; ``authenticity/3`` the prefix is another organisation's;
            ``authenticity/2`` bad serial; ``authenticity/5`` bad salt;
            ``authenticity/6`` bad code hash; ``authenticity/4`` an item is already
            registered (or listed twice).
    """
    gtin = _gtin(msg.gtin)
    if not 1 <= len(msg.items) <= MAX_ITEMS:
        raise _reject(BAD_ITEM_COUNT, f"{len(msg.items)} items; {ERRORS[BAD_ITEM_COUNT]}")
    owner = prefix_owner(state, gtin)
    if owner is not None and owner[1] != ctx.org:
        raise _reject(NOT_BRAND_OWNER, f"GTIN {gtin}: company prefix {owner[0]} is {owner[1]}'s")
    writes: dict[str, Any] = {}
    for index, item in enumerate(msg.items):
        where = f"items[{index}]"
        serial = _serial(item.serial)
        try:
            salt_ok = len(b64decode_strict(item.salt, f"{where}.salt")) == SALT_LENGTH
        except BadInputError:
            salt_ok = False
        if not salt_ok:
            raise _reject(BAD_SALT, f"{where}.salt: {ERRORS[BAD_SALT]}")
        if not HEX64.fullmatch(item.code_hash):
            raise _reject(BAD_CODE_HASH, f"{where}.code_hash: {ERRORS[BAD_CODE_HASH]}")
        key = item_record_key(gtin, serial)
        if key in writes or state.get(key) is not None:
            raise _reject(ALREADY_REGISTERED, f"{gtin} serial {serial!r} is already registered")
        writes[key] = {
            "gtin": gtin,
            "serial": serial,
            "salt": item.salt,
            "code_hash": item.code_hash,
            "org": ctx.org,
            "member": ctx.member,
            "brand_verified_at_registration": owner is not None,
            "height": ctx.block_height,
            "time": ctx.block_time,
        }
    event = {
        "type": "authenticity.codes_registered",
        "gtin": gtin,
        "count": len(msg.items),
        "org": ctx.org,
        "brand_verified": owner is not None,
    }
    return Outcome(writes, (event,))


def _scan_fields(scanner: str, country: str) -> None:
    if not scanner:
        raise _reject(BAD_SCAN_FIELD, "scanner is empty")
    if country and not COUNTRY.fullmatch(country):
        raise _reject(BAD_SCAN_FIELD, f"country {country!r} is not an ISO 3166-1 alpha-2 code")


def _checked_scan(msg: Scan) -> tuple[str, str, int | None, int | None]:
    """``(gtin14, serial, lat, lon)`` of a well-formed scan; the rejections of :func:`scan`."""
    gtin = _gtin(msg.gtin)
    serial = _serial(msg.serial)
    if not HEX64.fullmatch(msg.code_hash):
        raise _reject(BAD_CODE_HASH)
    _scan_fields(msg.scanner, msg.country)
    lat = degrees_e7(msg.lat, 90, "lat")
    lon = degrees_e7(msg.lon, 180, "lon")
    if (lat is None) != (lon is None):
        raise _reject(BAD_SCAN_FIELD, "lat and lon go together")
    return gtin, serial, lat, lon


def admit_scan(state: StateView, msg: Scan, ctx: Context) -> Outcome:
    """:func:`scan` at submission: only its refusals (a malformed scan never reaches the
    log), and no writes, since no later message's admission reads a scan."""
    _checked_scan(msg)
    return Outcome()


def scan(state: StateView, msg: Scan, ctx: Context) -> Outcome:
    """Record a consumer's scan relayed by a member, with its verdict and anomalies.

    A wrong code or an unregistered item is a result, recorded; only a malformed
    message is refused.

    Raises:
        Rejection: ``authenticity/1`` bad GTIN; ``authenticity/2`` bad serial;
            ``authenticity/6`` code_hash is not SHA-256 hex; ``authenticity/8``
            empty scanner, bad country or coordinates.
    """
    gtin, serial, lat, lon = _checked_scan(msg)
    result = verdict(
        state,
        gtin,
        serial,
        msg.code_hash,
        country=msg.country,
        lat=lat,
        lon=lon,
        time_ms=ctx.block_time,
    )
    tally = _tally(state, gtin, serial)
    n = tally["scans"]
    match = result["verdict"] in (GENUINE_FIRST, SUSPECTED_CLONE)
    tally["scans"] = n + 1
    if match:
        tally["matches"] += 1
        tally["last_match"] = n
        if tally["first_match"] is None:
            tally["first_match"] = n
    record = {
        "n": n,
        "match": match,
        "code_hash": msg.code_hash,
        "scanner": msg.scanner,
        "country": msg.country,
        "lat": msg.lat,
        "lon": msg.lon,
        "place": msg.place,
        "time": ctx.block_time,
        "height": ctx.block_height,
        "member": ctx.member,
        "org": ctx.org,
        "tx": ctx.tx_id,
    }
    writes = {scan_key(gtin, serial, n): record, tally_key(gtin, serial): tally}
    event = {
        "type": "authenticity.scanned",
        "gtin": gtin,
        "serial": serial,
        "n": n,
        "scanner": msg.scanner,
        **result,
    }
    return Outcome(writes, (event,))


def _checked_tap(state: StateView, msg: Tap) -> tuple[str, str, Mapping[str, Any] | None]:
    """``(gtin14, serial, last accepted tap or None)`` of a well-formed tap whose counter
    rose; the rejections of :func:`tap`."""
    gtin = _gtin(msg.gtin)
    serial = _serial(msg.serial)
    _scan_fields(msg.scanner, msg.country)
    last = state.get(nfc_key(gtin, serial))
    try:
        check_counter(None if last is None else int(last["counter"]), msg.counter)
    except CounterReplayError as exc:
        raise _reject(REPLAYED_COUNTER, str(exc)) from None
    except BadInputError as exc:
        raise _reject(BAD_COUNTER, exc.diagnostics()) from None
    return gtin, serial, last


def admit_tap(state: StateView, msg: Tap, ctx: Context) -> Outcome:
    """:func:`tap` at submission: its refusals, so a replayed tap never reaches the log
    as a rejected transaction, and the counter a later tap of the batch must beat.

    The block still runs :func:`tap`, which decides between taps submitted together.
    """
    gtin, serial, last = _checked_tap(state, msg)
    taps = 1 if last is None else int(last["taps"]) + 1
    return Outcome({nfc_key(gtin, serial): {"counter": msg.counter, "taps": taps}})


def tap(state: StateView, msg: Tap, ctx: Context) -> Outcome:
    """Record an NFC SUN tap the relay verified; its read counter must strictly increase.

    Raises:
        Rejection: ``authenticity/1`` bad GTIN; ``authenticity/2`` bad serial;
            ``authenticity/8`` empty scanner or bad country; ``authenticity/9``
            counter outside 0..2^24-1; ``authenticity/10`` counter not above the last
            accepted one (a replayed or stale tap).
    """
    gtin, serial, last = _checked_tap(state, msg)
    key = nfc_key(gtin, serial)
    taps = 1 if last is None else int(last["taps"]) + 1
    record = {
        "counter": msg.counter,
        "scanner": msg.scanner,
        "country": msg.country,
        "place": msg.place,
        "time": ctx.block_time,
        "height": ctx.block_height,
        "member": ctx.member,
        "org": ctx.org,
        "tx": ctx.tx_id,
    }
    writes = {
        key: {"counter": msg.counter, "taps": taps, "time": ctx.block_time},
        f"authenticity/tap/{gtin}/{_key_part(serial)}/{msg.counter:08d}": record,
    }
    events = history(state, item_uri(gtin, serial))
    anomalies: list[dict[str, Any]] = []
    if msg.country:
        reached = _countries(state, events)
        if reached and msg.country.upper() not in reached:
            anomalies.append(
                {
                    "anomaly": "unexpected-country",
                    "country": msg.country,
                    "reached": sorted(reached),
                }
            )
    recalls = recalls_affecting(state, item_uri(gtin, serial))
    if recalls:
        anomalies.append({"anomaly": "recalled", "recalls": [r["id"] for r in recalls]})
    if not any(_bizstep(r["event"]) == RETAIL_SELLING for r in events):
        anomalies.append({"anomaly": "not-yet-sold"})
    event = {
        "type": "authenticity.tapped",
        "gtin": gtin,
        "serial": serial,
        "counter": msg.counter,
        "taps": taps,
        "anomalies": anomalies,
    }
    return Outcome(writes, (event,))


# --- queries -----------------------------------------------------------------------------


def _query_item(params: Mapping[str, str]) -> tuple[str, str] | None:
    try:
        return _gtin(params.get("gtin", "")), _serial(params.get("serial", ""))
    except Rejection:
        return None


def query_verdict(state: StateView, params: Mapping[str, str]) -> dict[str, Any]:
    """``verdict?gtin=&serial=&code_hash=[&country=&lat=&lon=&at=<ms>]``."""
    item = _query_item(params)
    if item is None:
        return {"verdict": UNKNOWN_ITEM, "anomalies": []}
    try:
        lat = degrees_e7(params.get("lat", ""), 90, "lat")
        lon = degrees_e7(params.get("lon", ""), 180, "lon")
    except Rejection:
        lat = lon = None
    at = params.get("at", "")
    return verdict(
        state,
        *item,
        params.get("code_hash", ""),
        country=params.get("country", ""),
        lat=lat,
        lon=lon,
        time_ms=int(at) if at.isdigit() else None,
    )


def query_scans(state: StateView, params: Mapping[str, str]) -> list[Any]:
    """``scans?gtin=&serial=``: every recorded scan of the item, oldest first."""
    item = _query_item(params)
    if item is None:
        return []
    prefix = f"authenticity/scan/{item[0]}/{_key_part(item[1])}/"
    return [value for _, value in state.scan(prefix)]


def query_checks(state: StateView, params: Mapping[str, str]) -> dict[str, Any]:
    """``checks?gtin=&serial=``: the item's earlier code checks (:func:`checks`) and
    whether its brand registered it (:func:`registered`)."""
    item = _query_item(params)
    if item is None:
        return {"registered": False, "count": 0, "first_time": None, "first_place": None}
    return {"registered": registered(state, *item), **checks(state, *item)}


def query_item(state: StateView, params: Mapping[str, str]) -> dict[str, Any] | None:
    """``item?gtin=&serial=``: the public registration (the relay needs its salt)."""
    item = _query_item(params)
    record = state.get(item_record_key(*item)) if item is not None else None
    if record is None or item is None:
        return None
    owner = prefix_owner(state, item[0])
    return {**record, "brand_verified": owner is not None and owner[1] == record["org"]}


MODULE = Module(
    name=NAME,
    messages=(
        Message(
            "authenticity.register_codes",
            RegisterCodes,
            register_codes,
            doc="The brand registers salted hashes of its items' secret verification codes.",
            checked_at_submission=True,
        ),
        Message(
            "authenticity.scan",
            Scan,
            scan,
            doc="A member relays a consumer's code scan; the verdict is recorded, never refused.",
            checked_at_submission=True,
            admission=admit_scan,
        ),
        Message(
            "authenticity.tap",
            Tap,
            tap,
            doc="A member relays an NFC SUN tap it verified; the read counter must increase.",
            checked_at_submission=True,
            admission=admit_tap,
        ),
    ),
    queries={
        "verdict": query_verdict,
        "scans": query_scans,
        "item": query_item,
        "checks": query_checks,
    },
    errors=ERRORS,
)
