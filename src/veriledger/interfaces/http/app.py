"""The HTTP interface: C2SP tlog-tiles under /tlog, the JSON API under /api/v1, pages.

Handlers are thin: parse, call the node, shape the answer. Errors are raised as the
package's own and turned into problem+json in one place (:mod:`.problems`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from pathlib import Path as FilePath
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from veriledger import __version__
from veriledger.chain.blocks import BlockHeader
from veriledger.chain.transactions import Transaction
from veriledger.core.errors import BadInputError, OutOfRangeError
from veriledger.interfaces.epcis.router import MAX_DOCUMENT_BYTES, MAX_QUERY_BYTES
from veriledger.interfaces.epcis.router import create_router as epcis_router
from veriledger.interfaces.http import problems, recalls, resolver, strict_json, taps
from veriledger.interfaces.http.compression import GZIP_LEVEL
from veriledger.interfaces.http.limits import BodyLimit
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.tiles import parse_tile_path
from veriledger.log.tlog_proof import MEDIA_TYPE as TLOG_PROOF
from veriledger.node.node import Node, Submitted
from veriledger.node.pending import Submission

MAX_REQUEST_BYTES = 8 * 1024 * 1024
"""A request body's bytes, unless its route says otherwise (:data:`BODY_LIMITS`)."""
MAX_CONSUMER_BYTES = 64 * 1024
"""A code check or tap: a URL or a code and a place; anonymous, so kept small."""
BODY_LIMITS = (
    ("/epcis/capture", MAX_DOCUMENT_BYTES),  # as OPTIONS /epcis/capture announces
    ("/epcis/events", MAX_DOCUMENT_BYTES),
    ("/epcis/queries", MAX_QUERY_BYTES),
    ("/api/v1/items/verify", MAX_CONSUMER_BYTES),
    ("/api/v1/items/tap", MAX_CONSUMER_BYTES),
)
MAX_BATCH = 5000
MAX_INT = 2**63 - 1
"""The largest height, index or size a path or query may name: SQLite's integers (a
larger one would fail in the database, not in the request)."""
WEB = FilePath(__file__).resolve().parent.parent / "web"
IMMUTABLE = "public, max-age=31536000, immutable"


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title="Veriledger",
        version=__version__,
        description="A consortium ledger for trustworthy e-commerce, verifiable by anyone.",
        default_response_class=JSON,
    )
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=GZIP_LEVEL)
    # Outermost, so that no body is read past its limit by anything.
    app.add_middleware(BodyLimit, default=MAX_REQUEST_BYTES, routes=BODY_LIMITS)
    problems.install(app)
    app.include_router(_tlog(node), prefix="/tlog", tags=["tlog-tiles"])
    app.include_router(_submission(node), prefix="/api/v1", tags=["api"])
    app.include_router(_reads(node), prefix="/api/v1", tags=["api"])
    app.include_router(recalls.create_router(node), prefix="/api/v1", tags=["recalls"])
    app.include_router(resolver.create_router(node), tags=["GS1 Digital Link"])
    app.include_router(taps.create_router(node), tags=["GS1 Digital Link"])
    app.include_router(_ops(node), tags=["operations"])
    app.include_router(epcis_router(node), prefix="/epcis", tags=["EPCIS 2.0"])
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")

    @app.get("/", include_in_schema=False)
    def explorer() -> FileResponse:
        return FileResponse(WEB / "explorer.html", media_type="text/html")

    app.state.node = node
    return app


# --- /tlog: C2SP tlog-tiles, read only ----------------------------------------------------


def _tlog(node: Node) -> APIRouter:
    router = APIRouter()

    @router.get("/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> Response:
        _, note = node.latest_checkpoint()
        return Response(
            note,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "no-cache, max-age=1"},
        )

    @router.get("/tile/{path:path}")
    def tile(path: str) -> Response:
        wanted = parse_tile_path("tile/" + path)
        size, _ = node.latest_checkpoint()
        body = node.reader.tile(wanted, size)
        return Response(
            body, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
        )

    @router.get("/keys", response_class=PlainTextResponse)
    def keys() -> str:
        lines = [log.key.to_vkey() for log in node.policy.logs]
        lines += [w.key.to_vkey() for w in node.policy.witnesses]
        return "\n".join(lines) + "\n"

    @router.get("/policy", response_class=PlainTextResponse)
    def policy() -> Response:
        return Response(node.policy.to_text(), media_type="text/plain; charset=utf-8")

    return router


# --- /api/v1 ------------------------------------------------------------------------------


async def _read_json(request: Request) -> Any:
    """The body as strict JSON; its size is bounded by :class:`.limits.BodyLimit`."""
    return strict_json.loads(await request.body())


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _tx_json(node: Node, tx_id: str) -> dict[str, Any]:
    status = node.status(tx_id)
    if status is None:
        raise OutOfRangeError(f"no transaction {tx_id}")
    out = status.to_json()
    if status.index is not None:
        out["transaction"] = orjson.loads(node.reader.entries(status.index, status.index + 1)[0])
        out["receipt"] = f"/api/v1/transactions/{tx_id}/receipt"
    return out


