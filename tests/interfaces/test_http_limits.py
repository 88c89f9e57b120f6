"""Request bodies: bounded while they stream, and strict JSON, over real loopback.

The large-body tests speak HTTP/1.1 on a raw socket, so that the test sees exactly how
much of the body it had sent when the 413 came back: a node that buffered the body
first would answer only after the whole 200 MB.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shared_data import SHARED_DATA
from veriledger.interfaces.epcis.router import MAX_DOCUMENT_BYTES, MAX_DOCUMENT_DEPTH
from veriledger.interfaces.http import strict_json
from veriledger.interfaces.http.app import MAX_CONSUMER_BYTES, MAX_REQUEST_BYTES
from veriledger.node.node import Node

MB = 1024 * 1024
HUGE = 200 * MB
SOCKET_SLACK = 32 * MB
"""What the kernel's socket buffers and the server's read buffer may hold between the
client's last send and the server's answer; far below the 200 MB a buffering node reads."""


@pytest.fixture(scope="module")
def creds(demo_node: Node) -> dict[str, dict[str, str]]:
    return orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())


def _stored(node: Node) -> tuple[int, int]:
    return node.storage.counts()["transactions"], node.engine.pending()


def _send_chunked(url: str, path: str, total: int, headers: str = "") -> tuple[int, bytes]:
    """POST ``total`` bytes of spaces, chunked, reading as it goes: returns the bytes
    sent when the answer came (or the send failed because the server hung up) and the
    answer."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{headers}\r\n".encode()
    )
    chunk = 64 * 1024
    frame = f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
    sent, answer = 0, b""
    sock.setblocking(False)
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                data = sock.recv(65536)
                answer += data
                if not data or b"\r\n\r\n" in answer:
                    break
            elif writable:
                try:
                    sent += sock.send(frame)
                except (BrokenPipeError, ConnectionResetError):
                    break
            else:
                raise AssertionError("the server neither answered nor read for 30 s")
        sock.setblocking(True)
        sock.settimeout(10)
        try:
            while data := sock.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass  # it hung up on the body we never finished, as asked
    finally:
        sock.close()
    return sent, answer


def _problem_of(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/problem+json" in head.lower(), head
    return status, json.loads(body)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/transactions", MAX_REQUEST_BYTES),
        ("/api/v1/items/verify", MAX_CONSUMER_BYTES),
        ("/api/v1/items/tap", MAX_CONSUMER_BYTES),
        ("/epcis/capture", MAX_DOCUMENT_BYTES),
        ("/epcis/queries", 1 * MB),
    ],
)
def test_chunked_200mb_body_gets_413_without_buffering(
    demo_url: str, demo_node: Node, creds: dict[str, dict[str, str]], path: str, limit: int
) -> None:
    before = _stored(demo_node)
    token = creds["aurora"]["aurora/ben"]
    sent, answer = _send_chunked(demo_url, path, HUGE, f"Authorization: Bearer {token}\r\n")
    status, problem = _problem_of(answer)
    assert status == 413 and problem["field"] == "body"
    assert f"{limit:,}" in problem["detail"]
    # The answer came while the client was still sending, not after 200 MB were read.
    assert limit < sent < limit + SOCKET_SLACK
    assert _stored(demo_node) == before


def test_declared_200mb_body_gets_413_before_a_byte_is_read(demo_url: str) -> None:
    host, port = demo_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST /api/v1/transactions HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {HUGE}\r\n\r\n".encode()
        )
        sock.settimeout(10)
        answer = b""
        while data := sock.recv(65536):  # no body sent: the node must answer anyway
            answer += data
    status, problem = _problem_of(answer)
    assert status == 413 and f"{HUGE:,}" in problem["detail"]


def test_capture_takes_documents_beyond_the_default_limit(
    demo_url: str, creds: dict[str, dict[str, str]]
) -> None:
    """The capture route's limit is the file size OPTIONS announces, not the default."""
    body = b"{" + b" " * (MAX_REQUEST_BYTES + MB) + b"}"
    response = httpx.post(
        f"{demo_url}/epcis/capture",
        content=body,
        headers={"Authorization": f"Bearer {creds['aurora']['aurora/ben']}"},
        timeout=60,
    )
    assert response.status_code == 400, response.text  # read whole, refused by the schema


# --- strict JSON over HTTP ----------------------------------------------------------------


def _digest() -> str:
    return hashlib.sha256(os.urandom(16)).hexdigest()


