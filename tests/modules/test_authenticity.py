"""The authenticity module: code registration, scans and verdicts, anomalies, NFC taps."""

from __future__ import annotations

from typing import Any

import pytest

from tests.modules.harness import CHAIN, Chain, tx
from veriledger.chain.driver import BlockContext, admit_transaction, execute_block
from veriledger.chain.module import Context, Rejection
from veriledger.chain.state import BlockState
from veriledger.chain.transactions import Transaction
from veriledger.core.encoding import b64encode
from veriledger.core.nfc_sun import COUNTER_MAX
from veriledger.modules import catalog, identity
from veriledger.modules.authenticity import MODULE, codes
from veriledger.modules.authenticity import module as auth
from veriledger.modules.trace import module as trace

ORGS = [
    ("brand", "brand", [("brand/ops", ["operator"])]),
    ("rival", "manufacturer", [("rival/ops", ["operator"])]),
    ("shop", "retailer", [("shop/relay", ["operator"])]),
]
GTIN = "04012345000016"
SGTIN = "urn:epc:id:sgtin:4012345.000001.{}"
UNCLAIMED_GTIN = "09506000134352"
SALT = bytes(range(16))
SHANGHAI = {"country": "CN", "lat": "31.2304", "lon": "121.4737", "place": "Shanghai"}
BERLIN = {"country": "DE", "lat": "52.52", "lon": "13.405", "place": "Berlin"}
PARIS = {"country": "FR", "lat": "48.8566", "lon": "2.3522", "place": "Paris"}
WAREHOUSE_SGLN = "urn:epc:id:sgln:4012345.00001.0"
STORE_SGLN = "urn:epc:id:sgln:4012345.00002.0"


