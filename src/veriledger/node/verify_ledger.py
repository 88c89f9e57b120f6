"""``verify-ledger``: re-derive a whole ledger from genesis and check everything.

Like tessera's fsck, it trusts nothing that was stored: it reads every entry from the
entry bundles, rebuilds the Merkle tree in memory and compares every stored tile
with it, re-verifies every transaction signature, re-executes every block from the
genesis state and compares headers and state roots, checks every checkpoint's log
signature, cosignatures and finality under the consortium policy, and finally
compares the stored state with the state it rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from veriledger.chain.blocks import BlockHeader, Rejected, entry_kind
from veriledger.chain.driver import BlockContext, execute_block
from veriledger.chain.genesis import Genesis
from veriledger.chain.module import Module, Registry
from veriledger.chain.state import EMPTY_STATE_ROOT, MemoryState, next_state_root
from veriledger.chain.storage import SqliteState, SqliteTileStore, Storage
from veriledger.chain.transactions import Transaction
from veriledger.core.errors import BadInputError, VerificationError, VeriledgerError
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.tile_reader import TileReader
from veriledger.log.tiled_log import TiledLog
from veriledger.log.tiles import MemoryTileStore
from veriledger.modules import identity
from veriledger.node import datadir


class LedgerCorruptError(VerificationError):
    """The stored ledger does not re-derive from its genesis."""


@dataclass(frozen=True)
class LedgerReport:
    entries: int
    blocks: int
    transactions: int
    rejected: int
    checkpoints: int
    final_checkpoints: int
    state_keys: int


Progress = Callable[[int, int], None]


def verify_ledger(
    data_dir: Path, modules: Sequence[Module], progress: Progress | None = None
) -> LedgerReport:
    """Check the ledger in ``data_dir``; returns what was checked.

    Raises:
        LedgerCorruptError: the first inconsistency found, naming the entry or block.
    """
    genesis = Genesis.parse((data_dir / datadir.GENESIS).read_bytes())
    storage = Storage(data_dir / datadir.DATABASE)
    try:
        conn = storage.reader()
        size_meta = storage.get_meta("size", conn)
        size = int(size_meta) if size_meta else 0
        reader = TileReader(SqliteTileStore(storage.reader), cache_tiles=0)
        entries = reader.entries(0, size) if size else []
        if not entries or entries[0] != genesis.entry():
            raise LedgerCorruptError("entry 0 is not this ledger's genesis file")
        rebuilt = _check_tiles(entries, reader)
        checkpoints, finals = _check_checkpoints(storage, genesis, rebuilt)
        replay = _Replay(genesis, Registry(modules))
        replay.run(entries, progress)
        stored = dict(SqliteState(conn).scan(""))
        if stored != replay.state.values:
            differing = sorted(set(stored) ^ set(replay.state.values)) or sorted(
                k for k in stored if stored[k] != replay.state.values.get(k)
            )
            raise LedgerCorruptError(f"stored state differs from re-execution at {differing[0]!r}")
        if storage.latest_height(conn) != replay.blocks - 1:
            raise LedgerCorruptError("the blocks table does not match the log")
        return LedgerReport(
            size,
            replay.blocks,
            replay.txs,
            replay.rejected,
            checkpoints,
            finals,
            len(replay.state.values),
        )
    finally:
        storage.close()


def _check_tiles(entries: list[bytes], reader: TileReader) -> TiledLog:
    """Rebuild the tree from the entries and compare every stored tile with it."""
    rebuilt_store = MemoryTileStore()
    rebuilt = TiledLog(rebuilt_store)
    rebuilt.append_many(entries)
    rebuilt.flush()
    for (level, index), blob in rebuilt_store.blobs.items():
        stored = reader.stored(level, index)
        if stored is None or not stored.startswith(blob):
            raise LedgerCorruptError(f"stored tile ({level}, {index}) differs from the log")
    return rebuilt


def _check_checkpoints(storage: Storage, genesis: Genesis, rebuilt: TiledLog) -> tuple[int, int]:
    """Every checkpoint: signatures, quorum flag, and root against the rebuilt tree."""
    policy = genesis.policy()
    checkpoints = storage.checkpoints(1 << 62)
    finals = 0
    for size, _, note, final in checkpoints:
        try:
            result = policy.check(note)
        except VeriledgerError as exc:
            raise LedgerCorruptError(f"checkpoint of size {size}: {exc}") from None
        checkpoint: Checkpoint = result.checkpoint
        if checkpoint.size != size or checkpoint.root_hash != rebuilt.root_at(size):
            raise LedgerCorruptError(f"checkpoint of size {size} does not match the log")
        if final != result.satisfied:
            raise LedgerCorruptError(f"checkpoint of size {size} is misflagged as final")
        finals += final
    return len(checkpoints), finals


class _Replay:
    """Re-executes the log from genesis, block by block, checking every header."""

    def __init__(self, genesis: Genesis, registry: Registry) -> None:
        self.genesis = genesis
        self.registry = registry
        self.state = MemoryState()
        writes = identity.genesis_writes(genesis)
        self.state.apply(writes)
        self.root = next_state_root(EMPTY_STATE_ROOT, 0, writes)
        self.prev = hashlib.sha256(genesis.entry()).hexdigest()
        self.last_time = genesis.time
        self.blocks = self.txs = self.rejected = 0

    def run(self, entries: list[bytes], progress: Progress | None) -> None:
        pending: list[Transaction] = []
        first = 1
        for index in range(1, len(entries)):
            if progress is not None and index % 1000 == 0:
                progress(index, len(entries))
            entry = entries[index]
            if entry_kind(entry) == "tx":
                pending.append(_transaction(index, entry))
                continue
            self._block(index, entry, first, pending)
            pending = []
            first = index + 1
        if pending:
            raise LedgerCorruptError(f"entries {first}.. are not closed by a block header")

    def _block(self, index: int, entry: bytes, first: int, txs: list[Transaction]) -> None:
        header = BlockHeader.from_entry(entry)
        if header.entry() != entry:
            raise LedgerCorruptError(f"block header at entry {index} is not canonical")
        want = (self.genesis.chain, self.blocks, self.prev, first, len(txs))
        got = (header.chain, header.height, header.prev, header.first_index, header.tx_count)
        if got != want:
            raise LedgerCorruptError(
                f"block header at entry {index}: (chain, height, prev, first, count) is "
                f"{got}, want {want}"
            )
        if header.time < self.last_time:
            raise LedgerCorruptError(f"block {header.height} goes back in time")
        root, accepted = self.root, 0
        rejected: tuple[Rejected, ...] = ()
        if header.height > 0:
            context = BlockContext(
                self.genesis.chain,
                header.height,
                header.time,
                self.prev,
                self.genesis.replay_window_ms,
            )
            execution = execute_block(
                self.state, txs, context, self.registry, identity.authorize, self.root
            )
            self.state.apply(execution.writes)
            root, rejected, accepted = execution.state_root, execution.rejected, execution.accepted
        if header.state_root != root.hex():
            raise LedgerCorruptError(
                f"block {header.height}: state root {header.state_root} differs from "
                f"re-execution {root.hex()}"
            )
        if header.rejected != rejected or header.accepted != accepted:
            raise LedgerCorruptError(f"block {header.height}: receipts differ on re-execution")
        self.root, self.prev, self.last_time = root, header.id, header.time
        self.blocks += 1
        self.txs += len(txs)
        self.rejected += len(txs) - accepted


def _transaction(index: int, entry: bytes) -> Transaction:
    try:
        tx = Transaction.parse(entry)
    except BadInputError as exc:
        raise LedgerCorruptError(f"entry {index} is not a transaction: {exc}") from None
    if tx.entry != entry:
        raise LedgerCorruptError(f"entry {index} is not in canonical form")
    try:
        tx.verify_signature()
    except VerificationError:
        raise LedgerCorruptError(f"entry {index}: bad signature") from None
    return tx
