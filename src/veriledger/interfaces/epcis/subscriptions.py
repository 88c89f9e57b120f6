"""EPCIS named queries and their subscriptions: webhooks and WebSocket streams.

A named query (``POST /epcis/queries``) is a stored set of simple-event-query
parameters. A client subscribes to it in one of two ways the REST binding defines,
each either *streaming* (every block's new matching events, as soon as the block
commits) or *scheduled* (cron-like ``second``/``minute``/``hour``/``dayOfMonth``/
``month``/``dayOfWeek`` fields, sending what was recorded since the last run):

- a webhook (``POST /epcis/queries/{name}/subscriptions`` with ``dest``): each result
  is POSTed to ``dest`` as an EPCISQueryDocument, retried with backoff. With a
  ``signatureToken`` the body is signed: ``GS1-Signature: sha256=<hex HMAC-SHA256 of
  the body keyed by the token>``. The token is never returned.
- a WebSocket on ``/epcis/queries/{name}/events?stream=true`` (or with schedule
  parameters), one EPCISQueryDocument per message.

Every request needs a member's API token. A named query and a webhook belong to the
member that made it: only that member, or an admin of its organisation, may delete it
(deleting a query deletes its subscriptions, as the standard says). A subscription's
``dest``, delivery counts and ``lastError`` are shown to those same members only, so
no member learns how another's receiver answers. Where a webhook may POST is
:mod:`.webhooks`' business: public addresses only, unless the operator allows a
destination; each delivery connects to the address it checked, and follows no redirect.

Matching runs on committed events only, so a subscriber never sees an event that is
not on the ledger. Webhooks are delivered at least once and in order: results wait
in the subscription's backlog, retried with backoff, until the receiver accepts
them; each subscription remembers the record time of the last block it was sent,
and after a restart the node sends what was committed since.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from veriledger.chain.blocks import BlockHeader
from veriledger.chain.storage import TxRow
from veriledger.core.errors import BadInputError, OutOfRangeError
from veriledger.interfaces.epcis import webhooks
from veriledger.interfaces.epcis.documents import query_document, result_event
from veriledger.interfaces.http.problems import ForbiddenError
from veriledger.modules.identity.module import ADMIN, member_key
from veriledger.modules.trace.module import iso_ms, stored_event
from veriledger.modules.trace.queries import matches, query_params, select_events
from veriledger.node.datadir import write_private
from veriledger.node.node import Node

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
MAX_QUERIES = 1000
MAX_SUBSCRIPTIONS = 1000
RETRY_SECONDS = (0.2, 1.0, 5.0, 30.0)  # then every 30 s while the node runs
MAX_BACKLOG_EVENTS = 50_000  # beyond this a webhook is resynchronised from the ledger
MAX_POST_EVENTS = 1_000
# Field, lowest and highest value, in the order the REST binding lists them.
SCHEDULE_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("dayOfMonth", 1, 31),
    ("month", 1, 12),
    ("dayOfWeek", 1, 7),
)


class FieldError(BadInputError):
    """A query or subscription request field that cannot be accepted, by name."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class DuplicateQueryError(FieldError):
    """A named query of that name exists (HTTP 409 is given by the router)."""


def parse_schedule(raw: Any, prefix: str = "schedule") -> dict[str, frozenset[int]]:
    """A query schedule as sets of allowed values, field by field.

    Each field is a comma-separated list of numbers and ``[low-high]`` ranges, as
    ``query-schedule.json`` writes them. An omitted ``second`` means 0 and any other
    omitted field means every value (the EPCIS 1.2 reading: ``{"hour": "1",
    "minute": "5"}`` runs once a day at 01:05:00, as the REST binding's example says).
    ``dayOfWeek`` runs 1 (Monday) to 7 (Sunday), as ISO 8601 numbers them.

    Raises:
        BadInputError: naming the field that cannot be read.
    """
    if not isinstance(raw, dict) or not raw:
        raise FieldError(prefix, "an object with at least one of second ... dayOfWeek")
    known = {name for name, _, _ in SCHEDULE_FIELDS}
    for name in raw:
        if name not in known:
            raise FieldError(f"{prefix}.{name}", "not a schedule field")
    out: dict[str, frozenset[int]] = {}
    for name, low, high in SCHEDULE_FIELDS:
        value = raw.get(name)
        if value is None:
            out[name] = frozenset({0}) if name == "second" else frozenset(range(low, high + 1))
            continue
        out[name] = _schedule_values(value, low, high, f"{prefix}.{name}")
    return out


