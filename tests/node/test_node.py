"""The node end to end in process: commit, restart, receipts, rollback, and the audit."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from veriledger.chain.transactions import (
    InvalidTransactionSignatureError,
    Transaction,
    sign_transaction,
)
from veriledger.core.errors import StorageError
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.tlog_proof import verify_tlog_proof
from veriledger.node.datadir import OrgSpec, init_data_dir
from veriledger.node.engine import LocalEngine
from veriledger.node.node import DEFAULT_MODULES, Cosigner, DuplicateTransactionError, Node
from veriledger.node.verify_ledger import LedgerCorruptError, verify_ledger

ORGS = [
    OrgSpec("brand", "Brand", "brand", [("alice", "Alice", ["admin"])]),
    OrgSpec("carrier", "Carrier", "logistics", [("bob", "Bob", ["admin"])]),
    OrgSpec("customs", "Customs", "customs", [("carol", "Carol", ["admin"])]),
    OrgSpec("shop", "Shop", "retailer", [("dan", "Dan", ["admin"])]),
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    init_data_dir(
        tmp_path / "node", "ledger.example/test", ORGS, 1_790_000_000_000, block_max_ms=10
    )
    return tmp_path / "node"


def _attest(node: Node, member: str = "brand/alice") -> Transaction:
    return sign_transaction(
        node.member_key(member),
        node.chain,
        "notary.attest",
        {"digest": hashlib.sha256(os.urandom(8)).hexdigest(), "kind": "x"},
    )


def _commit(node: Node, count: int) -> list[Transaction]:
    txs = [_attest(node) for _ in range(count)]
    for future in node.submit(txs):
        assert future.result(10).status == "committed"
    return txs


def test_commit_restart_and_receipts(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    txs = _commit(node, 30)
    size, root = node.log.size, node.log.root()
    node.close()
    again = Node(data_dir, signature_workers=0)
    assert (again.log.size, again.log.root()) == (size, root)
    more = _commit(again, 5)
    for tx in txs + more:
        result = verify_tlog_proof(again.receipt(tx.id), again.policy)
        assert result.entry == tx.entry
    size = again.log.size
    answer = again.submit([txs[0], more[1]])  # a client retrying: answered, not ordered again
    assert [p.result(0).status for p in answer] == ["committed", "committed"]
    assert answer[0].result(0).index == again.status(txs[0].id).index  # type: ignore[union-attr]
    with pytest.raises(DuplicateTransactionError):
        again.submit([more[0], more[0]])
    time.sleep(0.05)
    assert again.log.size == size
    again.close()
    report = verify_ledger(data_dir, DEFAULT_MODULES)
    assert report.transactions == 35
    assert report.final_checkpoints == report.checkpoints == report.blocks


def test_batches_use_the_signature_worker(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=1)
    try:
        _commit(node, 200)
        bad = [_attest(node) for _ in range(100)]
        for index in (20, 70):  # one in the worker's share, one in this process's
            batch = list(bad)
            batch[index] = Transaction.parse({**bad[index].to_json(), "nonce": "forged"})
            with pytest.raises(InvalidTransactionSignatureError, match=f"transaction {index}: sig"):
                node.submit(batch)
    finally:
        node.close()


def test_a_failed_commit_rolls_back_whole(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = Node(data_dir, signature_workers=0)
    _commit(node, 3)
    size, root, height = node.log.size, node.log.root(), node.height

    def fail(*args: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(node.storage, "put_txs", fail)
    with pytest.raises(StorageError):
        node.commit_block([_attest(node)])
    monkeypatch.undo()
    assert (node.log.size, node.log.root(), node.height) == (size, root, height)
    _commit(node, 2)
    node.close()
    verify_ledger(data_dir, DEFAULT_MODULES)


def _corrupt(data_dir: Path, sql: str) -> None:
    conn = sqlite3.connect(data_dir / "ledger.sqlite")
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "UPDATE state SET value = '{\"kind\":\"forged\"}' WHERE key LIKE 'notary/%'",
            "stored state",
        ),
        ("UPDATE tiles SET data = zeroblob(length(data)) WHERE level = 0", "stored tile"),
        ("UPDATE checkpoints SET final = 0", "misflagged"),
        ("DELETE FROM blocks WHERE height = (SELECT MAX(height) FROM blocks)", "blocks table"),
    ],
)
def test_verify_ledger_finds_tampering(data_dir: Path, sql: str, message: str) -> None:
    node = Node(data_dir, signature_workers=0)
    _commit(node, 5)
    node.close()
    verify_ledger(data_dir, DEFAULT_MODULES)
    _corrupt(data_dir, sql)
    with pytest.raises(LedgerCorruptError, match=message):
        verify_ledger(data_dir, DEFAULT_MODULES)


def test_cosigner_never_signs_two_views() -> None:
    from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey
    from veriledger.log.cosignature import CosignatureSigner

    cosigner = Cosigner("x", CosignatureSigner(SignerKey.generate("x", SIG_TYPE_COSIGNATURE_V1)))
    first = Checkpoint("o", 4, b"\x01" * 32)
    assert cosigner.cosign(first, lambda a, b: [])
    assert not cosigner.cosign(Checkpoint("o", 4, b"\x02" * 32), lambda a, b: [])
    assert not cosigner.cosign(Checkpoint("o", 6, b"\x03" * 32), lambda a, b: [b"\x00" * 32])
    assert cosigner.last == first


def test_engine_cuts_by_size_and_time() -> None:
    batches: list[int] = []
    engine = LocalEngine(max_txs=10, max_wait=0.05)
    engine.start(lambda batch: batches.append(len(batch)))
    engine.submit([object()] * 25)  # type: ignore[list-item]
    time.sleep(0.3)
    engine.stop()
    assert batches == [10, 10, 5]


def test_the_demo_ledger_re_derives_from_genesis(tmp_path: Path) -> None:
    """Both demo journeys, the recall, the codes and the cloned scans re-derive
    from genesis: every rule of catalog, trace and authenticity is deterministic."""
    from veriledger.node.demo import create_demo, seed_demo

    create_demo(tmp_path / "demo", block_max_ms=5)
    node = Node(tmp_path / "demo", signature_workers=0)
    try:
        committed = seed_demo(node, rounds=2)
        height = node.height
    finally:
        node.close()
    report = verify_ledger(tmp_path / "demo", DEFAULT_MODULES)
    assert report.blocks == height + 1  # genesis is block 0
    assert report.transactions == committed  # nothing refused in the story at 2 rounds
    assert report.final_checkpoints == report.checkpoints == report.blocks


def test_a_node_collects_cyclic_garbage_rarely(data_dir: Path) -> None:
    import gc

    from veriledger.node.node import YOUNG_COLLECTION_THRESHOLD

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        node = Node(data_dir, signature_workers=0)
        node.close()
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 20, 20)
    finally:
        gc.set_threshold(*before)
