"""The EPCIS Event Hash ID of CBV 2.0: one name for one event, whatever its serialisation.

An EPCIS 2.0 event may be written in JSON-LD or XML, with its fields in any order, its
lists in any order, its identifiers as EPC URNs or Digital Link URIs and its vocabulary as
bare words, URNs or web URIs. CBV 2.0 section "EPCIS Event Hash ID" turns each event into
one *pre-hash string* and names the event by its SHA-256::

    ni:///sha-256;<64 lowercase hex digits>?ver=CBV2.0        (RFC 6920)

The pre-hash string concatenates ``key=value`` items, with no separators, in the
canonical property order::

    eventType  eventTime  eventTimeZoneOffset
    epcList-epc  parentID  inputEPCList-epc  childEPCs-epc
    quantityList / childQuantityList / inputQuantityList - quantityElement (epcClass quantity uom)
    outputEPCList-epc  outputQuantityList-quantityElement
    action  transformationID  bizStep  disposition  persistentDisposition (set unset)
    readPoint-id  bizLocation-id
    bizTransactionList  sourceList  destinationList     (type=<uri> then the value)
    sensorElementList-sensorElement (sensorMetadata (...), sensorReport (...))
    ilmd  {user extensions}

A list's name appears once and its entries are sorted by code point; values are trimmed;
timestamps become UTC at millisecond precision (``2020-03-04T10:00:30.000Z``); numbers
lose trailing zeros; CBV values (bare, URN or CURIE) become web URIs; EPC URNs and Digital
Link URIs become constrained canonical Digital Link URIs (:mod:`._hash_identifiers`); user
extensions are written ``{namespace}localName=value``, sorted. ``eventID``,
``recordTime``, ``errorDeclaration``, JSON-LD keywords and comments are not hashed.

Two profiles
------------
The reference implementation (RalphTro/epcis-event-hash-generator, by the CBV co-chair)
changed its CBV 2.0 output in 2026 (upstream PR #123, "fix CBV 2.0 canonicalization").
Both readings carry ``?ver=CBV2.0``, so both are provided, as :class:`Profile` values:

- :data:`CBV_2_0` (the default) follows the revised reading, the maintainers' latest and
  the one OpenEPCIS cross-verified against: ``sourceList`` before ``destinationList`` as
  the canonical table says; ``certificationInfo`` not hashed (it is not in the table); no
  ``sensorElementList`` token; GS1 Web Vocabulary terms under ``https://ref.gs1.org/voc/``;
  user extensions inside ``readPoint``, ``bizLocation``, ``sensorElement``,
  ``sensorMetadata`` and ``sensorReport`` moved to the trailing extension block, prefixed
  by their parents' names; ``! ( ) *`` unescaped in Digital Link values; exact decimal
  arithmetic for numbers.
- :data:`CBV_2_0_LEGACY` reproduces the reference implementation at commit 5d2f1c3
  (2025-10-17, the behaviour of release 1.9.3), which produced the published test vectors.

Events hashed under one profile must always be re-hashed under the same one: a ledger
that stores hash IDs records which profile made them.

The legacy profile reproduces every published vector. It does not copy the reference
code's accidents on input the vectors do not exercise: that code writes a JSON boolean
as ``True``, replaces any bare string that happens to equal a vocabulary term used
elsewhere in the document, takes a JSON ``bizTransaction``'s members in key order, does
not expand ``gs1:``/``cbv:`` CURIEs in JSON unless the document redeclares them, keeps
non-canonical percent-escapes, and drops an event it cannot parse (a timestamp of
``.9995`` seconds, ``inf``, a ``bizTransaction`` without ``type``). Here those follow the
revised profile's rules, or raise :class:`EpcisError`.

Readings where neither the standard's text nor the vectors decide
-----------------------------------------------------------------
- An event with both ``parentID`` and ``epcList`` (a TransactionEvent may have both): the
  revised profile follows the canonical table (``epcList`` first); legacy writes
  ``parentID`` first, as the reference code does.
- Entries of a list that carry user extensions (several ``sensorReport`` with extensions):
  the revised profile sorts the prefixed extension items by code point, like every other
  list. The reference code keeps an order that depends on the raw input.
- A timestamp without a UTC offset is rejected: ``xsd:dateTimeStamp`` requires one, and
  guessing the local zone would make the hash depend on the machine.
- Rounding to milliseconds is half-up on the exact decimal (rule 9: round up when the
  fourth decimal is 5-9), carrying into the seconds. Legacy truncates to microseconds and
  rounds half-even, as the reference code does; where that code fails (999.5 ms and more)
  legacy carries too.
- Number normalisation applies to every value that is a decimal number literal
  (``[+-]digits[.digits][e[+-]digits]``), as in the reference; ``NaN``, ``inf`` and
  ``1_000`` are not numbers here. Numbers with an exponent beyond +-1000 are kept as
  written rather than expanded.
- Bare vocabulary terms are expanded only in the fields that take that vocabulary
  (``bizStep``, ``disposition``, ``set``/``unset``, transaction and source/destination
  ``type``, sensor ``type``, ``exception``, ``component``), as JSON-LD expansion does.
  CURIEs are expanded in any value when their prefix is ``gs1``, ``cbv`` or ``epcis``
  (rule 15) or is declared in the event's ``@context``.
- ``booleanValue`` is written ``true`` or ``false`` (XML ``1``/``0`` included); the legacy
  reference writes a JSON boolean as Python's ``True``.
- Unknown fields without a namespace (invalid EPCIS, e.g. ``bizRules`` on a
  ``sensorReport``) are hashed as written, generically, rather than dropped, at the place
  the reference code puts them. One exception, as upstream has it (the revised hash of
  ``SensorDataExamples`` event 8 depends on it): in the revised profile, such a field
  inside a standard field that also carries user extensions is not hashed.
- In XML, ``xmlns`` prefixes name elements and attributes only: a value such as
  ``example:x`` is not expanded through them (only ``gs1:``, ``cbv:``, ``epcis:`` are),
  as in the reference and in the revised upstream hashes. A JSON event that declares
  ``example`` in its ``@context`` does expand it, so such a value hashes differently in
  the two syntaxes; the standard vocabulary does not use custom prefixes.

Extension keys may be prefixed names resolved through ``@context``
(``"example:myField"``), absolute IRIs (split after the last ``/`` or ``#``), or
``{namespace}localName`` (what :mod:`.epcis_xml` produces). Layout: values are
normalised in :mod:`._hash_values`, the JSON event is read into a tree in
:mod:`._hash_tree`, and the tree is written here.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from veriledger.modules.trace._hash_profile import CBV_2_0, CBV_2_0_LEGACY, EpcisError, Profile
from veriledger.modules.trace._hash_tree import Node, read_event

__all__ = [
    "CBV_2_0",
    "CBV_2_0_LEGACY",
    "EVENT_TYPES",
    "EpcisError",
    "Profile",
    "document_events",
    "event_hash_id",
    "hash_id",
    "prehash",
]

EVENT_TYPES: Final = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)


# --- the canonical property order -----------------------------------------------------------

_Order = tuple[tuple[str, "_Order | str | None"], ...]
"""Field names in writing order, each with the order of its children (None for a leaf)."""
_TYPED: Final = "typed"
"""The children are typed entries, written sorted, each as ``type=...`` then its value."""
_UNMATCHED: Final = "unmatched"
"""Legacy: the reference code's order names these lists but never matches their entries,
so they are left for the trailing block."""


def _leaves(*names: str) -> _Order:
    return tuple((name, None) for name in names)


_EPCS: Final = _leaves("epc")
_QUANTITIES: Final = (("quantityElement", _leaves("epcClass", "quantity", "uom")),)
_SENSOR_METADATA: Final = _leaves(
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
)
_SENSOR_REPORT: Final = _leaves(
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
)
_SENSOR_ELEMENTS: Final = (
    ("sensorElement", (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT))),
)


@functools.cache
def _event_order(profile: Profile) -> _Order:
    """The canonical property order after ``eventType``, as ``profile`` reads it."""
    typed = _TYPED if profile.canonical_order else _UNMATCHED
    certification: _Order = _leaves("certificationInfo") if profile.hash_certification_info else ()
    identifiers: _Order = (("epcList", _EPCS), ("parentID", None))
    if not profile.canonical_order:
        identifiers = identifiers[::-1]
    return (
        ("eventTime", None),
        ("eventTimeZoneOffset", None),
        *certification,
        *identifiers,
        ("inputEPCList", _EPCS),
        ("childEPCs", _EPCS),
        ("quantityList", _QUANTITIES),
        ("childQuantityList", _QUANTITIES),
        ("inputQuantityList", _QUANTITIES),
        ("outputEPCList", _EPCS),
        ("outputQuantityList", _QUANTITIES),
        ("action", None),
        ("transformationID", None),
        ("bizStep", None),
        ("disposition", None),
        ("persistentDisposition", _leaves("set", "unset")),
        ("readPoint", _leaves("id")),
        ("bizLocation", _leaves("id")),
        ("bizTransactionList", typed),
        ("sourceList", typed),
        ("destinationList", typed),
        ("sensorElementList", _SENSOR_ELEMENTS),
    )


# --- writing the pre-hash string ------------------------------------------------------------


def _is_extension(node: Node) -> bool:
    return node.name.startswith("{") and "}" in node.name


def _generic(nodes: Sequence[Node]) -> str:
    """Nodes written as ``name=value`` then their children, siblings sorted by code point.

    A typed entry writes its ``type`` before its value and sorts as a whole.
    """
    parts = []
    for node in nodes:
        if node.typed:
            parts.append("".join(_generic([child]) for child in node.children))
        else:
            value = "=" + node.value if node.value else ""
            parts.append(node.name + value + _generic(node.children))
    return "".join(sorted(parts))


@dataclass(frozen=True)
class _Writer:
    profile: Profile

    def display(self, name: str) -> str:
        if name == "sensorElementList" and not self.profile.sensor_element_list_name:
            return ""
        return name

    def event(self, event_type: str, nodes: list[Node]) -> str:
        """``eventType=...``, the standard fields in order, then the trailing block."""
        order = _event_order(self.profile)
        standard = self.ordered(nodes, order)
        if self.profile.extensions_inline:
            # Legacy: everything left (ilmd, extensions, the typed lists, unknown fields)
            # is written sorted by name.
            return f"eventType={event_type}{standard}{_generic(nodes)}"
        # Revised: ilmd, then the extensions inside standard fields (canonical order),
        # then event-level extensions and anything unknown, sorted.
        ilmd = [n for n in nodes if n.name == "ilmd"]
        rest = [n for n in nodes if n.name not in ("ilmd", "certificationInfo")]
        in_fields = []
        for name, sub in order:
            if not isinstance(sub, tuple):
                continue
            for node in [n for n in rest if n.name == name]:
                text = self.field_extensions(node.children, sub)
                if text:
                    in_fields.append(self.display(name) + text)
                    rest.remove(node)
        trailing = _generic(ilmd) + "".join(in_fields) + _generic(rest)
        return f"eventType={event_type}{standard}{trailing}"

    def ordered(self, nodes: list[Node], order: _Order) -> str:
        """Write ``nodes`` in ``order``, consuming them; what is not written stays behind.

        Nodes of one name are written sorted. A node leaves ``nodes`` once nothing under it
        is left unwritten; what stays is written later, in the trailing block.
        """
        inline = _take_inline(nodes) if self.profile.extensions_inline else []
        by_name: dict[str, list[Node]] = {}
        for node in nodes:
            if not node.typed:
                by_name.setdefault(node.name, []).append(node)
        out = []
        written: set[int] = set()
        for name, sub in order:
            if name not in by_name:
                continue  # most of the order's fields are absent from any one event
            parts = []
            for node in by_name[name]:
                text = self.node(node, sub)
                if text:
                    parts.append(text)
                if not node.children:
                    written.add(id(node))
            out.extend(sorted(parts))
        nodes[:] = [node for node in nodes if id(node) not in written]
        if inline:
            out.append(_generic(inline))
        return "".join(out)

    def node(self, node: Node, sub: _Order | str | None) -> str:
        if sub == _UNMATCHED:
            return ""
        inner = ""
        if sub == _TYPED:
            inner = _generic(node.children)
            node.children.clear()
        elif isinstance(sub, tuple):
            inner = self.ordered(node.children, sub)
        value = "=" + node.value if node.value else ""
        if value or inner:
            return self.display(node.name) + value + inner
        return ""

    def field_extensions(self, nodes: list[Node], order: _Order) -> str:
        """The user extensions under standard fields, each prefixed by the names of the
        fields that lead to it: nested fields first (sorted), then this level's own."""
        parts: list[str] = []
        for name, sub in order:
            if not isinstance(sub, tuple):
                continue
            inner = sorted(
                text
                for node in nodes
                if node.name == name and (text := self.field_extensions(node.children, sub))
            )
            parts.extend(self.display(name) + text for text in inner)
        direct = [n for n in nodes if _is_extension(n)]
        if direct:
            parts.append(_generic(direct))
        return "".join(parts)


