"""One EPCIS 2.0 JSON event read into the tree the pre-hash string is written from.

Each node has a name (a standard field name, or ``{namespace}localName`` for a user
extension), a normalised value and children. The reader follows the EPCIS 2.0 JSON
binding field by field and knows which vocabulary each field takes; it does not order
anything, which is the writer's job (:mod:`.event_hash`).

Members outside the fixed structure (user extensions, and unknown fields, which are
hashed as written rather than dropped) are read generically: an object becomes a node
with children (its text under ``#text`` or ``@value``), an array becomes one node per
entry, and anything else a node with a value.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from math import isfinite
from typing import Any, Final

from veriledger.modules.trace._hash_profile import EpcisError, Profile
from veriledger.modules.trace._hash_values import BOOLEAN, CURIE, TIME, canonical_value


@dataclass(eq=False)
class Node:
    """One hashed item: a name, a normalised value ('' for none) and children.

    A typed entry of ``bizTransactionList``, ``sourceList`` or ``destinationList`` has no
    name and two children, ``type`` and the value, written in that order.
    """

    name: str
    value: str = ""
    children: list[Node] = field(default_factory=list)
    typed: bool = False


STANDARD_PREFIXES: Final = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}
"""Prefixes the EPCIS 2.0 JSON-LD context defines; an event's own context overrides them."""
_VALUE_PREFIXES: Final = ("gs1", "cbv", "epcis")
"""Standard CURIE prefixes expanded in values even where the event does not declare them
(rule 15 names these three)."""

_NOT_HASHED: Final = frozenset(
    {
        "@context",
        "@id",
        "@type",
        "id",
        "type",
        "eventID",
        "recordTime",
        "errorDeclaration",
        "#text",
        "comment",
    }
)
"""Event members that are not hashed: the event's identity and type (``type`` becomes
``eventType``), its record time, an error declaration about it, JSON-LD keywords, comments."""
_VALUE_KEYS: Final = ("#text", "@value")
"""Where an object that stands for an XML element with attributes keeps its text."""
_SKIPPED_KEYS: Final = frozenset({"#text", "@value", "@type", "@language", "@context", "comment"})
_COMMENT: Final = "{http://www.w3.org/2000/01/rdf-schema#}comment"
_MAX_DEPTH: Final = 64

