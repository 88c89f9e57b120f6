"""Recalls over HTTP: the list, each recall's report, and the report as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from veriledger.core.errors import OutOfRangeError
from veriledger.modules.trace.module import recall_report
from veriledger.node.node import Node

CSV_COLUMNS = ("item", "last_event_time", "last_custodian", "last_location")


def create_router(node: Node) -> APIRouter:
    router = APIRouter()

    def report(recall_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        state = node.state()
        record = state.get(f"trace/recall/{recall_id}")
        if record is None:
            raise OutOfRangeError(f"no recall {recall_id}")
        return dict(record), recall_report(state, recall_id)

    @router.get("/recalls")
    def recalls() -> list[Any]:
        return [value for _, value in node.state().scan("trace/recall/")]

    @router.get("/recalls/{recall_id}")
    def recall(recall_id: str) -> dict[str, Any]:
        record, rows = report(recall_id)
        return {**record, "affected": rows, "affected_count": len(rows)}

    @router.get("/recalls/{recall_id}/report.csv", response_class=Response)
    def recall_csv(recall_id: str) -> Response:
        record, rows = report(recall_id)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="recall-{record["id"]}.csv"'},
        )

    return router
