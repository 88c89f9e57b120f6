"""SIGKILL the node during continuous submission, at several points, and lose nothing.

Nothing means: no transaction acknowledged as committed, and no transaction answered
202 (pending), which the node must order after it restarts.

A real ``veriledger serve`` process takes batches from three client threads that
wait for commit; it is killed with SIGKILL at random moments (so some kills land
mid-block), restarted, and killed again. At the end ``verify-ledger`` must pass and
every transaction acknowledged as committed must be in the ledger, committed.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.interfaces.live_server import free_port
from veriledger.chain.transactions import sign_transaction
from veriledger.core.keystore import Keystore
from veriledger.node.datadir import OrgSpec, init_data_dir

EXE = Path(sys.executable).parent / "veriledger"
CHAIN = "ledger.example/kill-test"


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [EXE, "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"node did not start: {proc.stderr.read() if proc.stderr else ''!r}")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _assert_exit(pids: list[int]) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [
            p
            for p in pids
            if Path(f"/proc/{p}").exists()
            and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()
        ]
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"orphaned processes after SIGKILL: {alive}")


@pytest.mark.slow
def test_sigkill_loses_no_committed_transaction(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    orgs = [
        OrgSpec(name, name.title(), kind, [("ops", "Ops", ["admin"])])
        for name, kind in [
            ("brand", "brand"),
            ("carrier", "logistics"),
            ("customs", "customs"),
            ("shop", "retailer"),
        ]
    ]
    init_data_dir(data_dir, CHAIN, orgs, 1_790_000_000_000, block_max_ms=15, block_max_txs=40)
    keystore = Keystore(data_dir / "keys")
    keys = [keystore.load(f"{org.id}/ops") for org in orgs]
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/transactions"
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def client(key_index: int) -> None:
        rng = random.Random(key_index)
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                txs = [
                    sign_transaction(
                        keys[key_index],
                        CHAIN,
                        "notary.attest",
                        {"digest": hashlib.sha256(os.urandom(16)).hexdigest(), "kind": "k"},
                    )
                    for _ in range(rng.randint(1, 20))
                ]
                try:
                    response = http.post(
                        url, json=[t.to_json() for t in txs], params={"wait": True, "timeout": 5}
                    )
                except httpx.HTTPError:
                    time.sleep(0.05)  # the node is down or restarting
                    continue
                if response.status_code == 200:
                    with lock:
                        acknowledged.update(
                            r["id"] for r in response.json() if r["status"] == "committed"
                        )

    promised: set[str] = set()

    def pending_client() -> None:
        """Takes 202 answers: each a promise that survives any crash after it."""
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                txs = [
                    sign_transaction(
                        keys[3],
                        CHAIN,
                        "notary.attest",
                        {"digest": hashlib.sha256(os.urandom(16)).hexdigest(), "kind": "p"},
                    )
                    for _ in range(5)
                ]
                try:
                    response = http.post(url, json=[t.to_json() for t in txs])
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue
                if response.status_code == 202:
                    with lock:
                        promised.update(r["id"] for r in response.json())

    proc = _start(data_dir, port)
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(3)]
    threads.append(threading.Thread(target=pending_client, daemon=True))
    for thread in threads:
        thread.start()
    rng = random.Random(42)
    kills = 0
    try:
        for _ in range(5):
            time.sleep(rng.uniform(0.4, 1.2))
            children = _children(proc.pid)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            _assert_exit(children)  # the signature worker must not outlive its node
            proc = _start(data_dir, port)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    assert kills == 5
    assert len(acknowledged) > 50, "the clients should have committed work between kills"
    assert len(promised) > 50, "the node should have answered 202 between kills"
    proc = _start(data_dir, port)  # orders what the last kill left in its intake queue
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["pending"] == 0:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    audit = subprocess.run(
        [EXE, "verify-ledger", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.startswith("OK: ")

    from veriledger.chain.storage import Storage

    storage = Storage(data_dir / "ledger.sqlite")
    try:
        rows = {tx_id: storage.tx(tx_id) for tx_id in acknowledged}
        promises = {tx_id: storage.tx(tx_id) for tx_id in promised}
    finally:
        storage.close()
    missing = [tx_id for tx_id, row in rows.items() if row is None or not row.accepted]
    assert not missing, f"{len(missing)} acknowledged transactions lost"
    broken = [tx_id for tx_id, row in promises.items() if row is None or not row.accepted]
    assert not broken, f"{len(broken)} of {len(promised)} transactions answered 202 were lost"
