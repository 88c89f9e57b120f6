"""``veriledger bench ingest``: committed signed transactions per second.

The floor under a signed transaction is its signature check, so ingest is reported
as a ratio to the raw single-core PyNaCl verification rate measured in the same
run. The node checks signatures of large batches on both cores (a worker process
takes part of each batch), so the target ratio of 0.7 is reachable only if every
other cost (parsing, canonical JSON, authorisation lookups, execution, tiles,
SQLite) fits beside it.

Transactions are signed before the clock starts (clients sign, not the node), and
the workload is ``notary.attest``, the lightest message.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import nacl.bindings
import nacl.signing

from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.core.keystore import Keystore
from veriledger.interfaces.bench.log_bench import Row, _ms, _rate
from veriledger.interfaces.bench.serve_process import serve
from veriledger.node.datadir import OrgSpec, init_data_dir
from veriledger.node.node import Node

CHAIN = "bench.veriledger.example/ingest"
ORGS = [
    OrgSpec("brand", "Brand", "brand", [(f"m{i}", f"M{i}", ["admin"]) for i in range(4)]),
    OrgSpec("carrier", "Carrier", "logistics", [("ops", "Ops", ["admin"])]),
    OrgSpec("customs", "Customs", "customs", [("ops", "Ops", ["admin"])]),
    OrgSpec("shop", "Shop", "retailer", [("ops", "Ops", ["admin"])]),
]


@dataclass
class IngestResult:
    rate: float
    bytes_per_tx: float
    node_cpu_per_tx: float
    """Seconds of this process's CPU (all its threads) per transaction."""
    worker_cpu_per_tx: float | None
    """Seconds of the signature workers' CPU per transaction (None off Linux)."""


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU of a process so far, from ``/proc`` (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _workers_cpu(node: Node) -> float | None:
    times = [_cpu_seconds(pid) for pid in node.signatures.worker_pids()]
    return None if not times or None in times else sum(t for t in times if t is not None)


def _signed(node: Node, count: int) -> list[Transaction]:
    keys = [node.member_key(f"brand/m{i}") for i in range(4)]
    seed = os.urandom(8)
    return [
        sign_transaction(
            keys[i % 4],
            CHAIN,
            "notary.attest",
            {
                "digest": hashlib.sha256(seed + i.to_bytes(8, "big")).hexdigest(),
                "kind": "certificate-of-origin",
                "ref": f"COO/{i}",
            },
        )
        for i in range(count)
    ]


def _raw_verify_rate(seconds: float) -> float:
    signer = nacl.signing.SigningKey(hashlib.sha256(b"bench").digest())
    public = bytes(signer.verify_key)
    message = b"x" * 400
    signature = signer.sign(message).signature
    return _rate(lambda: nacl.bindings.crypto_sign_open(signature + message, public), seconds)


def _disk_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("ledger.sqlite*"))


