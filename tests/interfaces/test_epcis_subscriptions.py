"""EPCIS named queries, webhook subscriptions and WebSocket streams, over real loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.interfaces.test_epcis_capture import _capture, _doc, _event, _finish
from veriledger.core.errors import BadInputError
from veriledger.interfaces.epcis.subscriptions import (
    FieldError,
    Subscriptions,
    parse_schedule,
    schedule_due,
    signature,
    subscription_terms,
)
from veriledger.interfaces.epcis.webhooks import ALLOW_ENV
from veriledger.modules.trace.queries import QueryParameterError, query_params
from veriledger.node.demo import create_demo
from veriledger.node.node import Node

Received = list[dict[str, Any]]


@pytest.fixture(scope="module")
def token(demo_node: Node) -> str:
    creds = orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())
    return str(creds["aurora"]["aurora/ben"])


@pytest.fixture(scope="module")
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _allow(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Let webhooks reach a receiver on loopback, as the operator's allow-list would."""
    origin = "/".join(url.split("/", 3)[:3])
    monkeypatch.setenv(ALLOW_ENV, origin)


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Received]]:
    received: Received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["content-length"]))
            received.append({"headers": dict(self.headers), "raw": raw, "body": json.loads(raw)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    _allow(monkeypatch, url)
    yield url, received
    server.shutdown()
    server.server_close()


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def _wait_for(received: Received, count: int = 1, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(received) >= count, f"the webhook got {len(received)} of {count} posts"


def _query(url: str, query: dict[str, Any], auth: dict[str, str]) -> str:
    name = f"q-{uuid.uuid4().hex[:8]}"
    created = httpx.post(f"{url}/epcis/queries", json={"name": name, "query": query}, headers=auth)
    assert created.status_code == 201, created.text
    return name


# --- schedules and signatures, pure -------------------------------------------------------


def test_schedule_of_the_rest_binding_example_runs_once_a_day() -> None:
    schedule = parse_schedule({"hour": "1", "minute": "5"})
    assert schedule_due(schedule, datetime(2026, 12, 1, 1, 5, 0, tzinfo=UTC))
    assert not schedule_due(schedule, datetime(2026, 12, 1, 1, 5, 1, tzinfo=UTC))
    assert not schedule_due(schedule, datetime(2026, 12, 1, 2, 5, 0, tzinfo=UTC))


def test_schedule_lists_ranges_and_weekdays() -> None:
    schedule = parse_schedule({"second": "0,30", "minute": "[10-12]", "dayOfWeek": "[1-5]"})
    monday, sunday = (
        datetime(2026, 11, 30, 7, 11, 30, tzinfo=UTC),
        datetime(2026, 11, 29, tzinfo=UTC),
    )
    assert schedule_due(schedule, monday)
    assert not schedule_due(schedule, monday.replace(minute=13))
    assert not schedule_due(schedule, sunday.replace(minute=10))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "schedule"),
        ({"hour": "24"}, "schedule.hour"),
        ({"minute": "[5-2]"}, "schedule.minute"),
        ({"dayOfMonth": "0"}, "schedule.dayOfMonth"),
        ({"second": 5}, "schedule.second"),
        ({"weekday": "1"}, "schedule.weekday"),
        ({"month": "1,x"}, "schedule.month"),
    ],
)
def test_bad_schedules_name_their_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_schedule(raw)
    assert caught.value.field == field


def test_signature_is_rfc4231_hmac_sha256() -> None:
    # RFC 4231 test case 2.
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


# --- over HTTP ----------------------------------------------------------------------------


