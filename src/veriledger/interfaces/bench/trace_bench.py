"""``veriledger bench trace``: EPCIS capture, item history, recall and the product page.

- Capture: EPCIS documents of 1,000 events POSTed to ``/epcis/capture`` of a real
  ``veriledger serve`` process by two clients, until every event is committed (after
  one warm-up document of 1,000 events off the clock);
  reported as events/s and as a ratio to the raw Ed25519 verify rate (each event is
  one signed transaction).
- History and recall run on a ledger state of ``--events`` stored events, written
  straight into SQLite with the trace module's key layout (building a million events
  through capture would take the machine most of an hour and measure nothing new).
- The product page is its data endpoint (``/api/v1/items``), the one a phone calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from veriledger.chain.storage import SqliteState, Storage
from veriledger.interfaces.bench.ingest_bench import _cpu_seconds, _raw_verify_rate
from veriledger.interfaces.bench.log_bench import Row, _ms
from veriledger.interfaces.bench.serve_process import serve
from veriledger.interfaces.http.resolver import item_view
from veriledger.modules.trace.module import history, item_key, recall_report, record_key
from veriledger.node.demo import JACKET, create_demo, seed_demo
from veriledger.node.demo_food import CLUSTERS_GTIN, jars
from veriledger.node.demo_journeys import all_items, serial_of
from veriledger.node.node import Node

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
CAPTURE_CLIENTS = 2
PAGE_CLIENTS = 16
PAGE_REQUESTS = 6000
PAGE_RATE = 1000.0


def _documents(count: int, size: int) -> list[bytes]:
    run = os.urandom(4).hex()
    docs = []
    for first in range(0, count, size):
        events = [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-10-01T08:00:00.000+00:00",
                "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE",
                "bizStep": "shipping",
                "epcList": [f"urn:epc:id:sgtin:4012345.000001.b{run}{n}"],
                "readPoint": {"id": "urn:epc:id:sgln:4012345.00010.0"},
            }
            for n in range(first, min(first + size, count))
        ]
        docs.append(
            orjson.dumps(
                {
                    "@context": CONTEXT,
                    "type": "EPCISDocument",
                    "schemaVersion": "2.0",
                    "creationDate": "2026-10-01T09:00:00Z",
                    "epcisBody": {"eventList": events},
                }
            )
        )
    return docs


def _page_paths() -> list[str]:
    uris = [f"https://id.gs1.org/01/{JACKET}/21/{serial_of(i)}" for i in all_items()] + [
        f"https://id.gs1.org/01/{CLUSTERS_GTIN}/21/{serial_of(j)}" for j in jars()
    ]
    return [f"/api/v1/items?uri={quote(u, safe='')}" for u in uris]


def _page_load(
    url: str, connections: int, total: int, rate: float | None
) -> tuple[float, list[float]]:
    """Requests for the pages of every serialised demo item, in turn, over keep-alive
    connections: the rate achieved and every request's latency.

    With ``rate`` None, each connection sends as soon as its last answer came (the
    throughput). With a ``rate``, request ``i`` is due at ``i / rate`` seconds and its
    latency counts from then, so a server falling behind shows its queue (no
    coordinated omission). The load is written with bare asyncio streams, not an HTTP
    client library, so that on these two cores it costs the server little CPU.
    """
    paths = _page_paths()
    host, port = url.removeprefix("http://").split(":")

    async def connection(n: int, start: float) -> list[float]:
        reader, writer = await asyncio.open_connection(host, int(port))
        out = []
        for i in range(n, total, connections):
            due = start + i / rate if rate else time.perf_counter()
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            writer.write(
                f"GET {paths[i % len(paths)]} HTTP/1.1\r\nHost: {host}\r\n"
                "Accept-Encoding: gzip\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"page request failed: {head[:60]!r}")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            out.append(time.perf_counter() - due)
        writer.close()
        return out

    async def load() -> list[list[float]]:
        start = time.perf_counter()
        return await asyncio.gather(*(connection(n, start) for n in range(connections)))

    began = time.perf_counter()
    latencies = [t for found in asyncio.run(load()) for t in found]
    return len(latencies) / (time.perf_counter() - began), latencies


def _uncached_views(data_dir: Path, runs: int = 300) -> list[float]:
    """The item view computed afresh (as after every block), in process."""
    node = Node(data_dir, signature_workers=0)
    try:
        uris = [f"https://id.gs1.org/01/{JACKET}/21/{serial_of(i)}" for i in all_items()]
        times = []
        for n in range(runs):
            began = time.perf_counter()
            item_view(node, uris[n % len(uris)])
            times.append(time.perf_counter() - began)
        return times
    finally:
        node.close()


def _children_cpu(pid: int) -> float | None:
    """CPU seconds so far of a process's children (the node's worker processes)."""
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        kids = [int(k) for t in tasks for k in (t / "children").read_text().split()]
    except OSError:
        return None
    times = [_cpu_seconds(kid) for kid in kids]
    return None if None in times else sum(t for t in times if t is not None)


def _capture(data_dir: Path, count: int) -> tuple[float, float, list[float], tuple[float, float]]:
    token = orjson.loads((data_dir / "credentials.json").read_bytes())["aurora"]["aurora/ben"]
    server, url = serve(data_dir)
    try:
        docs = _documents(count, 1000)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
        with httpx.Client(base_url=url, timeout=300) as http:

            def post(doc: bytes) -> str:
                response = http.post("/epcis/capture", content=doc, headers=headers)
                response.raise_for_status()
                return str(response.headers["location"])

            # Warm-up, off the clock: one full document, whose chunks reach every worker
            # process, so each has imported its code and the caches hold the demo's
            # locations, as on a node in service.
            job = post(_documents(1000, 1000)[0])
            while http.get(job).json()["running"]:
                time.sleep(0.01)
            cpu_before = (_cpu_seconds(server.pid) or 0.0, _children_cpu(server.pid) or 0.0)
            start = time.perf_counter()
            with ThreadPoolExecutor(CAPTURE_CLIENTS) as clients:
                jobs = list(clients.map(post, docs))
            for job in jobs:
                while http.get(job).json()["running"]:
                    time.sleep(0.01)
            elapsed = time.perf_counter() - start
            cpu = (
                ((_cpu_seconds(server.pid) or 0.0) - cpu_before[0]) / count,
                ((_children_cpu(server.pid) or 0.0) - cpu_before[1]) / count,
            )
        _page_load(url, PAGE_CLIENTS, 2 * len(_page_paths()), None)  # views of this height
        page_rate, _ = _page_load(url, PAGE_CLIENTS, PAGE_REQUESTS, None)
        _, page = _page_load(url, PAGE_CLIENTS, PAGE_REQUESTS, PAGE_RATE)
        return count / elapsed, page_rate, page, cpu
    finally:
        server.kill()
        server.wait()


def _synthetic_state(path: Path, events: int, lot_items: int, hops: int) -> tuple[str, str]:
    """A state of ``events`` events in the trace key layout, with one item whose history
    crosses ``hops`` aggregation levels and one lot of ``lot_items`` items."""
    storage = Storage(path)
    rng = random.Random(7)
    gtin = "04012345000016"
    item = f"https://id.gs1.org/01/{gtin}/21/deep"
    rows: list[tuple[str, bytes]] = []

    def put(key: str, value: Any) -> None:
        rows.append((key, orjson.dumps(value)))

    def event(n: int, epcs: list[str], parent: str | None, kind: str, when: int) -> None:
        digest = hashlib.sha256(f"e{n}".encode()).hexdigest()
        body: dict[str, Any] = {
            "type": kind,
            "eventTime": f"2026-{1 + when // 28 % 12:02d}-{1 + when % 28:02d}T00:00:00Z",
            "action": "ADD" if parent else "OBSERVE",
            "bizStep": "packing" if parent else "shipping",
            "eventID": f"ni:///sha-256;{digest}?ver=CBV2.0",
        }
        if parent:
            body |= {"parentID": parent, "childEPCs": epcs}
        else:
            body["epcList"] = epcs
        put(f"trace/event/{digest}", 1)
        put(
            record_key(1, digest),
            {"event": body, "tx": digest, "org": "aurora", "member": "a", "height": 1},
        )
        stamp = f"{(when + 1) * 86_400_000:015d}"
        for epc in epcs:
            put(f"trace/epc/{item_key(epc)}/{stamp}/{digest}", "child" if parent else "epc")
        if parent:
            put(f"trace/epc/{item_key(parent)}/{stamp}/{digest}", "parent")

    chain = [item] + [f"https://id.gs1.org/00/04012345{n:09d}0" for n in range(hops)]
    n = 0
    for level in range(hops):  # item -> container 1 -> ... -> container hops
        event(n, [chain[level]], chain[level + 1], "AggregationEvent", level)
        n += 1
        event(n, [chain[level + 1]], None, "ObjectEvent", level)
        n += 1
    for i in range(lot_items):
        put(f"trace/lot/{gtin}/BIG/https://id.gs1.org/01/{gtin}/21/L{i}", 1)
    put(
        "trace/recall/r1",
        {
            "id": "r1",
            "kind": "lot",
            "gtin": gtin,
            "lot": "BIG",
            "items": [],
            "reason": "bench",
            "org": "samr",
            "time": "2026-01-01T00:00:00Z",
        },
    )
    while n < events:
        event(
            n,
            [f"https://id.gs1.org/01/{gtin}/21/x{rng.randrange(events)}"],
            None,
            "ObjectEvent",
            n % 300,
        )
        n += 1
        if len(rows) > 100_000:
            with storage.block_transaction() as db:
                db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", rows)
            rows.clear()
    with storage.block_transaction() as db:
        db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", rows)
    storage.close()
    return item, "r1"


def run(
    events: int = 1_000_000, capture: int = 20_000, lot_items: int = 100_000, seconds: float = 2.0
) -> list[Row]:
    before = _raw_verify_rate(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "node"
        create_demo(data_dir, block_max_ms=50, block_max_txs=2000)
        node = Node(data_dir)
        seed_demo(node, rounds=1)
        node.close()
        rate, page_rate, page, (serve_cpu, workers_cpu) = _capture(data_dir, capture)
        raw = (before + _raw_verify_rate(seconds)) / 2  # both sides of the capture
        rows = [
            Row(
                "baseline: raw Ed25519 verify, one core (PyNaCl), before and after",
                f"{raw:,.0f}/s",
                "1.00",
            )
        ]
        rows.append(
            Row(
                f"EPCIS capture, documents of 1,000 events, {CAPTURE_CLIENTS} clients",
                f"{rate:,.0f} events/s",
                f"{rate / raw:.2f} of raw verify",
            )
        )
        rows.append(
            Row(
                "CPU per captured event: the serve process / its worker processes",
                f"{serve_cpu * 1e6:.0f} us / {workers_cpu * 1e6:.0f} us",
                f"raw verify: {1e6 / raw:.0f} us",
            )
        )
        rows.append(
            Row(
                f"product page data (/api/v1/items), {PAGE_CLIENTS} connections over "
                f"{len(all_items()) + len(jars())} items",
                f"{page_rate:,.0f} req/s",
            )
        )
        rows.append(
            Row(f"product page data, latency at {PAGE_RATE:,.0f} requests/s offered", _ms(page))
        )
        rows.append(
            Row(
                "product page data after a new block (uncached, in process)",
                _ms(_uncached_views(data_dir)),
            )
        )
        db = Path(tmp) / "synthetic.sqlite"
        item, recall_id = _synthetic_state(db, events, lot_items, hops=20)
        storage = Storage(db)
        state = SqliteState(storage.reader())
        times = []
        for _ in range(200):
            began = time.perf_counter()
            found = history(state, item, depth=25)
            times.append(time.perf_counter() - began)
        rows.append(
            Row(
                f"item history through 20 aggregation levels ({len(found)} events) "
                f"at {events:,} events",
                _ms(times),
            )
        )
        began = time.perf_counter()
        report = recall_report(state, recall_id)
        rows.append(
            Row(
                f"recall report of a lot of {len(report):,} items",
                f"{time.perf_counter() - began:.2f} s",
            )
        )
        storage.close()
    return rows
