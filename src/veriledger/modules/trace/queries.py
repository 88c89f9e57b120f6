"""EPCIS 2.0 simple event queries over the trace module's state.

Candidates come from the per-identifier index when the query names an EPC (a prefix
scan per identifier), otherwise from all events; the remaining parameters filter
them. Results are in event-time order, then by event hash, so pages are stable.
``MATCH_*`` values are identifiers, matched in any spelling of their GS1 key, or GTIN
patterns (``urn:epc:idpat:sgtin:<GCP>.<item>.*``), matched by a prefix scan.

A parameter's values are pipe-delimited in a URL, as the REST binding's OpenAPI
says (``style: pipeDelimited``): ``EQ_bizStep=shipping|receiving``. Commas are not
separators, because GS1 serials may contain them. A named query's JSON body gives
the same parameters as arrays; :func:`query_params` turns it into the URL form.
An ``EQ_<name>`` parameter that is not a standard one matches a top-level field of
that name (an extension field such as ``example:myField``) by its string value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from veriledger.chain.state import StateView
from veriledger.core.errors import BadInputError
from veriledger.core.gs1 import element_strings_from_epc_uri
from veriledger.modules.trace import cbv
from veriledger.modules.trace.module import (
    event_time_ms,
    events_for,
    events_under,
    identifiers,
    item_key,
    stored_event,
)

MATCH_ROLES = {
    "MATCH_epc": {"epc", "child"},
    "MATCH_anyEPC": {"epc", "child", "parent", "input", "output"},
    "MATCH_parentID": {"parent"},
    "MATCH_inputEPC": {"input"},
    "MATCH_outputEPC": {"output"},
    "MATCH_epcClass": {"epc", "child"},
    "MATCH_inputEPCClass": {"input"},
    "MATCH_outputEPCClass": {"output"},
    "MATCH_anyEPCClass": {"epc", "child", "input", "output"},
}
SUPPORTED = frozenset(MATCH_ROLES) | {
    "eventType",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_action",
    "EQ_bizLocation",
    "EQ_readPoint",
    "GE_eventTime",
    "LT_eventTime",
    "GE_recordTime",
    "LT_recordTime",
    "EQ_eventID",
    "perPage",
    "nextPageToken",
    "orderBy",
    "orderDirection",
}
PAGING = frozenset({"perPage", "nextPageToken"})


class QueryParameterError(BadInputError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.field = name


def _values(params: Mapping[str, str], name: str) -> list[str]:
    raw = params.get(name)
    return [v for v in raw.split("|") if v] if raw else []


def query_params(query: Any) -> dict[str, str]:
    """A named query's JSON body (``{"EQ_bizStep": ["shipping"], ...}``) in URL form.

    Raises:
        QueryParameterError: not an object, an unknown or paging parameter, a value
            that is not a string, a number or a list of strings, or a bad time.
    """
    if not isinstance(query, dict):
        raise QueryParameterError("query", "an object of EPCIS query parameters")
    params: dict[str, str] = {}
    for name, value in query.items():
        field = f"query.{name}"
        if name in PAGING or not _known(name):
            raise QueryParameterError(field, "not a query parameter a named query can hold")
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            if any("|" in v for v in value):
                raise QueryParameterError(field, "values may not contain '|'")
            params[name] = "|".join(value)
        elif isinstance(value, str) and value:
            params[name] = value
        elif isinstance(value, int | float) and not isinstance(value, bool) and _extension(name):
            params[name] = str(value)  # an extension field's number, compared as text
        else:
            raise QueryParameterError(field, "a string or a non-empty list of strings")
    validate(params)
    return params


def _extension(name: str) -> bool:
    return name.startswith("EQ_") and name not in SUPPORTED


def _known(name: str) -> bool:
    return name in SUPPORTED or name.startswith("EQ_")


def validate(params: Mapping[str, str]) -> None:
    """Refuse unknown parameters and unreadable values before any event is read.

    Raises:
        QueryParameterError: naming the first bad parameter.
    """
    unknown = sorted(name for name in params if not _known(name))
    if unknown:
        raise QueryParameterError(unknown[0], "unknown query parameter")
    _filters(params)


def _time(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return event_time_ms(raw, name)
    except BadInputError as exc:
        raise QueryParameterError(name, exc.diagnostics()) from None


def _location(event: Mapping[str, Any], field: str) -> str | None:
    where = event.get(field)
    return where.get("id") if isinstance(where, dict) else None


def select_events(state: StateView, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every stored event record matching ``params``, in event-time order.

    Raises:
        QueryParameterError: an unknown parameter or an unreadable value.
    """
    validate(params)
    candidates: dict[str, None] = {}
    named = False
    for name, roles in MATCH_ROLES.items():
        for epc in _values(params, name):
            named = True
            pattern = _pattern_prefix(epc, name)
            found = events_under(state, pattern) if pattern else events_for(state, epc)
            for hash_id, role in found:
                if role in roles:
                    candidates.setdefault(hash_id)
    records: Iterable[dict[str, Any]]
    if named:
        records = (r for h in candidates if (r := stored_event(state, h)) is not None)
    else:
        records = (dict(v) for _, v in state.scan("trace/record/"))
    tests = _match_tests(params) + _filters(params)
    selected = [r for r in records if all(test(r["event"]) for test in tests)]
    selected.sort(key=lambda r: (event_time_ms(r["event"]["eventTime"]), r["event"]["eventID"]))
    if params.get("orderDirection", "ASC").upper() == "DESC":
        selected.reverse()
    return selected