def test_named_query_crud_and_bad_bodies(demo_url: str, auth: dict[str, str]) -> None:
    name = _query(
        demo_url, {"EQ_bizStep": ["shipping", "receiving"], "eventType": ["ObjectEvent"]}, auth
    )
    got = httpx.get(f"{demo_url}/epcis/queries/{name}", headers=auth).json()
    assert got == {
        "name": name,
        "query": {"EQ_bizStep": ["shipping", "receiving"], "eventType": ["ObjectEvent"]},
        "owner": "aurora/ben",
    }
    assert any(
        q["name"] == name for q in httpx.get(f"{demo_url}/epcis/queries", headers=auth).json()
    )
    again = httpx.post(f"{demo_url}/epcis/queries", json={"name": name, "query": {}}, headers=auth)
    assert again.status_code == 409 and again.json()["field"] == "name"
    for body, field in [
        ({"name": "a b", "query": {}}, "name"),
        ({"name": "x1", "query": {"EQ_bizStep": 1}}, "query.EQ_bizStep"),
        ({"name": "x2", "query": {"MATCH_everything": ["a"]}}, "query.MATCH_everything"),
        ({"name": "x3", "query": {"perPage": 5}}, "query.perPage"),
        ({"name": "x4", "query": {"GE_eventTime": "yesterday"}}, "GE_eventTime"),
        ({"name": "x5", "query": ["EQ_bizStep"]}, "query"),
    ]:
        bad = httpx.post(f"{demo_url}/epcis/queries", json=body, headers=auth)
        assert bad.status_code == 400, body
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["field"] == field, bad.json()
    assert httpx.get(f"{demo_url}/epcis/queries/x1", headers=auth).status_code == 404
    assert httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=auth).status_code == 204
    assert httpx.get(f"{demo_url}/epcis/queries/{name}", headers=auth).status_code == 404


def test_named_query_results_match_the_url_query(demo_url: str, auth: dict[str, str]) -> None:
    name = _query(demo_url, {"EQ_bizStep": ["commissioning", "receiving"]}, auth)
    named = _events(
        httpx.get(f"{demo_url}/epcis/queries/{name}/events?perPage=1000", headers=auth).json()
    )
    direct = httpx.get(f"{demo_url}/epcis/events?EQ_bizStep=commissioning|receiving&perPage=1000")
    assert named and named == _events(direct.json())
    assert {e["bizStep"] for e in named} == {"commissioning", "receiving"}
    # Vocabulary values match in their URI and URN spellings too.
    urn = httpx.get(
        f"{demo_url}/epcis/events",
        params={
            "EQ_bizStep": "urn:epcglobal:cbv:bizstep:commissioning|https://ref.gs1.org/cbv/BizStep-receiving",
            "perPage": 1000,
        },
    )
    assert _events(urn.json()) == named


def test_streaming_webhook_is_signed(
    demo_url: str, token: str, auth: dict[str, str], webhook: tuple[str, Received]
) -> None:
    dest, received = webhook
    name = _query(demo_url, {"EQ_bizStep": ["shipping"]}, auth)
    sub = httpx.post(
        f"{demo_url}/epcis/queries/{name}/subscriptions",
        json={"dest": dest, "stream": True, "signatureToken": "s3cret"},
        headers=auth,
    )
    assert sub.status_code == 201, sub.text
    hook = sub.json()
    assert (
        sub.headers["location"] == f"/epcis/queries/{name}/subscriptions/{hook['subscriptionID']}"
    )
    assert "signatureToken" not in hook and hook["stream"] is True
    serial = uuid.uuid4().hex[:8]
    events = _doc(_event(serial, step="shipping"), _event(serial + "b", step="commissioning"))
    _finish(demo_url, _capture(demo_url, token, events))
    _wait_for(received)
    post = received[0]
    assert [e["bizStep"] for e in _events(post["body"])] == ["shipping"]
    assert post["body"]["epcisBody"]["queryResults"]["queryName"] == name
    assert post["headers"]["GS1-Query-Name"] == name
    want = "sha256=" + hmac.new(b"s3cret", post["raw"], hashlib.sha256).hexdigest()
    assert post["headers"]["GS1-Signature"] == want
    receipt = _events(post["body"])[0]["vl:receipt"]
    assert (
        httpx.get(demo_url + receipt).headers["content-type"].startswith("application/tlog-proof")
    )
    url = f"{demo_url}/epcis/queries/{name}/subscriptions/{hook['subscriptionID']}"
    detail = httpx.get(url, headers=auth).json()
    assert detail["delivered"] >= 1 and detail["lastRecordTime"]
    assert [
        h["subscriptionID"]
        for h in httpx.get(f"{demo_url}/epcis/queries/{name}/subscriptions", headers=auth).json()
    ] == [hook["subscriptionID"]]
    assert httpx.delete(url, headers=auth).status_code == 204
    assert httpx.get(url, headers=auth).status_code == 404


