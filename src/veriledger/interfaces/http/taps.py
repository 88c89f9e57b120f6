"""NFC taps: a phone opens the URL an NTAG 424 DNA tag wrote, and the node checks it.

The tag's URL is the item's Digital Link with the SUN parameters its template adds
(``?picc_data=…&cmac=…``, or NXP's ``?e=…&c=…``). The page POSTs that URL to
``/api/v1/items/tap``. The brand's node holds the product line's SDM keys in its
data directory (``nfc-keys.json``, never on the ledger), decrypts the PICCData,
checks the MAC and the tag's UID, and relays the tap to the ledger, whose rule
accepts it only if the read counter rose. Verdicts:

- ``genuine-tap``: a genuine tag, read for the ``taps``-th time;
- ``replayed-tap``: a genuine tag's URL seen before (copied, or a stale link);
- ``invalid-tag``: the MAC or PICCData does not verify, or the UID is not this
  item's: a counterfeit tag.

A tap is an anonymous ledger write, so it is bounded like a code check
(:mod:`.ratelimit`): only a tap that verified and whose counter rose is relayed and
charged to the client's address (429 with ``Retry-After`` beyond its limits). A
replayed URL never reaches the log: its counter is refused at submission (the rule
is checked there), and a URL whose counter is not above one being relayed right now
is a replay too, answered without relaying it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from veriledger.core.errors import (
    BadInputError,
    InvalidPiccDataError,
    MalformedNfcDataError,
    OutOfRangeError,
    RejectedError,
    SunMacError,
)
from veriledger.core.nfc_sun import SunParams, verify_sun
from veriledger.interfaces.http.problems import json_object
from veriledger.interfaces.http.ratelimit import WriteGuard, guard_of, too_many
from veriledger.interfaces.http.resolver import relay, scanner_id, sgtin_of, where_fields
from veriledger.modules.authenticity.module import REPLAYED_COUNTER
from veriledger.node.datadir import load_nfc_keys
from veriledger.node.node import Node

# Each SUN value under the names tag templates give it: ours first, then NXP's.
PARAM_NAMES = {"picc_data": ("picc_data", "e"), "cmac": ("cmac", "c"), "enc": ("enc", "m")}
MESSAGES = {
    "genuine-tap": (
        "Genuine tag. This is read number {taps} of this item's tag.",
        "正品标签。这是该商品标签的第 {taps} 次读取。",
    ),
    "replayed-tap": (
        "Warning: this tag link was already used. Tap the tag itself; a copied link "
        "may mean a counterfeit.",
        "警告：该标签链接已被使用过。请直接触碰标签；被复制的链接可能意味着假冒。",
    ),
    "invalid-tag": (
        "This tag is not genuine: its signature does not verify for this item.",
        "该标签不是正品：其签名与该商品不符。",
    ),
}


def _sun_params(uri: str) -> SunParams:
    query = parse_qs(urlsplit(uri).query)

    def one(name: str) -> str | None:
        for alias in PARAM_NAMES[name]:
            if alias in query:
                return query[alias][0]
        return None

    cmac, picc = one("cmac"), one("picc_data")
    if cmac is None or picc is None:
        raise BadInputError("uri: no SUN parameters (picc_data and cmac) in the tag's URL")
    return SunParams.from_hex(cmac=cmac, picc_data=picc, enc=one("enc"))


def _verdict(kind: str, **fields: Any) -> dict[str, Any]:
    en, zh = MESSAGES[kind]
    return {
        "verdict": kind,
        **fields,
        "message": {"en": en.format(**fields), "zh": zh.format(**fields)},
    }


@dataclass(frozen=True)
class TapRequest:
    """A tap, read and its SUN message verified, before any write."""

    tap: dict[str, Any]
    """The ``authenticity.tap`` body to relay."""
    answer: dict[str, Any] | None = None
    """Set when nothing is to be written (a tag that does not verify)."""


def prepare_tap(node: Node, body: dict[str, Any], address: str, user_agent: str) -> TapRequest:
    """Read a tap and verify its SUN message with this node's keys.

    Raises:
        BadInputError: no uri, no SUN parameters, malformed hex or place fields, or
            no keys here for this product (OutOfRangeError, a 404).
    """
    uri = body.get("uri")
    if not isinstance(uri, str):
        raise BadInputError("uri: the URL the tag wrote, a string")
    gtin, serial = sgtin_of(uri.split("?", 1)[0])
    keys = load_nfc_keys(node.data_dir, gtin)
    if keys is None:
        raise OutOfRangeError(f"uri: this node verifies no NFC tags of GTIN {gtin}")
    try:
        params = _sun_params(uri)
    except MalformedNfcDataError as exc:
        raise BadInputError(f"uri: {exc.diagnostics()}") from None
    where = {k: v for k, v in where_fields(body).items() if k in ("country", "place")}
    try:
        message = verify_sun(
            params, file_read_key=keys.file_read_key, meta_read_key=keys.meta_read_key
        )
    except (SunMacError, InvalidPiccDataError):
        return TapRequest({}, _verdict("invalid-tag", gtin=gtin, serial=serial))
    expected_uid = keys.uids.get(serial)
    if message.read_counter is None or (expected_uid and message.uid != expected_uid):
        return TapRequest({}, _verdict("invalid-tag", gtin=gtin, serial=serial))
    tap = {
        "gtin": gtin,
        "serial": serial,
        "counter": message.read_counter,
        "scanner": scanner_id(address, user_agent),
        **where,
    }
    return TapRequest(tap)


def relay_tap(node: Node, tap: dict[str, Any]) -> dict[str, Any]:
    """Relay a verified tap; a counter that did not rise is a ``replayed-tap``.

    Raises:
        RejectedError: any other refusal.
    """
    try:
        tx, event = relay(node, "authenticity.tap", tap, "authenticity.tapped")
    except RejectedError as exc:
        if exc.module == "authenticity" and exc.code == REPLAYED_COUNTER:
            return _replayed(tap)
        raise
    return _verdict(
        "genuine-tap",
        gtin=tap["gtin"],
        serial=tap["serial"],
        counter=event["counter"],
        taps=event["taps"],
        anomalies=event["anomalies"],
        receipt=f"/api/v1/transactions/{tx.id}/receipt",
    )


def _replayed(tap: dict[str, Any]) -> dict[str, Any]:
    return _verdict("replayed-tap", gtin=tap["gtin"], serial=tap["serial"], counter=tap["counter"])


async def relay_limited(
    node: Node, guard: WriteGuard, address: str, tap: dict[str, Any]
) -> Response:
    """Relay a verified tap, unless it is a replay of one being relayed now, within the
    address's limits.

    Two copies of one URL sent at once would both pass the submission check (the
    ledger has neither yet), and the second would be refused in the block, leaving a
    rejected transaction in the log: so a counter not above the highest in flight for
    the item is answered as a replay here (a tag's counter only rises: a lower one
    after a higher one is a stale or copied URL).
    """
    item = ("tap", tap["gtin"], tap["serial"])
    highest = guard.taps_in_flight.get(item)
    if highest is not None and tap["counter"] <= highest:
        return JSONResponse(_replayed(tap))
    wait = guard.limiter.take(address)
    if wait:
        return too_many(wait, address)
    guard.taps_in_flight[item] = tap["counter"]
    try:
        answer = await asyncio.to_thread(relay_tap, node, tap)
    finally:
        if guard.taps_in_flight.get(item) == tap["counter"]:
            del guard.taps_in_flight[item]
    return JSONResponse(answer)


def create_router(node: Node) -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/items/tap")
    async def tap(request: Request) -> Response:
        """An NFC tap: ``{"uri": <the URL the tag wrote>, "country"?, "place"?}``.

        At most the address's share of anonymous ledger writes (429 with
        ``Retry-After`` beyond it).
        """
        body = json_object(await request.body())
        guard = guard_of(request)
        address = guard.client(request)
        agent = request.headers.get("user-agent", "")
        prepared = await asyncio.to_thread(prepare_tap, node, body, address, agent)
        if prepared.answer is not None:
            return JSONResponse(prepared.answer)
        return await relay_limited(node, guard, address, prepared.tap)

    return router
