"""The consumer's verdict cannot be faked, and anonymous writes are bounded.

Each test is one attack on ``/api/v1/items``, ``/api/v1/items/verify`` or
``/api/v1/items/tap``, driven in process with a chosen client address (the demo node is
shared, so each uses serials no other test touches) and a clock the test moves. Each
asserts the refusal and that nothing reached the ledger: the node accepted no
transaction for ordering and rejected none in a block.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veriledger.chain.transactions import sign_transaction
from veriledger.core.nfc_sun import encode_aes_sun
from veriledger.interfaces.http import ratelimit
from veriledger.interfaces.http.app import create_app
from veriledger.interfaces.http.ratelimit import AddressLimiter, RecentAnswers, WriteLimits
from veriledger.interfaces.http.resolver import verdict_message
from veriledger.modules.authenticity import codes
from veriledger.modules.authenticity.module import nfc_key, query_scans
from veriledger.node.datadir import load_nfc_keys
from veriledger.node.demo import JACKET, tag_uid
from veriledger.node.node import Node

ITEMS = "https://id.gs1.org/01/04012345000016/21/{}"
UNCLAIMED_GTIN = "09506000134352"  # GS1's example prefix: no demo organisation claims it


class Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(node: Node, **limits: Any) -> tuple[Any, Clock]:
    app = create_app(node)
    clock = Clock()
    ratelimit.install(app, WriteLimits(**limits), clock=clock)
    return app, clock


def _client(app: Any, address: str = "198.51.100.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://node.test", timeout=30)


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def _writes(node: Node) -> tuple[int, int]:
    """Transactions this node accepted for ordering, and rejected in blocks."""
    return node.metrics["submitted"], node.metrics["rejected"]


def _scans(node: Node, serial: str, gtin: str = JACKET) -> int:
    return len(query_scans(node.state(), {"gtin": gtin, "serial": serial}))


def _code(node: Node, serial: str) -> str:
    for line in (node.data_dir / "item-codes.csv").read_text().splitlines()[1:]:
        if line.split(",")[1] == serial:
            return line.split(",")[2]
    raise AssertionError(serial)


def _tap_url(node: Node, serial: str, counter: int) -> str:
    keys = load_nfc_keys(node.data_dir, JACKET)
    assert keys is not None
    picc, mac = encode_aes_sun(
        tag_uid(serial),
        counter,
        file_read_key=keys.file_read_key,
        meta_read_key=keys.meta_read_key,
    )
    return f"{ITEMS.format(serial)}?picc_data={picc}&cmac={mac}"


def _submit(node: Node, member: str, kind: str, body: dict[str, Any]) -> None:
    tx = sign_transaction(node.member_key(member), node.chain, kind, body)
    result = node.submit([tx], signed_here=True)[0].result(timeout=30)
    assert result.status == "committed", result


def _refused_with_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["retry_after"] == int(response.headers["retry-after"])


# --- the verdict cannot be faked ---------------------------------------------------------


def test_uncommissioned_serial_is_not_brand_verified(demo_node: Node) -> None:
    """A serial the brand never commissioned: an unknown item on the page, and a code
    check of it is answered without writing anything, even when a code was registered."""
    items, secret = codes.make_items(JACKET, ["U-1"])
    _submit(
        demo_node, "aurora/anna", "authenticity.register_codes", {"gtin": JACKET, "items": items}
    )
    app, _ = _app(demo_node)

    async def scenario() -> None:
        async with _client(app) as http:
            genuine = (await http.get("/api/v1/items", params={"uri": ITEMS.format(1000)})).json()
            assert genuine["registered"] is True and genuine["brand"]["verified"] is True
            before = _writes(demo_node)
            for serial in ("9999", "U-1"):
                view = (
                    await http.get("/api/v1/items", params={"uri": ITEMS.format(serial)})
                ).json()
                assert view["registered"] is False, serial
                assert view["brand"]["verified"] is False
                assert view["authenticity"] is False
                answer = await http.post(
                    "/api/v1/items/verify",
                    json={"uri": ITEMS.format(serial), "code": secret["U-1"]},
                )
                assert answer.status_code == 200, answer.text
                assert answer.json()["verdict"] == "unknown-item"
                assert "never registered" in answer.json()["message"]["en"]
                assert "receipt" not in answer.json()
            assert _writes(demo_node) == before
            assert _scans(demo_node, "U-1") == 0 and _scans(demo_node, "9999") == 0

    _run(scenario)


def test_code_registered_under_an_unclaimed_prefix_is_not_brand_verified(demo_node: Node) -> None:
    """Anyone may register codes and commission items under a prefix nobody claimed: a
    counterfeiter's own "genuine" item. It has no brand, so it is never verified."""
    items, secret = codes.make_items(UNCLAIMED_GTIN, ["F-1"])
    _submit(
        demo_node,
        "citymart/hana",
        "authenticity.register_codes",
        {"gtin": UNCLAIMED_GTIN, "items": items},
    )
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-10-01T08:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "bizStep": "commissioning",
        "epcList": ["urn:epc:id:sgtin:9506000.013435.F-1"],
    }
    _submit(demo_node, "citymart/hana", "trace.capture", {"event": event})
    app, _ = _app(demo_node)
    uri = f"https://id.gs1.org/01/{UNCLAIMED_GTIN}/21/F-1"

    async def scenario() -> None:
        async with _client(app) as http:
            view = (await http.get("/api/v1/items", params={"uri": uri})).json()
            assert view["journey"], "the counterfeiter's commissioning is on the ledger"
            assert view["registered"] is False and view["brand"]["verified"] is False
            before = _writes(demo_node)
            answer = (
                await http.post("/api/v1/items/verify", json={"uri": uri, "code": secret["F-1"]})
            ).json()
            assert answer["verdict"] == "unknown-item"
            assert _writes(demo_node) == before
            assert _scans(demo_node, "F-1", UNCLAIMED_GTIN) == 0

    _run(scenario)