class EventChain(Chain):
    """The harness chain, also returning each transaction's events and logging its blocks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.blocks: list[tuple[int, tuple[Transaction, ...]]] = []

    def run_events(
        self, *txs: Transaction
    ) -> list[tuple[bool, str | None, tuple[dict[str, Any], ...]]]:
        self.blocks.append((self.start_ms, txs))
        self.height += 1
        block = BlockContext(CHAIN, self.height, self.start_ms + 1000 * self.height, "00")
        result = execute_block(self.state, txs, block, self.registry, identity.authorize, self.root)
        self.state.apply(result.writes)
        self.root = result.state_root
        return [(r.accepted, r.code, r.events) for r in result.results]

    def run(self, *txs: Transaction) -> list[tuple[bool, str | None, str | None]]:
        self.blocks.append((self.start_ms, txs))
        return super().run(*txs)

    def scan(self, serial: str, code: str, where: dict[str, str], **extra: str) -> dict[str, Any]:
        gtin = extra.pop("gtin", GTIN)
        body = {
            "gtin": gtin,
            "serial": serial,
            "code_hash": auth.code_hash(SALT, gtin, serial, code),
            "scanner": extra.pop("scanner", "consumer-1"),
            **where,
            **extra,
        }
        [(accepted, code_, events)] = self.run_events(tx("shop/relay", "authenticity.scan", body))
        assert accepted, code_
        return events[0]


def item(serial: str, code: str, gtin: str = GTIN) -> dict[str, str]:
    return {
        "serial": serial,
        "salt": b64encode(SALT),
        "code_hash": auth.code_hash(SALT, gtin, serial, code),
    }


def register(gtin: str, *items: dict[str, str], member: str = "brand/ops") -> Transaction:
    return tx(member, "authenticity.register_codes", {"gtin": gtin, "items": list(items)})


def capture(c: Chain, member: str, day: str, **fields: Any) -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": f"2027-01-{day}T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        **fields,
    }
    [(ok, code, reason)] = c.run(tx(member, "trace.capture", {"event": event}))
    assert ok, (code, reason)


def chain(codes_for: tuple[str, ...] = ("S1",)) -> EventChain:
    c = EventChain([catalog.MODULE, trace.MODULE, MODULE], ORGS, start_ms=1_800_000_000_000)
    results = c.run(
        tx("brand/ops", "catalog.claim_prefix", {"prefix": "4012345"}),
        tx(
            "brand/ops",
            "catalog.define_location",
            {"gln": auth.gln_from_sgln(WAREHOUSE_SGLN), "name": "Warehouse", "country": "CN"},
        ),
        tx(
            "brand/ops",
            "catalog.define_location",
            {"gln": auth.gln_from_sgln(STORE_SGLN), "name": "Store", "country": "DE"},
        ),
    )
    assert all(r[0] for r in results), results
    if codes_for:
        assert c.run(register(GTIN, *(item(s, f"CODE-{s}") for s in codes_for)))[0][0]
    return c


def commission(c: Chain, serial: str) -> None:
    capture(
        c,
        "brand/ops",
        "01",
        epcList=[SGTIN.format(serial)],
        action="ADD",
        bizStep="commissioning",
        bizLocation={"id": WAREHOUSE_SGLN},
    )


def sell(c: Chain, serial: str) -> None:
    capture(
        c,
        "shop/relay",
        "05",
        epcList=[SGTIN.format(serial)],
        bizStep="retail_selling",
        readPoint={"id": STORE_SGLN},
    )


def kinds(result: dict[str, Any]) -> list[str]:
    return [a["anomaly"] for a in result["anomalies"]]


# --- registration ------------------------------------------------------------------------


def test_only_the_prefix_owner_registers_and_unclaimed_prefixes_are_unverified() -> None:
    c = chain(codes_for=())
    [(ok, code, events)] = c.run_events(register(GTIN, item("S1", "A")))
    assert ok, code
    assert events[0]["brand_verified"] is True and events[0]["count"] == 1
    results = c.run(
        register(GTIN, item("S2", "B"), member="rival/ops"),
        register(GTIN, item("S1", "C")),
        register(GTIN, item("S3", "C"), item("S3", "D")),
    )
    assert [r[1] for r in results] == ["authenticity/3", "authenticity/4", "authenticity/4"]
    assert "brand" in (results[0][2] or "")
    # nobody claimed 9506000: the rival may register, shown as brand-unverified
    [(ok, _, events)] = c.run_events(
        register(UNCLAIMED_GTIN, item("X1", "E", UNCLAIMED_GTIN), member="rival/ops")
    )
    assert ok and events[0]["brand_verified"] is False
    record = MODULE.queries["item"](c.state, {"gtin": UNCLAIMED_GTIN, "serial": "X1"})
    assert record["brand_verified"] is False and record["salt"] == b64encode(SALT)
    assert MODULE.queries["item"](c.state, {"gtin": GTIN, "serial": "S1"})["brand_verified"]


def test_registration_refuses_malformed_items() -> None:
    c = chain(codes_for=())
    good = item("S1", "A")
    results = c.run(
        register("04012345000017", good),
        register(GTIN),
        register(GTIN, {**good, "serial": ""}),
        register(GTIN, {**good, "serial": "x" * 21}),
        register(GTIN, {**good, "salt": b64encode(b"short")}),
        register(GTIN, {**good, "salt": "not base64!"}),
        register(GTIN, {**good, "code_hash": "AB" * 32}),
    )
    assert [r[1] for r in results] == [
        "authenticity/1",
        "authenticity/7",
        "authenticity/2",
        "authenticity/2",
        "authenticity/5",
        "authenticity/5",
        "authenticity/6",
    ]
    # 1000 items exceed one transaction's size limit; the rule's own bound, directly
    ctx = Context(CHAIN, "t", "k", "brand/ops", "brand", "brand", frozenset(), 9, 1)

    def body(n: int) -> auth.RegisterCodes:
        return auth.RegisterCodes(
            GTIN, [auth.CodeItem(f"N{i}", b64encode(SALT), "0" * 64) for i in range(n)]
        )

    assert len(auth.register_codes(c.state, body(1000), ctx).writes) == 1000
    with pytest.raises(Rejection) as caught:
        auth.register_codes(c.state, body(1001), ctx)
    assert caught.value.code == auth.BAD_ITEM_COUNT
    assert c.run(register(GTIN, *(item(f"N{n}", "A") for n in range(300))))[0][0]


def test_code_hash_and_generated_codes() -> None:
    import hashlib

    assert (
        auth.code_hash(SALT, GTIN, "S1", "ABC")
        == hashlib.sha256(SALT + b"04012345000016/S1/ABC").hexdigest()
    )
    items, secret = codes.make_items(GTIN, ["A1", "A2"])
    assert set(secret) == {"A1", "A2"} and secret["A1"] != secret["A2"]
    assert all(
        len(code) == codes.CODE_LENGTH and set(code) <= set(codes.ALPHABET)
        for code in secret.values()
    )
    c = chain(codes_for=())
    assert c.run(register(GTIN, *items))[0][0]
    salt = MODULE.queries["item"](c.state, {"gtin": GTIN, "serial": "A1"})["salt"]
    import base64

    relay_hash = auth.code_hash(base64.b64decode(salt), GTIN, "A1", secret["A1"])
    assert auth.verdict(c.state, GTIN, "A1", relay_hash)["verdict"] == "genuine-first"


# --- verdicts ----------------------------------------------------------------------------


def test_genuine_first_then_suspected_clone_with_count_and_first_place() -> None:
    c = chain()
    first = c.scan("S1", "CODE-S1", SHANGHAI)
    assert first["verdict"] == "genuine-first" and first["count"] == 1
    c.start_ms += 3_600_000  # an hour later, far enough not to be impossible travel
    second = c.scan("S1", "CODE-S1", PARIS, scanner="consumer-2")
    assert second["verdict"] == "suspected-clone"
    assert second["count"] == 2
    assert second["first"]["place"] == "Shanghai" and second["first"]["country"] == "CN"
    assert second["first"]["time"] == 1_800_000_000_000 + 3000
    third = c.scan("S1", "CODE-S1", PARIS, scanner="consumer-3")
    assert third["count"] == 3 and third["first"]["place"] == "Shanghai"
    scans = MODULE.queries["scans"](c.state, {"gtin": GTIN, "serial": "S1"})
    assert [s["place"] for s in scans] == ["Shanghai", "Paris", "Paris"]
    assert all(s["match"] for s in scans)
    assert "code" not in scans[0]  # only the salted hash is on the ledger


def test_wrong_code_and_unknown_item_are_recorded_not_refused() -> None:
    c = chain()
    wrong = c.scan("S1", "GUESS", SHANGHAI)
    assert wrong["verdict"] == "unknown-code"
    # a wrong code does not count as a verification
    assert c.scan("S1", "CODE-S1", SHANGHAI)["verdict"] == "genuine-first"
    unknown = c.scan("NOPE", "CODE-S1", SHANGHAI)
    assert unknown["verdict"] == "unknown-item" and unknown["anomalies"] == []
    scans = MODULE.queries["scans"](c.state, {"gtin": GTIN, "serial": "S1"})
    assert [s["match"] for s in scans] == [False, True]
    assert len(MODULE.queries["scans"](c.state, {"gtin": GTIN, "serial": "NOPE"})) == 1


def test_scan_refuses_only_malformed_messages() -> None:
    c = chain()
    good = {
        "gtin": GTIN,
        "serial": "S1",
        "code_hash": "0" * 64,
        "scanner": "consumer-1",
        **SHANGHAI,
    }
    results = c.run(
        *(
            tx("shop/relay", "authenticity.scan", {**good, **change})
            for change in (
                {"gtin": "123"},
                {"serial": ""},
                {"code_hash": "xyz"},
                {"scanner": ""},
                {"country": "China"},
                {"lat": "91"},
                {"lon": "east"},
                {"lat": ""},
            )
        )
    )
    assert [r[1] for r in results] == [
        "authenticity/1",
        "authenticity/2",
        "authenticity/6",
        "authenticity/8",
        "authenticity/8",
        "authenticity/8",
        "authenticity/8",
        "authenticity/8",
    ]


def test_verdict_query_matches_the_scan_event_and_is_not_stored() -> None:
    c = chain()
    commission(c, "S1")
    code_hash = auth.code_hash(SALT, GTIN, "S1", "CODE-S1")
    params = {"gtin": GTIN, "serial": "S1", "code_hash": code_hash, "country": "CN"}
    before = MODULE.queries["verdict"](c.state, params)
    event = c.scan("S1", "CODE-S1", SHANGHAI)
    assert {k: event[k] for k in before} == before
    after = MODULE.queries["verdict"](c.state, params)
    assert after["verdict"] == "suspected-clone" and after["count"] == 2
    assert not any("verdict" in str(value) for _, value in c.state.scan("authenticity/"))
    assert MODULE.queries["verdict"](c.state, {"gtin": "bad"})["verdict"] == "unknown-item"


# --- anomalies ---------------------------------------------------------------------------


def test_impossible_travel_shanghai_then_berlin_a_minute_later() -> None:
    c = chain(codes_for=("S1", "S2"))
    c.scan("S1", "CODE-S1", SHANGHAI)
    c.start_ms += 59_000  # the next block is one minute later
    clone = c.scan("S1", "CODE-S1", BERLIN, scanner="consumer-2")
    assert clone["verdict"] == "suspected-clone"
    [travel] = [a for a in clone["anomalies"] if a["anomaly"] == "impossible-travel"]
    assert 8_300 <= travel["distance_km"] <= 8_500
    assert travel["elapsed_ms"] == 60_000
    assert travel["speed_kmh"] > 400_000 and travel["from"] == "Shanghai"
    # a day later the same journey is possible (a clone still, but no travel anomaly)
    c.scan("S2", "CODE-S2", SHANGHAI)
    c.start_ms += 86_400_000
    later = c.scan("S2", "CODE-S2", BERLIN)
    assert later["verdict"] == "suspected-clone"
    assert "impossible-travel" not in kinds(later)


def test_impossible_travel_needs_coordinates_and_real_distance() -> None:
    c = chain()
    c.scan("S1", "CODE-S1", SHANGHAI)
    nearby = {**SHANGHAI, "lat": "31.3", "place": "Shanghai north"}
    assert "impossible-travel" not in kinds(c.scan("S1", "CODE-S1", nearby))
    unknown = {"country": "DE", "place": "somewhere"}
    assert "impossible-travel" not in kinds(c.scan("S1", "CODE-S1", unknown))


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        ((31.2304, 121.4737), (52.52, 13.405), 8397),
        ((-33.8688, 151.2093), (40.7128, -74.006), 15988),
        ((0, 0), (0, 180), 20015),
        ((51.5074, -0.1278), (51.5074, -0.1278), 0),
    ],
)
def test_integer_haversine(a: tuple[float, float], b: tuple[float, float], km: int) -> None:
    def e7(x: float, limit: int) -> int:
        value = auth.degrees_e7(str(x), limit, "x")
        assert value is not None
        return value

    metres = auth.distance_m(e7(a[0], 90), e7(a[1], 180), e7(b[0], 90), e7(b[1], 180))
    assert metres // 1000 == km


def test_unexpected_country_from_the_trace_history() -> None:
    c = chain(codes_for=("S1", "S2"))
    # without any located history nothing is expected or unexpected
    assert "unexpected-country" not in kinds(c.scan("S2", "CODE-S2", PARIS))
    commission(c, "S1")  # at the Shanghai warehouse (CN)
    result = c.scan("S1", "CODE-S1", PARIS)
    [anomaly] = [a for a in result["anomalies"] if a["anomaly"] == "unexpected-country"]
    assert anomaly["country"] == "FR" and anomaly["reached"] == ["CN"]
    assert "unexpected-country" not in kinds(c.scan("S1", "CODE-S1", SHANGHAI))
    sell(c, "S1")  # at the Berlin store (DE)
    c.start_ms += 86_400_000
    assert "unexpected-country" not in kinds(c.scan("S1", "CODE-S1", BERLIN))


def test_recalled_item() -> None:
    c = chain()
    commission(c, "S1")
    assert "recalled" not in kinds(c.scan("S1", "CODE-S1", SHANGHAI))
    assert c.run(tx("brand/ops", "trace.recall", {"reason": "contaminated", "gtin": GTIN}))[0][0]
    result = c.scan("S1", "CODE-S1", SHANGHAI)
    [recalled] = [a for a in result["anomalies"] if a["anomaly"] == "recalled"]
    assert recalled["reasons"] == ["contaminated"] and len(recalled["recalls"]) == 1


def test_not_yet_sold_until_a_retail_selling_event() -> None:
    c = chain()
    commission(c, "S1")
    assert "not-yet-sold" in kinds(c.scan("S1", "CODE-S1", SHANGHAI))
    sell(c, "S1")
    c.start_ms += 86_400_000
    assert "not-yet-sold" not in kinds(c.scan("S1", "CODE-S1", BERLIN))


# --- NFC taps ----------------------------------------------------------------------------


def test_tap_counters_strictly_increase_and_replays_are_refused() -> None:
    c = chain(codes_for=())

    def tap(counter: int, serial: str = "T1") -> Transaction:
        body = {
            "gtin": GTIN,
            "serial": serial,
            "counter": counter,
            "scanner": "c1",
            "country": "DE",
        }
        return tx("shop/relay", "authenticity.tap", body)

    [(ok, code, events)] = c.run_events(tap(5))
    assert ok, code
    assert events[0]["counter"] == 5 and events[0]["taps"] == 1
    results = c.run_events(tap(6), tap(6), tap(3), tap(COUNTER_MAX + 1), tap(-1), tap(0, "T2"))
    assert [(r[0], r[1]) for r in results] == [
        (True, None),
        (False, "authenticity/10"),
        (False, "authenticity/10"),
        (False, "authenticity/9"),
        (False, "authenticity/9"),
        (True, None),
    ]
    assert results[0][2][0]["taps"] == 2
    assert c.state.get(auth.nfc_key(GTIN, "T1"))["counter"] == 6
    assert c.run(tap(COUNTER_MAX))[0][0]
    assert c.run(tap(COUNTER_MAX))[0][1] == "authenticity/10"


def _admission(c: Chain, *txs: Transaction) -> list[str | None]:
    """What the submission checks say of each transaction, in one batch."""
    state = BlockState(c.state)
    block = BlockContext(CHAIN, c.height + 1, c.start_ms + 1000 * (c.height + 1), "")
    out: list[str | None] = []
    for t in txs:
        try:
            message, body, ctx = admit_transaction(state, t, block, c.registry, identity.authorize)
            assert message.admission is not None
            state.apply(message.admission(state, body, ctx).writes)
            out.append(None)
        except Rejection as exc:
            out.append(f"{exc.module}/{exc.code}")
    return out


def test_replayed_tap_is_refused_at_submission() -> None:
    """A copied tap URL is refused before ordering, so no rejected transaction is logged;
    two taps of one batch must rise too."""
    c = chain(codes_for=())

    def tap(counter: int) -> Transaction:
        body = {"gtin": GTIN, "serial": "T1", "counter": counter, "scanner": "c1"}
        return tx("shop/relay", "authenticity.tap", body)

    assert c.run(tap(5))[0][0]
    before = dict(c.state.values)
    assert _admission(c, tap(5), tap(4), tap(6), tap(6), tap(COUNTER_MAX + 1)) == [
        "authenticity/10",
        "authenticity/10",
        None,
        "authenticity/10",
        "authenticity/9",
    ]
    assert c.state.values == before


def test_malformed_scan_is_refused_at_submission() -> None:
    c = chain()
    good = {"gtin": GTIN, "serial": "S1", "code_hash": "0" * 64, "scanner": "c1"}
    bad = [
        {**good, "country": "china"},
        {**good, "lat": "91", "lon": "0"},
        {**good, "lat": "1"},
        {**good, "scanner": ""},
        {**good, "code_hash": "XYZ"},
    ]
    before = dict(c.state.values)
    results = _admission(c, *(tx("shop/relay", "authenticity.scan", b) for b in bad))
    assert results == [
        "authenticity/8",
        "authenticity/8",
        "authenticity/8",
        "authenticity/8",
        "authenticity/6",
    ]
    assert _admission(c, tx("shop/relay", "authenticity.scan", good)) == [None]
    assert c.state.values == before


def test_uncommissioned_serial_is_not_registered() -> None:
    """A registered code is not the brand saying the item exists: only its commissioning
    is, and only the prefix owner's."""
    c = chain(codes_for=("S1", "S2"))
    commission(c, "S1")
    assert auth.registered(c.state, GTIN, "S1")
    assert not auth.registered(c.state, GTIN, "S2")  # a code, but never commissioned
    assert not auth.registered(c.state, GTIN, "S3")
    # an unclaimed prefix has no brand: its items are never registered
    capture(
        c,
        "rival/ops",
        "01",
        epcList=["urn:epc:id:sgtin:9506000.013435.X1"],
        action="ADD",
        bizStep="commissioning",
    )
    assert not auth.registered(c.state, UNCLAIMED_GTIN, "X1")
    assert auth.query_checks(c.state, {"gtin": GTIN, "serial": "S2"})["registered"] is False


