"""The EPCIS 2.0 REST binding under ``/epcis``: capture and query.

Capture takes an EPCISDocument (``POST /epcis/capture``) or one event
(``POST /epcis/events``), as JSON, JSON-LD or XML, from a member authenticated by its
API token. The document is validated against the official JSON Schema; each event
becomes one ``trace.capture`` transaction that this node signs for the member. A
document is captured whole or not at all: every schema error and every ledger
refusal (duplicate event, future eventTime, another brand's GTIN...) is listed in
one problem+json answer and nothing is stored. Accepted documents answer 202 with
the capture job's ``Location``; the job finishes when every event is committed.

Queries follow the EPCIS simple event query parameters; every event in a result
carries a link to its ledger receipt (a C2SP tlog-proof) in ``vl:receipt``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import gzip
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jsonschema
import jsonschema_rs
import orjson
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from veriledger.core.errors import BadInputError, OutOfRangeError
from veriledger.interfaces.epcis.documents import (
    EPCIS_CONTEXT,
    RESULT_CONTEXT,
    query_document,
    result_event,
)
from veriledger.interfaces.epcis.subscriptions import (
    SCHEDULE_FIELDS,
    DuplicateQueryError,
    FieldError,
    Subscriptions,
    subscription_terms,
)
from veriledger.interfaces.http import strict_json
from veriledger.interfaces.http.compression import GZIP_LEVEL, accepts_gzip
from veriledger.interfaces.http.problems import (
    PayloadTooLargeError,
    json_object,
    leading_field,
    problem,
)
from veriledger.modules.trace import cbv, epcis_xml
from veriledger.modules.trace.event_hash import document_events
from veriledger.modules.trace.module import (
    REFUSAL_FIELDS,
    checked_hash,
    event_hashes,
    find_event,
    iso_ms,
    remember_hash,
    vocabulary,
)
from veriledger.modules.trace.queries import select_events
from veriledger.node.datadir import UnknownTokenError
from veriledger.node.node import Node, Submitted
from veriledger.node.pending import Submission

SCHEMA = Path(__file__).parent / "data" / "EPCIS-JSON-Schema.json"
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
"""A capture request's bytes (``GS1-EPCIS-Capture-File-Size-Limit``), enforced as the
body streams in (:class:`veriledger.interfaces.http.limits.BodyLimit`)."""
MAX_DOCUMENT_DEPTH = 72
"""Levels of nesting in a JSON capture document: an event sits 4 levels down (6 in an
EPCISQueryDocument), which leaves its own fields the 64 levels an XML event may have."""
MAX_QUERY_BYTES = 1024 * 1024
"""A named query or subscription request's bytes."""
CAPTURE_LIMIT = 10_000
"""Events in one capture request (``GS1-EPCIS-Capture-Limit``); larger is refused with 413."""
EPCIS_VERSION = "2.0.0"
VERSION_HEADERS = {"GS1-EPCIS-Version": EPCIS_VERSION, "GS1-CBV-Version": EPCIS_VERSION}
DEFAULT_PAGE = 30
MAX_PAGE = 1000
SCHEDULE_NAMES = frozenset(name for name, _, _ in SCHEDULE_FIELDS)


@functools.cache
def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


@functools.cache
def _fast_validator() -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft7Validator(json.loads(SCHEMA.read_text()), validate_formats=True)


def schema_errors(document: Any) -> list[dict[str, str]]:
    """Every JSON Schema violation, each with the JSON path of the offending field.

    A compiled validator (``jsonschema-rs``) answers the common case, a valid document,
    about forty times faster than ``jsonschema``; only a document it refuses goes
    through ``jsonschema``, whose error paths the problems list (with reasons of our
    own: see :func:`_reason`).
    """
    if _fast_validator().is_valid(document):
        return []
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    out: list[dict[str, str]] = []
    for error in errors:
        path = list(error.absolute_path)
        missing = _REQUIRED.match(error.message) if error.validator == "required" else None
        if missing:  # name the missing member itself: epcisBody.eventList[0].eventTime
            path.append(missing.group(1))
        found = {"field": _path(path), "reason": _reason(error)}
        if found not in out:  # anyOf branches can fail the same way twice
            out.append(found)
    return out