def test_cloned_code_shows_before_anyone_types_it(demo_node: Node) -> None:
    app, _ = _app(demo_node)

    async def scenario() -> None:
        async with _client(app) as http:
            clone = (await http.get("/api/v1/items", params={"uri": ITEMS.format(1001)})).json()
            fresh = (await http.get("/api/v1/items", params={"uri": ITEMS.format(1002)})).json()
        scans = query_scans(demo_node.state(), {"gtin": JACKET, "serial": "1001"})
        assert clone["checks"]["count"] == sum(s["match"] for s in scans) >= 2  # the demo's two
        assert clone["checks"]["first_place"] == "Shanghai"
        assert clone["checks"]["first_time"].endswith("Z")
        assert fresh["checks"] == {"count": 0, "first_time": None, "first_place": None}

    _run(scenario)


def test_repeat_check_message_counts_the_earlier_checks_and_never_says_in_unknown() -> None:
    """The scan event's count includes this scan; the message says how many came before."""
    second = {"verdict": "suspected-clone", "count": 2, "first": {"time": 0, "place": "Shanghai"}}
    fourth = {"verdict": "suspected-clone", "count": 4, "first": {"time": 0, "place": ""}}
    assert "already checked once before" in verdict_message(second)["en"]
    assert "in Shanghai" in verdict_message(second)["en"]
    assert "已被查验 1 次" in verdict_message(second)["zh"]
    en, zh = verdict_message(fourth)["en"], verdict_message(fourth)["zh"]
    assert "already checked 3 times before" in en and "已被查验 3 次" in zh
    assert " in " not in en.split("first on", 1)[1].split(".")[0]
    assert "?" not in en and "?" not in zh and "在" not in zh
    country = {"verdict": "suspected-clone", "count": 3, "first": {"time": 0, "country": "CN"}}
    assert "twice before, first on 1970-01-01 00:00 UTC in CN" in verdict_message(country)["en"]


# --- anonymous writes are bounded --------------------------------------------------------