def _checkpoint_json(node: Node, note: bytes, height: int | None = None) -> dict[str, Any]:
    result = node.policy.check(note)
    cp: Checkpoint = result.checkpoint
    return {
        "origin": cp.origin,
        "size": cp.size,
        "root": base64.b64encode(cp.root_hash).decode(),
        "height": height,
        "final": result.satisfied,
        "log": result.log,
        "cosigners": [
            {"org": name, "timestamp": c.timestamp}
            for name, c in zip(result.cosigners, result.cosignatures, strict=True)
        ],
        "quorum": node.policy.describe_quorum(),
        "note": note.decode(),
    }


def _submission(node: Node) -> APIRouter:
    router = APIRouter()

    @router.post("/transactions", status_code=202)
    async def submit(
        request: Request,
        wait: bool = Query(False, description="Answer only when committed (or rejected)."),
        timeout: float = Query(10.0, gt=0, le=60, description="Seconds to wait for commit."),
    ) -> Response:
        """Submit one transaction or a batch (a JSON array), signed or by API token.

        A signed envelope carries ``sig``; an unsigned ``{"type", "body"}`` needs an
        ``Authorization: Bearer <token>`` and is signed by this node for the token's
        member. A batch is accepted whole or refused whole.
        """
        payload = await _read_json(request)
        batch = isinstance(payload, list)
        items = payload if batch else [payload]
        if not items or len(items) > MAX_BATCH:
            raise BadInputError(f"a batch holds 1 to {MAX_BATCH} transactions")
        token = _bearer(request)
        txs, futures = await asyncio.to_thread(_parse_and_submit, node, items, batch, token)
        if not wait:
            # A resubmitted envelope is answered with what became of it, not an error.
            answers = [p.result() if p.done() else Submitted(p.id, "pending") for p in futures]
            body = [a.to_json() for a in answers]
            settled = all(a.status != "pending" for a in answers)
            headers = {} if batch else {"Location": f"/api/v1/transactions/{txs[0].id}"}
            return JSON(
                body if batch else body[0], status_code=200 if settled else 202, headers=headers
            )
        results = await _wait_all(futures, timeout)
        if not batch and results[0].status == "rejected":
            first = results[0]
            return problems.problem(
                422,
                "rejected",
                "Rejected by a ledger rule",
                first.reason or "",
                code=first.code,
                id=first.id,
                height=first.height,
                index=first.index,
            )
        out = [r.to_json() for r in results]
        return JSON(out if batch else out[0], status_code=200)

    return router


def _reads(node: Node) -> APIRouter:
    router = APIRouter()

    @router.get("/transactions/{tx_id}")
    def transaction(tx_id: str) -> dict[str, Any]:
        return _tx_json(node, tx_id)

    @router.get("/transactions/{tx_id}/receipt", response_class=Response)
    def receipt(tx_id: str) -> Response:
        proof = node.receipt(tx_id)
        return Response(
            proof.to_bytes(),
            media_type=TLOG_PROOF,
            headers={"Content-Disposition": f'attachment; filename="{tx_id}.tlog-proof"'},
        )

    @router.get("/blocks")
    def blocks(
        limit: int = Query(20, ge=1, le=200),
        before: int | None = Query(None, ge=0, le=MAX_INT),
    ) -> list[dict[str, Any]]:
        return [
            {"height": h, "id": i, "time": t, "tx_count": n, "accepted": a}
            for h, i, t, n, a in node.storage.blocks(limit, before)
        ]

    @router.get("/blocks/{height}")
    def block(height: int = Path(ge=0, le=MAX_INT)) -> dict[str, Any]:
        entry = node.storage.block_header(height)
        if entry is None:
            raise OutOfRangeError(f"no block at height {height}")
        header = BlockHeader.from_entry(entry)
        txs = node.storage.txs_in_block(height)
        return {
            "id": header.id,
            "header": header.to_json(),
            "header_index": header.header_index,
            "transactions": [
                {
                    "id": t.id,
                    "index": t.log_index,
                    "type": t.type,
                    "accepted": t.accepted,
                    "code": t.code,
                    "reason": t.reason,
                }
                for t in txs
            ],
        }

    @router.get("/checkpoint")
    def checkpoint() -> dict[str, Any]:
        latest = node.storage.latest_checkpoint()
        if latest is None:
            raise OutOfRangeError("no final checkpoint yet")
        return _checkpoint_json(node, latest[2], latest[1])

    @router.get("/checkpoints")
    def checkpoints(limit: int = Query(20, ge=1, le=200)) -> list[dict[str, Any]]:
        return [
            _checkpoint_json(node, note, height)
            for _, height, note, _ in node.storage.checkpoints(limit)
        ]

    @router.get("/consistency")
    def consistency(
        first: int = Query(..., alias="from", ge=1, le=MAX_INT),
        second: int = Query(..., alias="to", ge=1, le=MAX_INT),
    ) -> dict[str, Any]:
        if first > second:
            raise BadInputError(f"from: {first} is beyond to ({second})")
        size, _ = node.latest_checkpoint()
        if second > size:
            raise OutOfRangeError(f"to: {second} is beyond the latest final checkpoint ({size})")
        proof = node.reader.consistency_proof(first, second)
        return {
            "from": first,
            "to": second,
            "proof": [base64.b64encode(h).decode() for h in proof],
        }

    @router.get("/organisations")
    def organisations() -> list[Any]:
        query = node.registry.modules["identity"].queries["organisations"]
        return list(query(node.state(), {}))

    @router.get("/members")
    def members(org: str | None = None) -> list[Any]:
        query = node.registry.modules["identity"].queries["members"]
        return list(query(node.state(), {"org": org} if org else {}))

    @router.get("/query/{module}/{name}")
    def module_query(module: str, name: str, request: Request) -> Any:
        found = node.registry.modules.get(module)
        if found is None or name not in found.queries:
            raise OutOfRangeError(f"no query {module}/{name}")
        return found.queries[name](node.state(), dict(request.query_params))

    return router


