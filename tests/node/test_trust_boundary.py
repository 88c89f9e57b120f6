"""Attacks on a node's data directory and its memory: each refused, nothing stored.

A restored database, a second process, a changed genesis, a tampered table, a lost
index row, a stale envelope, a crash after a 202: the node must notice each before
it signs or orders anything on top of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.node.test_node import ORGS, _attest, _commit
from veriledger.chain.driver import SEEN
from veriledger.chain.transactions import sign_transaction
from veriledger.core.errors import RejectedError
from veriledger.node import datadir
from veriledger.node.cosigning import MEMORY_FILE, NodeHaltedError
from veriledger.node.datadir import DataDirInUseError, init_data_dir
from veriledger.node.node import DEFAULT_MODULES, Node
from veriledger.node.startup_check import LedgerInconsistentError
from veriledger.node.verify_ledger import LedgerCorruptError, verify_ledger

EXE = Path(sys.executable).parent / "veriledger"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "node"
    init_data_dir(path, "ledger.example/test", ORGS, int(time.time() * 1000), block_max_ms=10)
    return path


def _backup(data_dir: Path, to: Path) -> None:
    """A consistent copy of ledger.sqlite, as an operator's backup tool makes one."""
    source = sqlite3.connect(data_dir / datadir.DATABASE)
    target = sqlite3.connect(to)
    source.backup(target)
    source.close()
    target.close()