def test_checks_count_matches_and_name_the_first() -> None:
    c = chain(codes_for=("S1",))
    commission(c, "S1")
    none = auth.checks(c.state, GTIN, "S1")
    assert none == {"count": 0, "first_time": None, "first_place": None}
    c.scan("S1", "WRONG", SHANGHAI)
    assert auth.checks(c.state, GTIN, "S1")["count"] == 0  # a wrong code checks nothing
    c.scan("S1", "CODE-S1", {})
    c.scan("S1", "CODE-S1", BERLIN)
    found = auth.checks(c.state, GTIN, "S1")
    assert found["count"] == 2
    assert found["first_place"] is None  # unknown: no placeholder
    first_match = next(
        r for r in auth.query_scans(c.state, {"gtin": GTIN, "serial": "S1"}) if r["match"]
    )
    assert found["first_time"] == trace.iso_ms(first_match["time"])
    c2 = chain(codes_for=("S1",))
    c2.scan("S1", "CODE-S1", {"country": "CN"})
    assert auth.checks(c2.state, GTIN, "S1")["first_place"] == "CN"


# --- determinism and documentation -------------------------------------------------------


def test_determinism_same_transactions_same_state_root() -> None:
    c = chain(codes_for=("S1", "S/2"))
    commission(c, "S1")
    events: list[Any] = [
        c.scan("S1", "CODE-S1", SHANGHAI),
        c.scan("S/2", "CODE-S/2", SHANGHAI),
        c.scan("S1", "WRONG", BERLIN),
    ]
    c.start_ms += 59_000
    events.append(c.scan("S1", "CODE-S1", BERLIN))
    assert "impossible-travel" in kinds(events[-1])
    # a serial with "/" stays one item: its key cannot be confused with another serial's
    assert events[1]["verdict"] == "genuine-first"
    for _ in range(2):
        replay = EventChain([catalog.MODULE, trace.MODULE, MODULE], ORGS)
        replayed: list[Any] = []
        for start_ms, txs in c.blocks:
            replay.start_ms = start_ms
            replayed += [e for r in replay.run_events(*txs) for e in r[2]]
        assert replay.root == c.root
        assert [e for e in replayed if e["type"] == "authenticity.scanned"] == events


def test_every_code_is_documented_by_a_rule() -> None:
    docs = [m.rule.__doc__ or "" for m in MODULE.messages]
    assert all("Raises:" in doc for doc in docs)
    for code in MODULE.errors:
        assert any(f"authenticity/{code}" in doc for doc in docs), code
    assert all(m.doc for m in MODULE.messages)
    assert {m.name for m in MODULE.messages if m.checked_at_submission} == {
        "authenticity.register_codes",
        "authenticity.scan",
        "authenticity.tap",
    }
    assert set(MODULE.queries) >= {"verdict", "scans"}


@pytest.mark.parametrize(
    ("uri", "gln"),
    [
        ("urn:epc:id:sgln:4012345.00001.0", "4012345000016"),
        ("urn:epc:id:sgln:4012345.00001.dock7", "4012345000016"),
        ("https://id.gs1.org/414/4012345000016", "4012345000016"),
        ("urn:epc:id:sgln:4012345.0001.0", None),
        ("https://id.gs1.org/414/4012345000017", None),
        ("urn:example:somewhere", None),
    ],
)
def test_gln_from_sgln(uri: str, gln: str | None) -> None:
    assert auth.gln_from_sgln(uri) == gln