_REQUIRED = re.compile(r"^'([^']{1,100})' is a required property$")


def _reason(error: jsonschema.ValidationError) -> str:
    """Why a value fails the schema, in words about the rule, never the value itself:
    ``jsonschema`` starts most messages with the offending value's repr, which for an
    event is the whole event (and whatever a client put in it)."""
    rule, wanted = error.validator, error.validator_value
    if rule == "required":
        return "is required" if _REQUIRED.match(error.message) else "a member is missing"
    if rule == "additionalProperties":
        return str(error.message)[:300]  # names the unexpected keys, not their values
    if rule == "type":
        kinds = wanted if isinstance(wanted, list) else [wanted]
        return "must be of type " + " or ".join(str(k) for k in kinds)
    if rule == "enum":
        shown = ", ".join(str(v) for v in list(wanted)[:12])
        return f"must be one of {shown}" + (", ..." if len(wanted) > 12 else "")
    if rule == "const":
        return f"must be {str(wanted)[:100]}"
    if rule in ("anyOf", "oneOf"):
        return "matches none of the forms the schema allows here"
    if rule == "format":
        return f"must be a valid {wanted}"
    if rule == "pattern":
        return f"must match the pattern {str(wanted)[:200]}"
    if rule in _BOUNDS:
        return f"{_BOUNDS[rule]} {wanted}"
    return f"breaks the schema's {rule} rule"


_BOUNDS = {
    "minLength": "must be at least this many characters long:",
    "maxLength": "must be at most this many characters long:",
    "minItems": "must have at least this many items:",
    "maxItems": "must have at most this many items:",
    "minimum": "must be at least",
    "maximum": "must be at most",
    "exclusiveMinimum": "must be more than",
    "exclusiveMaximum": "must be less than",
    "minProperties": "must have at least this many members:",
}


