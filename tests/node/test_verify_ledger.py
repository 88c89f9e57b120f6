"""``verify-ledger`` against a tampered database: every derived table and column.

One small ledger is built per module (the demo story, a block with a rejected
transaction, and enough attestations for two entry bundles); each case copies it,
edits one table with sqlite3 as an attacker with file access would, and checks that
``verify-ledger`` refuses it, naming the table, the row and the field.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.core.errors import BadInputError
from veriledger.interfaces.cli import main
from veriledger.node.demo import create_demo, seed_demo
from veriledger.node.node import DEFAULT_MODULES, Node
from veriledger.node.verify_ledger import KNOWN_META_KEYS, LedgerCorruptError, verify_ledger

MIN_TX = "(SELECT MIN(log_index) FROM txs)"
MAX_TX = "(SELECT MAX(log_index) FROM txs)"
MAX_CP = "(SELECT MAX(size) FROM checkpoints)"
MIN_CP = "(SELECT MIN(size) FROM checkpoints)"
FIRST_EVENTS = "(SELECT MIN(log_index) FROM txs WHERE events IS NOT NULL)"
A_NOTARY_KEY = "(SELECT MIN(key) FROM state WHERE key LIKE 'notary/%')"


def _attest(node: Node, n: int) -> Transaction:
    digest = hashlib.sha256(f"invoice {n}".encode()).hexdigest()
    return sign_transaction(
        node.member_key("aurora/anna"), node.chain, "notary.attest", {"digest": digest, "kind": "x"}
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ledger") / "demo"
    create_demo(path, block_max_ms=5)
    node = Node(path, signature_workers=0)
    try:
        seed_demo(node, rounds=1)
        node.commit_block([_attest(node, n) for n in range(200)])  # a second entry bundle
        refused = sign_transaction(
            node.member_key("aurora/anna"), node.chain, "notary.nonexistent", {}
        )
        node.commit_block([refused])  # a rejected row: code and reason set
    finally:
        node.close()
    conn = sqlite3.connect(path / "ledger.sqlite")
    try:  # every column the matrix edits holds something to edit
        assert conn.execute("SELECT COUNT(*) FROM txs WHERE code IS NOT NULL").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM txs WHERE events IS NOT NULL").fetchone()[0]
        assert conn.execute("SELECT MAX(idx) FROM tiles WHERE level = -1").fetchone()[0] == 1
    finally:
        conn.close()
    return path


@pytest.fixture
def ledger(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    return copy


def _tamper(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path / "ledger.sqlite")
    try:
        changed = conn.execute(sql).rowcount
        conn.commit()
    finally:
        conn.close()
    assert changed != 0, f"the tamper changed nothing: {sql}"


def test_an_untouched_ledger_re_derives(ledger: Path) -> None:
    report = verify_ledger(ledger, DEFAULT_MODULES)
    assert report.rejected == 1
    assert report.checkpoints == report.blocks == report.final_checkpoints
    assert report.entries > 256


# (sql, table, field the error names or None for a missing/extra row, words in the message)
TAMPERING: dict[str, tuple[str, str, str | None, str]] = {
    # txs: every column, a deleted row and inserted rows
    "txs.log_index": (
        f"UPDATE txs SET log_index = log_index + 1000000 WHERE log_index = {MIN_TX}",
        "txs",
        None,
        "log_index=",
    ),
    "txs.id": (
        f"UPDATE txs SET id = randomblob(32) WHERE log_index = {MIN_TX}",
        "txs",
        "id",
        "id differs",
    ),
    "txs.height": (
        f"UPDATE txs SET height = height + 1 WHERE log_index = {MAX_TX}",
        "txs",
        "height",
        "height differs",
    ),
    "txs.type": (
        "UPDATE txs SET type = 'notary.attest' WHERE log_index = "
        "(SELECT MIN(log_index) FROM txs WHERE type != 'notary.attest')",
        "txs",
        "type",
        "type differs: stored 'notary.attest'",
    ),
    "txs.signer": (
        "UPDATE txs SET signer = (SELECT s.signer FROM txs AS s WHERE s.signer != txs.signer "
        f"LIMIT 1) WHERE log_index = {MIN_TX}",
        "txs",
        "signer",
        "signer differs",
    ),
    "txs.accepted_forged": (
        "UPDATE txs SET accepted = 1 WHERE accepted = 0",
        "txs",
        "accepted",
        "accepted differs: stored 1, log 0",
    ),
    "txs.accepted_hidden": (
        f"UPDATE txs SET accepted = 0 WHERE log_index = {MIN_TX}",
        "txs",
        "accepted",
        "accepted differs: stored 0, log 1",
    ),
    "txs.code": (
        "UPDATE txs SET code = 'notary/1' WHERE code IS NOT NULL",
        "txs",
        "code",
        "code differs: stored 'notary/1', log 'chain/2'",
    ),
    "txs.reason": (
        "UPDATE txs SET reason = 'the signer was revoked' WHERE reason IS NOT NULL",
        "txs",
        "reason",
        "reason differs: stored 'the signer was revoked', log \"unknown transaction type",
    ),
    "txs.events_dropped": (
        f"UPDATE txs SET events = NULL WHERE log_index = {FIRST_EVENTS}",
        "txs",
        "events",
        "events differs: stored None",
    ),
    "txs.events_forged": (
        f"UPDATE txs SET events = CAST('[{{\"forged\":true}}]' AS BLOB) "
        f"WHERE log_index = {FIRST_EVENTS}",
        "txs",
        "events",
        "events differs",
    ),
    "txs.deleted": (
        f"DELETE FROM txs WHERE log_index = {MAX_TX}",
        "txs",
        None,
        "missing",
    ),
    "txs.inserted_at_a_header": (  # entry 1 is the genesis block's header
        "INSERT INTO txs VALUES (1, randomblob(32), 0, 'notary.attest', 's', 1, NULL, NULL, NULL)",
        "txs",
        None,
        "txs table row log_index=1: not in the log",
    ),
    "txs.inserted_after_the_log": (
        "INSERT INTO txs VALUES (99999, randomblob(32), 0, 'notary.attest', 's', 1, NULL, NULL, "
        "NULL)",
        "txs",
        None,
        "txs table row log_index=99999: not in the log",
    ),
    # blocks: every column, a deleted row and an inserted row
    "blocks.height": (
        "UPDATE blocks SET height = height + 1000 WHERE height = (SELECT MAX(height) FROM blocks)",
        "blocks",
        None,
        "height=",
    ),
    "blocks.id": (
        "UPDATE blocks SET id = (SELECT id FROM blocks WHERE height = 0) WHERE height = 1",
        "blocks",
        "id",
        "blocks table row height=1: id differs",
    ),
    "blocks.time": (
        "UPDATE blocks SET time = time - 1 WHERE height = 1",
        "blocks",
        "time",
        "time differs",
    ),
    "blocks.first_index": (
        "UPDATE blocks SET first_index = first_index + 1 WHERE height = 1",
        "blocks",
        "first_index",
        "first_index differs",
    ),
    "blocks.tx_count": (
        "UPDATE blocks SET tx_count = tx_count - 1 WHERE height = 1",
        "blocks",
        "tx_count",
        "tx_count differs",
    ),
    "blocks.accepted": (
        "UPDATE blocks SET accepted = accepted + 1 WHERE height = (SELECT MAX(height) FROM blocks)",
        "blocks",
        "accepted",
        "accepted differs",
    ),
    "blocks.header": (
        "UPDATE blocks SET header = (SELECT header FROM blocks WHERE height = 0) WHERE height = 1",
        "blocks",
        "header",
        "header differs",
    ),
    "blocks.deleted": (
        "DELETE FROM blocks WHERE height = 1",
        "blocks",
        None,
        "blocks table row height=1: missing",
    ),
    "blocks.inserted": (
        "INSERT INTO blocks SELECT height + 1000, id, time, first_index, tx_count, accepted, "
        "header FROM blocks WHERE height = 1",
        "blocks",
        None,
        "blocks table row height=1001: not in the log",
    ),
    # checkpoints: every column, a deleted row and an inserted row
    "checkpoints.size": (
        f"UPDATE checkpoints SET size = size + 1 WHERE size = {MAX_CP}",
        "checkpoints",
        None,
        "size=",
    ),
    "checkpoints.height": (
        f"UPDATE checkpoints SET height = height + 1 WHERE size = {MAX_CP}",
        "checkpoints",
        "height",
        "height differs",
    ),
    "checkpoints.note_of_another_size": (
        f"UPDATE checkpoints SET note = (SELECT note FROM checkpoints WHERE size = {MIN_CP}) "
        f"WHERE size = {MAX_CP}",
        "checkpoints",
        "note",
        "note differs: it signs size 2",
    ),
    "checkpoints.note_signature_broken": (
        "UPDATE checkpoints SET note = CAST(substr(note, 1, length(note) - 12) || "
        f"'AAAAAAAAAAA' || char(10) AS BLOB) WHERE size = {MAX_CP}",
        "checkpoints",
        "note",
        "note is not a checkpoint signed by the log key",
    ),
    "checkpoints.final": (
        f"UPDATE checkpoints SET final = 0 WHERE size = {MAX_CP}",
        "checkpoints",
        "final",
        "final differs: stored 0",
    ),
    "checkpoints.deleted": (  # a block end without its checkpoint
        "DELETE FROM checkpoints WHERE size = (SELECT size FROM checkpoints ORDER BY size "
        "LIMIT 1 OFFSET 1)",
        "checkpoints",
        None,
        "missing",
    ),
    "checkpoints.inserted": (  # size 3 is never a block end: block 1 ends at 4 or later
        f"INSERT INTO checkpoints SELECT 3, 0, note, final FROM checkpoints WHERE size = {MIN_CP}",
        "checkpoints",
        None,
        "checkpoints table row size=3: not in the log",
    ),
    # meta: both columns of each key, a deleted row and an inserted row
    "meta.key": (
        "UPDATE meta SET key = 'Size' WHERE key = 'size'",
        "meta",
        "key",
        "meta table row key='Size': an unknown key",
    ),
    "meta.format": (
        "UPDATE meta SET value = CAST('1' AS BLOB) WHERE key = 'format'",
        "meta",
        "value",
        "meta table row key='format': value differs: stored b'1'",
    ),
    "meta.size": (
        "UPDATE meta SET value = CAST('12' AS BLOB) WHERE key = 'size'",
        "meta",
        "value",
        "meta table row key='size': value differs: stored b'12'",
    ),
    "meta.size_as_text": (
        "UPDATE meta SET value = CAST(value AS TEXT) WHERE key = 'size'",
        "meta",
        "value",
        "meta table row key='size': value differs",
    ),
    "meta.verified_off_a_block_end": (
        "INSERT OR REPLACE INTO meta VALUES ('verified', CAST('3' AS BLOB))",
        "meta",
        "value",
        "meta table row key='verified': value differs: stored b'3'",
    ),
    "meta.verified_beyond_the_log": (
        "INSERT OR REPLACE INTO meta VALUES ('verified', CAST('999999' AS BLOB))",
        "meta",
        "value",
        "meta table row key='verified'",
    ),
    "meta.deleted": (
        "DELETE FROM meta WHERE key = 'size'",
        "meta",
        None,
        "meta table row key='size': missing",
    ),
    "meta.inserted": (
        "INSERT INTO meta VALUES ('owner', CAST('mallory' AS BLOB))",
        "meta",
        "key",
        "meta table row key='owner': an unknown key",
    ),
    # state and tiles: a few edits each
    "state.value": (
        f'UPDATE state SET value = CAST(\'{{"kind":"forged"}}\' AS BLOB) '
        f"WHERE key = {A_NOTARY_KEY}",
        "state",
        "value",
        "value differs: stored state",
    ),
    "state.key": (
        f"UPDATE state SET key = key || 'x' WHERE key = {A_NOTARY_KEY}",
        "state",
        None,
        "state table row key=",
    ),
    "state.deleted": (
        f"DELETE FROM state WHERE key = {A_NOTARY_KEY}",
        "state",
        None,
        "missing",
    ),
    "state.inserted": (
        "INSERT INTO state VALUES ('notary/zz', CAST('{}' AS BLOB))",
        "state",
        None,
        "state table row key='notary/zz': not in the log",
    ),
    "tiles.hash_tile": (
        "UPDATE tiles SET data = zeroblob(length(data)) WHERE level = 0 AND idx = 0",
        "tiles",
        "data",
        "tiles table row level=0, idx=0: the stored tile differs",
    ),
    "tiles.bundle_grown": (
        "UPDATE tiles SET data = CAST(data || x'000141' AS BLOB) WHERE level = -1 AND idx = 0",
        "tiles",
        "data",
        "tiles table row level=-1, idx=0: the stored entry bundle is not exactly 256 entries",
    ),
    "tiles.bundle_as_text": (  # a blob turned into text that is not UTF-8
        "UPDATE tiles SET data = data || x'ff' WHERE level = -1 AND idx = 0",
        "tiles",
        "data",
        "tiles table row level=-1, idx=0",
    ),
    "tiles.bundle_deleted": (
        "DELETE FROM tiles WHERE level = -1 AND idx = 0",
        "tiles",
        None,
        "tiles table row level=-1, idx=0: entry bundle missing",
    ),
    "tiles.inserted": (
        "INSERT INTO tiles VALUES (3, 0, zeroblob(32))",
        "tiles",
        None,
        "tiles table row level=3, idx=0: not in the log",
    ),
    # the schema itself: a column or table nobody checks is a place to hide a lie
    "schema.extra_column": (
        "ALTER TABLE txs ADD COLUMN memo TEXT DEFAULT 'x'",
        "txs",
        "memo",
        "txs table has a column 'memo' that verify-ledger does not check",
    ),
    "schema.extra_table": (
        "CREATE TABLE receipts (id BLOB)",
        "receipts",
        None,
        "receipts table is not one verify-ledger checks",
    ),
    "schema.dropped_table": (
        "DROP TABLE checkpoints",
        "checkpoints",
        None,
        "checkpoints table is missing",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_derived_table_is_named(ledger: Path, case: str) -> None:
    sql, table, field, words = TAMPERING[case]
    _tamper(ledger, sql)
    with pytest.raises(LedgerCorruptError) as raised:
        verify_ledger(ledger, DEFAULT_MODULES)
    message = str(raised.value)
    assert words in message
    assert raised.value.table == table
    assert raised.value.field == field
    assert message.startswith(f"{table} table"), message
    assert "\n" not in message


def test_every_derived_column_is_in_the_matrix() -> None:
    """A column or meta key added to the schema needs its tamper case (and its check)."""
    from veriledger.node.verify_ledger import TABLE_COLUMNS

    for table in ("txs", "blocks", "checkpoints"):
        for column in TABLE_COLUMNS[table]:
            assert any(case.startswith(f"{table}.{column}") for case in TAMPERING), column
    for key in KNOWN_META_KEYS:  # a new meta key needs its check and its case
        assert any(case.startswith(f"meta.{key}") for case in TAMPERING), key


def test_an_envelope_logged_twice_is_flagged(built: Path, tmp_path: Path) -> None:
    """An orderer that replays an envelope: the log holds it twice, whatever the txs
    table says (here it kept one row; the second insert was skipped)."""
    path = tmp_path / "copy"
    shutil.copytree(built, path)
    node = Node(path, signature_workers=0)
    try:
        tx = _attest(node, 10_000)
        node.commit_block([tx])
        first = node.log.size - 2
        insert = node.storage.put_txs
        node.storage.put_txs = lambda conn, rows: insert(  # type: ignore[method-assign]
            conn, [r for r in rows if r.id != tx.id]
        )
        node.commit_block([tx])
        second = node.log.size - 2
    finally:
        node.close()
    with pytest.raises(LedgerCorruptError) as raised:
        verify_ledger(path, DEFAULT_MODULES)
    assert str(raised.value) == (
        f"entries {first} and {second} hold the same transaction {tx.id}: "
        "one envelope appears twice in the log"
    )


def test_a_missing_data_dir_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cannot read the genesis file"):
        verify_ledger(tmp_path / "nowhere", DEFAULT_MODULES)


def test_a_database_that_is_not_sqlite_is_bad_input(ledger: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (ledger / f"ledger.sqlite{suffix}").unlink(missing_ok=True)
    (ledger / "ledger.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(BadInputError, match="not a readable SQLite database"):
        verify_ledger(ledger, DEFAULT_MODULES)
    assert (ledger / "ledger.sqlite").read_bytes() == b"not a database" * 100


def test_cli_exits_1_naming_the_table(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(ledger, "UPDATE txs SET reason = 'forged' WHERE reason IS NOT NULL")
    assert main(["verify-ledger", "--data-dir", str(ledger)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: txs table row log_index=")
    assert "reason differs: stored 'forged'" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["verify-ledger", "--data-dir", str(ledger / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
