"""EPCIS capture over real loopback: a client written from the standard, XML, and refusals.

The client below knows only the EPCIS 2.0 REST binding: it POSTs documents it builds
itself to ``/epcis/capture`` with a demo API token, follows the capture job, and finds
the events again through ``/epcis/events``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from tests.shared_data import SHARED_DATA
from veriledger.interfaces.epcis import router
from veriledger.node.node import Node

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


@pytest.fixture(scope="module")
def token(demo_node: Node) -> str:
    creds = orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())
    return str(creds["aurora"]["aurora/ben"])


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-01T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _event(
    serial: str,
    step: str = "commissioning",
    when: str = "2026-11-01T09:00:00.000+01:00",
    gtin_prefix: str = "4012345.000001",
) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"urn:epc:id:sgtin:{gtin_prefix}.{serial}"],
        "action": "ADD",
        "bizStep": step,
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00010.0"},
    }


def _capture(
    url: str,
    token: str,
    body: Any,
    content_type: str = "application/ld+json",
    behaviour: str | None = None,
) -> httpx.Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    if behaviour is not None:
        headers["GS1-Capture-Error-Behaviour"] = behaviour
    return httpx.post(f"{url}/epcis/capture", content=data, headers=headers)


def _finish(url: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    for _ in range(500):
        job = httpx.get(url + response.headers["location"]).json()
        if not job["running"]:
            return job
        time.sleep(0.01)
    raise AssertionError("capture job did not finish")


def test_client_from_the_standard(demo_url: str, token: str) -> None:
    serials = [uuid.uuid4().hex[:10] for _ in range(3)]
    job = _finish(demo_url, _capture(demo_url, token, _doc(*[_event(s) for s in serials])))
    assert job["success"] and len(job["eventIDs"]) == 3
    epc = f"urn:epc:id:sgtin:4012345.000001.{serials[1]}"
    found = httpx.get(f"{demo_url}/epcis/events", params={"MATCH_epc": epc}).json()
    events = found["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(events) == 1 and events[0]["epcList"] == [epc]
    assert events[0]["recordTime"].endswith("Z")
    # the same item by its Digital Link finds the same event
    gtin_dl = f"https://id.gs1.org/01/04012345000016/21/{serials[1]}"
    by_dl = httpx.get(f"{demo_url}/epcis/epcs/{quote(gtin_dl, safe='')}/events").json()
    assert (
        by_dl["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["eventID"]
        == events[0]["eventID"]
    )
    receipt = httpx.get(demo_url + events[0]["vl:receipt"])
    assert receipt.headers["content-type"] == "application/tlog-proof"
    assert "commissioning" in httpx.get(f"{demo_url}/epcis/bizSteps").json()["member"]
    page = httpx.get(f"{demo_url}/epcis/events", params={"eventType": "ObjectEvent", "perPage": 1})
    assert 'rel="next"' in page.headers["link"]


def test_single_event_capture(demo_url: str, token: str) -> None:
    event = {"@context": [CONTEXT], **_event(uuid.uuid4().hex[:8])}
    response = httpx.post(
        f"{demo_url}/epcis/events", json=event, headers={"Authorization": f"Bearer {token}"}
    )
    assert _finish(demo_url, response)["success"]


def test_xml_capture_gives_the_json_hash(demo_url: str, token: str) -> None:
    xml = (
        SHARED_DATA
        / "epcis"
        / "event-hash"
        / "examples"
        / "epcisDocWithShippingAndTransportingEvent.xml"
    ).read_bytes()
    job = _finish(demo_url, _capture(demo_url, token, xml, "application/xml"))
    assert job["success"], job
    manifest = orjson.loads((SHARED_DATA / "epcis" / "event-hash" / "manifest.json").read_bytes())
    case = next(
        c for c in manifest["cases"] if c["name"] == "epcisDocWithShippingAndTransportingEvent"
    )
    hashes = case["revised_upstream_cbv20"]["hashes"]  # the revised CBV 2.0 profile
    # The XML events have no eventID, so each is stored under its hash, which must be
    # the hash the reference implementation gives for the XML (and the JSON-LD) input.
    assert job["eventIDs"] == hashes
    for event_id in job["eventIDs"]:
        stored = httpx.get(f"{demo_url}/epcis/events/{quote(event_id, safe='')}")
        assert stored.status_code == 200
        assert stored.json()["bizStep"] in ("departing", "transporting")


def _refused(response: httpx.Response, field_part: str) -> dict[str, Any]:
    assert response.status_code in (400, 401, 403), response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field_part in str(problem.get("field", "")) + str(problem.get("errors", "")), problem
    return problem


def test_refusals_list_every_error_and_store_nothing(
    demo_url: str, demo_node: Node, token: str
) -> None:
    before = demo_node.storage.counts()["transactions"]
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    bad_schema = _doc(
        {**_event("s1"), "action": "JUMP"}, {**_event("s2"), "eventTime": "yesterday"}
    )
    problem = _refused(_capture(demo_url, token, bad_schema), "epcisBody.eventList[0].action")
    assert len(problem["errors"]) >= 2
    _refused(_capture(demo_url, token, _doc(_event("s3", step="dancing"))), "trace/6")
    _refused(_capture(demo_url, token, _doc(_event("s4", when=future))), "trace/5")
    dup = _event(uuid.uuid4().hex[:8])
    _finish(demo_url, _capture(demo_url, token, _doc(dup)))
    _refused(_capture(demo_url, token, _doc(dup)), "trace/3")
    with_id = {**_event(uuid.uuid4().hex[:8]), "eventID": f"urn:uuid:{uuid.uuid4()}"}
    _finish(demo_url, _capture(demo_url, token, _doc(with_id)))
    again = {**_event(uuid.uuid4().hex[:8]), "eventID": with_id["eventID"]}
    _refused(_capture(demo_url, token, _doc(again)), "trace/4")
    # a carrier commissioning the brand's GTIN
    creds = orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())
    carrier = creds["swiftfreight"]["swiftfreight/chen"]
    problem = _refused(_capture(demo_url, carrier, _doc(_event("s5"))), "trace/7")
    assert "aurora" in str(problem["errors"])
    # a bad check digit in a Digital Link EPC
    bad_dl = {**_event("s6"), "epcList": ["https://id.gs1.org/01/04012345000017/21/s6"]}
    _refused(_capture(demo_url, token, _doc(bad_dl)), "check digit")
    r = _capture(demo_url, "vl_wrong", _doc(_event("s7")))
    assert r.status_code == 401
    r = httpx.post(f"{demo_url}/epcis/capture", json=_doc(_event("s8")))
    assert r.status_code == 401
    # nothing of the refused documents is on the ledger: two good captures only
    time.sleep(0.1)
    assert demo_node.storage.counts()["transactions"] == before + 2


def test_schema_errors_name_the_field_path_never_a_repr_of_the_event(
    demo_url: str, demo_node: Node, token: str
) -> None:
    """A refused event is not echoed back: a client's secret in a bad event stays out
    of the answer (and of any log that keeps answers)."""
    before = demo_node.storage.counts()["transactions"]
    secret = "s3cr3t-" + uuid.uuid4().hex
    bad = {**_event("r1"), "ilmd": 5, "bizStep": {"note": secret}, "epcList": [7]}
    missing = {"type": "ObjectEvent", "action": "ADD", "note": secret}
    response = _capture(demo_url, token, _doc(bad, missing))
    problem = _refused(response, "epcisBody.eventList[0].ilmd")
    fields = {e["field"] for e in problem["errors"]}
    assert {
        "epcisBody.eventList[0].ilmd",
        "epcisBody.eventList[0].epcList[0]",
        "epcisBody.eventList[1].eventTime",
    } <= fields
    assert secret not in response.text and "{'" not in response.text
    assert demo_node.storage.counts()["transactions"] == before


def test_recall_report_downloads_as_csv(demo_url: str, demo_node: Node, token: str) -> None:
    lot = uuid.uuid4().hex[:6]
    items = [f"urn:epc:id:sgtin:4012345.000001.r{lot}{n}" for n in range(3)]
    event = {
        **_event("x"),
        "epcList": items,
        "ilmd": {"cbvmda:lotNumber": lot},
        "bizLocation": {"id": "urn:epc:id:sgln:4012345.00010.0"},
    }
    assert _finish(demo_url, _capture(demo_url, token, _doc(event)))["success"]
    creds = orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())
    regulator = creds["samr"]["samr/jun"]
    response = httpx.post(
        f"{demo_url}/api/v1/transactions",
        params={"wait": True},
        json={
            "type": "trace.recall",
            "body": {"reason": "stitching defect", "gtin": "04012345000016", "lot": lot},
        },
        headers={"Authorization": f"Bearer {regulator}"},
    )
    assert response.status_code == 200, response.text
    recall_id = response.json()["id"][:16]
    report = httpx.get(f"{demo_url}/api/v1/recalls/{recall_id}").json()
    assert report["affected_count"] == 3
    csv_text = httpx.get(f"{demo_url}/api/v1/recalls/{recall_id}/report.csv")
    assert csv_text.headers["content-type"].startswith("text/csv")
    lines = csv_text.text.splitlines()
    assert lines[0] == "item,last_event_time,last_custodian,last_location"
    assert len(lines) == 4 and all(
        ",aurora,urn:epc:id:sgln:4012345.00010.0" in x for x in lines[1:]
    )


def test_refusals_name_the_event_field(demo_url: str, token: str) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = _capture(demo_url, token, _doc(_event("f1"), _event("f2", when=future)))
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["epcisBody.eventList[1].eventTime"]
    r = _capture(demo_url, token, _doc(_event("f3", step="dancing")))
    assert [e["field"] for e in r.json()["errors"]] == ["epcisBody.eventList[0].bizStep"]
    bad_digit = {**_event("f4"), "epcList": ["https://id.gs1.org/01/04012345000017/21/f4"]}
    r = _capture(demo_url, token, _doc(_event("f5"), bad_digit))
    assert [e["field"] for e in r.json()["errors"]] == ["epcisBody.eventList[1].epcList"]
    assert "check digit" in r.json()["errors"][0]["reason"]


def test_overlapping_documents_with_one_event_are_refused_whole(
    demo_url: str, demo_node: Node, token: str
) -> None:
    """Two documents sent at once share an eventID: the second is refused whole, while
    the first is still on its way to a block, and none of its events is stored."""
    shared = f"urn:uuid:{uuid.uuid4()}"
    first = _doc({**_event(uuid.uuid4().hex[:8]), "eventID": shared})
    lone = uuid.uuid4().hex[:8]
    second = _doc(_event(lone), {**_event(uuid.uuid4().hex[:8]), "eventID": shared})
    accepted = _capture(demo_url, token, first)
    refused = _capture(demo_url, token, second)  # sent before the first is committed
    assert _finish(demo_url, accepted)["success"]
    assert refused.status_code == 400, refused.text
    assert [e["eventIndex"] for e in refused.json()["errors"]] == [1]
    time.sleep(0.2)
    epc = f"urn:epc:id:sgtin:4012345.000001.{lone}"
    found = httpx.get(f"{demo_url}/epcis/events", params={"MATCH_epc": epc}).json()
    assert found["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    # once committed, the same event is refused by the ledger itself
    _refused(_capture(demo_url, token, _doc({**_event("g1"), "eventID": shared})), "trace/4")


def test_proceed_leaves_out_an_event_in_flight_in_another_capture(
    demo_url: str, token: str
) -> None:
    shared = f"urn:uuid:{uuid.uuid4()}"
    accepted = _capture(demo_url, token, _doc({**_event(uuid.uuid4().hex[:8]), "eventID": shared}))
    second = _doc(_event(uuid.uuid4().hex[:8]), {**_event(uuid.uuid4().hex[:8]), "eventID": shared})
    response = _capture(demo_url, token, second, behaviour="proceed")
    assert _finish(demo_url, accepted)["success"]
    job = _finish(demo_url, response)
    assert [e["eventIndex"] for e in job["errors"]] == [1]
    assert job["eventIDs"][0] is not None and job["eventIDs"][1] is None


def test_capture_jobs_are_listed_a_page_at_a_time(demo_url: str, token: str) -> None:
    mine = {
        _capture(demo_url, token, _doc(_event(uuid.uuid4().hex[:8]))).headers["location"]
        for _ in range(2)
    }
    url: str | None = f"{demo_url}/epcis/capture?perPage=1"
    seen = []
    while url:
        response = httpx.get(url)
        assert response.status_code == 200 and len(response.json()) == 1
        seen += [job["captureID"] for job in response.json()]
        link = response.headers.get("link")
        url = demo_url + link.split(">")[0].lstrip("<") if link else None
    assert {location.rsplit("/", 1)[1] for location in mine} <= set(seen)
    assert len(seen) == len(set(seen))
    refused = httpx.get(f"{demo_url}/epcis/capture?perPage=0")
    assert refused.status_code == 400 and "perPage" in refused.text


def test_paging_capture_jobs_skips_none_when_old_jobs_are_forgotten(
    demo_url: str, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(router, "MAX_KEPT_EVENTS", 2)  # two one-event jobs are kept

    def job() -> str:
        response = _capture(demo_url, token, _doc(_event(uuid.uuid4().hex[:8])))
        return str(_finish(demo_url, response)["captureID"])

    first, second = job(), job()
    page = httpx.get(f"{demo_url}/epcis/capture?perPage=1")
    assert [j["captureID"] for j in page.json()] == [first]
    third = job()  # finishing it forgets the first job
    following = httpx.get(demo_url + page.headers["link"].split(">")[0].lstrip("<"))
    assert [j["captureID"] for j in following.json()] == [second]
    assert third != second


def test_capture_endpoint_discovery(demo_url: str) -> None:
    response = httpx.options(f"{demo_url}/epcis/capture")
    assert response.status_code == 204
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert int(response.headers["GS1-EPCIS-Capture-Limit"]) == router.CAPTURE_LIMIT
    assert int(response.headers["GS1-EPCIS-Capture-File-Size-Limit"]) > 0
    assert "proceed" in response.headers["GS1-Capture-Error-Behaviour"]


def test_proceed_captures_what_the_ledger_admits_and_lists_the_rest(
    demo_url: str, token: str
) -> None:
    committed = _event(uuid.uuid4().hex[:8])
    _finish(demo_url, _capture(demo_url, token, _doc(committed)))
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    good = [_event(uuid.uuid4().hex[:8]) for _ in range(2)]
    doc = _doc(good[0], committed, _event("p1", when=future), good[1])
    response = _capture(demo_url, token, doc, behaviour="proceed")
    job = _finish(demo_url, response)
    assert job["captureErrorBehaviour"] == "proceed" and not job["success"]
    assert [(e["eventIndex"], e["code"]) for e in job["errors"]] == [(1, "trace/3"), (2, "trace/5")]
    assert job["eventIDs"][1] is None and job["eventIDs"][2] is None
    for index in (0, 3):
        found = httpx.get(f"{demo_url}/epcis/events/{quote(job['eventIDs'][index], safe='')}")
        assert found.status_code == 200
    # the same document without the header is refused whole, and nothing is stored
    _refused(_capture(demo_url, token, _doc(_event("p2"), committed)), "trace/3")
    # the refused future event left the in-flight set: the ledger refuses it, not "in flight"
    _refused(_capture(demo_url, token, _doc(_event("p1", when=future))), "trace/5")
    bad = _capture(demo_url, token, _doc(_event("p3")), behaviour="greedy")
    assert bad.status_code == 400 and bad.json()["field"] == "GS1-Capture-Error-Behaviour"


def test_a_document_beyond_the_capture_limit_is_refused(
    demo_url: str, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(router, "CAPTURE_LIMIT", 2)  # the demo node runs in this process
    response = _capture(demo_url, token, _doc(*[_event(f"lim{n}") for n in range(3)]))
    assert response.status_code == 413
    assert response.json()["field"] == "epcisBody.eventList"
