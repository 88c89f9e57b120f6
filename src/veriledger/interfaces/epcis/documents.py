"""The EPCISQueryDocument that queries, webhooks and WebSocket streams answer with."""

from __future__ import annotations

import time
from typing import Any

from veriledger.modules.trace.module import iso_ms

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
RESULT_CONTEXT = [EPCIS_CONTEXT, {"vl": "urn:veriledger:"}]


def result_event(record: dict[str, Any]) -> dict[str, Any]:
    """A stored event as a query returns it, linked to its ledger receipt (``vl:receipt``)."""
    event = {k: v for k, v in record["event"].items() if k != "@context"}
    event["vl:receipt"] = f"/api/v1/transactions/{record['tx']}/receipt"
    return event


def query_document(
    events: list[dict[str, Any]], query_name: str = "SimpleEventQuery"
) -> dict[str, Any]:
    return {
        "@context": RESULT_CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_ms(int(time.time() * 1000)),
        "epcisBody": {
            "queryResults": {
                "queryName": query_name,
                "resultsBody": {"eventList": events},
            }
        },
    }