def _path(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


class EpcisDocumentError(BadInputError):
    """A document or event fails validation; ``errors`` lists every problem found."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(
            f"{len(errors)} error(s); first: {errors[0]['field']}: {errors[0]['reason']}"
        )
        self.errors = errors


@dataclass
class CaptureJob:
    id: str
    created: int
    events: int
    event_ids: list[str]
    tx_ids: list[str]
    errors: list[dict[str, Any]] = field(default_factory=list)
    finished: int | None = None
    on_finish: Callable[[], None] | None = None
    encoded: dict[tuple[int | None, bool], bytes] = field(default_factory=dict)
    """The job's JSON and its gzip, for the state it was encoded in (see
    :meth:`CaptureJobs.body`)."""
    behaviour: str = "rollback"
    seq: int = 0
    """Order of creation, for paging through the jobs."""
    indices: list[int] | None = None
    """With ``proceed``, each submitted event's index in the document (the others were
    refused); None when every event was submitted."""

    def document_index(self, submitted: int) -> int:
        return submitted if self.indices is None else self.indices[submitted]

    def to_json(self) -> dict[str, Any]:
        # eventIDs and transactions follow the document's order; a refused event has null.
        event_ids: list[str | None] = list(self.event_ids)
        tx_ids: list[str | None] = list(self.tx_ids)
        if self.indices is not None:
            event_ids, tx_ids = [None] * self.events, [None] * self.events
            for k, i in enumerate(self.indices):
                event_ids[i], tx_ids[i] = self.event_ids[k], self.tx_ids[k]
        out: dict[str, Any] = {
            "captureID": self.id,
            "createdAt": iso_ms(self.created),
            "running": self.finished is None,
            "success": self.finished is not None and not self.errors,
            "captureErrorBehaviour": self.behaviour,
            "errors": self.errors,
            "eventIDs": event_ids,
            "transactions": tx_ids,
        }
        if self.finished is not None:
            out["finishedAt"] = iso_ms(self.finished)
        return out


MAX_KEPT_EVENTS = 100_000
"""Finished capture jobs are forgotten, oldest first, once those kept name more events
than this (a job holds its eventIDs and transaction ids, about half a kilobyte an event
with its encodings): a node capturing for weeks would otherwise keep them all."""


class CaptureJobs:
    """Running capture jobs, and the most recent finished ones (see ``MAX_KEPT_EVENTS``)."""

    def __init__(self) -> None:
        self._jobs: dict[str, CaptureJob] = {}
        self._finished: deque[CaptureJob] = deque()
        self._kept_events = 0
        self._seq = 0
        self._lock = threading.Lock()

    def start(
        self,
        event_ids: list[str],
        tx_ids: list[str],
        submission: Submission[Submitted],
        on_finish: Callable[[], None] | None = None,
        behaviour: str = "rollback",
        refused: Sequence[dict[str, Any]] = (),
        indices: list[int] | None = None,
    ) -> CaptureJob:
        """A job for ``submission``; ``refused`` lists the document's events the ledger
        refused at admission (``proceed``), and ``indices`` where the others are."""
        job = CaptureJob(
            uuid.uuid4().hex,
            int(time.time() * 1000),
            len(tx_ids) + len(refused),
            event_ids,
            tx_ids,
            errors=list(refused),
            on_finish=on_finish,
            behaviour=behaviour,
            indices=indices if refused else None,
        )
        with self._lock:
            self._seq += 1
            job.seq = self._seq
            self._jobs[job.id] = job
        # One callback for the whole document, when its last event commits.
        submission.when_all_done(functools.partial(self._finish, job, submission))
        return job

    def _finish(self, job: CaptureJob, submission: Submission[Submitted]) -> None:
        errors: list[dict[str, Any]] = []
        for submitted, outcome in enumerate(submission.outcomes()):
            index = job.document_index(submitted)
            if isinstance(outcome, BaseException):
                errors.append({"eventIndex": index, "reason": str(outcome)})
            elif outcome.status != "committed":
                errors.append({"eventIndex": index, "code": outcome.code, "reason": outcome.reason})
        with self._lock:
            job.errors.extend(errors)
            job.finished = int(time.time() * 1000)
            self._finished.append(job)
            self._kept_events += job.events
            while self._kept_events > MAX_KEPT_EVENTS and len(self._finished) > 1:
                old = self._finished.popleft()
                self._kept_events -= old.events
                del self._jobs[old.id]
        if job.on_finish is not None:
            job.on_finish()

    def get(self, job_id: str) -> CaptureJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise OutOfRangeError(
                f"no capture job {job_id} (finished jobs are kept until their events "
                f"and newer ones pass {MAX_KEPT_EVENTS:,})"
            )
        return job

    def body(self, job_id: str, gzipped: bool) -> bytes:
        """A job's JSON (or its gzip), encoded once per state, running then finished.

        Clients poll a job until it finishes, and a job of 1,000 events is 160 KB with
        its eventIDs and transactions: compressing that on every poll took about 8 ms
        of this node's CPU, during the very capture the client waits for. The encoding
        runs outside the lock, which the block-commit thread takes to finish jobs.

        Raises:
            OutOfRangeError: no such job.
        """
        job = self.get(job_id)
        with self._lock:
            state = (job.finished, gzipped)
            cached = job.encoded.get(state)
            snapshot = job.to_json() if cached is None else None
        if snapshot is None:
            assert cached is not None
            return cached
        data = orjson.dumps(snapshot)
        if gzipped:
            data = gzip.compress(data, compresslevel=GZIP_LEVEL)
        with self._lock:
            if job.finished == state[0]:
                job.encoded = {k: v for k, v in job.encoded.items() if k[0] == state[0]}
                job.encoded[state] = data
        return data

    def all(self) -> list[CaptureJob]:
        """Every job kept, oldest first."""
        with self._lock:
            return list(self._jobs.values())


async def _body(request: Request) -> tuple[bytes, str]:
    """The body and its media type; the app's :class:`.limits.BodyLimit` bounds its size
    (``MAX_DOCUMENT_BYTES`` for capture, ``MAX_QUERY_BYTES`` for named queries)."""
    body = await request.body()
    return body, request.headers.get("content-type", "application/json").split(";")[0].strip()


async def _json_object(request: Request) -> dict[str, Any]:
    body, _ = await _body(request)
    return json_object(body)


def parse_document(body: bytes, content_type: str) -> Any:
    """JSON / JSON-LD as is; XML converted to the same JSON form."""
    if content_type in ("application/xml", "text/xml"):
        # The XML events become the same JSON events their JSON-LD form gives.
        return {
            "@context": [EPCIS_CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": iso_ms(int(time.time() * 1000)),
            "epcisBody": {"eventList": [cbv.json_form(e) for e in epcis_xml.document_events(body)]},
        }
    try:
        return strict_json.loads(body, MAX_DOCUMENT_DEPTH, root="$")
    except strict_json.MalformedJsonError as exc:
        raise EpcisDocumentError([{"field": exc.field, "reason": exc.reason}]) from None


QUERY_EVENTS = "epcisBody.queryResults.resultsBody.eventList"


def _events_at(document: Any, single: bool) -> tuple[str, list[dict[str, Any]]]:
    """A request's events and the path they are at: an EPCISDocument's event list, an
    EPCISQueryDocument's results (capture takes both, as the REST binding says), or the
    one event. Each event carries the document's context (:func:`document_events`), so
    it stays readable, and hashes the same, on its own."""
    events = document_events(document)
    if single:
        return "", events
    query = document.get("type") == "EPCISQueryDocument"
    return (QUERY_EVENTS if query else "epcisBody.eventList"), events


class InFlight:
    """Event hash IDs and eventIDs of captures submitted but not yet committed.

    Admission checks read committed state, so two documents sent together could both
    pass with the same event, and the block would then refuse one event of the second
    while committing the rest. A document reserves its events here before admission and
    keeps them until every one is committed, so the second document is refused whole.
    """

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def reserve(self, keys: list[set[str]], partial: bool = False) -> list[int]:
        """Reserve each event's keys, all or none (or, ``partial``, those of every event
        not in flight, emptying the others' sets); the indices already in flight."""
        with self._lock:
            taken = [i for i, k in enumerate(keys) if k & self._keys]
            if partial:
                for i in taken:
                    keys[i] = set()
            if partial or not taken:
                for k in keys:
                    self._keys |= k
            return taken

    def keep_only(self, keys: list[set[str]], kept: list[int]) -> None:
        """Release the keys of the events not ``kept`` (refused with ``proceed``), and
        empty their sets; keys a kept event shares (a duplicate in the document) stay."""
        held = set().union(*(keys[i] for i in kept))
        with self._lock:
            for i in set(range(len(keys))) - set(kept):
                self._keys -= keys[i] - held
                keys[i] = set()

    def release(self, keys: list[set[str]]) -> None:
        with self._lock:
            for k in keys:
                self._keys -= k