def _restore(backup: Path, data_dir: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (data_dir / (datadir.DATABASE + suffix)).unlink(missing_ok=True)
    shutil.copy(backup, data_dir / datadir.DATABASE)


def _checkpoints(data_dir: Path) -> list[tuple[int, bytes]]:
    conn = sqlite3.connect(data_dir / datadir.DATABASE)
    try:
        return [(s, bytes(n)) for s, n in conn.execute("SELECT size, note FROM checkpoints")]
    finally:
        conn.close()


def test_rollback_of_database_halts_cosigner(data_dir: Path, tmp_path: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    _commit(node, 5)
    node.close()
    _backup(data_dir, tmp_path / "old.sqlite")
    node = Node(data_dir, signature_workers=0)
    _commit(node, 5)
    node.close()
    memory = (data_dir / MEMORY_FILE).read_bytes()
    _restore(tmp_path / "old.sqlite", data_dir)
    before = _checkpoints(data_dir)

    node = Node(data_dir, signature_workers=0)
    try:
        assert node.alarm is not None
        assert "older than what was signed" in node.alarm.reason
        assert node.alarm.evidence["signed"] == orjson.loads(memory)["note"]
        with pytest.raises(NodeHaltedError):
            node.submit([_attest(node)])
        with pytest.raises(NodeHaltedError):
            node.commit_block([_attest(node)])
        assert node.storage.latest_checkpoint() is not None  # reads go on
    finally:
        node.close()
    assert _checkpoints(data_dir) == before  # no new checkpoint, nothing re-signed
    assert (data_dir / MEMORY_FILE).read_bytes() == memory


def test_other_history_at_same_size_halts_cosigner(data_dir: Path, tmp_path: Path) -> None:
    """A database from elsewhere, as long as the one signed: a split view if cosigned."""
    node = Node(data_dir, signature_workers=0)
    _commit(node, 3)
    node.close()
    _backup(data_dir, tmp_path / "fork.sqlite")
    memory = (data_dir / MEMORY_FILE).read_bytes()
    node = Node(data_dir, signature_workers=0)
    _commit(node, 3)
    node.close()
    # The fork goes on with other transactions, and its memory file is lost with it.
    _restore(tmp_path / "fork.sqlite", data_dir)
    good = (data_dir / MEMORY_FILE).read_bytes()
    (data_dir / MEMORY_FILE).write_bytes(memory)
    node = Node(data_dir, signature_workers=0)
    _commit(node, 4)
    node.close()
    (data_dir / MEMORY_FILE).write_bytes(good)
    node = Node(data_dir, signature_workers=0)
    try:
        assert node.alarm is not None
        assert "does not extend" in node.alarm.reason
    finally:
        node.close()


def test_missing_signing_memory_halts_cosigner(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    _commit(node, 2)
    node.close()
    (data_dir / MEMORY_FILE).unlink()
    before = _checkpoints(data_dir)
    node = Node(data_dir, signature_workers=0)
    try:
        assert node.alarm is not None and "missing" in node.alarm.reason
    finally:
        node.close()
    assert _checkpoints(data_dir) == before


def test_crash_between_block_and_cosignature_finishes_at_start(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    _commit(node, 2)

    def crash() -> None:
        raise SystemExit("killed between the block and its cosignatures")

    node._cosign_newest = crash  # type: ignore[method-assign]
    tx = _attest(node)
    with pytest.raises(SystemExit):
        node.commit_block([tx])
    size = node.log.size
    node.close()
    conn = sqlite3.connect(data_dir / datadir.DATABASE)
    assert conn.execute("SELECT final FROM checkpoints WHERE size = ?", (size,)).fetchone() == (0,)
    conn.close()
    node = Node(data_dir, signature_workers=0)
    try:
        assert node.alarm is None
        assert node.storage.latest_checkpoint() is not None
        assert node.storage.latest_checkpoint()[0] == size  # type: ignore[index]
        assert node.status(tx.id).status == "committed"  # type: ignore[union-attr]
    finally:
        node.close()
    verify_ledger(data_dir, DEFAULT_MODULES)


def test_second_node_on_one_data_dir_refused(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    try:
        with pytest.raises(DataDirInUseError, match="already served by process"):
            Node(data_dir, signature_workers=0)
        result = subprocess.run(
            [EXE, "serve", "--data-dir", str(data_dir), "--port", "1"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        assert "already served by process" in result.stderr
        assert "Traceback" not in result.stderr
        assert node.storage.latest_height() is not None
    finally:
        node.close()
    Node(data_dir, signature_workers=0).close()  # released with its holder


def test_data_dir_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "node"
        init_data_dir(path, "ledger.example/test", ORGS, int(time.time() * 1000))
        node = Node(path, signature_workers=0)
        _commit(node, 1)
        node.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    seen = 0
    for child in path.rglob("*"):
        mode = stat.S_IMODE(child.stat().st_mode)
        assert mode == (0o700 if child.is_dir() else 0o600), (child, oct(mode))
        seen += 1
    assert seen > 5


def test_changed_genesis_refuses_to_start(data_dir: Path) -> None:
    Node(data_dir, signature_workers=0).close()
    genesis = orjson.loads((data_dir / datadir.GENESIS).read_bytes())
    genesis["quorum"] = 1  # one organisation would then make checkpoints final
    (data_dir / datadir.GENESIS).write_bytes(orjson.dumps(genesis))
    size = _checkpoints(data_dir)
    with pytest.raises(LedgerInconsistentError, match="genesis"):
        Node(data_dir, signature_workers=0)
    assert _checkpoints(data_dir) == size


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        ("UPDATE meta SET value = CAST(value - 1 AS TEXT) WHERE key = 'size'", "meta.size"),
        (
            "UPDATE txs SET accepted = 0 WHERE log_index = (SELECT MAX(log_index) FROM txs)",
            "txs row",
        ),
        (
            "UPDATE txs SET reason = 'x' WHERE log_index = (SELECT MAX(log_index) FROM txs)",
            "reason",
        ),
        ("DELETE FROM txs WHERE log_index = (SELECT MAX(log_index) FROM txs)", "missing"),
        (
            "UPDATE blocks SET time = time + 1 WHERE height = (SELECT MAX(height) FROM blocks)",
            "time",
        ),
        (
            "UPDATE blocks SET accepted = 0 WHERE height = (SELECT MAX(height) FROM blocks)",
            "accepted",
        ),
        ("DELETE FROM checkpoints WHERE size = (SELECT MAX(size) FROM checkpoints)", "checkpoints"),
        ("DELETE FROM blocks WHERE height = (SELECT MAX(height) FROM blocks)", "meta.size"),
    ],
)
def test_tampered_tables_refuse_to_start(data_dir: Path, tamper: str, named: str) -> None:
    node = Node(data_dir, signature_workers=0)
    _commit(node, 3)
    node.close()
    conn = sqlite3.connect(data_dir / datadir.DATABASE)
    conn.execute(tamper)
    conn.commit()
    conn.close()
    with pytest.raises(LedgerInconsistentError, match=named) as caught:
        Node(data_dir, signature_workers=0)
    assert "refusing to start" in str(caught.value)


def test_tampered_entry_bundle_refuses_to_start(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    _commit(node, 3)
    node.close()
    conn = sqlite3.connect(data_dir / datadir.DATABASE)
    level, idx, blob = conn.execute(
        "SELECT level, idx, data FROM tiles WHERE level = -1 ORDER BY idx DESC LIMIT 1"
    ).fetchone()
    blob = bytes(blob).replace(b'"kind":"x"', b'"kind":"y"', 1)
    conn.execute("UPDATE tiles SET data = ? WHERE level = ? AND idx = ?", (blob, level, idx))
    conn.commit()
    conn.close()
    with pytest.raises(LedgerInconsistentError, match="leaf"):
        Node(data_dir, signature_workers=0)


def test_replayed_envelope_refused_by_rule_when_index_row_lost(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    try:
        tx = _commit(node, 1)[0]
        seen = [k for k, _ in node.state().scan(SEEN) if k.endswith(tx.id)]
        assert len(seen) == 1
        # The index the node dedups with loses the row; the rules still remember.
        conn = sqlite3.connect(data_dir / datadir.DATABASE)
        conn.execute("DELETE FROM txs WHERE id = ?", (bytes.fromhex(tx.id),))
        conn.commit()
        conn.close()
        size = node.log.size
        with pytest.raises(RejectedError) as refused:
            node.submit([tx])
        assert (refused.value.module, refused.value.code) == ("chain", 6)
        # Even ordered directly, the block refuses it: every node and verify-ledger agree.
        node.commit_block([tx])
        assert node.log.size == size + 2  # the refused copy and the header
        row = node.storage.tx(tx.id)
        assert row is not None and not row.accepted and row.code == "chain/6"
    finally:
        node.close()


def test_envelope_outside_replay_window_refused(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    try:
        key = node.member_key("brand/alice")
        day = 86_400_000
        now = int(time.time() * 1000)
        size = node.log.size
        for when in (now - day - 60_000, now + day + 60_000):
            stale = sign_transaction(
                key,
                node.chain,
                "notary.attest",
                {"digest": hashlib.sha256(b"%d" % when).hexdigest(), "kind": "x"},
                time=when,
            )
            with pytest.raises(RejectedError) as refused:
                node.submit([stale])
            assert (refused.value.module, refused.value.code) == ("chain", 7)
        assert node.log.size == size
    finally:
        node.close()


def test_every_202_transaction_is_committed_after_a_crash(data_dir: Path) -> None:
    """The engine's memory is lost with the process; the intake queue is not."""

    class Lost:  # an engine that acknowledges and then dies with the process
        def start(self, deliver: object) -> None: ...
        def submit(self, txs: object) -> None: ...
        def pending(self) -> int:
            return 0

        def stop(self) -> None: ...

    node = Node(data_dir, engine=Lost(), signature_workers=0)
    txs = [_attest(node) for _ in range(7)]
    node.submit(txs[:4])
    node.submit(txs[4:])
    assert node.storage.known_tx_ids([t.id for t in txs]) == set()
    node.close()
    node = Node(data_dir, signature_workers=0)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            node.status(t.id) is None or node.status(t.id).status == "pending"  # type: ignore[union-attr]
            for t in txs
        ):
            time.sleep(0.02)
        assert [node.status(t.id).status for t in txs] == ["committed"] * 7  # type: ignore[union-attr]
    finally:
        node.close()
    assert not list((data_dir / datadir.PENDING).glob("*.log"))  # all settled, nothing kept
    Node(data_dir, signature_workers=0).close()  # nothing left to order twice
    assert verify_ledger(data_dir, DEFAULT_MODULES).transactions == 7


def test_torn_intake_record_is_ignored(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    node.close()
    segment = data_dir / datadir.PENDING / "000000000099.log"
    segment.write_bytes(b"\x00\x00\x01\x00garbage")  # a crash mid-append
    node = Node(data_dir, signature_workers=0)
    try:
        assert node.alarm is None and not segment.exists()
    finally:
        node.close()


def test_replay_forced_into_a_block_is_refused_and_flagged(data_dir: Path) -> None:
    """An orderer that delivers an envelope twice: the rules refuse the copy, the node
    keeps both rows apart, and verify-ledger names the two entries."""
    node = Node(data_dir, signature_workers=0)
    try:
        tx = _commit(node, 1)[0]
        first = node.status(tx.id)
        node.commit_block([tx])
        assert node.status(tx.id) == first  # the first ordering is the answer
        more = _commit(node, 1)  # and the node goes on
        assert node.status(more[0].id).status == "committed"  # type: ignore[union-attr]
    finally:
        node.close()
    Node(data_dir, signature_workers=0).close()  # its tables agree with its log
    with pytest.raises(LedgerCorruptError, match="hold the same transaction"):
        verify_ledger(data_dir, DEFAULT_MODULES)


def test_verify_ledger_agrees_with_the_node_across_the_replay_window(tmp_path: Path) -> None:
    """Refusals for time and the expiry of replay memory re-derive exactly."""
    path = tmp_path / "node"
    start = 1_790_000_000_000
    init_data_dir(path, "ledger.example/test", ORGS, start, block_max_ms=10)
    now = [start / 1000]
    node = Node(path, signature_workers=0, clock=lambda: now[0])
    try:
        key = node.member_key("brand/alice")
        for hour in range(0, 50, 7):  # two days of blocks, seven hours apart
            now[0] = start / 1000 + hour * 3600
            at = int(now[0] * 1000)
            fresh = sign_transaction(
                key, node.chain, "notary.attest", {"digest": f"{hour:064x}", "kind": "x"}, time=at
            )
            stale = sign_transaction(
                key,
                node.chain,
                "notary.attest",
                {"digest": f"{hour + 1000:064x}", "kind": "x"},
                time=at - 2 * 86_400_000,
            )
            node.commit_block([fresh, stale])  # the orderer delivered a stale one
            assert node.storage.tx(stale.id).code == "chain/7"  # type: ignore[union-attr]
        assert len([k for k, _ in node.state().scan(SEEN)]) <= 4  # expired as it went
    finally:
        node.close()
    verify_ledger(path, DEFAULT_MODULES)


def test_crash_before_the_first_cosignature_is_not_a_rollback(data_dir: Path) -> None:
    from veriledger.node import cosigning

    real = cosigning.SigningMemory.remember
    calls = []

    def crash_on_second(self: cosigning.SigningMemory, checkpoint: object, note: bytes) -> None:
        calls.append(checkpoint)
        if len(calls) == 2:
            raise SystemExit("killed after the genesis block, before its cosignature")
        real(self, checkpoint, note)  # type: ignore[arg-type]

    cosigning.SigningMemory.remember = crash_on_second  # type: ignore[method-assign]
    try:
        with pytest.raises(SystemExit):
            Node(data_dir, signature_workers=0)
    finally:
        cosigning.SigningMemory.remember = real  # type: ignore[method-assign]
    (data_dir / datadir.LOCK).unlink()  # the dead process's lock died with it
    node = Node(data_dir, signature_workers=0)
    try:
        assert node.alarm is None
        _commit(node, 1)
    finally:
        node.close()


def test_failed_cosigning_halts_instead_of_stopping_silently(data_dir: Path) -> None:
    node = Node(data_dir, signature_workers=0)
    try:
        _commit(node, 1)

        def full_disk(checkpoint: object, note: bytes) -> None:
            raise OSError(28, "No space left on device")

        node.memory.remember = full_disk  # type: ignore[method-assign]
        tx = _attest(node)
        answer = node.submit([tx])
        assert answer[0].result(10).status == "pending"  # committed, not final
        assert node.alarm is not None and "No space left" in node.alarm.reason
        with pytest.raises(NodeHaltedError):
            node.submit([_attest(node)])
    finally:
        node.close()


def test_halted_node_says_so_on_healthz_and_refuses_writes_over_http(
    data_dir: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from veriledger.interfaces.http.app import create_app

    node = Node(data_dir, signature_workers=0)
    _commit(node, 2)
    node.close()
    _backup(data_dir, tmp_path / "old.sqlite")
    node = Node(data_dir, signature_workers=0)
    _commit(node, 2)
    node.close()
    _restore(tmp_path / "old.sqlite", data_dir)
    node = Node(data_dir, signature_workers=0)
    try:
        client = TestClient(create_app(node))
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "halted"
        assert "older than what was signed" in health.json()["alarm"]["reason"]
        assert "veriledger_halted 1" in client.get("/metrics").text
        refused = client.post("/api/v1/transactions", json=_attest(node).to_json())
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert client.get("/api/v1/blocks").status_code == 200  # reads go on
    finally:
        node.close()
