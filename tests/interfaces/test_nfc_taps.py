"""NFC taps over real loopback: a tag's SUN URL verified by the node and counted on the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.interfaces.browser import chromium
from veriledger.core.nfc_sun import encode_aes_sun
from veriledger.node.datadir import load_nfc_keys
from veriledger.node.demo import JACKET, NFC_TAPS_FILE, tag_uid
from veriledger.node.node import Node

SERIAL = "1005"  # tagged (first case), in the shop, not sold yet


def _tap_url(node: Node, counter: int, serial: str = SERIAL, uid_of: str | None = None) -> str:
    keys = load_nfc_keys(node.data_dir, JACKET)
    assert keys is not None
    picc, mac = encode_aes_sun(
        tag_uid(uid_of or serial),
        counter,
        file_read_key=keys.file_read_key,
        meta_read_key=keys.meta_read_key,
    )
    return f"https://id.gs1.org/01/{JACKET}/21/{serial}?picc_data={picc}&cmac={mac}"


def _tap(url: str, uri: str, **extra: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/items/tap", json={"uri": uri, **extra}, timeout=30)


def test_taps_count_and_replays_are_caught(demo_url: str, demo_node: Node) -> None:
    first = _tap_url(demo_node, 7)
    genuine = _tap(demo_url, first, country="CN", place="Shanghai")
    assert genuine.status_code == 200, genuine.text
    body = genuine.json()
    assert body["verdict"] == "genuine-tap" and body["taps"] == 1 and body["counter"] == 7
    assert {a["anomaly"] for a in body["anomalies"]} == {"not-yet-sold"}
    receipt = httpx.get(demo_url + body["receipt"])
    assert receipt.headers["content-type"].startswith("application/tlog-proof")
    # the same URL again, and an older one: a copied link
    assert _tap(demo_url, first).json()["verdict"] == "replayed-tap"
    assert _tap(demo_url, _tap_url(demo_node, 6)).json()["verdict"] == "replayed-tap"
    later = _tap(demo_url, _tap_url(demo_node, 9)).json()
    assert later["verdict"] == "genuine-tap" and later["taps"] == 2


def test_forged_and_moved_tags_are_not_genuine(demo_url: str, demo_node: Node) -> None:
    url = _tap_url(demo_node, 30, serial="1006")
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert _tap(demo_url, forged).json()["verdict"] == "invalid-tag"
    # a genuine tag of jacket 1007 whose message is pasted onto jacket 1006's URL
    moved = _tap_url(demo_node, 31, serial="1006", uid_of="1007")
    assert _tap(demo_url, moved).json()["verdict"] == "invalid-tag"
    assert _tap(demo_url, _tap_url(demo_node, 32, serial="1006")).json()["verdict"] == (
        "genuine-tap"
    )


@pytest.mark.parametrize(
    ("uri", "status", "field"),
    [
        (f"https://id.gs1.org/01/{JACKET}/21/1008", 400, "uri"),
        (f"https://id.gs1.org/01/{JACKET}/21/1008?picc_data=zz&cmac=00", 400, "uri"),
        ("https://id.gs1.org/01/09421902000102/21/2001?picc_data=00&cmac=00", 404, "uri"),
    ],
)
def test_bad_taps_are_problems(demo_url: str, uri: str, status: int, field: str | None) -> None:
    response = _tap(demo_url, uri)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert response.json()["field"] == field


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.mark.slow
def test_the_page_checks_the_tap_it_was_opened_with(
    browser: Any, demo_url: str, demo_node: Node
) -> None:
    first = (demo_node.data_dir / NFC_TAPS_FILE).read_text().splitlines()[0]
    page = browser.new_page(locale="en-GB")
    for expected in ("genuine-tap", "replayed-tap"):
        page.goto(f"{demo_url}{first}&lang=en")
        page.wait_for_selector("#tap-verdict:not([hidden])", timeout=15_000)
        assert page.get_attribute("#tap-verdict", "data-verdict") == expected
    assert "already used" in page.inner_text("#tap-verdict")
    page.close()