def _event_keys(txs: list[Any], events: list[dict[str, Any]]) -> list[set[str]]:
    keys = []
    for tx, event in zip(txs, events, strict=True):
        found = set()
        with contextlib.suppress(BadInputError):  # admission reports the event's error
            found.add(checked_hash(tx.id, event))
        if isinstance(event.get("eventID"), str):
            found.add(event["eventID"])
        keys.append(found)
    return keys


def _refusal(prefix: str, index: int, code: str, reason: str, field: str | None) -> dict[str, Any]:
    where = f"{prefix}[{index}]" if prefix else "$"
    if field:
        where = f"{where}.{field}" if prefix else field
    return {"field": where, "eventIndex": index, "code": code, "reason": reason}


def _admission_refusals(
    node: Node, txs: list[Any], prefix: str, skip: set[int]
) -> list[dict[str, Any]]:
    """The ledger's refusals of a document's events, each naming the event's field;
    events in ``skip`` (in flight already, where admission would call them new) left out."""
    return [
        _refusal(
            prefix,
            i,
            f"{r.module}/{r.code}",
            r.reason,
            (REFUSAL_FIELDS.get(r.code) or leading_field(r.reason))
            if r.module == "trace"
            else None,
        )
        for i, r in node.admission_errors(txs)
        if i not in skip
    ]


