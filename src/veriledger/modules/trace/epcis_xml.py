"""EPCIS XML documents (2.0, and 1.x as far as events go) read into JSON event objects.

The result of :func:`document_events` is a list of events in the EPCIS 2.0 JSON binding,
so that :func:`.event_hash.event_hash_id` gives an XML event and its JSON-LD twin one hash:

- the element name becomes ``type``; ``epcList``/``childEPCs``/``inputEPCList``/
  ``outputEPCList`` become arrays of strings; ``quantityElement`` entries become objects;
  ``bizTransaction``/``source``/``destination`` become ``{"type": ..., "<name>": ...}``;
  ``persistentDisposition`` becomes ``{"set": [...], "unset": [...]}``; the attributes of
  ``sensorMetadata`` and ``sensorReport`` become members;
- numbers in ``quantity`` and the numeric sensor attributes become JSON numbers when the
  conversion is exact (otherwise they stay strings, which hash the same), and
  ``booleanValue`` becomes a JSON boolean;
- vocabulary values stay as written (URNs, URIs or CURIEs): the hash normalises them;
- a user extension (an element or attribute in a namespace) becomes a member named
  ``{namespace}localName``, the form the hash writes, since XML prefixes are only syntax.
  An element with attributes or children becomes an object, its text under ``#text``;
  a repeated element becomes an array;
- EPCIS 1.x ``extension`` and ``baseExtension`` wrappers are dropped, and so are comments
  and processing instructions.

Security: the parser refuses any document type declaration, hence any entity declaration,
external entity or DTD fetch (the XML attacks "billion laughs", XXE and external DTD
retrieval all need one); EPCIS documents never carry a DTD. Nesting deeper than 64
elements inside an event is refused too. The standard library's expat parser is used
directly, so no dependency is needed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NoReturn
from xml.parsers import expat

from veriledger.modules.trace.event_hash import EVENT_TYPES, EpcisError

__all__ = ["document_events", "event_from_element", "parse"]

_WRAPPERS: Final = frozenset({"extension", "baseExtension"})
_TEXT_FIELDS: Final = frozenset(
    {
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "parentID",
        "action",
        "transformationID",
        "bizStep",
        "disposition",
    }
)
_EPC_LISTS: Final = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_TYPED_LISTS: Final = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_NUMERIC_ATTRIBUTES: Final = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)
_MAX_DEPTH: Final = 64


# --- parsing --------------------------------------------------------------------------------


def _forbidden(what: str) -> NoReturn:
    raise EpcisError("", f"{what} is not allowed in an EPCIS document")


def parse(data: bytes | str) -> ET.Element:
    """Parse an XML document into an ElementTree, refusing DTDs and entity declarations.

    Element and attribute names come out in ``{namespace}localName`` form.

    Raises:
        EpcisError: the text is not well-formed XML, or has a document type declaration.
    """
    builder = ET.TreeBuilder()
    if isinstance(data, str):
        parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=" ")
        payload = data.encode("utf-8")
    else:
        parser = expat.ParserCreate(namespace_separator=" ")
        payload = data
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def start(name: str, attributes: dict[str, str]) -> None:
        builder.start(_clark(name), {_clark(k): v for k, v in attributes.items()})

    def end(name: str) -> None:
        builder.end(_clark(name))

    def doctype(*_: object) -> None:
        _forbidden("a document type declaration")

    def entity(*_: object) -> None:
        _forbidden("an entity declaration")

    def external(*_: object) -> int:
        _forbidden("an external entity")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    try:
        parser.Parse(payload, True)
    except expat.ExpatError as exc:
        raise EpcisError("", f"not well-formed XML: {exc}") from None
    return builder.close()


def _clark(name: str) -> str:
    """expat's ``namespace localName`` as ElementTree's ``{namespace}localName``."""
    namespace, _, local = name.rpartition(" ")
    return "{" + namespace + "}" + local if namespace else local


# --- documents and events -------------------------------------------------------------------


def document_events(data: bytes | str) -> list[dict[str, Any]]:
    """The events of an EPCIS XML document (or of one bare event element), in order.

    Events are taken from every unqualified ``EventList`` element, wherever it is: in
    ``EPCISBody`` of an ``EPCISDocument``, or in ``resultsBody`` of an
    ``EPCISQueryDocument``.

    Raises:
        EpcisError: the XML is not well-formed, carries a DTD, has no ``EventList`` (and is
            not itself an event), or an event is malformed (see :func:`event_from_element`).
    """
    root = parse(data)
    if root.tag in EVENT_TYPES:
        return [event_from_element(root)]
    lists = _event_lists(root)
    if not lists:
        raise EpcisError("EventList", "the document has no EventList")
    events = []
    for event_list in lists:
        for i, element in enumerate(_unwrapped(event_list)):
            if element.tag not in EVENT_TYPES:
                raise EpcisError(f"EventList[{i}]", f"{element.tag} is not an EPCIS event")
            events.append(event_from_element(element, f"EventList[{i}]"))
    return events


def _event_lists(root: ET.Element) -> list[ET.Element]:
    found = []
    pending = [root]
    while pending:
        element = pending.pop()
        if element.tag == "EventList":
            found.append(element)
        else:
            pending.extend(reversed(list(element)))
    return found


def _unwrapped(element: ET.Element) -> list[ET.Element]:
    """The children of ``element``, with 1.x ``extension``/``baseExtension`` wrappers opened
    (iteratively: wrappers may nest, and a hostile document may nest them deeply)."""
    children = []
    pending = list(reversed(element))
    while pending:
        child = pending.pop()
        if child.tag in _WRAPPERS:
            pending.extend(reversed(child))
        else:
            children.append(child)
    return children


def event_from_element(element: ET.Element, path: str = "") -> dict[str, Any]:
    """One XML event element as an EPCIS 2.0 JSON event object.

    Raises:
        EpcisError: a standard field that should hold text has child elements, a list holds
            an element it should not, or nesting is deeper than 64 levels.
    """
    event: dict[str, Any] = {"type": element.tag}
    for name, value in element.attrib.items():
        _add(event, name, value)
    for child in _unwrapped(element):
        tag = child.tag
        where = f"{path}.{tag}" if path else tag
        if tag in _TEXT_FIELDS:
            event[tag] = _text(child, where)
        elif tag == "certificationInfo":
            event.setdefault(tag, []).append(_text(child, where))
        elif tag in _EPC_LISTS:
            event[tag] = [_text(epc, f"{where}.epc") for epc in _only(child, "epc", where)]
        elif tag in _QUANTITY_LISTS:
            event[tag] = [
                _quantity(q, f"{where}.quantityElement")
                for q in _only(child, "quantityElement", where)
            ]
        elif tag == "persistentDisposition":
            event[tag] = _persistent_disposition(child, where)
        elif tag in ("readPoint", "bizLocation"):
            event[tag] = _members(child, where, 1, text_fields=("id",))
        elif tag in _TYPED_LISTS:
            event[tag] = _typed_list(child, _TYPED_LISTS[tag], where)
        elif tag == "sensorElementList":
            event[tag] = [
                _sensor_element(e, f"{where}.sensorElement")
                for e in _only(child, "sensorElement", where)
            ]
        elif tag == "ilmd":
            event[tag] = _members(child, where, 1)
        elif tag == "errorDeclaration":
            event[tag] = _error_declaration(child, where)
        else:
            _add(event, tag, _value(child, where, 1))
    return event


def _text(element: ET.Element, path: str) -> str:
    if len(element):
        raise EpcisError(path, "expected text, found child elements")
    return (element.text or "").strip()


def _only(element: ET.Element, tag: str, path: str) -> list[ET.Element]:
    children = _unwrapped(element)
    for child in children:
        if child.tag != tag:
            raise EpcisError(path, f"{child.tag} found where only {tag} may be")
    return children


def _quantity(element: ET.Element, path: str) -> dict[str, Any]:
    quantity = _members(element, path, 2, text_fields=("epcClass", "quantity", "uom"))
    if isinstance(quantity.get("quantity"), str):
        quantity["quantity"] = _number(quantity["quantity"])
    return quantity


def _persistent_disposition(element: ET.Element, path: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for child in _unwrapped(element):
        if child.tag in ("set", "unset"):
            result.setdefault(child.tag, []).append(_text(child, f"{path}.{child.tag}"))
        else:
            _add(result, child.tag, _value(child, f"{path}.{child.tag}", 2))
    return result


def _typed_list(element: ET.Element, tag: str, path: str) -> list[dict[str, Any]]:
    entries = []
    for child in _only(element, tag, path):
        entry: dict[str, Any] = {}
        for name, value in child.attrib.items():
            entry[name] = value
        entry[tag] = _text(child, f"{path}.{tag}")
        entries.append(entry)
    return entries


def _sensor_element(element: ET.Element, path: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for child in _unwrapped(element):
        where = f"{path}.{child.tag}"
        if child.tag == "sensorMetadata":
            result[child.tag] = _members(child, where, 3)
        elif child.tag == "sensorReport":
            report = _members(child, where, 3)
            for name in _NUMERIC_ATTRIBUTES & report.keys():
                if isinstance(report[name], str):
                    report[name] = _number(report[name])
            flag = report.get("booleanValue")
            if isinstance(flag, str) and flag.strip() in ("true", "1", "false", "0"):
                report["booleanValue"] = flag.strip() in ("true", "1")
            result.setdefault(child.tag, []).append(report)
        else:
            _add(result, child.tag, _value(child, where, 3))
    return result


def _error_declaration(element: ET.Element, path: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for child in _unwrapped(element):
        where = f"{path}.{child.tag}"
        if child.tag in ("declarationTime", "reason"):
            result[child.tag] = _text(child, where)
        elif child.tag == "correctiveEventIDs":
            result[child.tag] = [_text(c, where) for c in _unwrapped(child)]
        else:
            _add(result, child.tag, _value(child, where, 2))
    return result


def _members(
    element: ET.Element, path: str, depth: int, text_fields: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An element's attributes and child elements as the members of a JSON object."""
    result: dict[str, Any] = {}
    for name, value in element.attrib.items():
        _add(result, name, value)
    for child in _unwrapped(element):
        where = f"{path}.{child.tag}"
        if child.tag in text_fields:
            result[child.tag] = _text(child, where)
        else:
            _add(result, child.tag, _value(child, where, depth + 1))
    return result


def _value(element: ET.Element, path: str, depth: int) -> Any:
    """A user extension (or unknown) element: its text, or an object of its members."""
    if depth > _MAX_DEPTH:
        raise EpcisError(path, f"nested deeper than {_MAX_DEPTH} levels")
    text = (element.text or "").strip()
    if not len(element) and not element.attrib:
        return text
    members = _members(element, path, depth)
    if text:
        members["#text"] = text
    return members


def _add(members: dict[str, Any], name: str, value: Any) -> None:
    """Add a member; a name seen before turns into an array of its values."""
    if name not in members:
        members[name] = value
    elif isinstance(members[name], list):
        members[name].append(value)
    else:
        members[name] = [members[name], value]


def _number(text: str) -> Any:
    """A JSON number for a numeric string when the conversion is exact, else the string."""
    stripped = text.strip()
    try:
        exact = Decimal(stripped)
    except InvalidOperation:
        return text
    if not exact.is_finite() or "_" in stripped or abs(exact.adjusted()) > 300:
        return text
    if exact == exact.to_integral_value() and "." not in stripped and "e" not in stripped.lower():
        return int(exact)
    double = float(exact)
    return double if Decimal(repr(double)) == exact else text
