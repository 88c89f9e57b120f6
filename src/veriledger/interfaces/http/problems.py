"""RFC 9457 problem details: one mapping from the error hierarchy to HTTP.

Every error leaves the API as ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``, plus ``field`` when one field is to blame and ``code``
when a ledger rule refused (``<module>/<number>``). The mapping lives here and only
here, and one test pins its shape.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from veriledger.chain.transactions import TransactionTooLargeError
from veriledger.core.errors import (
    BadInputError,
    OutOfRangeError,
    RejectedError,
    StorageError,
    VerificationError,
    VeriledgerError,
)
from veriledger.interfaces.http import strict_json
from veriledger.node.datadir import UnknownTokenError
from veriledger.node.node import DuplicateTransactionError, NotCommittedError

MEDIA_TYPE = "application/problem+json"

FORBIDDEN_CODES = {("chain", 3), ("chain", 5), ("identity", 1), ("identity", 2)}
BAD_REQUEST_CODES = {("chain", 1), ("chain", 2), ("chain", 4)}


class ForbiddenError(BadInputError):
    """The caller is known but may not do this (HTTP 403): someone else's query or
    subscription, say. ``field`` names what is guarded, when one field is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


class PayloadTooLargeError(BadInputError):
    def __init__(self, size: int, limit: int, what: str = "request body", unit: str = "bytes"):
        super().__init__(f"{what}: {size:,} {unit}, the limit is {limit:,}")


def json_object(body: bytes, max_depth: int = strict_json.MAX_DEPTH) -> dict[str, Any]:
    """A request body that must be one JSON object, parsed strictly
    (:mod:`.strict_json`: no duplicate keys, bounded nesting, UTF-8 only).

    Raises:
        BadInputError: naming the field (``body`` for the whole) and the reason.
    """
    data = strict_json.loads(body, max_depth)
    if not isinstance(data, dict):
        raise BadInputError("body: must be a JSON object")
    return data


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"urn:veriledger:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def classify(exc: VeriledgerError) -> tuple[int, str, str]:
    """``(status, slug, title)`` for an error of the hierarchy."""
    if isinstance(exc, UnknownTokenError):
        return 401, "unauthorized", "Missing or unknown API token"
    if isinstance(exc, DuplicateTransactionError):
        return 409, "duplicate-transaction", "Duplicate transaction"
    if isinstance(exc, TransactionTooLargeError | PayloadTooLargeError):
        return 413, "too-large", "Request too large"
    if isinstance(exc, NotCommittedError):
        return 404, "not-committed", "Not committed under a final checkpoint"
    if isinstance(exc, OutOfRangeError):
        return 404, "out-of-range", "Beyond the log"
    if isinstance(exc, RejectedError):
        key = (exc.module, exc.code)
        if key in FORBIDDEN_CODES:
            return 403, "forbidden", "Signer not allowed"
        if key in BAD_REQUEST_CODES:
            return 400, "invalid-transaction", "Invalid transaction"
        return 422, "rejected", "Rejected by a ledger rule"
    if isinstance(exc, VerificationError):
        return 400, "verification-failed", "Verification failed"
    if isinstance(exc, ForbiddenError):
        return 403, "forbidden", "Not allowed"
    if isinstance(exc, BadInputError):
        return 400, "bad-request", "Bad request"
    if isinstance(exc, StorageError):
        return 503, "unavailable", "Ledger storage unavailable"
    return 500, "internal", "Internal error"


_FIELD_PREFIX = re.compile(r"([A-Za-z0-9_$][\w.\[\]$-]{0,80}): ")


def leading_field(detail: str) -> str | None:
    """The field a message names first (``"uri: ..."``), by the package's convention
    of starting an error with the field it is about."""
    match = _FIELD_PREFIX.match(detail)
    return match.group(1) if match else None


def error_response(exc: VeriledgerError) -> JSONResponse:
    status, slug, title = classify(exc)
    code = f"{exc.module}/{exc.code}" if isinstance(exc, RejectedError) else None
    detail = exc.reason if isinstance(exc, RejectedError) else exc.diagnostics()
    return problem(
        status,
        slug,
        title,
        detail,
        field=getattr(exc, "field", None) or leading_field(detail),
        code=code,
        errors=getattr(exc, "errors", None),
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(VeriledgerError)
    async def _ours(request: Request, exc: VeriledgerError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
        return problem(
            400,
            "bad-request",
            "Bad request",
            first.get("msg", "invalid request"),
            field=".".join(loc) or None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, slug, str(exc.detail), str(exc.detail))