def test_scan_flood_from_one_address_gets_429(demo_node: Node) -> None:
    """Distinct scans (a new device name each) from one address: the burst passes, the
    next is refused with Retry-After, and it is not relayed."""
    app, clock = _app(demo_node, per_minute=60, burst=3)
    uri = ITEMS.format(1040)

    async def scan(http: httpx.AsyncClient, n: int) -> httpx.Response:
        return await http.post(
            "/api/v1/items/verify",
            json={"uri": uri, "code": "WRONGCODE234"},
            headers={"User-Agent": f"flood/{n}"},
        )

    async def scenario() -> None:
        async with _client(app) as http:
            allowed = await asyncio.gather(*(scan(http, n) for n in range(3)))
            assert [r.json()["verdict"] for r in allowed] == ["unknown-code"] * 3
            before, scans = _writes(demo_node), _scans(demo_node, "1040")
            refused = await scan(http, 3)
            _refused_with_429(refused)
            assert _writes(demo_node) == before and _scans(demo_node, "1040") == scans
            clock.now += 1.0  # one token back (60 a minute)
            assert (await scan(http, 4)).json()["verdict"] == "unknown-code"
            _refused_with_429(await scan(http, 5))

    _run(scenario)


def test_tap_flood_from_one_address_gets_429(demo_node: Node) -> None:
    """Taps and code checks share one address's budget."""
    app, _ = _app(demo_node, per_minute=60, burst=2)

    async def scenario() -> None:
        async with _client(app, "198.51.100.8") as http:
            for counter in (1, 2):
                tap = await http.post(
                    "/api/v1/items/tap", json={"uri": _tap_url(demo_node, "1009", counter)}
                )
                assert tap.json()["verdict"] == "genuine-tap", tap.text
            before = _writes(demo_node)
            refused = await http.post(
                "/api/v1/items/tap", json={"uri": _tap_url(demo_node, "1009", 3)}
            )
            _refused_with_429(refused)
            scan = await http.post(
                "/api/v1/items/verify", json={"uri": ITEMS.format(1041), "code": "WRONGCODE234"}
            )
            _refused_with_429(scan)
            assert _writes(demo_node) == before
            assert demo_node.state().get(nfc_key(JACKET, "1009"))["counter"] == 2

    _run(scenario)


def test_botnet_flood_is_bounded_across_addresses(demo_node: Node) -> None:
    """Each address within its own limit, all of them together beyond the shared one."""
    app, _ = _app(demo_node, per_minute=60, burst=5, total_per_minute=60, total_burst=3)
    uri = ITEMS.format(1042)

    async def scan(address: str) -> httpx.Response:
        async with _client(app, address) as http:
            return await http.post(
                "/api/v1/items/verify", json={"uri": uri, "code": "NOPE23456789"}
            )

    async def scenario() -> None:
        for n in range(3):
            assert (await scan(f"203.0.113.{n}")).status_code == 200
        before, scans = _writes(demo_node), _scans(demo_node, "1042")
        for n in range(3, 10):
            _refused_with_429(await scan(f"203.0.113.{n}"))
        assert _writes(demo_node) == before and _scans(demo_node, "1042") == scans

    _run(scenario)


def test_identical_scans_are_counted_not_appended(demo_node: Node) -> None:
    """The same device checking the same item with the same result, again and again (at
    once, too): one scan on the ledger, the rest answered from it and counted here."""
    app, clock = _app(demo_node, per_minute=60, burst=20)
    uri = ITEMS.format(1043)
    code = _code(demo_node, "1043")

    async def scenario() -> None:
        async with _client(app, "198.51.100.9") as http:
            before, scans = _writes(demo_node), _scans(demo_node, "1043")
            at_once = await asyncio.gather(
                *(
                    http.post("/api/v1/items/verify", json={"uri": uri, "code": code})
                    for _ in range(4)
                )
            )
            assert {r.json()["verdict"] for r in at_once} == {"genuine-first"}
            assert sorted(r.json().get("repeat", 0) for r in at_once) == [0, 1, 2, 3]
            again = (
                await http.post("/api/v1/items/verify", json={"uri": uri, "code": code})
            ).json()
            assert again["verdict"] == "genuine-first" and again["repeat"] == 4
            assert "not recorded again" in again["message"]["en"]
            # different wrong codes are the same result: counted, not appended either
            for wrong in ("AAAAAAAAAAAA", "BBBBBBBBBBBB", "CCCCCCCCCCCC"):
                answer = await http.post("/api/v1/items/verify", json={"uri": uri, "code": wrong})
                assert answer.json()["verdict"] == "unknown-code"
            assert _scans(demo_node, "1043") == scans + 2
            assert _writes(demo_node) == (before[0] + 2, before[1])
            clock.now += WriteLimits().repeat_window_s + 1  # the window ends: recorded again
            later = (
                await http.post("/api/v1/items/verify", json={"uri": uri, "code": code})
            ).json()
            assert later["verdict"] == "suspected-clone" and "repeat" not in later
            assert _scans(demo_node, "1043") == scans + 3

    _run(scenario)