def _parse_and_submit(
    node: Node, items: list[Any], batch: bool, token: str | None
) -> tuple[list[Transaction], Submission[Submitted]]:
    """Parse (or sign for the token's member) and submit, off the event loop."""
    signed = [isinstance(i, dict) and "sig" in i for i in items]
    if all(signed):
        txs = []
        for i, item in enumerate(items):
            try:
                txs.append(Transaction.parse(item))
            except BadInputError as exc:
                if batch:
                    field = getattr(exc, "field", "")
                    exc.field = f"[{i}].{field}".rstrip(".")  # type: ignore[attr-defined]
                raise
    elif not any(signed):
        txs = node.sign_for(token, items)
        return txs, node.submit(txs, signed_here=True)
    else:
        raise BadInputError("a batch is either all signed envelopes or all unsigned")
    return txs, node.submit(txs)


async def _wait_all(submission: Submission[Submitted], timeout: float) -> list[Submitted]:
    """Each transaction's outcome, or ``pending`` for those not committed in time."""
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()

    def wake() -> None:
        if not all_done.done():
            all_done.set_result(None)

    def wake_from_commit() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(wake)

    submission.when_all_done(wake_from_commit)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_done, timeout)
    return [p.result() if p.done() else Submitted(p.id, "pending") for p in submission]


# --- operations ---------------------------------------------------------------------------


def _ops(node: Node) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> Response:
        """``ok``, or 503 ``halted`` with the alarm and its evidence: reads go on, not final."""
        size, _ = node.latest_checkpoint()
        body: dict[str, Any] = {
            "status": "ok" if node.alarm is None else "halted",
            "chain": node.chain,
            "height": node.height,
            "size": size,
            "pending": node.engine.pending(),
        }
        if node.alarm is not None:
            body["alarm"] = node.alarm.to_json()
        return JSON(body, status_code=200 if node.alarm is None else 503)

    @router.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        size, _ = node.latest_checkpoint()
        lines = [
            "# HELP veriledger_blocks_total Blocks committed since start.",
            "# TYPE veriledger_blocks_total counter",
            f"veriledger_blocks_total {node.metrics['blocks']}",
            "# HELP veriledger_transactions_total Transactions committed since start, by result.",
            "# TYPE veriledger_transactions_total counter",
            f'veriledger_transactions_total{{result="accepted"}} {node.metrics["committed"]}',
            f'veriledger_transactions_total{{result="rejected"}} {node.metrics["rejected"]}',
            "# HELP veriledger_submitted_total Transactions accepted for ordering since start.",
            "# TYPE veriledger_submitted_total counter",
            f"veriledger_submitted_total {node.metrics['submitted']}",
            "# HELP veriledger_height Height of the last committed block.",
            "# TYPE veriledger_height gauge",
            f"veriledger_height {node.height}",
            "# HELP veriledger_log_size Entries under the latest final checkpoint.",
            "# TYPE veriledger_log_size gauge",
            f"veriledger_log_size {size}",
            "# HELP veriledger_pending Transactions waiting to be ordered or committed.",
            "# TYPE veriledger_pending gauge",
            f"veriledger_pending {node.engine.pending()}",
            "# HELP veriledger_uptime_seconds Seconds since the node started.",
            "# TYPE veriledger_uptime_seconds gauge",
            f"veriledger_uptime_seconds {time.time() - node.started_at:.0f}",
            "# HELP veriledger_halted 1 when the node halted its write path on an alarm.",
            "# TYPE veriledger_halted gauge",
            f"veriledger_halted {int(node.alarm is not None)}",
        ]
        return "\n".join(lines) + "\n"

    return router