def _capture(
    node: Node,
    jobs: CaptureJobs,
    in_flight: InFlight,
    token: str | None,
    document: Any,
    single: bool,
    proceed: bool = False,
) -> CaptureJob:
    """Capture a document's events; ``proceed`` (``GS1-Capture-Error-Behaviour:
    proceed``) captures the events the ledger admits and lists the others in the job,
    where the default refuses the whole document."""
    node.tokens.member(token)  # a missing or unknown token is refused before anything else
    errors = schema_errors(document)
    kinds = ("EPCISDocument", "EPCISQueryDocument")
    if not single and not errors and document.get("type") not in kinds:
        reason = "POST /epcis/capture takes an EPCISDocument or an EPCISQueryDocument"
        errors = [{"field": "type", "reason": reason}]
    if errors:
        raise EpcisDocumentError(errors)
    prefix, events = _events_at(document, single)
    if not events:
        raise EpcisDocumentError([{"field": prefix, "reason": "no events"}])
    if len(events) > CAPTURE_LIMIT:
        raise PayloadTooLargeError(len(events), CAPTURE_LIMIT, prefix, "events")
    # The event hashes and identifier checks run on the other core while this one signs.
    hashes = node.offload(event_hashes, events)
    txs = node.sign_for(token, [{"type": "trace.capture", "body": {"event": e}} for e in events])
    for tx, prepared in zip(txs, hashes.result(), strict=True):
        remember_hash(tx.id, prepared)
    keys = _event_keys(txs, events)
    reason = "the same event is in another capture that is not committed yet"
    in_flight_refusals = [
        _refusal(prefix, i, "trace/4", reason, "eventID")
        for i in in_flight.reserve(keys, partial=proceed)
    ]
    if in_flight_refusals and not proceed:
        raise EpcisDocumentError(in_flight_refusals)
    try:
        skip = {r["eventIndex"] for r in in_flight_refusals}
        refused = in_flight_refusals + _admission_refusals(node, txs, prefix, skip)
        if refused and not proceed:
            raise EpcisDocumentError(refused)
        refused.sort(key=lambda r: int(r["eventIndex"]))
        left = sorted(set(range(len(txs))) - {r["eventIndex"] for r in refused})
        if not left:
            raise EpcisDocumentError(refused)  # nothing to proceed with
        if refused:
            in_flight.keep_only(keys, left)  # refused events leave the in-flight set at once
        txs, events = [txs[i] for i in left], [events[i] for i in left]
        futures = node.submit(txs, signed_here=True, admitted=True)
    except BaseException:
        in_flight.release(keys)
        raise
    event_ids = [
        str(e.get("eventID") or checked_hash(tx.id, e)) for tx, e in zip(txs, events, strict=True)
    ]
    return jobs.start(
        event_ids,
        [tx.id for tx in txs],
        futures,
        functools.partial(in_flight.release, keys),
        behaviour="proceed" if proceed else "rollback",
        refused=refused,
        indices=left,
    )