def test_replayed_tap_is_refused_before_the_log(demo_node: Node) -> None:
    """A copied tap URL, sent again later or several times at once: one tap on the
    ledger, the copies refused at submission or here, and no rejected transaction."""
    app, _ = _app(demo_node)

    async def tap(http: httpx.AsyncClient, counter: int) -> str:
        response = await http.post(
            "/api/v1/items/tap", json={"uri": _tap_url(demo_node, "1010", counter)}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["verdict"])

    async def scenario() -> None:
        async with _client(app, "198.51.100.10") as http:
            assert await tap(http, 5) == "genuine-tap"
            before = _writes(demo_node)
            assert await tap(http, 5) == "replayed-tap"
            assert await tap(http, 4) == "replayed-tap"
            assert _writes(demo_node) == before
            verdicts = await asyncio.gather(*(tap(http, 8) for _ in range(4)))
            assert sorted(verdicts) == ["genuine-tap"] + ["replayed-tap"] * 3
            assert _writes(demo_node) == (before[0] + 1, before[1])
            assert demo_node.state().get(nfc_key(JACKET, "1010"))["taps"] == 2

    _run(scenario)


def test_spoofed_forwarded_for_does_not_reset_the_limit(demo_node: Node) -> None:
    """Without a trusted proxy, X-Forwarded-For is the client's own words: ignored."""
    app, _ = _app(demo_node, per_minute=60, burst=1)
    uri = ITEMS.format(1044)

    async def scenario() -> None:
        async with _client(app, "198.51.100.11") as http:

            async def scan(n: int) -> httpx.Response:
                return await http.post(
                    "/api/v1/items/verify",
                    json={"uri": uri, "code": "WRONGCODE234"},
                    headers={"X-Forwarded-For": f"192.0.2.{n}", "User-Agent": f"ua{n}"},
                )

            assert (await scan(1)).status_code == 200
            before = _writes(demo_node)
            for n in range(2, 6):
                _refused_with_429(await scan(n))
            assert _writes(demo_node) == before

    _run(scenario)


def test_forwarded_for_names_the_client_only_behind_a_trusted_proxy(demo_node: Node) -> None:
    app, _ = _app(demo_node, burst=1, trusted_proxies=("10.0.0.0/8",))

    async def scenario() -> None:
        async with _client(app, "10.1.2.3") as proxy:

            async def scan(forwarded: str, serial: str) -> httpx.Response:
                return await proxy.post(
                    "/api/v1/items/verify",
                    json={"uri": ITEMS.format(serial), "code": "WRONGCODE234"},
                    headers={"X-Forwarded-For": forwarded},
                )

            # two clients behind the proxy have a bucket each
            assert (await scan("192.0.2.1", "1045")).status_code == 200
            assert (await scan("192.0.2.2", "1045")).status_code == 200
            before = _writes(demo_node)
            # a client writing its own X-Forwarded-For entry is still itself
            _refused_with_429(await scan("203.0.113.99, 192.0.2.1", "1046"))
            _refused_with_429(await scan("192.0.2.1, 10.9.9.9", "1046"))
            assert _writes(demo_node) == before

    _run(scenario)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"place": "x" * 65}, "place"),
        ({"country": "china"}, "country"),
        ({"lat": "91", "lon": "0"}, None),
        ({"lat": "31.2"}, None),
        ({"place": 7}, "place"),
    ],
)
def test_malformed_scan_is_refused_and_not_stored(
    demo_node: Node, extra: dict[str, Any], field: str | None
) -> None:
    """Place fields go on the ledger: bounded and checked before anything is relayed."""
    app, _ = _app(demo_node)
    uri = ITEMS.format(1047)

    async def scenario() -> None:
        async with _client(app, "198.51.100.12") as http:
            before, scans = _writes(demo_node), _scans(demo_node, "1047")
            body = {"uri": uri, "code": _code(demo_node, "1047"), **extra}
            response = await http.post("/api/v1/items/verify", json=body)
            assert response.status_code in (400, 422), response.text
            assert response.headers["content-type"] == "application/problem+json"
            if field:
                assert response.json()["field"] == field
            assert _writes(demo_node) == before and _scans(demo_node, "1047") == scans

    _run(scenario)


