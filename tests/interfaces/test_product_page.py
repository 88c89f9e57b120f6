"""The consumer product page ("ID card") in Chromium, and the Digital Link resolver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.interfaces.browser import chromium

RECALLED = "/01/04012345000016/21/1030"  # case 2: lot JKT-2611-2, recalled
SOLD = "/01/04012345000016/21/1000"  # case 0: lot JKT-2611-1, sold


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _open(browser: Any, url: str, lang: str = "en") -> Any:
    page = browser.new_page(locale="en-GB")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}?lang={lang}")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    page.wait_for_selector("#proof-status:not([data-status=pending])", timeout=30_000)
    assert not errors, errors
    return page


@pytest.mark.slow
def test_recalled_item_page(browser: Any, demo_url: str) -> None:
    page = _open(browser, demo_url + RECALLED)
    assert page.inner_text("#product-name") == "Alpine Shell Jacket"
    assert "Brand verified" in page.inner_text("#brand-status")
    assert page.is_visible("#recall-banner")
    assert "choking hazard" in page.inner_text("#recall-banner")
    steps = page.eval_on_selector_all("#journey li", "els => els.map(e => e.dataset.step)")
    assert steps[0] == "commissioning" and "customs_clearing" in steps and steps[-1] == "stocking"
    assert page.get_attribute("#proof-status", "data-status") == "ok", page.inner_text(
        "#proof-status"
    )
    assert "cosigned by" in page.inner_text("#proof-status")
    assert page.eval_on_selector_all("#journey li[data-proof=ok]", "els => els.length") == len(
        steps
    )
    assert page.is_visible("#cross-border")
    assert "Ningbo" in page.inner_text("#cross-border-list")
    page.close()


@pytest.mark.slow
def test_sold_item_in_chinese(browser: Any, demo_url: str) -> None:
    page = _open(browser, demo_url + SOLD, lang="zh")
    assert page.inner_text("#product-name") == "高山冲锋衣"
    assert not page.is_visible("#recall-banner")
    assert "售出" in page.inner_text("#journey")
    assert "已核验" in page.inner_text("#proof-status")
    page.click("#lang")
    assert page.inner_text("#product-name") == "Alpine Shell Jacket"
    page.emulate_media(media="print")
    assert not page.is_visible("#print")
    page.close()


def test_resolver_negotiates_and_refuses(demo_url: str) -> None:
    html = httpx.get(demo_url + SOLD, headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    links = httpx.get(demo_url + SOLD, headers={"Accept": "application/linkset+json"})
    assert links.headers["content-type"] == "application/linkset+json"
    linkset = links.json()["linkset"][0]
    assert linkset["anchor"] == "https://id.gs1.org/01/04012345000016/21/1000"
    assert "https://gs1.org/voc/epcis" in linkset
    redirect = httpx.get(demo_url + SOLD + "?linkType=gs1:epcis", follow_redirects=False)
    assert redirect.status_code == 307 and "/epcis/epcs/" in redirect.headers["location"]
    lot_page = httpx.get(
        demo_url + "/01/04012345000016/10/JKT-2611-2", headers={"Accept": "application/json"}
    )
    assert lot_page.status_code == 200
    for bad, field in [
        ("/01/04012345000017/21/1", "01"),
        ("/01/0401234500001/21/1", "01"),
        ("/00/12345", "00"),
        ("/414/4012345000109", "414"),
    ]:
        r = httpx.get(demo_url + bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field
    item = httpx.get(
        f"{demo_url}/api/v1/items", params={"uri": "https://id.gs1.org/01/04012345000016/21/1030"}
    ).json()
    assert [r["kind"] for r in item["recalls"]] == ["lot"]
    assert item["journey"][0]["org"]["name"] == "Aurora Apparel GmbH"


def _codes(demo_node: Any) -> dict[str, str]:
    lines = (demo_node.data_dir / "item-codes.csv").read_text().splitlines()[1:]
    return {line.split(",")[1]: line.split(",")[2] for line in lines}


@pytest.mark.slow
def test_genuine_and_cloned_verdicts_and_the_map(
    browser: Any, demo_url: str, demo_node: Any
) -> None:
    codes = _codes(demo_node)
    page = _open(browser, demo_url + "/01/04012345000016/21/1012")
    assert page.is_visible("#authenticity")
    page.fill("#code", codes["1012"])
    page.click("#verify-form button")
    page.wait_for_selector("#verdict:not([hidden])")
    assert page.get_attribute("#verdict", "data-verdict") == "genuine-first"
    assert "Genuine" in page.inner_text("#verdict")
    # the journey map: Stuttgart, Singapore, Ningbo, Shanghai
    assert page.get_attribute("#map", "data-stops") == "4"
    assert set(page.get_attribute("#map", "data-countries").split(",")) >= {"DE", "SG", "CN"}
    page.close()
    clone = _open(browser, demo_url + "/01/04012345000016/21/1001", lang="zh")
    clone.fill("#code", codes["1001"])
    clone.click("#verify-form button")
    clone.wait_for_selector("#verdict:not([hidden])")
    assert clone.get_attribute("#verdict", "data-verdict") == "suspected-clone"
    assert "仿冒" in clone.inner_text("#verdict") and "Shanghai" in clone.inner_text("#verdict")
    clone.fill("#code", "WRONGCODE234")
    clone.click("#verify-form button")
    clone.wait_for_function("document.querySelector('#verdict').dataset.verdict === 'unknown-code'")
    clone.close()


FOOD_JAR = "/01/09421902000102/21/2001"  # Mānuka honey oat clusters, made from two raw lots


@pytest.mark.slow
def test_food_item_names_its_ingredients(browser: Any, demo_url: str) -> None:
    page = _open(browser, demo_url + FOOD_JAR)
    assert page.inner_text("#product-name") == "Mānuka Honey Oat Clusters 500 g"
    origins = page.inner_text("#origins-list")
    assert "Mānuka honey, raw, bulk, lot MH-2609-14" in origins
    assert "Rolled oats, bulk, lot OAT-2609-3" in origins
    steps = page.eval_on_selector_all("#journey li", "els => els.map(e => e.dataset.step)")
    assert steps[:3] == ["commissioning", "commissioning", "commissioning"]  # honey, oats, jar
    journey = page.inner_text("#journey")
    assert "Ingredient: Mānuka honey" in journey and "Made from ingredients" in journey
    assert "customs_clearing" in steps and steps[-1] == "retail_selling"
    assert page.get_attribute("#proof-status", "data-status") == "ok"
    assert page.eval_on_selector_all("#journey li[data-proof=ok]", "els => els.length") == len(
        steps
    )
    assert set(page.get_attribute("#map", "data-countries").split(",")) >= {"NZ", "CN"}
    page.close()


def test_trace_forward_and_back_over_http(demo_url: str) -> None:
    honey = "urn:epc:class:lgtin:9421902.000001.MH-2609-14"
    forward = httpx.get(
        f"{demo_url}/api/v1/query/trace/trace-forward", params={"epc": honey}
    ).json()
    rows = forward["result"] if isinstance(forward, dict) else forward
    jars = [r for r in rows if "/21/" in r["item"]]
    assert len(jars) == 24
    assert {r["last_custodian"] for r in jars} == {"citymart"}
    assert {r["last_location"] for r in jars} == {"urn:epc:id:sgln:6930000.00002.0"}
    back = httpx.get(
        f"{demo_url}/api/v1/query/trace/trace-back",
        params={"epc": "https://id.gs1.org/01/09421902000102/21/2001"},
    ).json()
    rows = back["result"] if isinstance(back, dict) else back
    assert {r["item"]: r["first_location"] for r in rows} == {
        "https://id.gs1.org/01/09421902000010/10/MH-2609-14": "urn:epc:id:sgln:9421902.00010.0",
        "https://id.gs1.org/01/09421902000027/10/OAT-2609-3": "urn:epc:id:sgln:9421902.00020.0",
    }


def test_printed_link_variants_name_the_same_item(demo_url: str) -> None:
    """A 13-digit GTIN (zero-suppressed, as many labels print it) and a lot-qualified
    serial both resolve to the item's own page and journey."""
    canonical = "https://id.gs1.org/01/04012345000016/21/1030"
    want = httpx.get(f"{demo_url}/api/v1/items", params={"uri": canonical}).json()
    assert want["journey"]
    for variant in (
        "https://id.gs1.org/01/4012345000016/21/1030",
        "https://id.gs1.org/01/04012345000016/10/JKT-2611-2/21/1030",
    ):
        got = httpx.get(f"{demo_url}/api/v1/items", params={"uri": variant})
        assert got.status_code == 200, got.text
        assert got.json()["item"] == want["item"]
        assert [s["eventID"] for s in got.json()["journey"]] == [
            s["eventID"] for s in want["journey"]
        ]
    page = httpx.get(f"{demo_url}/01/4012345000016/21/1030", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


@pytest.mark.slow
@pytest.mark.parametrize("lie", ["bizStep", "swapped receipts"])
def test_a_server_lying_about_a_step_fails_the_proof(browser: Any, demo_url: str, lie: str) -> None:
    """The page shows what the server says, but checks it against what the receipts
    prove: a step relabelled, or two steps' receipts swapped, fails in the browser."""

    def tamper(route: Any) -> None:
        view = json.loads(route.fetch().text())
        steps = view["journey"]
        if lie == "bizStep":
            steps[1]["step"] = "retail_selling"
        else:
            steps[1]["receipt"], steps[2]["receipt"] = steps[2]["receipt"], steps[1]["receipt"]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(view))

    page = browser.new_page(locale="en-GB")
    page.route("**/api/v1/items?*", tamper)
    page.goto(f"{demo_url}{SOLD}?lang=en")
    page.wait_for_selector("#proof-status[data-status=fail]", timeout=30_000)
    assert "another fact" in page.inner_text("#proof-status")
    page.close()


