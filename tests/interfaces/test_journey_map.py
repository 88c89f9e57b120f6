"""The offline journey map: its bundled country outlines, and journey-map.js in Chromium.

The static directory is served at /static/ from a loopback HTTP server with a small test
page that draws Stuttgart -> Singapore -> Ningbo -> Shanghai; the page must reach nothing
but that server.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import veriledger.interfaces
from tests.interfaces.browser import chromium

pytestmark = pytest.mark.slow

STATIC = Path(veriledger.interfaces.__file__).parent / "web" / "static"
WORLD = STATIC / "world-110m.json"

JOURNEY = [
    {"lat": 48.78, "lon": 9.18, "label": "Stuttgart", "time": "2024-03-01 08:00 UTC"},
    {"lat": 1.26, "lon": 103.82, "label": "Singapore", "time": "2024-03-20 14:00 UTC"},
    {"lat": 29.87, "lon": 121.54, "label": "Ningbo", "time": "2024-03-27 09:30 UTC"},
    {"lat": 31.23, "lon": 121.47, "label": "Shanghai", "time": 1711958400000},
]

TEST_PAGE = """<!doctype html>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>journey map test page</title>
<svg id="map"></svg>
<svg id="world"></svg>
<script type="module">
import { drawJourney } from "/static/journey-map.js";
const journey = __JOURNEY__;
try {
  window.result = await drawJourney(document.getElementById("map"), journey);
  window.world = await drawJourney(document.getElementById("world"), [journey[0]]);
} catch (error) {
  window.failure = String(error?.stack ?? error);
}
window.ready = true;
</script>
""".replace("__JOURNEY__", json.dumps(JOURNEY))


# --- the data ----------------------------------------------------------------------------


def test_world_data_loads_and_is_compact() -> None:
    assert WORLD.stat().st_size < 400_000
    data = json.loads(WORLD.read_text(encoding="utf-8"))
    assert "Natural Earth" in data["source"] and "public domain" in data["licence"]
    countries = data["countries"]
    assert len(countries) > 150
    isos = {c["iso"] for c in countries}
    assert {"DE", "SG", "CN", "US", "BR", "AU", "ZA"} <= isos
    for country in countries:
        assert country["name"] and country["rings"], country
        for ring in country["rings"]:
            assert len(ring) >= 4, country["name"]
            assert ring[0] == ring[-1], f"{country['name']}: ring not closed"
            for lon, lat in ring:
                assert -180 <= lon <= 180 and -90 <= lat <= 90, country["name"]
                assert round(lon, 2) == lon and round(lat, 2) == lat


def test_map_data_note_names_source_and_licence() -> None:
    note = (STATIC / "MAP-DATA.md").read_text(encoding="utf-8")
    assert "Natural Earth" in note and "public domain" in note and "ISC" in note


# --- the browser -------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The static directory at /static/, and the test page."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(STATIC), **kwargs)

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/__test__.html":
            body = TEST_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path.startswith("/static/"):
            self.path = self.path.removeprefix("/static")
            super().do_GET()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def loaded(server_url: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{server_url}/__test__.html")
        page.wait_for_function("window.ready === true", timeout=15_000)
        assert page.evaluate("window.failure ?? null") is None
        yield page, errors, requests


def test_journey_markers_route_and_countries(loaded: tuple[Any, list[str], list[str]]) -> None:
    page, errors, _ = loaded
    svg = page.locator("#map")
    assert svg.get_attribute("data-stops") == "4"
    assert page.locator("#map .journey-stop").count() == 4
    assert page.locator("#map .journey-stop circle").count() == 4
    titles = page.locator("#map .journey-stop title").all_text_contents()
    assert titles[0].startswith("1. Stuttgart (Germany)") and "2024-03-01" in titles[0]
    assert titles[3].startswith("4. Shanghai (China)") and "2024-04-01 08:00:00 UTC" in titles[3]
    assert page.locator("#map polyline").count() == 1
    points = page.locator("#map polyline").get_attribute("points").split()
    assert len(points) == 4
    assert page.locator("#map .journey-arrow").count() >= 2
    highlighted = set(
        page.locator("#map .journey-country.visited").evaluate_all(
            "(nodes) => nodes.map((n) => n.dataset.iso)"
        )
    )
    assert {"DE", "SG", "CN"} <= highlighted
    assert svg.get_attribute("data-countries") == "DE,SG,CN"
    result = page.evaluate("window.result")
    assert result["stops"] == 4 and result["countries"] == ["DE", "SG", "CN"]
    assert not errors, errors


def test_view_is_fitted_clipped_and_accessible(loaded: tuple[Any, list[str], list[str]]) -> None:
    page, _, _ = loaded
    svg = page.locator("#map")
    assert svg.get_attribute("role") == "img"
    label = svg.get_attribute("aria-label")
    assert "4 stops" in label and "Stuttgart (Germany) → Singapore → Ningbo (China)" in label
    # Fitted to the route, not the world: the Americas are culled, the route's box kept.
    isos = set(
        page.locator("#map .journey-country").evaluate_all(
            "(nodes) => nodes.map((n) => n.dataset.iso)"
        )
    )
    assert {"DE", "IN", "SG", "CN"} <= isos and "US" not in isos and "BR" not in isos
    assert page.locator("#map .journey-countries").get_attribute("clip-path").startswith("url(#")
    # Every stop lies inside the viewBox; the SVG scales to the (phone-sized) page width.
    _, _, width, height = map(float, svg.get_attribute("viewBox").split())
    for point in page.locator("#map polyline").get_attribute("points").split():
        x, y = map(float, point.split(","))
        assert 0 < x < width and 0 < y < height
    box = svg.bounding_box()
    assert box is not None and 300 < box["width"] <= 390
    assert abs(box["height"] / box["width"] - height / width) < 0.02


def test_a_single_stop_shows_the_world(loaded: tuple[Any, list[str], list[str]]) -> None:
    page, _, _ = loaded
    world = page.locator("#world")
    assert world.get_attribute("data-stops") == "1"
    assert page.locator("#world polyline").count() == 0
    assert page.locator("#world .journey-stop").count() == 1
    isos = set(
        page.locator("#world .journey-country").evaluate_all(
            "(nodes) => nodes.map((n) => n.dataset.iso)"
        )
    )
    assert {"US", "BR", "AU", "CN", "DE"} <= isos
    assert page.evaluate("window.world.countries") == ["DE"]


def test_no_network_but_the_local_server(
    loaded: tuple[Any, list[str], list[str]], server_url: str
) -> None:
    _, errors, requests = loaded
    assert requests, "no requests recorded"
    origin = urlsplit(server_url).netloc
    assert {urlsplit(url).netloc for url in requests} == {origin}, requests
    assert f"{server_url}/static/world-110m.json" in requests
    # Two maps, one fetch of the outlines.
    assert sum(url.endswith("/world-110m.json") for url in requests) == 1
    assert not errors, errors
