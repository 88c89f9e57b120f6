"""EPCIS 2.0 simple event queries over the trace module's state.

Candidates come from the per-identifier index when the query names an EPC (a prefix
scan per identifier), otherwise from all events; the remaining parameters filter
them. Results are in event-time order, then by event hash, so pages are stable.
EPC patterns with ``*`` are not supported yet: ``MATCH_*`` values match exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from veriledger.chain.state import StateView
from veriledger.core.errors import BadInputError
from veriledger.modules.trace.module import event_time_ms, events_for, stored_event

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


class QueryParameterError(BadInputError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.field = name


def _values(params: Mapping[str, str], name: str) -> list[str]:
    raw = params.get(name)
    return [v for v in raw.split(",") if v] if raw else []


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
    unknown = sorted(
        name for name in params if name not in SUPPORTED and not name.startswith("EQ_")
    )
    if unknown:
        raise QueryParameterError(unknown[0], "unknown query parameter")
    candidates: dict[str, None] = {}
    named = False
    for name, roles in MATCH_ROLES.items():
        for epc in _values(params, name):
            named = True
            for hash_id, role in events_for(state, epc):
                if role in roles:
                    candidates.setdefault(hash_id)
    records: Iterable[dict[str, Any]]
    if named:
        records = (r for h in candidates if (r := stored_event(state, h)) is not None)
    else:
        records = (dict(v) for _, v in state.scan("trace/event/"))
    tests = _filters(params)
    selected = [r for r in records if all(test(r["event"]) for test in tests)]
    selected.sort(key=lambda r: (event_time_ms(r["event"]["eventTime"]), r["event"]["eventID"]))
    if params.get("orderDirection", "ASC").upper() == "DESC":
        selected.reverse()
    return selected


def _filters(params: Mapping[str, str]) -> list[Callable[[Mapping[str, Any]], bool]]:
    tests: list[Callable[[Mapping[str, Any]], bool]] = []

    def one_of(name: str, get: Callable[[Mapping[str, Any]], Any]) -> None:
        wanted = set(_values(params, name))
        if wanted:
            tests.append(lambda e: get(e) in wanted)

    one_of("eventType", lambda e: e.get("type"))
    one_of("EQ_bizStep", lambda e: e.get("bizStep"))
    one_of("EQ_disposition", lambda e: e.get("disposition"))
    one_of("EQ_action", lambda e: e.get("action"))
    one_of("EQ_bizLocation", lambda e: _location(e, "bizLocation"))
    one_of("EQ_readPoint", lambda e: _location(e, "readPoint"))
    one_of("EQ_eventID", lambda e: e.get("eventID"))
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


def _time_test(field: str, bound: int, after: bool) -> Callable[[Mapping[str, Any]], bool]:
    def test(event: Mapping[str, Any]) -> bool:
        when = event_time_ms(event.get(field), field)
        return when >= bound if after else when < bound

    return test