def _schedule_values(value: Any, low: int, high: int, where: str) -> frozenset[int]:
    if not isinstance(value, str) or not value:
        raise FieldError(where, "a string such as '5', '1,15' or '[1-5]'")
    allowed: set[int] = set()
    for part in value.split(","):
        first, _, last = part.strip().removeprefix("[").removesuffix("]").partition("-")
        if not _ascii_number(first) or (last and not _ascii_number(last)):
            raise FieldError(where, f"{part!r} is not a number or a [low-high] range")
        a, b = int(first), int(last or first)
        if not low <= a <= b <= high:
            raise FieldError(where, f"{part!r} is outside {low} to {high}")
        allowed.update(range(a, b + 1))
    return frozenset(allowed)


def _ascii_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes '²' and other digits ``int`` refuses."""
    return text.isascii() and text.isdigit()


def schedule_due(schedule: dict[str, frozenset[int]], when: datetime) -> bool:
    """Whether a schedule fires in the UTC second ``when`` falls in."""
    return (
        when.second in schedule["second"]
        and when.minute in schedule["minute"]
        and when.hour in schedule["hour"]
        and when.day in schedule["dayOfMonth"]
        and when.month in schedule["month"]
        and when.isoweekday() in schedule["dayOfWeek"]
    )


def signature(token: str, body: bytes) -> str:
    """The ``GS1-Signature`` header value for a webhook body."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Subscription:
    """One subscriber; webhooks are persisted, WebSockets live as long as their socket."""

    id: str
    query: str
    created: int
    owner: str = ""
    """The member that made it ("org/name"); empty for one made before owners were kept."""
    dest: str = ""
    signature_token: str = ""
    stream: bool = False
    schedule: dict[str, str] | None = None
    report_if_empty: bool = False
    watermark: int = 0  # record time (ms) of the newest block already sent
    delivered: int = 0
    failures: int = 0
    last_error: str = ""
    sink: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False)
    backlog: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list, repr=False)
    """Results not yet delivered, oldest first: ``(record time of their block, records)``."""
    draining: bool = field(default=False, repr=False)
    resync: bool = field(default=False, repr=False)
    """The backlog overflowed: send what the ledger recorded since the watermark instead."""

    @property
    def parsed_schedule(self) -> dict[str, frozenset[int]] | None:
        return None if self.schedule is None else parse_schedule(self.schedule)

    def to_json(self, full: bool = True) -> dict[str, Any]:
        """The subscription as the API shows it; ``full`` (for its owner or an admin of
        the owner's organisation) adds where it sends and how that went."""
        out: dict[str, Any] = {
            "subscriptionID": self.id,
            "queryName": self.query,
            "owner": self.owner,
            "createdAt": iso_ms(self.created),
            "reportIfEmpty": self.report_if_empty,
        }
        if full:
            out |= {
                "dest": self.dest,
                "delivered": self.delivered,
                "failures": self.failures,
                "lastError": self.last_error,
            }
        if self.stream:
            out["stream"] = True
        if self.schedule is not None:
            out["schedule"] = self.schedule
        if self.watermark:
            out["lastRecordTime"] = iso_ms(self.watermark)
        return out

    def saved(self) -> dict[str, Any]:
        data = asdict(self)
        for runtime in ("sink", "backlog", "draining", "resync"):
            del data[runtime]
        return data


def subscription_terms(data: dict[str, Any]) -> dict[str, Any]:
    """Check a subscription request's ``stream``/``schedule``/``reportIfEmpty``.

    The REST binding makes the client choose: ``stream: true`` or a schedule, never
    both and never neither, so that nobody subscribes to a firehose by accident.

    Raises:
        BadInputError: naming the field.
    """
    stream = data.get("stream", False)
    schedule = data.get("schedule")
    report_if_empty = data.get("reportIfEmpty", False)
    if not isinstance(stream, bool):
        raise FieldError("stream", "true or false")
    if not isinstance(report_if_empty, bool):
        raise FieldError("reportIfEmpty", "true or false")
    if stream and schedule is not None:
        raise FieldError("stream", "a subscription streams or is scheduled, not both")
    if not stream and schedule is None:
        raise FieldError("stream", "set stream to true, or give a schedule")
    if schedule is not None:
        parse_schedule(schedule)
    return {"stream": stream, "schedule": schedule, "report_if_empty": report_if_empty}


