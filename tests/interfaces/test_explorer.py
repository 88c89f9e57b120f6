"""The explorer page in Chromium: blocks, a transaction, and its proof checked in the browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.interfaces.browser import chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(demo_url: str) -> Iterator[Any]:
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(demo_url + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        assert not errors, errors
        yield page


def test_summary_and_blocks(page: Any) -> None:
    assert "demo.veriledger.example/ledger" in page.inner_text("#chain")
    assert page.locator("#blocks tbody tr").count() >= 5
    assert "final" in page.inner_text("#checkpoint")
    cosigners = page.inner_text("#checkpoint-cosigners")
    assert "aurora" in cosigners and "samr" in cosigners
    assert page.locator("#orgs .card").count() == 6
    first = page.locator("#checkpoints tbody tr").first
    assert "final" in first.inner_text() and "citymart" in first.inner_text()


def test_verify_a_transaction_in_the_browser(page: Any, demo_url: str) -> None:
    # The oldest block listed, but not genesis, which has no transactions (how many
    # blocks the demo cuts, and so whether genesis is listed, depends on timing).
    page.click('#blocks tbody tr:not([data-height="0"]) >> nth=-1')
    page.wait_for_selector("#block-txs tbody tr")
    page.click("#block-txs tbody tr >> nth=0")
    page.wait_for_selector("#tx-detail:not([hidden])")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=ok], #verify-result[data-status=fail]")
    result = page.locator("#verify-result")
    assert result.get_attribute("data-status") == "ok", result.inner_text()
    assert "Verified in your browser" in result.inner_text()
    assert "quorum consortium (4 of 6" in result.inner_text()
    # The browser fetched the proof and the policy, and judged them itself.
    assert any(url.endswith("/receipt") for url in requests)
    assert any(url.endswith("/tlog/policy") for url in requests)
    assert not any("/verify" in url for url in requests)


def test_a_forged_receipt_fails_in_the_browser(page: Any) -> None:
    def forge(route: Any) -> None:
        response = route.fetch()
        body = response.body().replace(b"index ", b"index 1", 1)
        route.fulfill(response=response, body=body)

    page.route("**/receipt", forge)
    try:
        page.click("#verify")
        page.wait_for_selector("#verify-result[data-status=fail]")
        assert "Verification failed" in page.inner_text("#verify-result")
    finally:
        page.unroute("**/receipt")