_EVENT_FIELDS: Final = {
    "eventTime": TIME,
    "eventTimeZoneOffset": "",
    "parentID": "",
    "action": "",
    "transformationID": "",
    "bizStep": "bizStep",
    "disposition": "disposition",
}
"""Single-valued event fields, with the kind of value each holds."""
_EPC_LISTS: Final = frozenset({"epcList", "inputEPCList", "outputEPCList", "childEPCs"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_TYPED_LISTS: Final = {
    "bizTransactionList": ("bizTransaction", "bizTransactionType"),
    "sourceList": ("source", "sourceDestType"),
    "destinationList": ("destination", "sourceDestType"),
}
_SENSOR_KINDS: Final = {
    "sensorMetadata": {"time": TIME, "startTime": TIME, "endTime": TIME},
    "sensorReport": {
        "type": "measurementType",
        "exception": "sensorAlertType",
        "time": TIME,
        "component": "component",
        "booleanValue": BOOLEAN,
    },
}


def read_event(
    event: Mapping[str, Any], profile: Profile, context: object = None
) -> tuple[str, list[Node]]:
    """The event type and the nodes of one JSON event, values normalised for ``profile``.

    Prefixes come from the standard EPCIS context, then ``context``, then the event's
    own ``@context``, later ones overriding earlier ones.

    Raises:
        EpcisError: see :func:`veriledger.modules.trace.event_hash.prehash`.
    """
    event = _object(event, "")
    declared: dict[str, str] = {}
    _collect_prefixes(context, declared)
    _collect_prefixes(event.get("@context"), declared)
    return _reader(profile, tuple(declared.items())).event(event)


@functools.lru_cache(maxsize=16)
def _reader(profile: Profile, declared: tuple[tuple[str, str], ...]) -> _Reader:
    """One reader per profile and declared prefixes: the events of a document (and of
    most documents) share them, and so share the reader's memo of normalised values."""
    values = {name: STANDARD_PREFIXES[name] for name in _VALUE_PREFIXES}
    return _Reader(profile, {**STANDARD_PREFIXES, **dict(declared)}, {**values, **dict(declared)})


_MEMO_SIZE: Final = 32_768
_MEMO_TEXT: Final = 256
"""Only texts this short are memoised: identifiers, vocabulary and times are, and a
member cannot pin large extension values in the node's memory."""


@dataclass(frozen=True)
class _Reader:
    profile: Profile
    key_prefixes: Mapping[str, str]
    value_prefixes: Mapping[str, str]
    memo: dict[tuple[str, str], str] = field(default_factory=dict, compare=False)
    """Normalised values by (text, kind): readPoints, bizSteps, times and containers
    recur across events. A value that raises is never stored, so ``path`` (used only
    in errors) need not be part of the key."""

    def value(self, raw: object, path: str, kind: str = "") -> str:
        text = _scalar_text(raw, path)
        if len(text) > _MEMO_TEXT:
            return canonical_value(text, path, self.profile, self.value_prefixes, kind)
        found = self.memo.get((text, kind))
        if found is None:
            found = canonical_value(text, path, self.profile, self.value_prefixes, kind)
            if len(self.memo) >= _MEMO_SIZE:
                self.memo.clear()
            self.memo[text, kind] = found
        return found

    def event(self, event: Mapping[str, Any]) -> tuple[str, list[Node]]:
        event_type = event.get("type")
        if not isinstance(event_type, str) or not event_type.strip():
            raise EpcisError("type", "an event needs its event type, as a string")
        nodes: list[Node] = []
        for key, raw in event.items():
            if key in _NOT_HASHED:
                continue
            if key == "certificationInfo":
                nodes.extend(Node(key, self.value(v, f"{key}[{i}]")) for i, v in _items(raw, key))
            elif key in _EPC_LISTS:
                epcs = [Node("epc", self.value(v, f"{key}[{i}]")) for i, v in _items(raw, key)]
                nodes.append(Node(key, "", epcs))
            elif key in _QUANTITY_LISTS:
                nodes.append(self.quantity_list(key, raw))
            elif key == "persistentDisposition":
                nodes.append(self.persistent_disposition(raw))
            elif key in ("readPoint", "bizLocation"):
                nodes.append(self.location(key, raw))
            elif key in _TYPED_LISTS:
                nodes.append(self.typed_list(key, raw, *_TYPED_LISTS[key]))
            elif key == "sensorElementList":
                nodes.append(self.sensor_element_list(raw))
            elif key == "ilmd":
                nodes.append(Node(key, "", self.members(_object(raw, key), key, 1)))
            elif key in _EVENT_FIELDS:
                nodes.append(Node(key, self.value(raw, key, _EVENT_FIELDS[key])))
            else:
                nodes.extend(self.generic(key, raw, key, 1))
        return event_type.strip(), nodes

    def quantity_list(self, key: str, raw: object) -> Node:
        elements = []
        for i, item in _items(raw, key):
            path = f"{key}[{i}]"
            element = Node("quantityElement")
            for name, value in _object(item, path).items():
                if name in ("epcClass", "quantity", "uom"):
                    element.children.append(Node(name, self.value(value, f"{path}.{name}")))
                else:
                    element.children.extend(self.generic(name, value, f"{path}.{name}", 2))
            elements.append(element)
        return Node(key, "", elements)

    def persistent_disposition(self, raw: object) -> Node:
        node = Node("persistentDisposition")
        for name, value in _object(raw, "persistentDisposition").items():
            path = f"persistentDisposition.{name}"
            if name in ("set", "unset"):
                node.children.extend(
                    Node(name, self.value(item, f"{path}[{i}]", "disposition"))
                    for i, item in _items(value, path)
                )
            else:
                node.children.extend(self.generic(name, value, path, 2))
        return node

    def location(self, key: str, raw: object) -> Node:
        node = Node(key)
        for name, value in _object(raw, key).items():
            if name == "id":
                node.children.append(Node("id", self.value(value, f"{key}.id")))
            else:
                node.children.extend(self.generic(name, value, f"{key}.{name}", 2))
        return node

    def typed_list(self, key: str, raw: object, value_key: str, kind: str) -> Node:
        entries = []
        for i, item in _items(raw, key):
            path = f"{key}[{i}]"
            entry = _object(item, path)
            unknown = sorted(set(entry) - {"type", value_key})
            if unknown:
                raise EpcisError(f"{path}.{unknown[0]}", f"not a member of a {value_key}")
            if value_key not in entry:
                raise EpcisError(f"{path}.{value_key}", "missing")
            children = []
            if "type" in entry:
                children.append(Node("type", self.value(entry["type"], f"{path}.type", kind)))
            children.append(Node(value_key, self.value(entry[value_key], f"{path}.{value_key}")))
            entries.append(Node("", "", children, typed=True))
        return Node(key, "", entries)

    def sensor_element_list(self, raw: object) -> Node:
        elements = []
        for i, item in _items(raw, "sensorElementList"):
            path = f"sensorElementList[{i}]"
            element = Node("sensorElement")
            for name, value in _object(item, path).items():
                where = f"{path}.{name}"
                if name == "sensorMetadata":
                    element.children.append(self.sensor_part(name, value, where))
                elif name == "sensorReport":
                    element.children.extend(
                        self.sensor_part(name, report, f"{where}[{j}]")
                        for j, report in _items(value, where)
                    )
                else:
                    element.children.extend(self.generic(name, value, where, 3))
            elements.append(element)
        return Node("sensorElementList", "", elements)

    def sensor_part(self, name: str, raw: object, path: str) -> Node:
        """A ``sensorMetadata`` or ``sensorReport``: XML attributes, JSON members."""
        node = Node(name)
        kinds = _SENSOR_KINDS[name]
        for key, value in _object(raw, path).items():
            if _is_standard_key(key) and not isinstance(value, Mapping | list):
                kind = kinds.get(key, "")
                node.children.append(Node(key, self.value(value, f"{path}.{key}", kind)))
            else:
                node.children.extend(self.generic(key, value, f"{path}.{key}", 4))
        return node

    def members(self, raw: Mapping[str, Any], path: str, depth: int) -> list[Node]:
        nodes: list[Node] = []
        for key, value in raw.items():
            if key not in _SKIPPED_KEYS:
                nodes.extend(self.generic(key, value, f"{path}.{key}", depth + 1))
        return nodes

    def generic(self, key: str, raw: object, path: str, depth: int) -> list[Node]:
        """Nodes for a member outside the fixed structure; an array gives one per entry."""
        if depth > _MAX_DEPTH:
            raise EpcisError(path, f"nested deeper than {_MAX_DEPTH} levels")
        name = self.expand_key(key)
        if key in _SKIPPED_KEYS or name == _COMMENT:
            return []
        if isinstance(raw, list):
            nodes: list[Node] = []
            for i, item in enumerate(raw):
                nodes.extend(self.generic(key, item, f"{path}[{i}]", depth + 1))
            return nodes
        if isinstance(raw, Mapping):
            members = _object(raw, path)
            text = next((k for k in _VALUE_KEYS if k in members), None)
            value = "" if text is None else self.value(members[text], f"{path}.{text}")
            return [Node(name, value, self.members(members, path, depth))]
        return [Node(name, self.value(raw, path))]

    def expand_key(self, key: str) -> str:
        """``{namespace}localName`` for a prefixed name or an absolute IRI; else the key.

        A name with an undeclared prefix stays as written, as in the reference. An absolute
        IRI is split after its last ``/`` or ``#``.
        """
        if key.startswith("{") and "}" in key:
            return key
        match = CURIE.fullmatch(key)
        if match is None:
            return key
        prefix, local = match.groups()
        if local.startswith("//"):
            cut = max(key.rfind("/"), key.rfind("#")) + 1
            return "{" + key[:cut] + "}" + key[cut:] if cut < len(key) else key
        base = self.key_prefixes.get(prefix)
        return key if base is None else "{" + base + "}" + local


def _is_standard_key(key: str) -> bool:
    return ":" not in key and not key.startswith(("{", "@", "#"))


def _scalar_text(raw: object, path: str) -> str:
    """A JSON scalar as text; booleans as ``true``/``false``, floats in shortest form."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | Decimal):
        try:
            return str(raw)
        except ValueError:  # an int beyond Python's digit limit for str()
            raise EpcisError(path, "the number has too many digits") from None
    if isinstance(raw, float):
        if not isfinite(raw):
            raise EpcisError(path, f"{raw} is not a JSON number")
        return repr(raw)
    if raw is None:
        raise EpcisError(path, "null is not a value")
    raise EpcisError(path, f"expected a string or a number, not {type(raw).__name__}")


def _items(raw: object, path: str) -> Iterable[tuple[int, object]]:
    """The entries of a JSON array; a single value counts as a one-entry array."""
    if raw is None:
        raise EpcisError(path, "null is not a value")
    return enumerate(raw if isinstance(raw, list) else [raw])


def _object(raw: object, path: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise EpcisError(path, f"expected a JSON object, not {type(raw).__name__}")
    for key in raw:
        if not isinstance(key, str):
            raise EpcisError(path, f"member name {key!r} is not a string")
    return raw


def _collect_prefixes(context: object, into: dict[str, str], path: str = "@context") -> None:
    """Collect the term definitions of a JSON-LD context that name IRIs (``"ex": "https://.."``
    or ``"ex": {"@id": "https://.."}``); remote contexts (strings) are the standard one."""
    if isinstance(context, list):
        for i, item in enumerate(context):
            if isinstance(item, list):
                raise EpcisError(f"{path}[{i}]", "a JSON-LD context array holds no arrays")
            _collect_prefixes(item, into, f"{path}[{i}]")
    elif isinstance(context, Mapping):
        for name, definition in context.items():
            if not isinstance(name, str) or name.startswith("@"):
                continue
            iri = definition.get("@id") if isinstance(definition, Mapping) else definition
            if isinstance(iri, str) and CURIE.fullmatch(iri):
                into[name] = iri
    elif context is not None and not isinstance(context, str):
        raise EpcisError(path, "a JSON-LD context is a string, an object or an array")