class Subscriptions:
    """Named queries and webhooks (persisted in the data directory), and live sockets."""

    def __init__(self, node: Node, path: Path) -> None:
        self.node = node
        self.path = path
        self.queries: dict[str, dict[str, Any]] = {}
        self.owners: dict[str, str] = {}
        """Each named query's owner; a query saved before owners were kept has none."""
        self.subscribers: dict[str, Subscription] = {}
        self._lock = threading.Lock()
        self._senders = ThreadPoolExecutor(4, thread_name_prefix="epcis-webhook")
        self._stop = threading.Event()
        if path.exists():
            saved = orjson.loads(path.read_bytes())
            self.queries = saved.get("queries", {})
            self.owners = saved.get("owners", {})
            for data in saved.get("subscriptions", []):
                hook = Subscription(**data)
                self.subscribers[hook.id] = hook
        node.on_commit(self.committed)
        node.on_close(self.close)
        self._catch_up()
        self._clock = threading.Thread(target=self._tick, name="epcis-schedule", daemon=True)
        self._clock.start()

    def _save(self) -> None:
        data = {
            "queries": self.queries,
            "owners": self.owners,
            "subscriptions": [s.saved() for s in self.subscribers.values() if s.sink is None],
        }
        # Webhook signature tokens are secrets: the file is private, like the API tokens.
        write_private(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2))

    # --- who may ------------------------------------------------------------------------

    def member_record(self, member: str) -> dict[str, Any]:
        """The ledger's record of an active member.

        Raises:
            ForbiddenError: the member was removed (its token outlived it).
        """
        record = self.node.state().get(member_key(member))
        if not isinstance(record, dict) or record.get("status") != "active":
            raise ForbiddenError(f"member {member} is not an active member")
        return record

    def may_manage(self, owner: str, member: str) -> bool:
        """Whether ``member`` may see in full, change or delete what ``owner`` made: the
        owner itself, or an admin of the owner's organisation (of any organisation for
        something made before owners were kept)."""
        record = self.member_record(member)
        if owner == member:
            return True
        roles = record.get("roles", ())
        return ADMIN in roles and (not owner or record.get("org") == owner.split("/", 1)[0])

    def _check_manage(self, owner: str, member: str, what: str) -> None:
        if not self.may_manage(owner, member):
            org = owner.split("/", 1)[0]
            raise ForbiddenError(
                f"{what} belongs to {owner}: only it or an admin of {org} may change it"
            )

    # --- named queries ------------------------------------------------------------------

    def create(self, name: Any, query: Any, owner: str) -> None:
        """Store a named query for ``owner``.

        Raises:
            BadInputError: a bad name or parameter; DuplicateQueryError: name taken;
                ForbiddenError: the owner is no longer an active member.
        """
        if not isinstance(name, str) or not name or not set(name) <= NAME_CHARS or len(name) > 64:
            raise FieldError("name", "1 to 64 letters, digits, '-', '_' or '.'")
        query_params(query)
        self.member_record(owner)
        with self._lock:
            if name in self.queries:
                raise DuplicateQueryError("name", f"a query named {name!r} exists")
            if len(self.queries) >= MAX_QUERIES:
                raise FieldError("name", f"at most {MAX_QUERIES} named queries")
            self.queries[name] = query
            self.owners[name] = owner
            self._save()

    def owner(self, name: str) -> str:
        self.get(name)
        return self.owners.get(name, "")

    def get(self, name: str) -> dict[str, Any]:
        query = self.queries.get(name)
        if query is None:
            raise OutOfRangeError(f"no query named {name!r}")
        return query

    def params(self, name: str) -> dict[str, str]:
        return query_params(self.get(name))

    def delete(self, name: str, member: str) -> None:
        """Remove a query and, as the standard says, every subscription to it.

        Raises:
            OutOfRangeError: no such query; ForbiddenError: ``member`` may not.
        """
        self._check_manage(self.owner(name), member, f"query {name!r}")
        with self._lock:
            self.get(name)
            del self.queries[name]
            self.owners.pop(name, None)
            dropped = [s for s in self.subscribers.values() if s.query == name]
            for sub in dropped:
                del self.subscribers[sub.id]
            self._save()
        for sub in dropped:
            if sub.sink is not None:
                sub.sink({})  # an empty message tells the socket to close

    # --- subscribers --------------------------------------------------------------------

    def subscribe(self, name: str, data: dict[str, Any], owner: str) -> Subscription:
        """A webhook subscription from a request body (``dest``, ``signatureToken``...),
        for ``owner``. It resolves ``dest``: call it off the event loop.

        Raises:
            OutOfRangeError: no such query; BadInputError: naming the bad field (``dest``
                when it is not a public address the operator did not allow);
                ForbiddenError: the owner is no longer an active member.
        """
        self.get(name)
        dest = data.get("dest")
        if not isinstance(dest, str) or not dest.startswith(("http://", "https://")):
            raise FieldError("dest", "an http(s) URL to POST results to")
        token = data.get("signatureToken", "")
        if not isinstance(token, str):
            raise FieldError("signatureToken", "a string")
        unknown = set(data) - {"dest", "signatureToken", "stream", "schedule", "reportIfEmpty"}
        if unknown:
            raise FieldError(sorted(unknown)[0], "not a subscription field")
        terms = subscription_terms(data)
        self.member_record(owner)
        webhooks.check(dest)
        hook = Subscription(
            uuid.uuid4().hex,
            name,
            int(time.time() * 1000),
            owner=owner,
            dest=dest,
            signature_token=token,
            watermark=self.node.head().time,
            **terms,
        )
        with self._lock:
            if len(self.subscribers) >= MAX_SUBSCRIPTIONS:
                raise FieldError("dest", f"at most {MAX_SUBSCRIPTIONS} subscriptions")
            self.subscribers[hook.id] = hook
            self._save()
        return hook

    def attach(
        self, name: str, terms: dict[str, Any], sink: Callable[[dict[str, Any]], None]
    ) -> Subscription:
        """A live subscriber (a WebSocket) that receives documents through ``sink``."""
        self.get(name)
        sub = Subscription(
            uuid.uuid4().hex,
            name,
            int(time.time() * 1000),
            watermark=self.node.head().time,
            sink=sink,
            **terms,
        )
        with self._lock:
            self.subscribers[sub.id] = sub
        return sub

    def detach(self, sub_id: str) -> None:
        with self._lock:
            self.subscribers.pop(sub_id, None)

    def hook(self, name: str, hook_id: str) -> Subscription:
        hook = self.subscribers.get(hook_id)
        if hook is None or hook.query != name or hook.sink is not None:
            raise OutOfRangeError(f"no subscription {hook_id} on query {name!r}")
        return hook

    def hooks_of(self, name: str) -> list[Subscription]:
        self.get(name)
        return [s for s in self.subscribers.values() if s.query == name and s.sink is None]

    def unsubscribe(self, name: str, hook_id: str, member: str) -> None:
        """Remove a webhook.

        Raises:
            OutOfRangeError: no such subscription; ForbiddenError: ``member`` may not.
        """
        hook = self.hook(name, hook_id)
        self._check_manage(hook.owner, member, f"subscription {hook_id}")
        with self._lock:
            self.hook(name, hook_id)
            del self.subscribers[hook_id]
            self._save()

    # --- delivery -----------------------------------------------------------------------

    def committed(self, header: BlockHeader, rows: list[TxRow]) -> None:
        """After a block: hand each streaming subscriber the block's matching events."""
        streaming = [s for s in list(self.subscribers.values()) if s.stream]
        keys = [
            e["event"]
            for row in rows
            if row.accepted
            for e in row.events
            if e.get("type") == "trace.captured"
        ]
        if not streaming or not keys:
            return
        state = self.node.state()
        records = [r for k in keys if (r := stored_event(state, k)) is not None]
        for sub in streaming:
            try:
                params = self.params(sub.query)
            except (OutOfRangeError, BadInputError):
                continue  # the query was deleted under us
            found = [r for r in records if matches(r["event"], params)]
            if found:
                self._send(sub, found, header.time)

    def _send(self, sub: Subscription, records: list[dict[str, Any]], until: int) -> None:
        if sub.sink is not None:
            sub.watermark = until
            sub.sink(query_document([result_event(r) for r in records], sub.query))
            return
        with self._lock:
            sub.backlog.append((until, records))
            if sum(len(r) for _, r in sub.backlog) > MAX_BACKLOG_EVENTS:
                # The receiver is far behind: forget the copies and resend from the
                # ledger, from the watermark, once it answers again.
                sub.backlog = [(until, [])]
                sub.resync = True
            if sub.draining:
                return
            sub.draining = True
        self._senders.submit(self._drain, sub)

    def _drain(self, hook: Subscription) -> None:
        """POST a webhook's backlog in order, retrying until it is accepted.

        Results leave the backlog, and the watermark moves past them, only once the
        receiver answered 2xx, so a receiver that is down for a while gets every
        result when it is back, in order; after a restart the watermark resumes it.
        """
        attempt = 0
        while not self._stop.is_set() and hook.id in self.subscribers:
            with self._lock:
                if not hook.backlog:
                    hook.draining = False
                    return
                batch: list[tuple[int, list[dict[str, Any]]]] = []
                size = 0
                for until, records in hook.backlog:
                    if batch and size + len(records) > MAX_POST_EVENTS:
                        break
                    batch.append((until, records))
                    size += len(records)
            until = batch[-1][0]
            records = [r for _, part in batch for r in part]
            if hook.resync:
                records = self._since(hook, until)
            if self._post(hook, records):
                attempt = 0
                with self._lock:
                    del hook.backlog[: len(batch)]
                    hook.delivered += 1
                    hook.watermark = max(hook.watermark, until)
                    hook.last_error = ""
                    hook.resync = False
                    if hook.id in self.subscribers:
                        self._save()
            else:
                hook.failures += 1
                self._stop.wait(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                attempt += 1
        with self._lock:
            hook.draining = False

    def _post(self, hook: Subscription, records: list[dict[str, Any]]) -> bool:
        """POST one result to the webhook: to the address just checked (the URL's host
        stays in ``Host`` and in TLS), never following a redirect."""
        try:
            dest = webhooks.check(hook.dest)
        except webhooks.DestinationError as exc:
            hook.last_error = f"not sent: {exc.reason}"[:300]
            return False
        body = orjson.dumps(query_document([result_event(r) for r in records], hook.query))
        headers = {
            "Host": dest.host_header,
            "Content-Type": "application/ld+json",
            "GS1-Query-Name": hook.query,
            "GS1-Subscription-ID": hook.id,
        }
        if hook.signature_token:
            headers["GS1-Signature"] = signature(hook.signature_token, body)
        try:
            # trust_env off: no proxy from the environment may stand in for the address.
            with httpx.Client(timeout=10, follow_redirects=False, trust_env=False) as client:
                response = client.post(
                    dest.connect_url,
                    content=body,
                    headers=headers,
                    extensions={"sni_hostname": dest.host},
                )
        except httpx.HTTPError as exc:
            hook.last_error = f"{type(exc).__name__}: {exc}"[:300]
            return False
        if response.status_code >= 300:
            hook.last_error = f"HTTP {response.status_code}"
            return False
        return True

    def _since(self, sub: Subscription, until: int) -> list[dict[str, Any]]:
        """What the subscriber's query found recorded after its watermark, up to ``until``."""
        params = {**self.params(sub.query), "GE_recordTime": iso_ms(sub.watermark + 1)}
        params["LT_recordTime"] = iso_ms(until + 1)
        return select_events(self.node.state(), params)

    def _catch_up(self) -> None:
        """Send streaming webhooks what was committed while this node was down."""
        head = self.node.head().time
        for sub in list(self.subscribers.values()):
            if sub.stream and sub.watermark < head:
                found = self._since(sub, head)
                if found:
                    self._send(sub, found, head)

    def run_schedules(self, now: datetime) -> None:
        """Fire every scheduled subscriber due in the UTC second ``now``."""
        for sub in list(self.subscribers.values()):
            schedule = sub.parsed_schedule
            if schedule is None or not schedule_due(schedule, now) or sub.backlog:
                continue  # not due, or the last run's results are still on their way
            head = self.node.head().time
            try:
                found = self._since(sub, head)
            except (OutOfRangeError, BadInputError):
                continue
            if found or sub.report_if_empty:
                self._send(sub, found, head)
            else:
                sub.watermark = head

    def _tick(self) -> None:
        last = int(time.time())
        while not self._stop.wait(max(0.0, last + 1 - time.time())):
            now = int(time.time())
            for second in range(last + 1, now + 1):  # no second skipped if the clock lags
                self.run_schedules(datetime.fromtimestamp(second, UTC))
            last = max(last, now)

    def close(self) -> None:
        self._stop.set()
        self._senders.shutdown(wait=False, cancel_futures=True)