@functools.lru_cache(maxsize=1024)
def _pattern_prefix(value: str, name: str) -> str | None:
    """The item-key prefix an EPC pattern stands for: ``urn:epc:idpat:sgtin:4012345.000001.*``
    is every instance and class of GTIN 04012345000016; None for a plain identifier.

    Raises:
        QueryParameterError: a pattern this node cannot read (only GTIN patterns are).
    """
    if not value.startswith("urn:epc:idpat:"):
        return None
    try:
        elements = element_strings_from_epc_uri(value)
    except BadInputError as exc:
        raise QueryParameterError(name, exc.diagnostics()) from None
    return f"https://id.gs1.org/01/{elements[0].value}/"


def _match_tests(params: Mapping[str, str]) -> list[Callable[[Mapping[str, Any]], bool]]:
    """One test per ``MATCH_*`` parameter: the event names one of its identifiers (or
    an identifier under one of its patterns) in one of the parameter's roles. Separate
    parameters must all hold, as every simple-query parameter must."""
    tests: list[Callable[[Mapping[str, Any]], bool]] = []
    for name, roles in MATCH_ROLES.items():
        values = _values(params, name)
        if not values:
            continue
        prefixes = tuple(p for v in values if (p := _pattern_prefix(v, name)))
        exact = {item_key(v) for v in values if not v.startswith("urn:epc:idpat:")}

        def test(
            event: Mapping[str, Any],
            roles: frozenset[str] = frozenset(roles),
            exact: set[str] = exact,
            prefixes: tuple[str, ...] = prefixes,
        ) -> bool:
            for identifier, role in identifiers(event):
                if role in roles:
                    key = item_key(identifier)
                    if key in exact or (prefixes and key.startswith(prefixes)):
                        return True
            return False

        tests.append(test)
    return tests


def _filters(params: Mapping[str, str]) -> list[Callable[[Mapping[str, Any]], bool]]:
    tests: list[Callable[[Mapping[str, Any]], bool]] = []

    def one_of(
        name: str, get: Callable[[Mapping[str, Any]], Any], norm: Callable[[str], str] = str
    ) -> None:
        wanted = {norm(v) for v in _values(params, name)}
        if wanted:
            tests.append(lambda e: get(e) in wanted)

    # A CBV value matches in any of its three spellings (bare, web URI, legacy URN).
    step = functools.partial(cbv.bare, prefixes=cbv.BIZ_STEPS_PREFIXES)
    disposition = functools.partial(cbv.bare, prefixes=cbv.DISPOSITIONS_PREFIXES)
    one_of("eventType", lambda e: e.get("type"))
    one_of("EQ_bizStep", lambda e: _text(e.get("bizStep"), step), step)
    one_of("EQ_disposition", lambda e: _text(e.get("disposition"), disposition), disposition)
    one_of("EQ_action", lambda e: e.get("action"))
    # An SGLN and its Digital Link (/414/.../254/...) are one place.
    one_of("EQ_bizLocation", lambda e: _place_key(e, "bizLocation"), item_key)
    one_of("EQ_readPoint", lambda e: _place_key(e, "readPoint"), item_key)
    one_of("EQ_eventID", lambda e: e.get("eventID"))
    for name in params:
        if _extension(name):
            one_of(name, functools.partial(_field_text, field=name[3:]))
    for name, field, after in [
        ("GE_eventTime", "eventTime", True),
        ("LT_eventTime", "eventTime", False),
        ("GE_recordTime", "recordTime", True),
        ("LT_recordTime", "recordTime", False),
    ]:
        bound = _time(params, name)
        if bound is not None:
            tests.append(_time_test(field, bound, after))
    return tests


def _place_key(event: Mapping[str, Any], field: str) -> str | None:
    where = _location(event, field)
    return item_key(where) if where is not None else None


def _text(value: Any, norm: Callable[[str], str]) -> str | None:
    return norm(value) if isinstance(value, str) else None


def _field_text(event: Mapping[str, Any], field: str) -> str | None:
    value = event.get(field)
    return value if isinstance(value, str) else None if value is None else str(value)


def _time_test(field: str, bound: int, after: bool) -> Callable[[Mapping[str, Any]], bool]:
    def test(event: Mapping[str, Any]) -> bool:
        when = event_time_ms(event.get(field), field)
        return when >= bound if after else when < bound

    return test


def matches(event: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    """Whether one event satisfies a simple event query (for subscriptions).

    Raises:
        QueryParameterError: as :func:`select_events`.
    """
    return all(test(event) for test in _match_tests(params) + _filters(params))