def test_duplicate_key_in_a_transaction_is_refused_not_last_one_wins(
    demo_url: str, demo_node: Node, creds: dict[str, dict[str, str]]
) -> None:
    before = _stored(demo_node)
    body = (
        b'{"type": "notary.attest", "body": {"digest": "%s", "kind": "invoice", '
        b'"kind": "lab-report"}}' % _digest().encode()
    )
    response = httpx.post(
        f"{demo_url}/api/v1/transactions",
        content=body,
        headers={"Authorization": f"Bearer {creds['aurora']['aurora/anna']}"},
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["field"] == "body" and "'kind' appears twice" in problem["detail"]
    assert _stored(demo_node) == before


def test_duplicate_key_in_a_code_check_is_refused(demo_url: str, demo_node: Node) -> None:
    before = _stored(demo_node)
    response = httpx.post(
        f"{demo_url}/api/v1/items/verify",
        content=b'{"uri": "https://id.gs1.org/01/04012345000016/21/1001", '
        b'"uri": "https://id.gs1.org/01/04012345000016/21/1002", "code": "x"}',
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "'uri' appears twice" in response.json()["detail"]
    assert _stored(demo_node) == before


def test_official_example_with_an_event_id_twice_is_refused(
    demo_url: str, demo_node: Node, creds: dict[str, dict[str, str]]
) -> None:
    """GS1's AssociationEvent-h example gives its event two eventIDs: which one is the
    event's? Neither is guessed."""
    before = _stored(demo_node)
    raw = (SHARED_DATA / "epcis/examples/AssociationEvent/AssociationEvent-h.jsonld").read_bytes()
    response = httpx.post(
        f"{demo_url}/epcis/capture",
        content=raw,
        headers={"Authorization": f"Bearer {creds['aurora']['aurora/ben']}"},
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "epcisBody.eventList[0]" and "'eventID'" in error["reason"]
    assert _stored(demo_node) == before


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def test_deep_nesting_is_refused_naming_the_limit(
    demo_url: str, demo_node: Node, creds: dict[str, dict[str, str]]
) -> None:
    before = _stored(demo_node)
    headers = {"Authorization": f"Bearer {creds['aurora']['aurora/anna']}"}
    response = httpx.post(
        f"{demo_url}/api/v1/transactions",
        content=b'{"type": "notary.attest", "body": ' + b'{"x": ' * 5000 + b"1" + b"}" * 5001,
        headers=headers,
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert f"deeper than {strict_json.MAX_DEPTH} levels" in problem["detail"]
    assert problem["field"].startswith("body.x.x.x")
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-01T09:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.000001.deep1"],
        "action": "ADD",
        "ilmd": _nested(MAX_DOCUMENT_DEPTH),
    }
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-01T10:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
    response = httpx.post(
        f"{demo_url}/epcis/capture",
        content=orjson.dumps(document),
        headers={**headers, "Content-Type": "application/ld+json"},
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["field"].startswith("epcisBody.eventList[0].ilmd.x.x")
    assert f"deeper than {MAX_DOCUMENT_DEPTH} levels" in error["reason"]
    assert _stored(demo_node) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"uri": "https://id.gs1.org/01/04012345000016/21/1001\xff", "code": "x"}', "uri"),
        (b'{"uri": "\xed\xa0\x80", "code": "x"}', "uri"),  # a surrogate, UTF-8 encoded
        (b'{"uri": "x", "code": "\\ud800"}', "code"),  # a lone surrogate, escaped
        (b'{"uri": "x", "code": NaN}', "code"),
        (b'{"uri": "x", "code": 1e999}', "code"),
        (b'\xef\xbb\xbf{"uri": "x"}', "body"),
        (b'{"uri": "x", "place": {"lat": 1, "lat": 2}}', "place"),
    ],
)
def test_bad_encodings_in_a_body_are_refused_naming_the_field(
    demo_url: str, demo_node: Node, body: bytes, field: str
) -> None:
    before = _stored(demo_node)
    response = httpx.post(f"{demo_url}/api/v1/items/verify", content=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field, response.json()
    assert _stored(demo_node) == before


# --- the parser, as properties ------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", ":", " :", 'q"', "\\", '":', "é", "\U0001f600"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=': "\\ab\n', max_size=6)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def _reference_has_duplicate(text: bytes) -> bool:
    """The plain, slow answer: json.loads with a hook that sees every pair."""
    found = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            found.append(True)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return bool(found)


@settings(max_examples=400)
@given(VALUES, st.booleans(), st.sampled_from(["", " ", "\n  "]))
def test_parser_gives_orjsons_value_and_finds_duplicates_exactly(
    value: Any, pretty: bool, space: str
) -> None:
    """The fast count and the slow search agree with the plain reference, for texts
    with escaped quotes, keys and values that start with ':', and any whitespace."""
    text = json.dumps(value, indent=2 if pretty else None, separators=(",", space + ":"))
    raw = text.encode()
    # Repeat the first key of every object, textually, where there is one.
    doubled = raw.replace(b'{"a"' + space.encode() + b":", b'{"a":0,"a"' + space.encode() + b":")
    for body in (raw, doubled):
        if _reference_has_duplicate(body):
            with pytest.raises(strict_json.DuplicateKeyError):
                strict_json.loads(body, max_depth=1000)
        else:
            assert strict_json.loads(body, max_depth=1000) == orjson.loads(body)


@given(st.integers(1, 120))
def test_depth_limit_is_exact(depth: int) -> None:
    body = orjson.dumps(_nested(depth))
    if depth - 1 > strict_json.MAX_DEPTH:  # the innermost level is a string, not nesting
        with pytest.raises(strict_json.JsonTooDeepError):
            strict_json.loads(body)
    else:
        assert strict_json.loads(body) == _nested(depth)
