"""The EPCIS 2.0 REST binding: every official example captured and queried back, and refusals."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.shared_data import SHARED_DATA
from veriledger.interfaces.http.app import create_app
from veriledger.node.demo import create_demo
from veriledger.node.node import Node

EXAMPLES = SHARED_DATA / "epcis" / "examples"
MANIFEST = json.loads((EXAMPLES / "manifest.json").read_text())
FILES = [e["file"] for e in MANIFEST["examples"]]
IGNORED = {"recordTime", "vl:receipt", "@context"}


def _document(file: str) -> dict[str, Any]:
    """An example as given: capture takes EPCISQueryDocuments too, as the binding says."""
    doc: dict[str, Any] = json.loads((EXAMPLES / file).read_text())
    return doc


def _wait(http: TestClient, location: str) -> dict[str, Any]:
    for _ in range(500):
        job = http.get(location).json()
        if not job["running"]:
            return job
        time.sleep(0.01)
    raise AssertionError("capture job did not finish")


def _same(stored: dict[str, Any], given: dict[str, Any]) -> None:
    assert {k: v for k, v in stored.items() if k not in IGNORED} == {
        k: v for k, v in given.items() if k not in IGNORED
    }


@pytest.mark.parametrize("file", FILES)
def test_every_official_example_is_captured_and_queried_back(tmp_path: Path, file: str) -> None:
    create_demo(tmp_path / "n", block_max_ms=5)
    node = Node(tmp_path / "n", signature_workers=0)
    try:
        token = orjson.loads((tmp_path / "n" / "credentials.json").read_bytes())["aurora"][
            "aurora/anna"
        ]
        with TestClient(create_app(node)) as http:
            doc = _document(file)
            response = http.post(
                "/epcis/capture", json=doc, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 202, response.text
            job = _wait(http, response.headers["location"])
            assert job["success"], job
            body = doc["epcisBody"]
            given_events = (
                body["queryResults"]["resultsBody"]["eventList"]
                if doc["type"] == "EPCISQueryDocument"
                else body["eventList"]
            )
            for given, event_id in zip(given_events, job["eventIDs"], strict=True):
                found = http.get(f"/epcis/events/{quote(event_id, safe='')}")
                assert found.status_code == 200, found.text
                stored = found.json()
                if "eventID" not in given:
                    assert stored["eventID"].startswith("ni:///sha-256;")
                assert stored["vl:receipt"].endswith("/receipt")
                assert stored["recordTime"]
                _same(stored, given | {"eventID": stored["eventID"]})
    finally:
        node.close()


HASH_DIR = SHARED_DATA / "epcis" / "event-hash"
HASH_MANIFEST = json.loads((HASH_DIR / "manifest.json").read_text())
# The README lists the XML files that do not validate against the EPCIS 2.0 XSDs
# (an EPCIS 1.x or otherwise non-conformant document); every other one is captured.
NOT_XSD_VALID = {"SensorDataExamples.xml", "epcisQueryDocument.xml"}
XML_CASES = [
    case
    for case in HASH_MANIFEST["cases"]
    if case["dir"] == "examples"
    and any(i.endswith(".xml") and i not in NOT_XSD_VALID for i in case["inputs"])
]


@pytest.mark.parametrize("case", XML_CASES, ids=[c["name"] for c in XML_CASES])
def test_every_xsd_valid_xml_example_is_captured_with_its_hashes(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    xml = next(i for i in case["inputs"] if i.endswith(".xml"))
    want = (case.get("revised_upstream_cbv20") or {}).get("hashes") or (
        (HASH_DIR / "examples" / case["hashes"]).read_text().split()
    )
    create_demo(tmp_path / "n", block_max_ms=5)
    node = Node(tmp_path / "n", signature_workers=0)
    try:
        token = orjson.loads((tmp_path / "n" / "credentials.json").read_bytes())["aurora"][
            "aurora/anna"
        ]
        with TestClient(create_app(node)) as http:
            response = http.post(
                "/epcis/capture",
                content=(HASH_DIR / "examples" / xml).read_bytes(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
            )
            assert response.status_code == 202, response.text
            job = _wait(http, response.headers["location"])
            assert job["success"], job
            hashes = [
                http.get(f"/epcis/events/{quote(i, safe='')}").json()["eventID"]
                for i in job["eventIDs"]
            ]
            from veriledger.modules.trace.event_hash import event_hash_id

            assert len(hashes) == len(want)
            events = [
                http.get(f"/epcis/events/{quote(i, safe='')}").json() for i in job["eventIDs"]
            ]
            ignored = ("vl:receipt", "recordTime", "eventID")
            for stored in events:
                if not stored["eventID"].startswith("ni:///"):
                    plain = {k: v for k, v in stored.items() if k not in ignored}
                    assert event_hash_id(plain) in want
            assert all(h in want for h in hashes if h.startswith("ni:///"))
    finally:
        node.close()
