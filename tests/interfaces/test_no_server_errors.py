"""No input gives a 500: hostile path segments and query strings on every GET route.

The routes come from the app's own OpenAPI description (plus the module queries behind
``/api/v1/query/{module}/{name}``, and the EPCIS query parameters), so a new route is
covered the day it is added. Every answer must be below 500, and a 4xx must be
problem+json.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veriledger.node.node import Node

HOSTILE = [
    "1" + "0" * 400,  # 10**400
    "-1",
    "-" + "9" * 30,
    "99999999999999999999",
    "NaN",
    "inf",
    "-0",
    "1e999",
    "%FF%FE",  # not UTF-8 once decoded
    "%ED%A0%80",  # a surrogate, UTF-8 encoded
    "%00",
    "%C0%AF",  # overlong '/'
    "..%2F..%2Fetc%2Fpasswd",
    "x" * 4000,
    "[]",
    "{}",
    "'\"",
    "\U0001f600",
    "",
]
QUERY_NAMES = [
    "epc",
    "uri",
    "gtin",
    "lot",
    "serial",
    "limit",
    "before",
    "offset",
    "org",
    "member",
    "id",
    "height",
    "perPage",
    "nextPageToken",
    "GE_eventTime",
    "LT_recordTime",
    "EQ_bizStep",
    "MATCH_epc",
    "eventType",
    "EQ_quantity",
    "GT_quantity",
    "linkType",
    "lang",
    "from",
    "to",
    "wait",
    "timeout",
]


@pytest.fixture(scope="module")
def client(demo_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_url, timeout=30) as http:
        yield http


def _get(client: httpx.Client, path: str) -> httpx.Response:
    # Hand httpx the path as already encoded: percent signs stay as the attack wrote them.
    return client.get(httpx.URL(str(client.base_url).rstrip("/") + path))


def _check(response: httpx.Response, where: str) -> None:
    assert response.status_code < 500, (where, response.status_code, response.text[:300])
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"].startswith("application/problem+json"), where


@pytest.fixture(scope="module")
def get_routes(demo_url: str) -> list[tuple[str, list[str], list[str]]]:
    """``(path template, path parameters, query parameters)`` of every GET route."""
    spec: dict[str, Any] = httpx.get(f"{demo_url}/openapi.json").json()
    routes = []
    for path, methods in spec["paths"].items():
        if "get" not in methods:
            continue
        params = methods["get"].get("parameters", [])
        routes.append(
            (
                path,
                [p["name"] for p in params if p["in"] == "path"],
                [p["name"] for p in params if p["in"] == "query"],
            )
        )
    assert len(routes) > 20
    return routes


def _fill(template: str, names: list[str], value: str, target: str) -> str:
    path = template
    for name in names:
        path = path.replace("{" + name + "}", value if name == target else "1")
    return path


@pytest.mark.slow
def test_hostile_path_segments_never_give_a_5xx(
    client: httpx.Client, get_routes: list[tuple[str, list[str], list[str]]]
) -> None:
    for template, path_names, _ in get_routes:
        for name in path_names:
            for value in HOSTILE:
                path = _fill(template, path_names, value, name)
                _check(_get(client, path), path)


@pytest.mark.slow
def test_hostile_declared_query_parameters_never_give_a_5xx(
    client: httpx.Client, get_routes: list[tuple[str, list[str], list[str]]]
) -> None:
    for template, path_names, query_names in get_routes:
        path = _fill(template, path_names, "1", "")
        for name in query_names:
            for value in HOSTILE:
                where = f"{path}?{name}={value}"
                _check(_get(client, where), where)


def _free_routes(node: Node) -> list[str]:
    """Routes that read whatever query parameters they are given."""
    modules = [
        f"/api/v1/query/{module_name}/{query}"
        for module_name, module in node.registry.modules.items()
        for query in module.queries
    ]
    return ["/epcis/events", "/epcis/epcs/1/events", "/epcis/capture", *modules]


@pytest.mark.slow
def test_hostile_free_query_parameters_never_give_a_5xx(
    client: httpx.Client, demo_node: Node
) -> None:
    routes = _free_routes(demo_node)

    @settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.sampled_from(routes),
        st.lists(st.tuples(st.sampled_from(QUERY_NAMES), st.sampled_from(HOSTILE)), max_size=3),
    )
    def check(path: str, params: list[tuple[str, str]]) -> None:
        where = path + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")
        _check(_get(client, where), where)

    for path in routes:  # each one at least once, with no parameters
        _check(_get(client, path), path)
    check()


@pytest.mark.parametrize(
    "query",
    [
        "from=" + "1" + "0" * 400 + "&to=1",
        "from=5&to=2",
        "from=1&to=" + "9" * 25,
        "from=-1&to=-1",
        "from=NaN&to=inf",
    ],
)
def test_consistency_with_hostile_sizes_is_a_4xx(client: httpx.Client, query: str) -> None:
    response = _get(client, f"/api/v1/consistency?{query}")
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["field"] in {"from", "to"} or "from" in response.json()["detail"]


def test_a_huge_block_height_is_a_4xx_naming_it(client: httpx.Client) -> None:
    for path in ("/api/v1/blocks/1" + "0" * 400, "/api/v1/blocks?before=" + "9" * 30):
        response = _get(client, path)
        assert response.status_code == 400, response.text
        assert response.json()["field"] in {"height", "before"}


def _raw_status(url: str, target: bytes) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(10)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status = int(re.match(rb"HTTP/1\.1 (\d{3})", answer).group(1))  # type: ignore[union-attr]
    return status, answer


@pytest.mark.parametrize(
    "target",
    [
        b"/epcis/events/%",
        b"/epcis/events/%zz",
        b"/api/v1/blocks/%FF",
        b"/api/v1/blocks?limit=%",
        b"/epcis/events?EQ_bizStep=%FF%FE&perPage=%ZZ",
        b"/epcis/events?nextPageToken=%FF",
        b"/epcis/events?nextPageToken=" + b"A" * 5000,
        b"/01/%FF/21/1",
        b"/api/v1/items?uri=%ED%A0%80",
    ],
)
def test_bad_percent_encoding_never_gives_a_5xx(demo_url: str, target: bytes) -> None:
    status, answer = _raw_status(demo_url, target)
    assert status < 500, (target, answer[:400])