@pytest.mark.slow
def test_the_card_prints_each_element_string_once(browser: Any, demo_url: str) -> None:
    page = _open(browser, demo_url + FOOD_JAR)
    assert page.inner_text("#hri") == "(01)09421902000102(21)2001"
    page.close()


UNCOMMISSIONED = "/01/04012345000016/21/9999"  # under Aurora's prefix, never commissioned


@pytest.mark.slow
def test_uncommissioned_serial_page_warns_of_an_unknown_item(browser: Any, demo_url: str) -> None:
    """The GTIN's brand is real, the serial is not: no brand line, an unknown-item
    warning (in both languages), no code form, and a proof line that ends."""
    page = _open(browser, demo_url + UNCOMMISSIONED)
    assert page.get_attribute("#brand-status", "data-state") == "unknown-item"
    assert "Unknown item" in page.inner_text("#brand-status")
    assert "Brand verified" not in page.inner_text("body")
    assert not page.is_visible("#authenticity")
    assert page.get_attribute("#proof-status", "data-status") == "none"
    assert "Nothing to verify" in page.inner_text("#proof-status")
    page.click("#lang")
    assert "未知商品" in page.inner_text("#brand-status")
    assert "品牌已认证" not in page.inner_text("body")
    assert "无需核验" in page.inner_text("#proof-status")
    page.close()


