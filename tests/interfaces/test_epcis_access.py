"""Attacks on EPCIS named queries and webhooks, over real loopback: anonymous and other
members' changes, webhooks aimed inside the node's network, and leaks through lastError.

Each test asserts the refusal and that nothing was stored (the query store on disk and
the API both say so).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.interfaces.test_epcis_capture import _capture, _doc, _event, _finish
from veriledger.interfaces.epcis import webhooks
from veriledger.node.node import Node

Received = list[dict[str, Any]]


@pytest.fixture(scope="module")
def tokens(demo_node: Node) -> dict[str, str]:
    creds = orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())
    return {member: token for org in creds.values() for member, token in org.items()}


def _auth(tokens: dict[str, str], member: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[member]}"}


def _stored(node: Node) -> str:
    path = node.data_dir / "epcis-queries.json"
    return path.read_text() if path.exists() else ""


def _query(url: str, tokens: dict[str, str], member: str = "aurora/ben") -> str:
    name = f"q-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{url}/epcis/queries",
        json={"name": name, "query": {"EQ_bizStep": ["shipping"]}},
        headers=_auth(tokens, member),
    )
    assert created.status_code == 201, created.text
    return name


def _hooks(url: str, name: str, tokens: dict[str, str]) -> list[dict[str, Any]]:
    listed = httpx.get(
        f"{url}/epcis/queries/{name}/subscriptions", headers=_auth(tokens, "aurora/ben")
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json())


@pytest.fixture
def receiver() -> Iterator[Callable[[int], tuple[str, Received]]]:
    """Start webhook receivers on loopback that answer a given status."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(status: int = 204, location: str = "") -> tuple[str, Received]:
        received: Received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"]))
                received.append({"headers": dict(self.headers), "body": json.loads(raw)})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/hook", received

    yield start  # type: ignore[misc]
    for server in servers:
        server.shutdown()
        server.server_close()


def _fake_dns(monkeypatch: pytest.MonkeyPatch, host: str, *answers: list[str]) -> None:
    """Make ``host`` resolve to each answer in turn (the last one from then on); other
    names (other tests' webhooks still retrying) resolve as before."""
    real = webhooks.resolve
    left = list(answers)

    def resolve(name: str, port: int) -> list[str]:
        if name != host:
            return real(name, port)
        return left.pop(0) if len(left) > 1 else left[0]

    monkeypatch.setattr(webhooks, "resolve", resolve)


def _origin(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])


