"""EPCIS simple event queries over real loopback, each held against a brute-force oracle.

The oracle reads every event once (unfiltered, one big page) and applies the standard's
reading of each parameter in plain Python; the server must return exactly those events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from veriledger.modules.trace import cbv

Event = dict[str, Any]
CONTAINER = "urn:epc:id:giai:8880000.CNT1001"
PALLET = "urn:epc:id:sscc:4012345.0000000200"
SHOP = "urn:epc:id:sgln:6930000.00002.0"
HONEY = "urn:epc:class:lgtin:9421902.000001.MH-2609-14"
JAR = "urn:epc:id:sgtin:9421902.000010.2001"


def _events(document: dict[str, Any]) -> list[Event]:
    return list(document["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def _query(url: str, params: dict[str, str]) -> list[Event]:
    response = httpx.get(f"{url}/epcis/events", params={**params, "perPage": "1000"})
    assert response.status_code == 200, response.text
    return _events(response.json())


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ids(event: Event, *fields: str) -> set[str]:
    out: set[str] = set()
    for name in fields:
        value = event.get(name)
        if isinstance(value, str):
            out.add(value)
        elif isinstance(value, list):
            out |= {v if isinstance(v, str) else v.get("epcClass", "") for v in value}
    return out


def _place(event: Event, field: str) -> str | None:
    where = event.get(field)
    return where.get("id") if isinstance(where, dict) else None


CASES: list[tuple[dict[str, str], Callable[[Event], bool]]] = [
    ({"eventType": "AggregationEvent"}, lambda e: e["type"] == "AggregationEvent"),
    (
        {"eventType": "TransformationEvent|AggregationEvent"},
        lambda e: e["type"] in ("TransformationEvent", "AggregationEvent"),
    ),
    ({"EQ_action": "DELETE"}, lambda e: e.get("action") == "DELETE"),
    (
        {"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-departing"},
        lambda e: cbv.bare(e.get("bizStep", ""), cbv.BIZ_STEPS_PREFIXES) == "departing",
    ),
    (
        {"EQ_disposition": "in_transit|retail_sold"},
        lambda e: e.get("disposition") in ("in_transit", "retail_sold"),
    ),
    ({"EQ_readPoint": SHOP}, lambda e: _place(e, "readPoint") == SHOP),
    ({"EQ_bizLocation": SHOP}, lambda e: _place(e, "bizLocation") == SHOP),
    ({"MATCH_parentID": PALLET}, lambda e: e.get("parentID") == PALLET),
    ({"MATCH_epc": CONTAINER}, lambda e: CONTAINER in _ids(e, "epcList", "childEPCs")),
    (
        {"MATCH_anyEPC": CONTAINER},
        lambda e: CONTAINER in _ids(e, "epcList", "childEPCs", "parentID"),
    ),
    ({"MATCH_inputEPC": HONEY}, lambda e: HONEY in _ids(e, "inputQuantityList")),
    ({"MATCH_outputEPC": JAR}, lambda e: JAR in _ids(e, "outputEPCList")),
    (
        {"GE_eventTime": "2026-10-20T00:00:00Z", "LT_eventTime": "2026-10-25T00:00:00Z"},
        lambda e: (
            _when("2026-10-20T00:00:00+00:00")
            <= _when(e["eventTime"])
            < _when("2026-10-25T00:00:00+00:00")
        ),
    ),
]
NOTHING = {"EQ_bizStep": "shipping|departing", "EQ_readPoint": SHOP}  # nothing departs the shop


@pytest.fixture(scope="module")
def everything(demo_url: str) -> list[Event]:
    return _query(demo_url, {})


@pytest.mark.parametrize(("params", "oracle"), CASES, ids=[str(c[0]) for c in CASES])
def test_query_matches_the_oracle(
    demo_url: str, everything: list[Event], params: dict[str, str], oracle: Callable[[Event], bool]
) -> None:
    want = [e["eventID"] for e in everything if oracle(e)]
    got = [e["eventID"] for e in _query(demo_url, params)]
    assert got, f"{params} should find something in the demo"
    assert sorted(got) == sorted(want)


def test_parameters_combine_with_and(demo_url: str) -> None:
    assert _query(demo_url, NOTHING) == []
    assert _query(demo_url, {"EQ_bizStep": "departing"})


def test_record_time_bounds(demo_url: str, everything: list[Event]) -> None:
    times = sorted({e["recordTime"] for e in everything})
    middle = times[len(times) // 2]
    got = _query(demo_url, {"GE_recordTime": middle})
    assert got and all(_when(e["recordTime"]) >= _when(middle) for e in got)
    assert len(got) == sum(_when(e["recordTime"]) >= _when(middle) for e in everything)


def test_pages_follow_next_page_tokens_to_the_end(demo_url: str, everything: list[Event]) -> None:
    seen: list[str] = []
    url: str | None = f"{demo_url}/epcis/events?perPage=7"
    pages = 0
    while url:
        response = httpx.get(url)
        assert response.status_code == 200
        seen += [e["eventID"] for e in _events(response.json())]
        link = response.headers.get("link")
        url = None
        if link:
            assert link.endswith('>; rel="next"')
            assert response.headers["GS1-Next-Page-Token"]
            url = demo_url + link[1 : link.index(">")]
        pages += 1
    assert pages == -(-len(everything) // 7)
    # no event twice, none left out, in the same order as one big page
    assert seen == [e["eventID"] for e in everything]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("eventTypes", {"ObjectEvent", "AggregationEvent", "TransformationEvent"}),
        ("bizSteps", {"commissioning", "packing", "departing", "retail_selling"}),
        ("bizLocations", {SHOP}),
        ("readPoints", {SHOP}),
        ("dispositions", {"in_transit", "retail_sold", "conformant"}),
    ],
)
def test_vocabulary_endpoints(demo_url: str, path: str, expected: set[str]) -> None:
    response = httpx.get(f"{demo_url}/epcis/{path}")
    assert response.status_code == 200
    assert expected <= set(response.json()["member"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"EQ_bizstep": "x"}, None),  # an extension field nobody has: no events, not an error
        ({"MATCH_everything": "x"}, "MATCH_everything"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"perPage": "0"}, "perPage"),
        ({"nextPageToken": "%%%"}, None),
    ],
)
def test_bad_parameters(demo_url: str, params: dict[str, str], field: str | None) -> None:
    response = httpx.get(f"{demo_url}/epcis/events", params=params)
    if params == {"EQ_bizstep": "x"}:
        assert response.status_code == 200 and _events(response.json()) == []
        return
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert response.json()["field"] == field


def test_gtin_patterns_match_every_item_of_the_gtin(demo_url: str, everything: list[Event]) -> None:
    pattern = "urn:epc:idpat:sgtin:9421902.000010.*"  # every jar of honey oat clusters
    got = _query(demo_url, {"MATCH_epc": pattern})
    assert got
    assert all(
        any(
            i.startswith("urn:epc:id:sgtin:9421902.000010.")
            for i in _ids(e, "epcList", "childEPCs")
        )
        for e in got
    )
    want = [
        e["eventID"]
        for e in everything
        if any(
            i.startswith("urn:epc:id:sgtin:9421902.000010.")
            for i in _ids(e, "epcList", "childEPCs")
        )
    ]
    assert sorted(e["eventID"] for e in got) == sorted(want)
    bad = httpx.get(f"{demo_url}/epcis/events", params={"MATCH_epc": "urn:epc:idpat:sgtin:1.2"})
    assert bad.status_code == 400


def test_match_parameters_combine_with_and(demo_url: str) -> None:
    """The jars' packing events name a case as parent and jars as children: asking
    for both a parent and a child that are not packed together finds nothing."""
    jar_cases = _query(demo_url, {"MATCH_parentID": "urn:epc:id:sscc:9421902.0000000301"})
    assert jar_cases
    assert (
        _query(
            demo_url,
            {"MATCH_parentID": "urn:epc:id:sscc:9421902.0000000301", "MATCH_epc": CONTAINER},
        )
        == []
    )


def test_a_place_in_either_spelling(demo_url: str) -> None:
    by_sgln = _query(demo_url, {"EQ_bizLocation": SHOP})
    by_link = _query(demo_url, {"EQ_bizLocation": "https://id.gs1.org/414/6930000000028"})
    assert by_sgln and by_sgln == by_link