@pytest.mark.slow
def test_cloned_code_is_visible_when_the_page_loads(browser: Any, demo_url: str) -> None:
    for lang, words in (
        ("en", ("times, first on", "in Shanghai")),
        ("zh", ("次，首次于", "在 Shanghai")),
    ):
        page = _open(browser, demo_url + "/01/04012345000016/21/1001", lang=lang)
        assert page.is_visible("#checks")
        text = page.inner_text("#checks")
        assert all(w in text for w in words), text
        assert "?" not in text
        page.close()
    fresh = _open(browser, demo_url + "/01/04012345000016/21/1003")
    assert not fresh.is_visible("#checks")
    fresh.close()


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["abort", "500", "404", "policy"])
def test_proof_line_ends_when_receipts_cannot_be_had(
    browser: Any, demo_url: str, failure: str
) -> None:
    """A receipt that cannot be fetched (network error, server error, missing) or a
    missing policy: the proof line says the steps are unproven, never "checking…"."""

    def broken(route: Any) -> None:
        if failure == "abort":
            route.abort()
        else:
            route.fulfill(status=404 if failure in ("404", "policy") else 500, body="no")

    page = browser.new_page(locale="en-GB")
    page.route("**/tlog/policy" if failure == "policy" else "**/receipt", broken)
    page.goto(f"{demo_url}{SOLD}?lang=en")
    page.wait_for_selector("#proof-status:not([data-status=pending])", timeout=30_000)
    assert page.get_attribute("#proof-status", "data-status") == "unavailable"
    assert "Not verified" in page.inner_text("#proof-status")
    assert "unproven" in page.inner_text("#proof-status")
    page.click("#lang")  # switching language keeps the verdict
    assert "未能核验" in page.inner_text("#proof-status")
    page.close()


@pytest.mark.slow
def test_item_data_unavailable_still_ends_the_proof_line(browser: Any, demo_url: str) -> None:
    page = browser.new_page(locale="en-GB")
    page.route("**/api/v1/items?*", lambda route: route.fulfill(status=502, body="<html>"))
    page.goto(f"{demo_url}{SOLD}?lang=en")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    assert page.get_attribute("#proof-status", "data-status") == "unavailable"
    page.close()
