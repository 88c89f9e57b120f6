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
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request

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
from veriledger.interfaces.http.resolver import relay, scanner_id, sgtin_of
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


def verify_tap(node: Node, request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Check one tap and relay it to the ledger.

    Raises:
        BadInputError: no uri, no SUN parameters, malformed hex, or no keys here
            for this product (OutOfRangeError, a 404).
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
    try:
        message = verify_sun(
            params, file_read_key=keys.file_read_key, meta_read_key=keys.meta_read_key
        )
    except (SunMacError, InvalidPiccDataError):
        return _verdict("invalid-tag", gtin=gtin, serial=serial)
    expected_uid = keys.uids.get(serial)
    if message.read_counter is None or (expected_uid and message.uid != expected_uid):
        return _verdict("invalid-tag", gtin=gtin, serial=serial)
    tap = {"gtin": gtin, "serial": serial, "counter": message.read_counter}
    tap["scanner"] = scanner_id(request)
    for field in ("country", "place"):
        if isinstance(body.get(field), str) and body[field]:
            tap[field] = body[field]
    try:
        tx, event = relay(node, "authenticity.tap", tap, "authenticity.tapped")
    except RejectedError as exc:
        if exc.module == "authenticity" and exc.code == REPLAYED_COUNTER:
            return _verdict("replayed-tap", gtin=gtin, serial=serial, counter=tap["counter"])
        raise
    return _verdict(
        "genuine-tap",
        gtin=gtin,
        serial=serial,
        counter=event["counter"],
        taps=event["taps"],
        anomalies=event["anomalies"],
        receipt=f"/api/v1/transactions/{tx.id}/receipt",
    )


def create_router(node: Node) -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/items/tap")
    async def tap(request: Request) -> dict[str, Any]:
        """An NFC tap: ``{"uri": <the URL the tag wrote>, "country"?, "place"?}``."""
        body = json_object(await request.body())
        return await asyncio.to_thread(verify_tap, node, request, body)

    return router
