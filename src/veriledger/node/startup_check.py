"""The checks a node runs before it serves: its tables must agree with its signed log.

``verify-ledger`` re-derives everything from genesis; that takes minutes on a large
ledger. At start the node checks, cheaply, what a crash, a restored file or an edit
while it was stopped would most likely have broken, and refuses to start rather than
build new blocks on it (an append at a wrong ``meta.size`` would overwrite entries):

- entry 0 is the genesis file the node was given (genesis is pinned by the log);
- ``meta.size`` is where the last block's header entry ends;
- from the last block back to the last verified point (``meta.verified``, set after
  each successful check and at a clean stop), every block's stored header is its log
  entry, its row's columns match the header, its headers chain, every transaction
  row matches its entry and the header's verdict, every entry matches the tree's leaf
  hash, and a checkpoint signed by the log key closes it;
- the newest checkpoint's root is the root of the stored tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from veriledger.chain.blocks import BlockHeader
from veriledger.chain.genesis import Genesis
from veriledger.chain.storage import Storage, TxRow
from veriledger.chain.transactions import Transaction
from veriledger.core.errors import StorageError, VeriledgerError
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.hashing import leaf_hash
from veriledger.log.note import parse_note
from veriledger.log.policy import Policy
from veriledger.log.tile_reader import TileReader

VERIFIED = "verified"
"""``meta`` key: the log size up to which the node last checked its tables."""


class LedgerInconsistentError(StorageError):
    """The node's tables disagree with its signed log; it will not start on them."""


def check_ledger(storage: Storage, genesis: Genesis, reader: TileReader) -> int:
    """Check the ledger's head against its log; returns the log size.

    Raises:
        LedgerInconsistentError: naming the table, row and field that disagree.
    """
    conn = storage.writer
    size_meta = storage.get_meta("size", conn)
    size = int(size_meta) if size_meta else 0
    height = storage.latest_height(conn)
    if size == 0:
        if height is not None:
            raise _error("meta.size is 0 but the blocks table holds blocks")
        return 0
    if reader.entry(0) != genesis.entry():
        raise _error(
            "genesis.json differs from the genesis this ledger was created with (log entry "
            "0): a node refuses to serve a ledger under another consortium's terms"
        )
    if height is None:
        raise _error(f"meta.size is {size} but the blocks table is empty")
    last = _header(storage, height)
    if last.end != size:
        raise _error(f"meta.size is {size} but block {height} ends the log at {last.end}")
    verified = int(storage.get_meta(VERIFIED, conn) or b"0")
    header = last
    while True:
        previous = _header(storage, header.height - 1) if header.height > 0 else None
        _check_block(storage, genesis, reader, header, previous, size)
        if previous is None or previous.end <= verified:
            break
        header = previous
    _check_newest_checkpoint(storage, genesis.policy(), reader, size)
    return size


def _header(storage: Storage, height: int) -> BlockHeader:
    stored = storage.block_header(height, storage.writer)
    if stored is None:
        raise _error(f"blocks row height={height} is missing")
    try:
        return BlockHeader.from_entry(stored)
    except VeriledgerError as exc:
        raise _error(f"blocks row height={height}: header is unreadable ({exc})") from None


def _check_block(
    storage: Storage,
    genesis: Genesis,
    reader: TileReader,
    header: BlockHeader,
    previous: BlockHeader | None,
    size: int,
) -> None:
    h = header.height
    entries = reader.entries(header.first_index, header.end)
    leaves = reader.range_hashes([(i, i + 1) for i in range(header.first_index, header.end)], size)
    for offset, (entry, leaf) in enumerate(zip(entries, leaves, strict=True)):
        if leaf_hash(entry) != leaf:
            raise _error(f"log entry {header.first_index + offset} differs from the tree's leaf")
    if entries[-1] != header.entry():
        raise _error(f"blocks row height={h}: header differs from log entry {header.header_index}")
    if header.chain != genesis.chain:
        raise _error(f"blocks row height={h}: chain is {header.chain!r}")
    want_prev = previous.id if previous is not None else hashlib.sha256(genesis.entry()).hexdigest()
    if header.prev != want_prev:
        raise _error(f"blocks row height={h}: prev does not name block {h - 1}")
    row = storage.writer.execute(
        "SELECT id, time, first_index, tx_count, accepted FROM blocks WHERE height = ?", (h,)
    ).fetchone()
    columns = {
        "id": header.id,
        "time": header.time,
        "first_index": header.first_index,
        "tx_count": header.tx_count,
        "accepted": header.accepted,
    }
    for (name, want), got in zip(columns.items(), row, strict=True):
        if got != want:
            raise _error(f"blocks row height={h}: {name} is {got!r}, the log says {want!r}")
    _check_txs(storage, header, entries[:-1])
    checkpoint = storage.writer.execute(
        "SELECT height, note FROM checkpoints WHERE size = ?", (header.end,)
    ).fetchone()
    if checkpoint is None:
        raise _error(f"checkpoints row size={header.end} (block {h}) is missing")
    if checkpoint[0] != h:
        raise _error(f"checkpoints row size={header.end}: height is {checkpoint[0]}, want {h}")


def _check_txs(storage: Storage, header: BlockHeader, entries: Sequence[bytes]) -> None:
    rows = storage.writer.execute(
        "SELECT * FROM txs WHERE log_index >= ? AND log_index < ? ORDER BY log_index",
        (header.first_index, header.header_index),
    ).fetchall()
    stored = {int(r[0]): r for r in rows}
    rejected = {r.id: r for r in header.rejected}
    for offset, entry in enumerate(entries):
        index = header.first_index + offset
        if index not in stored:
            raise _error(f"txs row log_index={index} is missing")
        try:
            tx = Transaction.parse(entry)
        except VeriledgerError as exc:
            raise _error(f"log entry {index} is not a transaction ({exc})") from None
        refused = rejected.get(tx.id)
        want: dict[str, Any] = {
            "id": tx.id,
            "height": header.height,
            "type": tx.type,
            "signer": tx.signer,
            "accepted": refused is None,
            "code": refused.code if refused else None,
            "reason": refused.reason if refused else None,
        }
        got = _tx_columns(stored.pop(index))
        for name, value in want.items():
            if getattr(got, name) != value:
                raise _error(
                    f"txs row log_index={index}: {name} is {getattr(got, name)!r}, "
                    f"the log says {value!r}"
                )
    if stored:
        raise _error(f"txs row log_index={min(stored)} names no transaction of the log")


def _tx_columns(row: Sequence[Any]) -> TxRow:
    return TxRow(
        bytes(row[1]).hex(), row[0], row[2], row[3], row[4], bool(row[5]), row[6], row[7], []
    )


def _check_newest_checkpoint(
    storage: Storage, policy: Policy, reader: TileReader, size: int
) -> None:
    row = storage.writer.execute(
        "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
    ).fetchone()
    if row is None or row[0] != size:
        raise _error(f"checkpoints: the newest is not of the log's size {size}")
    try:
        note = parse_note(bytes(row[1]))
        checkpoint = Checkpoint.parse(note.text)
        policy.check(bytes(row[1]))
    except VeriledgerError as exc:
        raise _error(f"checkpoints row size={size}: note does not verify ({exc})") from None
    if checkpoint.size != size or checkpoint.root_hash != reader.root_at(size):
        raise _error(f"checkpoints row size={size}: root differs from the stored tree")


def _error(detail: str) -> LedgerInconsistentError:
    return LedgerInconsistentError(
        f"refusing to start: {detail}. The ledger's tables disagree with its signed log; "
        "run `veriledger verify-ledger` to see all that differs"
    )