def _page(params: dict[str, str]) -> tuple[int, int]:
    try:
        per_page = int(params.pop("perPage", DEFAULT_PAGE))
        token = params.pop("nextPageToken", None)
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except (ValueError, UnicodeDecodeError):
        raise BadInputError("perPage or nextPageToken is malformed") from None
    if not 1 <= per_page <= MAX_PAGE:
        raise BadInputError(f"perPage: must be 1 to {MAX_PAGE}")
    return per_page, offset


def _events_response(
    request: Request,
    records: list[dict[str, Any]],
    per_page: int,
    offset: int,
    params: dict[str, str],
) -> JSONResponse:
    following = offset + per_page if offset + per_page < len(records) else None
    return JSONResponse(
        query_document([result_event(r) for r in records[offset : offset + per_page]]),
        media_type="application/ld+json",
        headers=_next_page(request, params, per_page, following),
    )


def _next_page(
    request: Request, params: dict[str, str], per_page: int, cursor: int | None
) -> dict[str, str]:
    """The ``Link: rel="next"`` and ``GS1-Next-Page-Token`` headers for the page that
    starts at ``cursor`` (None: this was the last page)."""
    if cursor is None:
        return {}
    token = base64.urlsafe_b64encode(str(cursor).encode()).decode()
    query = urlencode({**params, "perPage": per_page, "nextPageToken": token})
    return {"Link": f'<{request.url.path}?{query}>; rel="next"', "GS1-Next-Page-Token": token}


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def create_router(node: Node) -> APIRouter:
    router = APIRouter()
    jobs = CaptureJobs()
    in_flight = InFlight()
    subscriptions = Subscriptions(node, node.data_dir / "epcis-queries.json")

    async def capture_response(request: Request, single: bool) -> Response:
        behaviour = request.headers.get("gs1-capture-error-behaviour", "rollback").strip()
        if behaviour.lower() not in ("rollback", "proceed"):
            raise FieldError("GS1-Capture-Error-Behaviour", "must be rollback or proceed")
        body, content_type = await _body(request)
        document = parse_document(body, content_type)
        job = await asyncio.to_thread(
            _capture,
            node,
            jobs,
            in_flight,
            _bearer(request.headers.get("authorization", "")),
            document,
            single,
            behaviour.lower() == "proceed",
        )
        return JSONResponse(
            job.to_json(),
            status_code=202,
            headers={"Location": f"/epcis/capture/{job.id}", **VERSION_HEADERS},
        )

    @router.options("/capture")
    def capture_options() -> Response:
        """Endpoint discovery: what this capture interface takes (the REST binding's
        ``OPTIONS``)."""
        return Response(
            status_code=204,
            headers={
                "Allow": "OPTIONS, POST, GET",
                **VERSION_HEADERS,
                "GS1-EPCIS-Min": EPCIS_VERSION,
                "GS1-EPCIS-Max": EPCIS_VERSION,
                "GS1-EPCIS-Capture-Limit": str(CAPTURE_LIMIT),
                "GS1-EPCIS-Capture-File-Size-Limit": str(MAX_DOCUMENT_BYTES),
                "GS1-Capture-Error-Behaviour": "rollback, proceed",
            },
        )

    @router.post("/capture", status_code=202)
    async def capture(request: Request) -> Response:
        """Capture an EPCISDocument or EPCISQueryDocument (JSON, JSON-LD or XML): whole or
        not at all, or with ``GS1-Capture-Error-Behaviour: proceed`` every event the
        ledger admits."""
        return await capture_response(request, single=False)

    @router.post("/events", status_code=202)
    async def capture_event(request: Request) -> Response:
        """Capture one event (with its @context)."""
        return await capture_response(request, single=True)

    @router.get("/capture")
    def capture_jobs(request: Request) -> Response:
        """The jobs kept, oldest first, a page at a time (``perPage``, ``nextPageToken``)."""
        params = dict(request.query_params)
        per_page, cursor = _page(params)
        # The token is a job's sequence number, not an offset: evicting finished jobs
        # from the front would shift offsets and skip jobs between pages.
        kept = [job for job in jobs.all() if job.seq >= cursor]
        page = kept[:per_page]
        return JSONResponse(
            [job.to_json() for job in page],
            headers=_next_page(
                request, params, per_page, page[-1].seq + 1 if len(kept) > per_page else None
            ),
        )

    @router.get("/capture/{capture_id}")
    def capture_job(capture_id: str, request: Request) -> Response:
        gzipped = accepts_gzip(request)
        headers = {"Vary": "Accept-Encoding"} | ({"Content-Encoding": "gzip"} if gzipped else {})
        return Response(
            jobs.body(capture_id, gzipped), media_type="application/json", headers=headers
        )

    @router.get("/events")
    def events(request: Request) -> Response:
        """Simple event query: eventType, EQ_bizStep, MATCH_epc, GE_eventTime, ..."""
        params = dict(request.query_params)
        per_page, offset = _page(params)
        records = select_events(node.state(), params)
        return _events_response(request, records, per_page, offset, params)

    @router.get("/events/{event_id:path}")
    def event(event_id: str) -> Response:
        record = find_event(node.state(), event_id)
        if record is None:
            raise OutOfRangeError(f"no event {event_id}")
        return JSONResponse(
            result_event(record) | {"@context": RESULT_CONTEXT},
            media_type="application/ld+json",
        )

    @router.get("/epcs/{epc:path}/events")
    def epc_events(epc: str, request: Request) -> Response:
        params = dict(request.query_params)
        per_page, offset = _page(params)
        records = select_events(node.state(), {**params, "MATCH_anyEPC": epc})
        return _events_response(request, records, per_page, offset, params)

    _add_query_routes(router, node, subscriptions)
    _add_stream_route(router, node, subscriptions)

    for path, field_name in [
        ("eventTypes", "eventType"),
        ("bizSteps", "bizStep"),
        ("bizLocations", "bizLocation"),
        ("readPoints", "readPoint"),
        ("dispositions", "disposition"),
    ]:
        router.add_api_route(
            f"/{path}",
            functools.partial(_vocab, node, field_name),
            methods=["GET"],
            name=path,
        )
    return router