def _take_inline(nodes: list[Node]) -> list[Node]:
    """Legacy: take the user extensions of a standard field, to write at its end.

    Replicates the reference code's test: only with two or more members, never beside a
    member whose name contains ``eventTime`` or ``action`` (meant to skip the event
    level), and only namespaces ending in ``/``. Other extensions stay behind and land in
    the trailing block with their parents' names.
    """
    if len(nodes) <= 1 or any("eventTime" in n.name or "action" in n.name for n in nodes):
        return []
    taken = [n for n in nodes if _is_extension(n) and "/}" in n.name]
    for node in taken:
        nodes.remove(node)
    return taken


# --- public API -----------------------------------------------------------------------------


def prehash(event: Mapping[str, Any], *, profile: Profile = CBV_2_0, context: object = None) -> str:
    """The CBV 2.0 pre-hash string of one EPCIS 2.0 event in JSON form.

    Parameters:
        event: one event as it appears in an EPCISDocument's ``epcisBody.eventList`` (a
            JSON object, e.g. from ``json.loads``; :func:`document_events` and
            :func:`.epcis_xml.document_events` give such objects). Extension prefixes
            resolve through the event's own ``@context`` and ``context``.
        profile: :data:`CBV_2_0` (the default) or :data:`CBV_2_0_LEGACY`.
        context: a JSON-LD context (string, object or array) for an event taken out of
            its document; the event's own ``@context`` takes precedence.

    Returns:
        The pre-hash string; the SHA-256 of its UTF-8 bytes is the event hash.

    Raises:
        EpcisError: the event is not a JSON object or has no string ``type``; a timestamp
            is malformed or has no UTC offset; a value is ``null``, an object or array
            where text belongs, or a non-finite number; a ``bizTransaction``, ``source``
            or ``destination`` entry lacks its value or has other members; a member name
            is not a string; nesting is deeper than 64 levels; ``@context`` is neither a
            string, an object nor an array.
    """
    event_type, nodes = read_event(event, profile, context)
    return _Writer(profile).event(event_type, nodes)