def _wait(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- tokens and ownership -----------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer vl_not-a-token"}])
def test_anonymous_cannot_create_query(
    demo_url: str, demo_node: Node, tokens: dict[str, str], headers: dict[str, str]
) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        f"{demo_url}/epcis/queries", json={"name": name, "query": {}}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert name not in _stored(demo_node)
    got = httpx.get(f"{demo_url}/epcis/queries/{name}", headers=_auth(tokens, "aurora/ben"))
    assert got.status_code == 404


def test_anonymous_cannot_read_named_queries(demo_url: str, tokens: dict[str, str]) -> None:
    name = _query(demo_url, tokens)
    for path in ["", f"/{name}", f"/{name}/events", f"/{name}/subscriptions"]:
        response = httpx.get(f"{demo_url}/epcis/queries{path}")
        assert response.status_code == 401, path
        assert name not in response.text


def test_anonymous_cannot_delete_query(
    demo_url: str, demo_node: Node, tokens: dict[str, str]
) -> None:
    name = _query(demo_url, tokens)
    assert httpx.delete(f"{demo_url}/epcis/queries/{name}").status_code == 401
    assert name in _stored(demo_node)
    got = httpx.get(f"{demo_url}/epcis/queries/{name}", headers=_auth(tokens, "aurora/ben"))
    assert got.status_code == 200


def test_anonymous_cannot_subscribe(
    demo_url: str, demo_node: Node, tokens: dict[str, str], receiver: Any
) -> None:
    name = _query(demo_url, tokens)
    dest, _ = receiver()
    response = httpx.post(
        f"{demo_url}/epcis/queries/{name}/subscriptions", json={"dest": dest, "stream": True}
    )
    assert response.status_code == 401
    assert _hooks(demo_url, name, tokens) == []
    assert dest not in _stored(demo_node)


def _subscribe(
    url: str,
    name: str,
    tokens: dict[str, str],
    dest: str,
    monkeypatch: pytest.MonkeyPatch,
    member: str = "aurora/ben",
) -> str:
    monkeypatch.setenv(webhooks.ALLOW_ENV, _origin(dest))
    made = httpx.post(
        f"{url}/epcis/queries/{name}/subscriptions",
        json={"dest": dest, "stream": True},
        headers=_auth(tokens, member),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["subscriptionID"])


def test_anonymous_cannot_delete_subscription(
    demo_url: str,
    demo_node: Node,
    tokens: dict[str, str],
    receiver: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = _query(demo_url, tokens)
    dest, _ = receiver()
    hook = _subscribe(demo_url, name, tokens, dest, monkeypatch)
    url = f"{demo_url}/epcis/queries/{name}/subscriptions/{hook}"
    for headers in ({}, {"Authorization": "Bearer vl_not-a-token"}):
        assert httpx.delete(url, headers=headers).status_code == 401
    assert [h["subscriptionID"] for h in _hooks(demo_url, name, tokens)] == [hook]
    assert hook in _stored(demo_node)


@pytest.mark.parametrize("other", ["swiftfreight/dara", "swiftfreight/chen", "aurora/anna"])
def test_other_member_cannot_delete_query(
    demo_url: str, demo_node: Node, tokens: dict[str, str], other: str
) -> None:
    """Not an operator of another organisation, nor its admin, nor a colleague of the
    owner who is not an admin (anna is aurora's admin: she owns this one, ben may not)."""
    owner = "aurora/anna" if other == "aurora/anna" else "aurora/ben"
    attacker = "aurora/ben" if other == "aurora/anna" else other
    name = _query(demo_url, tokens, owner)
    response = httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=_auth(tokens, attacker))
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "urn:veriledger:problem:forbidden"
    assert name in _stored(demo_node)
    got = httpx.get(f"{demo_url}/epcis/queries/{name}", headers=_auth(tokens, owner))
    assert got.status_code == 200


def test_other_member_cannot_delete_subscription(
    demo_url: str,
    demo_node: Node,
    tokens: dict[str, str],
    receiver: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = _query(demo_url, tokens, "swiftfreight/dara")  # anyone's query
    dest, _ = receiver()
    hook = _subscribe(demo_url, name, tokens, dest, monkeypatch)  # ben's subscription
    url = f"{demo_url}/epcis/queries/{name}/subscriptions/{hook}"
    for attacker in ("swiftfreight/dara", "swiftfreight/chen", "kowhai/tom"):
        assert httpx.delete(url, headers=_auth(tokens, attacker)).status_code == 403
    assert hook in _stored(demo_node)
    assert httpx.get(url, headers=_auth(tokens, "aurora/ben")).status_code == 200


def test_organisation_admin_may_delete_its_members_query_and_subscription(
    demo_url: str,
    demo_node: Node,
    tokens: dict[str, str],
    receiver: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = _query(demo_url, tokens)
    dest, _ = receiver()
    hook = _subscribe(demo_url, name, tokens, dest, monkeypatch)
    anna = _auth(tokens, "aurora/anna")
    url = f"{demo_url}/epcis/queries/{name}/subscriptions/{hook}"
    assert httpx.delete(url, headers=anna).status_code == 204
    assert httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=anna).status_code == 204
    assert name not in _stored(demo_node)


def test_anonymous_websocket_stream_refused(demo_url: str, tokens: dict[str, str]) -> None:
    import asyncio

    name = _query(demo_url, tokens)
    url = demo_url.replace("http://", "ws://") + f"/epcis/queries/{name}/events?stream=true"

    async def close_code(headers: dict[str, str]) -> int | None:
        async with websockets.connect(url, additional_headers=headers) as sock:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(sock.recv(), timeout=10)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(close_code({})) == 4401
    assert asyncio.run(close_code({"Authorization": "Bearer vl_not-a-token"})) == 4401


# --- where webhooks may go ----------------------------------------------------------------


def _refused_dest(url: str, node: Node, tokens: dict[str, str], dest: str) -> dict[str, Any]:
    name = _query(url, tokens)
    response = httpx.post(
        f"{url}/epcis/queries/{name}/subscriptions",
        json={"dest": dest, "stream": True},
        headers=_auth(tokens, "aurora/ben"),
    )
    assert response.status_code == 400, response.text
    problem: dict[str, Any] = response.json()
    assert problem["field"] == "dest"
    assert _hooks(url, name, tokens) == []
    assert dest not in _stored(node)
    return problem


def test_webhook_to_loopback_refused(
    demo_url: str, demo_node: Node, tokens: dict[str, str], receiver: Any
) -> None:
    dest, received = receiver()
    port = dest.rsplit(":", 1)[1].split("/")[0]
    for url in (dest, f"http://localhost:{port}/hook", f"http://[::1]:{port}/hook"):
        problem = _refused_dest(demo_url, demo_node, tokens, url)
        assert "loopback" in problem["detail"]
    assert received == []


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("[fe80::1]", "link-local"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped
        ("[64:ff9b::7f00:1]", "loopback"),  # NAT64 of 127.0.0.1
        ("[fd12::1]", "private"),
        ("2130706433", "loopback"),  # 127.0.0.1 as one number
        ("0x7f.1", "loopback"),
    ],
)
def test_webhook_to_internal_address_refused(
    demo_url: str, demo_node: Node, tokens: dict[str, str], host: str, kind: str
) -> None:
    problem = _refused_dest(demo_url, demo_node, tokens, f"http://{host}:8080/hook")
    assert f" {kind} address" in problem["detail"]


def _own_address() -> str | None:
    """An address of this machine's own that is not loopback (the route's source)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # no packet is sent
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_webhook_to_the_nodes_own_address_refused(
    demo_url: str, demo_node: Node, tokens: dict[str, str]
) -> None:
    own = _own_address()
    if own is None:
        pytest.skip("no non-loopback address on this machine")
    problem = _refused_dest(demo_url, demo_node, tokens, f"http://{own}:8000/hook")
    assert "this node's own address" in problem["detail"]


def test_webhook_to_a_name_resolving_to_loopback_refused(
    demo_url: str, demo_node: Node, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any one bad address refuses the name, public ones beside it notwithstanding."""
    _fake_dns(monkeypatch, "hooks.example", ["93.184.215.14", "127.0.0.1"])
    problem = _refused_dest(demo_url, demo_node, tokens, "http://hooks.example:8000/hook")
    assert "loopback" in problem["detail"]


def test_webhook_dns_rebinding_refused_at_delivery(
    demo_url: str,
    tokens: dict[str, str],
    receiver: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name was public when subscribed and points at the node's loopback when the
    node delivers: nothing is sent, and the owner is told why."""
    dest, received = receiver()
    port = int(dest.rsplit(":", 1)[1].split("/")[0])
    _fake_dns(monkeypatch, "rebind.example", ["93.184.215.14"], ["127.0.0.1"])
    name = _query(demo_url, tokens)
    made = httpx.post(
        f"{demo_url}/epcis/queries/{name}/subscriptions",
        json={"dest": f"http://rebind.example:{port}/hook", "stream": True},
        headers=_auth(tokens, "aurora/ben"),
    )
    assert made.status_code == 201, made.text
    url = f"{demo_url}/epcis/queries/{name}/subscriptions/{made.json()['subscriptionID']}"
    _capture_shipping(demo_url, tokens)
    owner = _auth(tokens, "aurora/ben")
    _wait(lambda: httpx.get(url, headers=owner).json()["failures"] >= 1)
    assert "not sent" in httpx.get(url, headers=owner).json()["lastError"]
    assert "loopback" in httpx.get(url, headers=owner).json()["lastError"]
    assert received == []
    httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=owner)


def _capture_shipping(url: str, tokens: dict[str, str]) -> None:
    event = _event(uuid.uuid4().hex[:8], step="shipping")
    _finish(url, _capture(url, tokens["aurora/ben"], _doc(event)))


def test_webhook_goes_to_the_checked_address_with_its_host_name(
    demo_url: str, tokens: dict[str, str], receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hooks.example`` never resolves in DNS: the POST arriving proves the node
    connected to the address it checked instead of resolving the name again."""
    dest, received = receiver()
    port = int(dest.rsplit(":", 1)[1].split("/")[0])
    _fake_dns(monkeypatch, "hooks.example", ["127.0.0.1"])
    monkeypatch.setenv(webhooks.ALLOW_ENV, f"http://hooks.example:{port}")
    name = _query(demo_url, tokens)
    made = httpx.post(
        f"{demo_url}/epcis/queries/{name}/subscriptions",
        json={"dest": f"http://hooks.example:{port}/hook", "stream": True},
        headers=_auth(tokens, "aurora/ben"),
    )
    assert made.status_code == 201, made.text
    _capture_shipping(demo_url, tokens)
    _wait(lambda: bool(received))
    assert received[0]["headers"]["Host"] == f"hooks.example:{port}"
    httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=_auth(tokens, "aurora/ben"))


def test_webhook_redirect_not_followed(
    demo_url: str, tokens: dict[str, str], receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner, inner_received = receiver()
    outer, outer_received = receiver(307, inner)
    monkeypatch.setenv(webhooks.ALLOW_ENV, f"{_origin(outer)} {_origin(inner)}")
    name = _query(demo_url, tokens)
    made = httpx.post(
        f"{demo_url}/epcis/queries/{name}/subscriptions",
        json={"dest": outer, "stream": True},
        headers=_auth(tokens, "aurora/ben"),
    )
    assert made.status_code == 201
    url = f"{demo_url}/epcis/queries/{name}/subscriptions/{made.json()['subscriptionID']}"
    _capture_shipping(demo_url, tokens)
    owner = _auth(tokens, "aurora/ben")
    _wait(lambda: httpx.get(url, headers=owner).json()["failures"] >= 1)
    assert outer_received and inner_received == []
    assert httpx.get(url, headers=owner).json()["lastError"] == "HTTP 307"
    httpx.delete(f"{demo_url}/epcis/queries/{name}", headers=owner)


def test_last_error_not_shown_to_other_members(
    demo_url: str, tokens: dict[str, str], receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How a member's receiver answers (its status, its address) is that member's
    business and its organisation admin's, not another member's."""
    dest, _ = receiver(503)
    name = _query(demo_url, tokens, "swiftfreight/dara")
    hook = _subscribe(demo_url, name, tokens, dest, monkeypatch)
    url = f"{demo_url}/epcis/queries/{name}/subscriptions/{hook}"
    _capture_shipping(demo_url, tokens)
    owner = _auth(tokens, "aurora/ben")
    _wait(lambda: httpx.get(url, headers=owner).json()["failures"] >= 1)
    for member in ("aurora/ben", "aurora/anna"):
        assert httpx.get(url, headers=_auth(tokens, member)).json()["lastError"] == "HTTP 503"
    for member in ("swiftfreight/dara", "swiftfreight/chen", "kowhai/tom"):
        for shown in (
            httpx.get(url, headers=_auth(tokens, member)).json(),
            *httpx.get(
                f"{demo_url}/epcis/queries/{name}/subscriptions", headers=_auth(tokens, member)
            ).json(),
        ):
            assert shown["owner"] == "aurora/ben"
            assert not {"lastError", "dest", "failures", "delivered"} & set(shown)
            assert "503" not in json.dumps(shown)
    httpx.delete(url, headers=owner)


# --- the address check, unit by unit ------------------------------------------------------


def test_allow_list_exempts_exactly_its_origins() -> None:
    allowed = webhooks.allowed_origins(
        {webhooks.ALLOW_ENV: "http://127.0.0.1:9000, https://Hooks.Internal"}
    )
    assert allowed == {"http://127.0.0.1:9000", "https://hooks.internal:443"}
    webhooks.check("http://127.0.0.1:9000/x", allowed)
    webhooks.check("https://hooks.internal/x", allowed, lambda host, port: ["10.1.2.3"])
    for other in ("http://127.0.0.1:9001/x", "https://127.0.0.1:9000/x"):
        with pytest.raises(webhooks.DestinationError):
            webhooks.check(other, allowed)


def test_unresolvable_or_malformed_destinations_are_refused() -> None:
    for url in ("http://nowhere.invalid/x", "http://[::1/x", "http:///x", "gopher://a/"):
        with pytest.raises(webhooks.DestinationError) as caught:
            webhooks.check(url, frozenset())
        assert caught.value.field == "dest"
