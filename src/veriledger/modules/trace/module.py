"""The trace module: EPCIS 2.0 events on the ledger, with their indexes and queries.

Each captured event is one transaction, signed by the member that performed the step.
The rule checks what only the ledger can check (form and schema are checked before
submission, in the EPCIS interface): no event twice (by its CBV 2.0 event hash, and
by its ``eventID``), no ``eventTime`` in the future beyond a tolerance, a known
business step, and that only the owner of a claimed GS1 company prefix brings into
being identifiers under it (any GS1 key, judged on the normalised key however the
identifier is spelled). ``recordTime`` is the block time.

State::

    trace/record/<record time>/<hash>       {"event", "tx", "org", "member", "height"}
    trace/event/<hash>                      <record time>
    trace/event-id/<sha256 of eventID>      <hash>
    trace/epc/<epc>/<time>/<hash>           role: epc | parent | child | input | output
    trace/vocab/<field>/<value>             1   (bizSteps, dispositions, locations...)

``<time>`` is the event time and ``<record time>`` the block time, in milliseconds,
zero-padded: a prefix scan of one EPC returns its events in event-time order, and a
scan of ``trace/record/`` every event in record-time order.

The records are keyed by record time, with a small index by hash beside them, because
a block's events then fill new pages at the end of the table. Keyed by their hash,
each record landed on a random page of the whole table, and a block of 2,000 events
dirtied about as many pages: twice the bytes written per commit.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from veriledger.chain.module import Context, Message, Module, Outcome, Rejection
from veriledger.chain.state import BulkScan, StateView
from veriledger.core.errors import BadInputError, GS1Error
from veriledger.core.gs1 import (
    canonicalize_digital_link,
    digital_link_from_epc_uri,
    parse_digital_link,
)
from veriledger.core.gs1.company_prefix import PrefixBearing, prefix_bearing, prefix_bearing_of
from veriledger.modules.catalog.module import claims_over, identifier_claims, owner_of_key
from veriledger.modules.trace import cbv
from veriledger.modules.trace.event_hash import event_hash_id

NAME = "trace"
EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
FUTURE_TOLERANCE_MS = 10 * 60 * 1000

NOT_AN_EVENT = 1
MALFORMED_EVENT = 2
DUPLICATE_EVENT = 3
DUPLICATE_EVENT_ID = 4
FUTURE_EVENT = 5
UNKNOWN_BIZ_STEP = 6
NOT_PREFIX_OWNER = 7
# The event field each capture refusal is about, for problem+json ``field`` names.
REFUSAL_FIELDS = {
    NOT_AN_EVENT: "type",
    DUPLICATE_EVENT: "eventID",
    DUPLICATE_EVENT_ID: "eventID",
    FUTURE_EVENT: "eventTime",
    UNKNOWN_BIZ_STEP: "bizStep",
    NOT_PREFIX_OWNER: "epcList",
}
ERRORS = {
    NOT_AN_EVENT: "not an EPCIS 2.0 event type",
    MALFORMED_EVENT: "the event cannot be read (time, identifiers or structure)",
    DUPLICATE_EVENT: "the same event (same CBV 2.0 event hash) is already on the ledger",
    DUPLICATE_EVENT_ID: "an event with this eventID is already on the ledger",
    FUTURE_EVENT: "eventTime is in the future beyond the tolerance",
    UNKNOWN_BIZ_STEP: "bizStep is neither a CBV 2.0 business step nor a URI",
    NOT_PREFIX_OWNER: (
        "only the organisation that claimed the GS1 company prefix may commission its items"
    ),
}


@dataclass(frozen=True)
class Capture:
    """One EPCIS 2.0 event, as JSON (an element of an EPCISDocument's eventList)."""

    event: dict[str, Any]


def _reject(code: int, detail: str = "") -> Rejection:
    return Rejection(NAME, code, detail or ERRORS[code])


def event_time_ms(value: Any, field: str = "eventTime") -> int:
    """Milliseconds since 1970 of an RFC 3339 timestamp (a time zone is required).

    Raises:
        BadInputError: not a timestamp with a time zone.
    """
    if not isinstance(value, str):
        raise BadInputError(f"{field}: must be an RFC 3339 date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"{field}: {value!r} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise BadInputError(f"{field}: {value!r} has no time zone")
    return int(parsed.timestamp() * 1000)


@functools.lru_cache(maxsize=4096)
def iso_ms(ms: int) -> str:
    """RFC 3339 UTC with milliseconds; cached, since every event of a block asks for the
    block's own time."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _ids(items: Any) -> list[str]:
    return [x for x in items if isinstance(x, str)] if isinstance(items, list) else []


def _classes(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    return [
        x["epcClass"] for x in items if isinstance(x, dict) and isinstance(x.get("epcClass"), str)
    ]


def identifiers(event: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every ``(identifier, role)`` an event is about: EPCs, classes, parents, inputs, outputs."""
    for epc in _ids(event.get("epcList")) + _classes(event.get("quantityList")):
        yield epc, "epc"
    parent = event.get("parentID")
    if isinstance(parent, str):
        yield parent, "parent"
    for child in _ids(event.get("childEPCs")) + _classes(event.get("childQuantityList")):
        yield child, "child"
    for item in _ids(event.get("inputEPCList")) + _classes(event.get("inputQuantityList")):
        yield item, "input"
    for item in _ids(event.get("outputEPCList")) + _classes(event.get("outputQuantityList")):
        yield item, "output"


@functools.lru_cache(maxsize=200_000)
def _epc_digital_link(identifier: str) -> str:
    """The Digital Link of an EPC URN, validating it whole.

    Cached: the identifier checks and the item keys of one event both ask, and an
    item's EPC recurs in every event of its journey. (Invalid URNs raise, and are not
    cached.)"""
    return digital_link_from_epc_uri(identifier)


_KNOWN_KEYS: dict[str, str] = {}
"""Item keys computed on a worker process (:func:`event_hashes`), handed in here."""


def item_key(identifier: str) -> str:
    """One spelling per item (see :func:`_item_key`), from the worker's results first."""
    known = _KNOWN_KEYS.get(identifier)
    return known if known is not None else _item_key(identifier)


@functools.lru_cache(maxsize=200_000)
def _item_key(identifier: str) -> str:
    """One spelling per item: EPC URNs and Digital Link URIs of the same GS1 key meet.

    GS1 identifiers become their canonical Digital Link path (``https://id.gs1.org/01/
    <gtin>/21/<serial>``, query attributes dropped: they describe, not identify);
    anything else (private URIs, non-GS1 EPCs) is kept as given.
    """
    try:
        if identifier.startswith(("urn:epc:id:", "urn:epc:class:")):
            return _epc_digital_link(identifier).split("?", 1)[0]
        if identifier.startswith(("https://", "http://")):
            key = canonicalize_digital_link(identifier).split("?", 1)[0]
            head, sep, rest = key.partition("/10/")
            if sep and "/21/" in rest:
                # ``/01/<gtin>/10/<lot>/21/<serial>`` is the serial's item, as its SGTIN is.
                key = head + "/21/" + rest.split("/21/", 1)[1]
            return key
    except BadInputError:
        pass
    return identifier


def key_id(hash_id: str) -> str:
    """The 64 hex digits of an event hash ID (``ni:///sha-256;<hex>?ver=CBV2.0``), for keys."""
    digest = hash_id.partition(";")[2].partition("?")[0]
    if len(digest) == 64:
        return digest
    return hashlib.sha256(hash_id.encode()).hexdigest()


def event_key(hash_id: str) -> str:
    """The key of an event's index entry, which holds its record time."""
    return f"trace/event/{key_id(hash_id)}"


def record_key(record_time: int, key: str) -> str:
    """The key of an event's record, by its record time and key id."""
    return f"trace/record/{record_time:015d}/{key}"


def epc_prefix(epc: str) -> str:
    return f"trace/epc/{item_key(epc)}/"


LOT_KEYS = ("cbvmda:lotNumber", "urn:epcglobal:cbv:mda:lotNumber", "lotNumber")


def _lot_number(event: Mapping[str, Any]) -> str | None:
    """The lot an event's items were commissioned into (CBV master data in ``ilmd``)."""
    ilmd = event.get("ilmd")
    if isinstance(ilmd, dict):
        for key in LOT_KEYS:
            if isinstance(ilmd.get(key), str):
                return str(ilmd[key])
    return None


def _gtin_of(identifier: str) -> str | None:
    """The GTIN-14 of an item or class identifier, if it has one."""
    return gtin_in(item_key(identifier))


def gtin_in(key: str) -> str | None:
    """The GTIN-14 of an item key (already canonical: no parsing)."""
    marker = "https://id.gs1.org/01/"
    if key.startswith(marker) and key[len(marker) : len(marker) + 14].isdigit():
        return key[len(marker) : len(marker) + 14]
    return None


def _lot_of(identifier: str) -> str | None:
    """The lot an LGTIN class identifier names (``/01/<gtin>/10/<lot>``)."""
    return lot_in(item_key(identifier))


def lot_in(key: str) -> str | None:
    """The lot of an item key (already canonical: no parsing)."""
    head, sep, lot = key.partition("/10/")
    return lot.split("/", 1)[0] if sep and head.startswith("https://id.gs1.org/01/") else None


def _created_roles(event: Mapping[str, Any], step: str | None) -> frozenset[str]:
    """The roles whose identifiers an event brings into being: what only the owner of
    their GS1 company prefix may do. Commissioning by name, but also an ObjectEvent
    ``ADD`` (EPCIS: the objects were created or introduced) under any bizStep, and the
    outputs of every transformation."""
    if step == "commissioning":
        return frozenset({"epc", "output"})
    kind = event.get("type")
    if kind == "TransformationEvent":
        return frozenset({"output"})
    if kind == "ObjectEvent" and event.get("action") == "ADD":
        return frozenset({"epc"})
    return frozenset()


_NUMERIC_KEYS = {"01": 14, "00": 18, "414": 13, "417": 13, "402": 17, "8017": 18, "8018": 18}
_CANONICAL = "https://id.gs1.org/"


def _prefix_bearing(identifier: str) -> PrefixBearing | None:
    """:func:`~veriledger.core.gs1.company_prefix.prefix_bearing_of`, read from the item
    key where that already names an all-digit key: a capture's item keys come from its
    worker processes, so a commissioned item is not parsed a second time here.

    Raises:
        GS1Error: as ``prefix_bearing_of``.
    """
    key = item_key(identifier)
    if key.startswith(_CANONICAL):
        ai, _, rest = key[len(_CANONICAL) :].partition("/")
        value = rest.partition("/")[0]
        if _NUMERIC_KEYS.get(ai) == len(value) and value.isascii() and value.isdigit():
            return PrefixBearing(ai, prefix_bearing(ai, value))
    return prefix_bearing_of(identifier)


def _check_commissioning(
    state: StateView, event: Mapping[str, Any], ctx: Context, roles: frozenset[str]
) -> None:
    """Every identifier the event brings into being must be under no other
    organisation's claim, judged on its normalised GS1 key (any key type, any
    spelling: :func:`~veriledger.modules.catalog.module.claims_over`). An identifier
    that might be a GS1 key but cannot be read is refused: nobody can tell whose it is.

    Raises:
        Rejection: ``trace/7``.
    """
    checked: set[PrefixBearing] = set()
    for epc, role in identifiers(event):
        if role not in roles:
            continue
        try:
            bearing = _prefix_bearing(epc)
        except GS1Error as exc:
            raise _reject(
                NOT_PREFIX_OWNER,
                f"{epc}: cannot tell whose GS1 company prefix it is under "
                f"({exc.diagnostics()}), so it cannot be brought into being",
            ) from None
        if bearing is None or bearing in checked:
            continue
        checked.add(bearing)
        for prefix, org in claims_over(state, bearing):
            if org != ctx.org:
                raise _reject(
                    NOT_PREFIX_OWNER,
                    f"{epc}: GS1 company prefix {prefix} belongs to {org}, not {ctx.org}",
                )


_DL_KEY = re.compile(r"/(00|01|253|255|401|402|414|417|8003|8004|8006|8010|8013|8017|8018)/")


def check_identifiers(event: Mapping[str, Any]) -> None:
    """Every GS1 identifier an event names must be valid (check digits, lengths).

    EPC URNs are checked whole; ``https`` URIs only when their path carries a GS1
    primary key, so private URIs stay allowed.

    Raises:
        BadInputError: naming the identifier and what is wrong with it.
    """
    for identifier, role in identifiers(event):
        try:
            if identifier.startswith(("urn:epc:id:", "urn:epc:class:lgtin:")):
                _epc_digital_link(identifier)
            elif identifier.startswith(("https://", "http://")) and _DL_KEY.search(identifier):
                parse_digital_link(identifier)
        except BadInputError as exc:
            where = _field_of(event, identifier, role)
            raise BadInputError(f"{where}: {identifier}: {exc.diagnostics()}") from None


# The event fields each role's identifiers come from: instance lists, then quantity lists.
_ROLE_FIELDS = {
    "epc": ("epcList", "quantityList"),
    "parent": ("parentID",),
    "child": ("childEPCs", "childQuantityList"),
    "input": ("inputEPCList", "inputQuantityList"),
    "output": ("outputEPCList", "outputQuantityList"),
}


def _field_of(event: Mapping[str, Any], identifier: str, role: str) -> str:
    """The field an identifier of ``role`` was written in, for error messages."""
    for name in _ROLE_FIELDS[role]:
        value = event.get(name)
        if value == identifier or identifier in _ids(value) + _classes(value):
            return name
    return _ROLE_FIELDS[role][0]


_HASHES: dict[str, str] = {}


def checked_hash(tx_id: str, event: Mapping[str, Any]) -> str:
    """The identifier checks and event hash of a transaction's event, computed once.

    Both are pure functions of the event, and a transaction's event never changes, so
    the submission check and the block share the work through this memo (bounded).

    Raises:
        BadInputError: from the identifier checks or the hash.
    """
    cached = _HASHES.get(tx_id)
    if cached is None:
        check_identifiers(event)
        cached = event_hash_id(event)
        if len(_HASHES) > 100_000:
            _HASHES.clear()
        _HASHES[tx_id] = cached
    return cached


@dataclass(frozen=True)
class Prepared:
    """What :func:`event_hashes` found for one event, on a worker process."""

    hash_id: str | None
    error: str | None
    keys: dict[str, str]
    """identifier -> item key, for every identifier the event names."""


def event_hashes(events: Sequence[Mapping[str, Any]]) -> list[Prepared]:
    """Each event's hash ID (or why it has none) and its identifiers' item keys, with
    the identifier checks :func:`checked_hash` makes. All pure, so a capture computes
    them on a worker process and hands them in with :func:`remember_hash`."""
    out = []
    for event in events:
        try:
            check_identifiers(event)
            hash_id = event_hash_id(event)
        except BadInputError as exc:
            out.append(Prepared(None, exc.diagnostics(), {}))
            continue
        out.append(Prepared(hash_id, None, {i: item_key(i) for i, _ in identifiers(event)}))
    return out


def remember_hash(tx_id: str, prepared: Prepared) -> None:
    """Record a transaction's event hash and item keys, from :func:`event_hashes`."""
    if prepared.hash_id is None:
        return  # the rule recomputes it and refuses the event with the reason
    if len(_HASHES) > 100_000:
        _HASHES.clear()
    _HASHES[tx_id] = prepared.hash_id
    if len(_KNOWN_KEYS) > 200_000:
        _KNOWN_KEYS.clear()
    _KNOWN_KEYS.update(prepared.keys)


class _Admitted(NamedTuple):
    event: dict[str, Any]
    """A copy of the event, with its hash ID as ``eventID`` when it had none."""
    hash_id: str
    when: int
    claims: dict[str, Any]
    """The index entries that make a second capture of the event a duplicate."""


def _admit(state: StateView, msg: Capture, ctx: Context) -> _Admitted:
    """Every check of :func:`capture`; the event and the index entries it claims.

    Raises:
        Rejection: as :func:`capture`.
    """
    event = dict(msg.event)
    if event.get("type") not in EVENT_TYPES:
        raise _reject(NOT_AN_EVENT, f"type {event.get('type')!r} is not an EPCIS 2.0 event type")
    try:
        when = event_time_ms(event.get("eventTime"))
        hash_id = checked_hash(ctx.tx_id, event)
    except BadInputError as exc:
        raise _reject(MALFORMED_EVENT, exc.diagnostics()) from None
    key = event_key(hash_id)
    if state.get(key) is not None:
        raise _reject(DUPLICATE_EVENT, f"event {hash_id} is already on the ledger")
    claims: dict[str, Any] = {key: ctx.block_time}
    event_id = event.get("eventID")
    if isinstance(event_id, str) and event_id != hash_id:
        id_key = f"trace/event-id/{hashlib.sha256(event_id.encode()).hexdigest()}"
        if state.get(id_key) is not None:
            raise _reject(DUPLICATE_EVENT_ID, f"eventID {event_id} is already on the ledger")
        claims[id_key] = key_id(hash_id)
    else:
        event["eventID"] = hash_id
    if when > ctx.block_time + FUTURE_TOLERANCE_MS:
        raise _reject(
            FUTURE_EVENT,
            f"eventTime {event['eventTime']} is after the block time "
            f"{iso_ms(ctx.block_time)} by more than {FUTURE_TOLERANCE_MS // 60000} minutes",
        )
    step = event.get("bizStep")
    word = None
    if step is not None:
        word = cbv.bare(step, cbv.BIZ_STEPS_PREFIXES) if isinstance(step, str) else None
        if word is None or (word not in cbv.BIZ_STEPS and ":" not in word):
            raise _reject(UNKNOWN_BIZ_STEP, f"bizStep {step!r} is neither CBV 2.0 nor a URI")
    created = _created_roles(event, word)
    if created:
        _check_commissioning(state, event, ctx, created)
    return _Admitted(event, hash_id, when, claims)


def admit_capture(state: StateView, msg: Capture, ctx: Context) -> Outcome:
    """:func:`capture` for the submission checks: its refusals, and only the index
    entries a later event of the same document must see. Its record and item indexes
    are left to the block, which runs :func:`capture` itself; no rule checked at
    submission reads them."""
    return Outcome(_admit(state, msg, ctx).claims)


def capture(state: StateView, msg: Capture, ctx: Context) -> Outcome:
    """Record one EPCIS event, with ``recordTime`` set to the block time.

    Raises:
        Rejection: ``trace/1`` not an event type; ``trace/2`` unreadable event;
            ``trace/3`` same event hash already recorded; ``trace/4`` same eventID;
            ``trace/5`` eventTime beyond the tolerance into the future;
            ``trace/6`` unknown bizStep; ``trace/7`` bringing into being an
            identifier under another organisation's company prefix (or one whose
            owner cannot be told).
    """
    event, hash_id, when, writes = _admit(state, msg, ctx)
    event["recordTime"] = iso_ms(ctx.block_time)
    writes[record_key(ctx.block_time, key_id(hash_id))] = {
        "event": event,
        "tx": ctx.tx_id,
        "org": ctx.org,
        "member": ctx.member,
        "height": ctx.block_height,
    }
    named = list(identifiers(event))
    lot = _lot_number(event)
    if lot is not None:
        for epc, role in named:
            gtin = _gtin_of(epc)
            if role in ("epc", "output") and gtin is not None:
                writes[f"trace/lot/{gtin}/{lot}/{item_key(epc)}"] = 1
                writes[f"trace/item-lot/{item_key(epc)}"] = lot
    suffix = f"{max(when, 0):015d}/{key_id(hash_id)}"
    for epc, role in named:
        writes[epc_prefix(epc) + suffix] = role
    for field in ("bizStep", "disposition"):
        if isinstance(event.get(field), str):
            writes[f"trace/vocab/{field}/{event[field]}"] = 1
    for field in ("bizLocation", "readPoint"):
        where = event.get(field)
        if isinstance(where, dict) and isinstance(where.get("id"), str):
            writes[f"trace/vocab/{field}/{where['id']}"] = 1
    writes[f"trace/vocab/eventType/{event['type']}"] = 1
    return Outcome(
        writes, ({"type": "trace.captured", "event": hash_id, "eventType": event["type"]},)
    )


# --- queries -------------------------------------------------------------------------------


def stored_event(state: StateView, key: str) -> dict[str, Any] | None:
    """The stored record of an event, by hash ID or its key id."""
    key = key_id(key) if ";" in key else key
    record_time = state.get(f"trace/event/{key}")
    if not isinstance(record_time, int):
        return None
    record = state.get(record_key(record_time, key))
    return None if record is None else dict(record)


def find_event(state: StateView, event_id: str) -> dict[str, Any] | None:
    """An event by its eventID: a hash ID directly, any other ID through its index."""
    record = stored_event(state, event_id) if event_id.startswith("ni:///") else None
    if record is None:
        key = state.get(f"trace/event-id/{hashlib.sha256(event_id.encode()).hexdigest()}")
        record = stored_event(state, key) if isinstance(key, str) else None
    return record


def events_for(state: StateView, epc: str) -> list[tuple[str, str]]:
    """``(key id, role)`` of the events naming ``epc``, in event-time order."""
    return events_under(state, item_key(epc) + "/")


def events_under(state: StateView, key_prefix: str) -> list[tuple[str, str]]:
    """``(key id, role)`` of the events naming any item whose key starts with
    ``key_prefix`` (one item's key and a slash, or a GTIN's ``.../01/<gtin>/``)."""
    return [(key.rsplit("/", 1)[1], role) for key, role in state.scan(f"trace/epc/{key_prefix}")]


def history(state: StateView, epc: str, depth: int = 8) -> list[dict[str, Any]]:
    """Every event of an item, including those of its containers while it was inside.

    Aggregation ``ADD`` with the item as a child puts it in the parent from that event's
    time; ``DELETE`` takes it out. The parent's own events in between (shipping a
    pallet, clearing a container) are the item's too, recursively up to ``depth``.
    """
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    _collect(state, epc, 0, 2**63, depth, seen, out)
    out.sort(key=lambda r: event_time_ms(r["event"].get("eventTime")))
    return out


def _collect(
    state: StateView,
    epc: str,
    start: int,
    end: int,
    depth: int,
    seen: set[str],
    out: list[dict[str, Any]],
) -> None:
    entered: dict[str, int] = {}
    for hash_id, role in events_for(state, epc):
        record = stored_event(state, hash_id)
        if record is None:
            continue
        event = record["event"]
        when = event_time_ms(event.get("eventTime"))
        if not start <= when <= end:
            continue
        if hash_id not in seen:
            seen.add(hash_id)
            out.append({**record, "via": None if role != "child" else event.get("parentID")})
        parent = event.get("parentID")
        if role == "child" and event.get("type") == "AggregationEvent" and isinstance(parent, str):
            if event.get("action") in ("ADD", "OBSERVE"):
                entered.setdefault(parent, when)
            elif event.get("action") == "DELETE" and parent in entered and depth > 0:
                _collect(state, parent, entered.pop(parent), when, depth - 1, seen, out)
    if depth > 0:
        for parent, since in entered.items():
            _collect(state, parent, since, end, depth - 1, seen, out)


def query_history(state: StateView, params: Mapping[str, str]) -> list[dict[str, Any]]:
    return history(state, params.get("epc", ""))


def vocabulary(state: StateView, field: str) -> list[str]:
    prefix = f"trace/vocab/{field}/"
    return [key[len(prefix) :] for key, _ in state.scan(prefix)]


# --- recalls and trace back / forward ------------------------------------------------------

RECALL_SCOPE = 8
NOT_RECALL_AUTHORITY = 9
ERRORS[RECALL_SCOPE] = "a recall names exactly one of: a lot (gtin and lot), a gtin, or items"
ERRORS[NOT_RECALL_AUTHORITY] = "only a regulator or the GTIN's brand owner may recall it"


@dataclass(frozen=True)
class Recall:
    """Recall a lot, a whole GTIN, or a list of items; derived items are affected too."""

    reason: str
    gtin: str = ""
    lot: str = ""
    items: list[str] | None = None


def _recall_scope(msg: Recall) -> tuple[str, str]:
    if msg.items:
        if msg.gtin or msg.lot:
            raise _reject(RECALL_SCOPE)
        return "items", ""
    if not msg.gtin.isdigit() or len(msg.gtin) not in (8, 12, 13, 14):
        raise _reject(RECALL_SCOPE, f"{ERRORS[RECALL_SCOPE]}; gtin {msg.gtin!r} is not a GTIN")
    return ("lot" if msg.lot else "gtin"), msg.gtin.zfill(14)


def recall(state: StateView, msg: Recall, ctx: Context) -> Outcome:
    """Record a recall by a regulator, or by the brand that owns what it recalls: the
    GTIN's company prefix, or every listed item's (judged on its normalised GS1 key; an
    item that is not a GS1 key, or under nobody's claim, only a regulator may recall).

    Raises:
        Rejection: ``trace/8`` not exactly one scope; ``trace/9`` the signer's
            organisation is neither a regulator nor the owner of every recalled key.
    """
    kind, gtin = _recall_scope(msg)
    if ctx.org_kind != "regulator":
        if gtin:
            owner = owner_of_key(state, "01", gtin)
            if owner is None or owner[1] != ctx.org:
                raise _reject(NOT_RECALL_AUTHORITY, f"{ctx.org} may not recall GTIN {gtin}")
        for item in msg.items or []:
            try:
                claims = identifier_claims(state, item)
            except GS1Error:
                claims = []
            if not claims or any(org != ctx.org for _, org in claims):
                raise _reject(NOT_RECALL_AUTHORITY, f"{ctx.org} may not recall {item}")
    recall_id = ctx.tx_id[:16]
    record = {
        "id": recall_id,
        "kind": kind,
        "gtin": gtin,
        "lot": msg.lot,
        "items": msg.items or [],
        "reason": msg.reason,
        "org": ctx.org,
        "time": iso_ms(ctx.block_time),
        "height": ctx.block_height,
        "tx": ctx.tx_id,
    }
    writes: dict[str, Any] = {f"trace/recall/{recall_id}": record}
    if kind == "items":
        for item in msg.items or []:
            writes[f"trace/recalled/item/{item_key(item)}/{recall_id}"] = 1
    elif kind == "lot":
        writes[f"trace/recalled/lot/{gtin}/{msg.lot}/{recall_id}"] = 1
    else:
        writes[f"trace/recalled/gtin/{gtin}/{recall_id}"] = 1
    return Outcome(writes, ({"type": "trace.recalled", "recall": recall_id, "kind": kind},))


def _transformation_outputs(state: StateView, item: str) -> list[str]:
    out: list[str] = []
    for key, role in events_for(state, item):
        if role != "input":
            continue
        record = stored_event(state, key)
        if record is not None:
            out += [i for i, r in identifiers(record["event"]) if r == "output"]
    return out


def _transformation_inputs(state: StateView, item: str) -> list[str]:
    out: list[str] = []
    for key, role in events_for(state, item):
        if role != "output":
            continue
        record = stored_event(state, key)
        if record is not None:
            out += [i for i, r in identifiers(record["event"]) if r == "input"]
    return out


def lot_items(state: StateView, gtin: str, lot: str) -> list[str]:
    prefix = f"trace/lot/{gtin}/{lot}/"
    return [key[len(prefix) :] for key, _ in state.scan(prefix)]


PREFETCH_MIN = 64
PREFETCH_CHUNK = 20_000


class _ItemIndex:
    """Each canonical item's roles and latest event, one prefix scan per item.

    Keys in the lot index are already canonical, so no identifier is parsed again:
    walking 100,000 items costs 100,000 indexed range reads and nothing more.
    """

    def __init__(self, state: StateView) -> None:
        self.state = state
        self._children: dict[str, frozenset[str]] = {}
        self._seen: dict[str, tuple[str, set[str]] | None] = {}

    def children(self, key: str, event: Mapping[str, Any]) -> frozenset[str]:
        """The canonical child keys of an aggregation event, computed once per event."""
        found = self._children.get(key)
        if found is None:
            found = frozenset(item_key(c) for c in _ids(event.get("childEPCs")))
            self._children[key] = found
        return found

    def get(self, item: str) -> tuple[str, set[str]] | None:
        """``(latest event key id, roles)`` of a canonical item key, or None; each
        item's range is read once (a recall asks twice: to walk, then to report)."""
        if item not in self._seen:
            self._seen[item] = self._summary(self.state.scan(f"trace/epc/{item}/"))
        return self._seen[item]

    def prefetch(self, items: Sequence[str]) -> None:
        """Read many items' ranges at once, where the state can (a lot's items)."""
        wanted = [i for i in items if i not in self._seen]
        if len(wanted) < PREFETCH_MIN or not isinstance(self.state, BulkScan):
            return
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start : start + PREFETCH_CHUNK]
            found = self.state.scan_many([f"trace/epc/{i}/" for i in chunk])
            for item in chunk:
                self._seen[item] = self._summary(found[f"trace/epc/{item}/"])

    @staticmethod
    def _summary(rows: Iterable[tuple[str, Any]]) -> tuple[str, set[str]] | None:
        last = ""
        roles: set[str] = set()
        for key, role in rows:
            last = key.rpartition("/")[2]
            roles.add(str(role))
        return (last, roles) if last else None


def trace_forward(
    state: StateView,
    roots: list[str],
    limit: int = 1_000_000,
    index: _ItemIndex | None = None,
) -> list[str]:
    """Every item derived from ``roots`` (items, or LGTIN classes: a lot's items join),
    through transformations, breadth first."""
    index = index or _ItemIndex(state)
    seen: dict[str, None] = {}
    queue = deque(item_key(r) for r in roots)
    while queue and len(seen) < limit:
        item = queue.popleft()
        if item in seen:
            continue
        seen[item] = None
        lot, gtin = lot_in(item), gtin_in(item)
        if lot is not None and gtin is not None:
            members = lot_items(state, gtin, lot)
            index.prefetch(members)
            queue.extend(members)
        summary = index.get(item)
        if summary is not None and "input" in summary[1]:
            queue.extend(item_key(o) for o in _transformation_outputs(state, item))
    return list(seen)


def trace_back(state: StateView, item: str, limit: int = 100_000) -> list[str]:
    """Every input an item was made from, recursively (its origins).

    A serialised item commissioned into a lot goes back through that lot's class too,
    so items of a product lot made from raw lots (a lot-to-lot transformation with
    ``outputQuantityList``) name those raw lots. The item's own lot is its class, not
    an origin, and is not listed unless it is also some transformation's input.
    """
    start = item_key(item)
    seen: dict[str, None] = {}
    own_lots: set[str] = set()
    queue: deque[tuple[str, bool]] = deque([(start, False)])
    while queue and len(seen) < limit:
        current, is_input = queue.popleft()
        if is_input:
            own_lots.discard(current)
        if current in seen:
            continue
        seen[current] = None
        queue.extend((item_key(i), True) for i in _transformation_inputs(state, current))
        lot, gtin = _item_lot(state, current), gtin_in(current)
        if lot is not None and gtin is not None and "/21/" in current:
            lot_class = f"https://id.gs1.org/01/{gtin}/10/{lot}"
            if lot_class not in seen:
                own_lots.add(lot_class)
            queue.append((lot_class, False))
    return [s for s in seen if s != start and s not in own_lots]


def recalls_affecting(state: StateView, item: str) -> list[dict[str, Any]]:
    """The recalls that apply to an item: its own, its GTIN's, its lot's, or any origin's."""
    found: dict[str, dict[str, Any]] = {}
    for each in [item_key(item), *trace_back(state, item)]:
        prefixes = [f"trace/recalled/item/{each}/"]
        gtin = _gtin_of(each)
        if gtin is not None:
            prefixes.append(f"trace/recalled/gtin/{gtin}/")
            for lot in {_lot_of(each), _item_lot(state, each)} - {None}:
                prefixes.append(f"trace/recalled/lot/{gtin}/{lot}/")
        for prefix in prefixes:
            for key, _ in state.scan(prefix):
                recall_id = key.rsplit("/", 1)[1]
                record = state.get(f"trace/recall/{recall_id}")
                if record is not None:
                    found[recall_id] = record
    return list(found.values())


def _item_lot(state: StateView, item: str) -> str | None:
    value = state.get(f"trace/item-lot/{item}")
    return value if isinstance(value, str) else None


def recall_report(state: StateView, recall_id: str) -> list[dict[str, Any]]:
    """Every affected item with its last custodian and location."""
    record = state.get(f"trace/recall/{recall_id}")
    if record is None:
        return []
    if record["kind"] == "items":
        roots = list(record["items"])
    elif record["kind"] == "lot":
        roots = [f"https://id.gs1.org/01/{record['gtin']}/10/{record['lot']}"]
    else:
        roots = _gtin_identifiers(state, record["gtin"])
    return derived_items(state, roots, listed={item_key(i) for i in record["items"]})


def derived_items(
    state: StateView, roots: list[str], listed: set[str] | None = None
) -> list[dict[str, Any]]:
    """Every item derived from ``roots`` (:func:`trace_forward`), each with its last
    known event time, custodian and location. A lot class stands for its items, which
    are listed themselves, unless ``listed`` names it."""
    index = _ItemIndex(state)
    events: dict[str, dict[str, Any] | None] = {}
    rows = []
    for item in trace_forward(state, roots, index=index):
        if lot_in(item) is not None and item not in (listed or ()):
            continue
        last = _last_known(state, index, events, item)
        rows.append(
            {
                "item": item,
                "last_event_time": last["event"]["eventTime"] if last else None,
                "last_custodian": last["org"] if last else None,
                "last_location": _where(last["event"]) if last else None,
            }
        )
    return rows


def _last_known(
    state: StateView,
    index: _ItemIndex,
    events: dict[str, dict[str, Any] | None],
    item: str,
    depth: int = 8,
) -> dict[str, Any] | None:
    """An item's latest event, or, while it sits in a container (its latest event put
    it in one), the container's latest event: a case on a shipped pallet is where the
    pallet is. ``events`` memoises records, which items of a lot mostly share."""
    summary = index.get(item)
    if summary is None:
        return None
    if summary[0] not in events:
        events[summary[0]] = stored_event(state, summary[0])
    last = events[summary[0]]
    if last is None or depth == 0:
        return last
    event = last["event"]
    parent = event.get("parentID")
    inside = (
        event.get("type") == "AggregationEvent"
        and event.get("action") in ("ADD", "OBSERVE")
        and isinstance(parent, str)
        and item in index.children(summary[0], event)
    )
    if not inside:
        return last
    outer = _last_known(state, index, events, item_key(str(parent)), depth - 1)
    if outer is None:
        return last
    later = event_time_ms(outer["event"].get("eventTime")) > event_time_ms(event.get("eventTime"))
    return outer if later else last


def origins(state: StateView, item: str) -> list[dict[str, Any]]:
    """Every origin of an item (:func:`trace_back`), each with where and by whom it
    was first recorded (a raw lot's harvest or commissioning)."""
    rows = []
    for origin in trace_back(state, item):
        first = next(iter(events_for(state, origin)), None)
        record = stored_event(state, first[0]) if first is not None else None
        rows.append(
            {
                "item": origin,
                "first_event_time": record["event"]["eventTime"] if record else None,
                "first_custodian": record["org"] if record else None,
                "first_location": _where(record["event"]) if record else None,
            }
        )
    return rows


def _gtin_identifiers(state: StateView, gtin: str) -> list[str]:
    """Every item or class of a GTIN that some event names."""
    prefix = f"trace/epc/https://id.gs1.org/01/{gtin}/"
    found: dict[str, None] = {}
    for key, _ in state.scan(prefix):
        # trace/epc/<item>/<stamp>/<key id>: the item is everything before the last two parts
        found[key[len("trace/epc/") :].rsplit("/", 2)[0]] = None
    return list(found)


def _last_event(state: StateView, item: str) -> dict[str, Any] | None:
    latest = None
    for key, _ in events_for(state, item):
        latest = key
    return stored_event(state, latest) if latest is not None else None


def _where(event: Mapping[str, Any]) -> str | None:
    for field in ("bizLocation", "readPoint"):
        where = event.get(field)
        if isinstance(where, dict) and isinstance(where.get("id"), str):
            return str(where["id"])
    return None


def query_recall_report(state: StateView, params: Mapping[str, str]) -> list[dict[str, Any]]:
    return recall_report(state, params.get("id", ""))


def query_trace_forward(state: StateView, params: Mapping[str, str]) -> list[dict[str, Any]]:
    return derived_items(state, [params.get("epc", "")])


def query_trace_back(state: StateView, params: Mapping[str, str]) -> list[dict[str, Any]]:
    return origins(state, params.get("epc", ""))


MODULE = Module(
    name=NAME,
    messages=(
        Message(
            "trace.capture",
            Capture,
            capture,
            doc="Capture one EPCIS 2.0 event signed by the member that performed it.",
            checked_at_submission=True,
            admission=admit_capture,
        ),
        Message(
            "trace.recall",
            Recall,
            recall,
            doc="A regulator or the brand owner recalls a lot, a GTIN or a list of items.",
            checked_at_submission=True,
        ),
    ),
    queries={
        "history": query_history,
        "recall-report": query_recall_report,
        "trace-forward": query_trace_forward,
        "trace-back": query_trace_back,
    },
    errors=ERRORS,
)