def test_scheduled_webhook_sends_what_was_recorded_since(
    demo_url: str, token: str, auth: dict[str, str], webhook: tuple[str, Received]
) -> None:
    dest, received = webhook
    epc_serial = uuid.uuid4().hex[:8]
    name = _query(demo_url, {"MATCH_epc": [f"urn:epc:id:sgtin:4012345.000001.{epc_serial}"]}, auth)
    sub = httpx.post(
        f"{demo_url}/epcis/queries/{name}/subscriptions",
        json={"dest": dest, "schedule": {"second": "[0-59]"}},  # every second
        headers=auth,
    )
    assert sub.status_code == 201, sub.text
    _finish(demo_url, _capture(demo_url, token, _doc(_event(epc_serial))))
    _wait_for(received)
    assert len(_events(received[0]["body"])) == 1
    time.sleep(2.5)  # later runs find nothing new, and reportIfEmpty is off
    assert len(received) == 1
    httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=auth)


def test_subscription_bodies_are_checked(
    demo_url: str, auth: dict[str, str], webhook: tuple[str, Received]
) -> None:
    dest, _ = webhook
    name = _query(demo_url, {"EQ_bizStep": ["shipping"]}, auth)
    url = f"{demo_url}/epcis/queries/{name}/subscriptions"
    for body, field in [
        ({"dest": dest}, "stream"),
        ({"dest": dest, "stream": True, "schedule": {"hour": "1"}}, "stream"),
        ({"dest": "ftp://x", "stream": True}, "dest"),
        ({"dest": dest, "schedule": {"hour": "25"}}, "schedule.hour"),
        ({"dest": dest, "stream": True, "signatureToken": 7}, "signatureToken"),
        ({"dest": dest, "stream": True, "queryName": "x"}, "queryName"),
    ]:
        bad = httpx.post(url, json=body, headers=auth)
        assert bad.status_code == 400 and bad.json()["field"] == field, (body, bad.text)
    missing = httpx.post(
        f"{demo_url}/epcis/queries/nope/subscriptions",
        json={"dest": dest, "stream": True},
        headers=auth,
    )
    assert missing.status_code == 404


def test_websocket_stream_and_query_deletion(
    demo_url: str, token: str, auth: dict[str, str]
) -> None:
    epc = f"urn:epc:id:sgtin:4012345.000001.w{uuid.uuid4().hex[:8]}"
    name = _query(demo_url, {"MATCH_epc": [epc]}, auth)
    base = demo_url.replace("http://", "ws://") + f"/epcis/queries/{name}/events"

    async def listen() -> tuple[dict[str, Any], int | None]:
        async with websockets.connect(base + "?stream=true", additional_headers=auth) as socket:
            await asyncio.sleep(0.2)
            event = {**_event("x"), "epcList": [epc]}
            await asyncio.to_thread(
                lambda: _finish(demo_url, _capture(demo_url, token, _doc(event)))
            )
            document = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
            await asyncio.to_thread(
                lambda: httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=auth)
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), timeout=10)
            return document, closed.value.rcvd.code if closed.value.rcvd else None

    document, code = asyncio.run(listen())
    assert [e["epcList"] for e in _events(document)] == [[epc]]
    assert code == 1000


def test_websocket_needs_stream_or_schedule(demo_url: str, auth: dict[str, str]) -> None:
    name = _query(demo_url, {"EQ_bizStep": ["shipping"]}, auth)
    base = demo_url.replace("http://", "ws://") + "/epcis/queries"

    async def close_code(path: str) -> int | None:
        async with websockets.connect(base + path, additional_headers=auth) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), timeout=10)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(close_code(f"/{name}/events")) == 4400
    assert asyncio.run(close_code(f"/{name}/events?stream=true&hour=1")) == 4400
    assert asyncio.run(close_code("/nope/events?stream=true")) == 4404


# --- restart ------------------------------------------------------------------------------