def _add_query_routes(router: APIRouter, node: Node, subscriptions: Subscriptions) -> None:
    """Named queries, their webhook subscriptions, and their WebSocket streams; every one
    needs a member's token (401 without), and changes need the owner or its admin (403)."""

    def member(request: Request) -> str:
        return node.tokens.member(_bearer(request.headers.get("authorization", "")))

    @router.post("/queries", status_code=201)
    async def create_query(request: Request) -> Response:
        """Store a named query: ``{"name": ..., "query": {"EQ_bizStep": ["shipping"], ...}}``."""
        owner = member(request)
        data = await _json_object(request)
        try:
            subscriptions.create(data.get("name"), data.get("query"), owner)
        except DuplicateQueryError as exc:
            return problem(409, "duplicate-query", "Query exists", str(exc), field="name")
        name = data["name"]
        return JSONResponse(
            {"name": name, "query": data["query"], "owner": owner},
            status_code=201,
            headers={"Location": f"/epcis/queries/{name}"},
        )

    @router.get("/queries")
    def list_queries(request: Request) -> list[dict[str, Any]]:
        member(request)
        return [
            {"name": n, "query": q, "owner": subscriptions.owners.get(n, "")}
            for n, q in list(subscriptions.queries.items())
        ]

    @router.get("/queries/{name}")
    def get_query(name: str, request: Request) -> dict[str, Any]:
        member(request)
        return {"name": name, "query": subscriptions.get(name), "owner": subscriptions.owner(name)}

    @router.delete("/queries/{name}", status_code=204)
    def delete_query(name: str, request: Request) -> Response:
        subscriptions.delete(name, member(request))
        return Response(status_code=204)

    @router.get("/queries/{name}/events")
    def run_query(name: str, request: Request) -> Response:
        member(request)
        params = dict(request.query_params)
        per_page, offset = _page(params)
        records = select_events(node.state(), subscriptions.params(name))
        return _events_response(request, records, per_page, offset, params)

    @router.post("/queries/{name}/subscriptions", status_code=201)
    async def subscribe(name: str, request: Request) -> Response:
        """A webhook: ``{"dest": URL, "stream": true}`` or ``{"dest": URL, "schedule": {...}}``.
        ``dest`` must be a public address unless the operator allows it (see
        :mod:`.webhooks`)."""
        owner = member(request)
        data = await _json_object(request)
        # Resolving dest is blocking I/O: off the event loop.
        hook = await asyncio.to_thread(subscriptions.subscribe, name, data, owner)
        return JSONResponse(
            hook.to_json(),
            status_code=201,
            headers={"Location": f"/epcis/queries/{name}/subscriptions/{hook.id}"},
        )

    @router.get("/queries/{name}/subscriptions")
    def list_subscriptions(name: str, request: Request) -> list[dict[str, Any]]:
        who = member(request)
        return [
            h.to_json(full=subscriptions.may_manage(h.owner, who))
            for h in subscriptions.hooks_of(name)
        ]

    @router.get("/queries/{name}/subscriptions/{hook_id}")
    def get_subscription(name: str, hook_id: str, request: Request) -> dict[str, Any]:
        who = member(request)
        hook = subscriptions.hook(name, hook_id)
        return hook.to_json(full=subscriptions.may_manage(hook.owner, who))

    @router.delete("/queries/{name}/subscriptions/{hook_id}", status_code=204)
    def unsubscribe(name: str, hook_id: str, request: Request) -> Response:
        subscriptions.unsubscribe(name, hook_id, member(request))
        return Response(status_code=204)