# --- the limiter itself ------------------------------------------------------------------


def test_default_limits_are_60_a_minute_in_bursts_of_20() -> None:
    limits = WriteLimits()
    assert (limits.per_minute, limits.burst) == (60, 20)
    clock = Clock()
    limiter = AddressLimiter(limits, clock)
    assert [limiter.take("a") for _ in range(20)] == [0.0] * 20
    assert limiter.take("a") == pytest.approx(1.0)
    clock.now += 1
    assert limiter.take("a") == 0.0


def test_many_addresses_do_not_grow_the_limiter() -> None:
    """An attacker with many addresses (or an IPv6 range) cannot grow its memory."""
    limiter = AddressLimiter(WriteLimits(max_addresses=100, total_burst=10**6), Clock())
    for n in range(5000):
        limiter.take(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert len(limiter) == 100
    answers = RecentAnswers(window_s=600, size=50, clock=Clock())
    for n in range(1000):
        answers.remember(("scan", n), {"verdict": "unknown-code"})
    assert len(answers) == 50


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    guard = ratelimit.WriteGuard(WriteLimits())

    class Request:
        def __init__(self, host: str) -> None:
            self.headers: dict[str, str] = {}
            self.client = type("Peer", (), {"host": host})()

    one = guard.client(Request("2001:db8:1:2::1"))  # type: ignore[arg-type]
    other = guard.client(Request("2001:db8:1:2:ffff::9"))  # type: ignore[arg-type]
    assert one == other == "2001:db8:1:2::/64"
    assert guard.client(Request("192.0.2.7")) == "192.0.2.7"  # type: ignore[arg-type]


def test_limits_refuse_nonsense_settings() -> None:
    from veriledger.core.errors import BadInputError

    for bad in ({"per_minute": 0}, {"burst": 0}, {"trusted_proxies": ("not-an-ip",)}):
        with pytest.raises(BadInputError):
            WriteLimits(**bad)  # type: ignore[arg-type]


@given(
    per_minute=st.integers(1, 600),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=200),
)
def test_token_bucket_never_allows_more_than_burst_plus_refill(
    per_minute: int, burst: int, gaps: list[float]
) -> None:
    bucket = None
    now = 0.0
    allowed = 0
    for gap in gaps:
        now += gap
        bucket, wait = ratelimit.take(bucket, now, per_minute, burst)
        allowed += wait == 0
        assert wait >= 0
    assert allowed <= burst + now * per_minute / 60 + 1e-6


def test_serve_passes_its_limits_to_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``veriledger serve --anonymous-...`` reaches the routes; a bad proxy is refused."""
    import uvicorn

    from veriledger.interfaces.cli import main

    data = tmp_path / "n"
    org = ["--org", "brand:brand:Brand", "--org", "shop:retailer:Shop"]
    assert main(["init", "--data-dir", str(data), "--chain", "ledger.example/cli", *org]) == 0
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    args = ["serve", "--data-dir", str(data), "--port", "0"]
    limits = ["--anonymous-writes-per-minute", "30", "--anonymous-write-burst", "5"]
    proxies = ["--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"]
    assert main([*args, *limits, "--anonymous-writes-total-per-minute", "100", *proxies]) == 0
    guard = served[0].state.anonymous_writes
    assert (guard.limits.per_minute, guard.limits.burst, guard.limits.total_per_minute) == (
        30,
        5,
        100,
    )
    assert guard.limits.trusted_proxies == ("10.0.0.0/8", "::1")
    assert main([*args, "--trusted-proxy", "proxy.example"]) == 2
    assert "trusted_proxies" in capsys.readouterr().err
    assert main([*args, "--anonymous-write-burst", "0"]) == 2
    assert len(served) == 1