@pytest.mark.slow
def test_streaming_webhook_catches_up_after_restart(
    tmp_path: Path, webhook: tuple[str, Received]
) -> None:
    """Events committed while the subscription was not listening are sent on restart."""
    dest, received = webhook
    create_demo(tmp_path, block_max_ms=20)
    store = tmp_path / "epcis-queries.json"
    creds = orjson.loads((tmp_path / "credentials.json").read_bytes())
    member_token = creds["aurora"]["aurora/ben"]

    node = Node(tmp_path, signature_workers=0)
    subs = Subscriptions(node, store)
    subs.create("all-commissioning", {"EQ_bizStep": ["commissioning"]}, "aurora/ben")
    subs.subscribe(
        "all-commissioning", {"dest": dest, "stream": True, "signatureToken": "k"}, "aurora/ben"
    )
    assert store.stat().st_mode & 0o777 == 0o600  # it holds the signature token
    node.close()

    node = Node(tmp_path, signature_workers=0)  # no subscriptions running
    serial = uuid.uuid4().hex[:8]
    txs = node.sign_for(
        member_token, [{"type": "trace.capture", "body": {"event": _event(serial)}}]
    )
    assert all(f.result(timeout=10).status == "committed" for f in node.submit(txs))
    node.close()
    assert not received

    node = Node(tmp_path, signature_workers=0)
    try:
        Subscriptions(node, store)
        _wait_for(received)
        events = _events(received[0]["body"])
        assert [e["epcList"] for e in events] == [[f"urn:epc:id:sgtin:4012345.000001.{serial}"]]
    finally:
        node.close()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)
SCHEDULE_KEYS = st.sampled_from(
    ["second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek", "x"]
)


@settings(max_examples=300)
@example({"second": "²"})  # a digit to str.isdigit, not to int()
@given(st.dictionaries(SCHEDULE_KEYS, JSON | st.text(alphabet="0123456789,[]- ", max_size=12)))
def test_any_schedule_parses_or_names_its_field(raw: dict[str, Any]) -> None:
    try:
        schedule = parse_schedule(raw)
    except FieldError as exc:
        field = exc.field
        assert field.startswith("schedule"), field
        return
    assert all(isinstance(v, frozenset) for v in schedule.values())


@settings(max_examples=300)
@given(JSON)
def test_any_query_body_parses_or_is_a_query_parameter_error(body: Any) -> None:
    try:
        params = query_params(body)
    except QueryParameterError as exc:
        field = exc.field
        assert field
        return
    assert all(isinstance(v, str) for v in params.values())


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["stream", "schedule", "reportIfEmpty"]), JSON))
def test_any_subscription_terms_are_checked(data: dict[str, Any]) -> None:
    with contextlib.suppress(BadInputError):
        terms = subscription_terms(data)
        assert terms["stream"] is True or terms["schedule"] is not None


def test_a_receiver_that_was_down_gets_every_result_in_order(
    demo_url: str, token: str, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver answers 503 twice, then 204: the results of two captures made
    meanwhile arrive afterwards, none lost, in ledger order."""
    received: Received = []
    refusals = [2]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["content-length"]))
            if refusals[0] > 0:
                refusals[0] -= 1
                self.send_response(503)
            else:
                received.append(
                    {"headers": dict(self.headers), "raw": raw, "body": json.loads(raw)}
                )
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        serial = uuid.uuid4().hex[:8]
        epcs = [f"urn:epc:id:sgtin:4012345.000001.{serial}{n}" for n in range(2)]
        name = _query(demo_url, {"MATCH_epc": epcs}, auth)
        dest = f"http://127.0.0.1:{server.server_address[1]}/hook"
        _allow(monkeypatch, dest)
        sub = httpx.post(
            f"{demo_url}/epcis/queries/{name}/subscriptions",
            json={"dest": dest, "stream": True},
            headers=auth,
        )
        assert sub.status_code == 201
        for epc in epcs:
            _finish(demo_url, _capture(demo_url, token, _doc({**_event("x"), "epcList": [epc]})))
        deadline = time.monotonic() + 15
        while sum(len(_events(r["body"])) for r in received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        got = [e["epcList"][0] for r in received for e in _events(r["body"])]
        assert got == epcs
        detail = httpx.get(
            f"{demo_url}/epcis/queries/{name}/subscriptions/{sub.json()['subscriptionID']}",
            headers=auth,
        ).json()
        assert detail["failures"] >= 2 and detail["lastError"] == ""
    finally:
        server.shutdown()
        server.server_close()