def _add_stream_route(router: APIRouter, node: Node, subscriptions: Subscriptions) -> None:
    """A named query's WebSocket stream."""

    @router.websocket("/queries/{name}/events")
    async def stream_query(socket: WebSocket, name: str) -> None:
        """``?stream=true`` or schedule parameters: one EPCISQueryDocument per message.
        The handshake carries the member's token (``Authorization: Bearer``)."""
        params = dict(socket.query_params)
        schedule = {k: v for k, v in params.items() if k in SCHEDULE_NAMES}
        await socket.accept()
        try:
            node.tokens.member(_bearer(socket.headers.get("authorization", "")))
        except UnknownTokenError as exc:
            await socket.close(code=4401, reason=str(exc)[:120])
            return
        try:
            terms = subscription_terms(
                {
                    "stream": params.get("stream", "false").lower() == "true",
                    "schedule": schedule or None,
                    "reportIfEmpty": params.get("reportIfEmpty", "false").lower() == "true",
                }
            )
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            loop = asyncio.get_running_loop()

            def sink(doc: dict[str, Any]) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, doc)

            sub = subscriptions.attach(name, terms, sink)
        except BadInputError as exc:  # no such query, or bad stream/schedule terms
            code = 4404 if isinstance(exc, OutOfRangeError) else 4400
            await socket.close(code=code, reason=str(exc)[:120])
            return
        try:
            while document := await queue.get():
                await socket.send_text(orjson.dumps(document).decode())
            await socket.close(code=1000, reason="query deleted")
        except WebSocketDisconnect:
            pass
        finally:
            subscriptions.detach(sub.id)


def _vocab(node: Node, field_name: str) -> dict[str, Any]:
    values = vocabulary(node.state(), field_name)
    return {"type": "Collection", "member": values, "links": [quote(v, safe="") for v in values]}


__all__ = ["EpcisDocumentError", "create_router"]