def _in_process(data_dir: Path, count: int, batch: int) -> tuple[IngestResult, list[float]]:
    node = Node(data_dir)
    try:
        txs = _signed(node, count)
        before = _disk_bytes(data_dir)
        batches = [txs[first : first + batch] for first in range(0, count, batch)]
        node.signatures.check([(t.signer, t.signing_bytes, t.sig) for t in txs[:200]])  # spawn
        workers_before = _workers_cpu(node)
        cpu_before = time.process_time()
        start = time.perf_counter()
        # Two submitting clients, as on a busy node: one batch's signatures are checked
        # on the worker while the other batch is prechecked here.
        with ThreadPoolExecutor(2) as clients:
            futures = [f for fs in clients.map(node.submit, batches) for f in fs]
        for future in futures:
            future.result(timeout=600)
        elapsed = time.perf_counter() - start
        node_cpu = time.process_time() - cpu_before
        workers_after = _workers_cpu(node)
        worker_cpu = (
            None
            if workers_before is None or workers_after is None
            else (workers_after - workers_before) / count
        )
        node.storage.writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        per_tx = (_disk_bytes(data_dir) - before) / count
        receipts = []
        for tx in txs[:: max(1, count // 500)]:
            began = time.perf_counter()
            node.receipt(tx.id)
            receipts.append(time.perf_counter() - began)
        return IngestResult(count / elapsed, per_tx, node_cpu / count, worker_cpu), receipts
    finally:
        node.close()


def _over_http(data_dir: Path, count: int, batch: int) -> tuple[float, list[float]]:
    server, base = serve(data_dir)
    try:
        with httpx.Client(base_url=base, timeout=120) as http:
            keystore = Keystore(data_dir / "keys")
            keys = [keystore.load(f"brand/m{i}") for i in range(4)]
            seed = os.urandom(8)
            txs = [
                sign_transaction(
                    keys[i % 4],
                    CHAIN,
                    "notary.attest",
                    {
                        "digest": hashlib.sha256(seed + i.to_bytes(8, "big")).hexdigest(),
                        "kind": "certificate-of-origin",
                        "ref": f"COO/{i}",
                    },
                )
                for i in range(count)
            ]
            bodies = [
                b"[" + b",".join(t.entry for t in txs[f : f + batch]) + b"]"
                for f in range(0, count, batch)
            ]
            start = time.perf_counter()
            for body in bodies:
                response = http.post(
                    "/api/v1/transactions",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                response.raise_for_status()
            while http.get(f"/api/v1/transactions/{txs[-1].id}").json()["status"] == "pending":
                time.sleep(0.005)
            elapsed = time.perf_counter() - start
            receipts = []
            for tx in txs[:: max(1, count // 200)]:
                began = time.perf_counter()
                http.get(f"/api/v1/transactions/{tx.id}/receipt").raise_for_status()
                receipts.append(time.perf_counter() - began)
        return count / elapsed, receipts
    finally:
        server.kill()
        server.wait()


def run(count: int = 20_000, batch: int = 1000, seconds: float = 2.0) -> list[Row]:
    before = _raw_verify_rate(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "node"
        init_data_dir(
            data_dir, CHAIN, ORGS, int(time.time() * 1000), block_max_txs=2000, block_max_ms=50
        )
        result, receipts = _in_process(data_dir, count, batch)
        # The machine's speed drifts within a run: the baseline is measured on both
        # sides of the ingest it is compared with.
        raw = (before + _raw_verify_rate(seconds)) / 2
        rows = [
            Row(
                "baseline: raw Ed25519 verify, one core (PyNaCl), before and after",
                f"{raw:,.0f}/s",
                "1.00",
            )
        ]
        rows.append(
            Row(
                f"in-process ingest, batches of {batch}",
                f"{result.rate:,.0f} tx/s",
                f"{result.rate / raw:.2f} of raw verify",
            )
        )
        rows.append(
            Row(
                "CPU per transaction, in process: the node's threads / the signature workers",
                f"{result.node_cpu_per_tx * 1e6:.0f} us / "
                + (
                    "n/a"
                    if result.worker_cpu_per_tx is None
                    else f"{result.worker_cpu_per_tx * 1e6:.0f} us"
                ),
                f"raw verify: {1e6 / raw:.0f} us",
            )
        )
        rows.append(Row("receipt (tlog-proof) generation, in process", _ms(receipts)))
        rows.append(
            Row(
                "disk per committed transaction (SQLite, after WAL checkpoint)",
                f"{result.bytes_per_tx:,.0f} bytes",
            )
        )
        http_rate, http_receipts = _over_http(data_dir, count, batch)
        rows.append(
            Row(
                f"HTTP ingest, signed batches of {batch}",
                f"{http_rate:,.0f} tx/s",
                f"{http_rate / raw:.2f} of raw verify",
            )
        )
        rows.append(Row("receipt over HTTP (GET .../receipt)", _ms(http_receipts)))
    return rows