def hash_id(prehash_string: str, profile: Profile = CBV_2_0) -> str:
    """The RFC 6920 name of a pre-hash string: ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    digest = hashlib.sha256(prehash_string.encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}{profile.suffix}"


def event_hash_id(
    event: Mapping[str, Any], *, profile: Profile = CBV_2_0, context: object = None
) -> str:
    """The CBV 2.0 EPCIS Event Hash ID of one event in JSON form.

    Parameters and Raises: as :func:`prehash`.
    """
    return hash_id(prehash(event, profile=profile, context=context), profile)


def document_events(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of an EPCIS 2.0 JSON(-LD) document, in document order.

    Accepts an ``EPCISDocument`` (``epcisBody.eventList``, or a single
    ``epcisBody.event``), an ``EPCISQueryDocument``
    (``epcisBody.queryResults.resultsBody.eventList``) or a bare event. Each event comes
    back as a shallow copy that carries the document's ``@context`` (before its own, as
    JSON-LD scoping has it), so that its extension prefixes still resolve once it has
    left the document.

    Raises:
        EpcisError: the document has none of these shapes.
    """
    if not isinstance(document, Mapping):
        raise EpcisError("", f"a document is a JSON object, not {type(document).__name__}")
    if document.get("type") in EVENT_TYPES:
        return [dict(document)]
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        raise EpcisError("epcisBody", "missing, or not a JSON object")
    if "eventList" in body:
        events, path = body["eventList"], "epcisBody.eventList"
    elif "event" in body:
        events, path = [body["event"]], "epcisBody.event"
    else:
        results = body.get("queryResults")
        results_body = results.get("resultsBody") if isinstance(results, Mapping) else None
        if not isinstance(results_body, Mapping):
            raise EpcisError("epcisBody", "no eventList, event or queryResults.resultsBody")
        events = results_body.get("eventList", [])
        path = "epcisBody.queryResults.resultsBody.eventList"
    if not isinstance(events, list):
        raise EpcisError(path, "expected a JSON array of events")
    outer = document.get("@context")
    copies = []
    for i, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise EpcisError(f"{path}[{i}]", "an event is a JSON object")
        copy = dict(event)
        if outer is not None:
            inner = copy.get("@context")
            copy["@context"] = _as_list(outer) + ([] if inner is None else _as_list(inner))
        copies.append(copy)
    return copies


def _as_list(context: object) -> list[Any]:
    return list(context) if isinstance(context, list) else [context]
