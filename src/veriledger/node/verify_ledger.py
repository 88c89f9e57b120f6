"""``verify-ledger``: re-derive a whole ledger from genesis and check everything.

Like tessera's fsck, it trusts nothing that was stored except the log's entries, and
checks those too. In order:

1. ``meta``: the format is the one this Veriledger replays, its ``size`` is the log's,
   and it holds no key outside :data:`KNOWN_META_KEYS`;
2. the log: every entry bundle is present and holds exactly its entries, entry 0 is
   this ledger's genesis file, every transaction is canonical and its signature
   verifies, and no envelope appears twice;
3. re-execution: every block from the genesis state, each header compared with the
   re-execution (chain, height, hash chain, indexes, time, receipts, state root);
4. the derived tables, column by column and in both directions (a missing row, an
   extra row, a differing field): ``txs`` and ``blocks`` against the rows the replay
   derives, ``tiles`` against the tree rebuilt from the entries, ``checkpoints`` (one
   per block end, each signed by the log key, for the rebuilt root, final exactly when
   the policy's quorum cosigned it) and ``state`` against the replayed state.

Stored tables are read in key order through cursors and merged with the rows the
replay produces, so memory holds the replayed state, the rebuilt hash tiles and one
id per transaction, never a stored table. Every read happens in one read transaction:
a node may keep committing while the audit runs, and the audit sees one snapshot.

Every difference raises :class:`LedgerCorruptError` naming the table, the row and the
field, e.g. ``txs table row log_index=57 (id 3fa1…): reason differs: stored 'x', log
'y'``. ``docs/security.md`` lists what this proves and what it cannot see.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from veriledger.chain.blocks import BlockHeader, Rejected, entry_kind
from veriledger.chain.driver import execute_block
from veriledger.chain.genesis import Genesis
from veriledger.chain.module import Module, Registry
from veriledger.chain.state import EMPTY_STATE_ROOT, MemoryState, next_state_root
from veriledger.chain.storage import FORMAT, TxRow
from veriledger.chain.transactions import Transaction
from veriledger.core.canonical_json import canonical_json
from veriledger.core.errors import (
    BadInputError,
    StorageError,
    VerificationError,
    VeriledgerError,
)
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.policy import Policy
from veriledger.log.tiled_log import TiledLog
from veriledger.log.tiles import ENTRIES, TILE_WIDTH, MemoryTileStore, decode_bundle, encode_bundle
from veriledger.modules import identity
from veriledger.node import datadir

KNOWN_META_KEYS: frozenset[str] = frozenset({"format", "size", "verified"})
"""Every key the node writes in ``meta``; any other key is flagged, since nothing
would check its value. A component that starts writing a new key adds it here, with
its check in :func:`_check_meta` or :func:`_check_verified_mark`."""

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "tiles": ("level", "idx", "data"),
    "state": ("key", "value"),
    "blocks": ("height", "id", "time", "first_index", "tx_count", "accepted", "header"),
    "txs": ("log_index", "id", "height", "type", "signer", "accepted", "code", "reason", "events"),
    "checkpoints": ("size", "height", "note", "final"),
}
"""The ledger database's tables and the columns checked in each (key columns first).
A table or column outside this map is flagged: a derived value nobody checks is a
place to hide a lie. A new table or column goes here together with its check."""


class LedgerCorruptError(VerificationError):
    """The stored ledger does not re-derive from its genesis.

    ``table``, ``row`` and ``field`` name the first difference found, where there is
    one (a bad signature in the log has no table).
    """

    def __init__(
        self,
        message: str,
        table: str | None = None,
        row: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.row = row
        self.field = field


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
        LedgerCorruptError: the first difference found, naming the table, row and
            field (or the log entry).
        BadInputError: the data directory, its genesis file or its database cannot
            be read at all.
        StorageError: the database failed while being read.
    """
    genesis = _read_genesis(data_dir)
    conn = _open(data_dir / datadir.DATABASE)
    try:
        conn.execute("BEGIN")  # one snapshot for every read below
        size = _log_size(conn)
        if size == 0:
            raise LedgerCorruptError("the log is empty: entry 0 is not this ledger's genesis file")
        _check_meta(conn, size)
        hashes = _HashTiles()
        rebuilt = TiledLog(hashes)
        replay = _Replay(genesis, Registry(modules))
        txs = _Rows(conn, "txs")
        blocks = _Rows(conn, "blocks")
        for index, entry in _log_entries(conn, size):
            if progress is not None and index % 1000 == 0:
                progress(index, size)
            rebuilt.append(entry)
            if index == 0:
                if entry != genesis.entry():
                    raise LedgerCorruptError("entry 0 is not this ledger's genesis file")
                continue
            closed = replay.feed(index, entry)
            if closed is not None:
                header, rows = closed
                for row in rows:
                    txs.expect(_tx_columns(row), f" (id {row.id})")
                blocks.expect(_block_columns(header))
        replay.finish()
        txs.finish()
        blocks.finish()
        rebuilt.flush()
        _check_verified_mark(conn, replay.ends)
        _check_tiles(conn, hashes)
        checkpoints, finals = _check_checkpoints(conn, genesis.policy(), rebuilt, replay.ends)
        _check_state(conn, replay.state)
        return LedgerReport(
            size,
            replay.blocks,
            replay.txs,
            replay.rejected,
            checkpoints,
            finals,
            len(replay.state.values),
        )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read the ledger database: {exc}") from None
    finally:
        conn.close()


# --- opening -------------------------------------------------------------------------------


def _read_genesis(data_dir: Path) -> Genesis:
    path = data_dir / datadir.GENESIS
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(
            f"{path}: cannot read the genesis file ({exc.strerror}); "
            f"is {data_dir} a data directory?"
        ) from None
    return Genesis.parse(data)


def _open(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing database whose tables are the known ones.

    ``mode=rw`` (with ``query_only``) rather than ``mode=ro``: after a crash the
    write-ahead log must be recovered, which a read-only connection cannot do.

    Raises:
        BadInputError: no database there, or not a SQLite database.
        LedgerCorruptError: a table or column is missing or unknown.
    """
    if not path.is_file():
        raise BadInputError(f"{path}: no ledger database")
    try:
        conn = sqlite3.connect(
            path.resolve().as_uri() + "?mode=rw", uri=True, isolation_level=None, timeout=30
        )
    except sqlite3.Error as exc:
        raise BadInputError(f"{path}: cannot open the ledger database: {exc}") from None
    # A blob turned into text that is not UTF-8 must read as a differing value, not fail.
    conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    try:
        conn.execute("PRAGMA query_only=ON")
        tables = [
            str(name)
            for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
            if not str(name).startswith("sqlite_")
        ]
        columns = {
            table: [
                str(c) for (c,) in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))
            ]
            for table in tables
        }
    except sqlite3.Error as exc:
        conn.close()
        raise BadInputError(f"{path} is not a readable SQLite database: {exc}") from None
    try:
        _check_schema(columns)
    except LedgerCorruptError:
        conn.close()
        raise
    return conn


def _check_schema(columns: dict[str, list[str]]) -> None:
    for table, known in TABLE_COLUMNS.items():
        if table not in columns:
            raise LedgerCorruptError(f"{table} table is missing", table)
        for column in known:
            if column not in columns[table]:
                raise LedgerCorruptError(
                    f"{table} table has no {column} column", table, None, column
                )
        for column in columns[table]:
            if column not in known:
                raise LedgerCorruptError(
                    f"{table} table has a column {column!r} that verify-ledger does not check",
                    table,
                    None,
                    column,
                )
    for table in sorted(set(columns) - set(TABLE_COLUMNS)):
        raise LedgerCorruptError(f"{table} table is not one verify-ledger checks", table)


# --- comparing a stored table with the rows the log derives --------------------------------


def _show(value: object) -> str:
    """A stored or derived value, on one short line."""
    if isinstance(value, bytes) and not (value.isascii() and value.decode().isprintable()):
        text = f"x'{value.hex()}'"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Rows:
    """One stored table read in key order, merged with the rows the log derives.

    The derived rows must come in increasing key order; a stored row whose key the log
    skips is an extra row, a derived key with no stored row a missing one.
    """

    def __init__(self, conn: sqlite3.Connection, table: str, where: str = "") -> None:
        self.table = table
        self.columns = TABLE_COLUMNS[table]
        self._keys = 2 if table == "tiles" else 1
        order = ", ".join(self.columns[: self._keys])
        self._cursor = conn.execute(
            f"SELECT {', '.join(self.columns)} FROM {table} {where} ORDER BY {order}"  # noqa: S608 (names from TABLE_COLUMNS)
        )
        self._next: tuple[Any, ...] | None = self._cursor.fetchone()
        self.count = 0

    def _label(self, row: Sequence[Any]) -> str:
        return ", ".join(
            f"{c}={v!r}" for c, v in zip(self.columns, row[: self._keys], strict=False)
        )

    def take(self, key: tuple[Any, ...], note: str = "") -> tuple[Any, ...]:
        """The stored row with ``key``.

        Raises:
            LedgerCorruptError: a stored row comes before ``key`` (an extra row), or
                none has ``key`` (a missing row).
        """
        stored = self._next
        if stored is not None:
            have = tuple(stored[: self._keys])
            same_types = all(type(a) is type(b) for a, b in zip(have, key, strict=True))
            if not same_types or have < key:
                raise LedgerCorruptError(
                    f"{self.table} table row {self._label(stored)}: not in the log (an extra row)",
                    self.table,
                    self._label(stored),
                )
        if stored is None or tuple(stored[: self._keys]) != key:
            label = self._label(key) + note
            raise LedgerCorruptError(
                f"{self.table} table row {label}: missing (the log has it)", self.table, label
            )
        self._next = self._cursor.fetchone()
        self.count += 1
        return stored

    def expect(self, row: tuple[Any, ...], note: str = "") -> None:
        """The stored row with ``row``'s key must equal ``row``, value and type."""
        stored = self.take(row[: self._keys], note)
        label = self._label(stored) + note
        for column, got, derived in zip(self.columns, stored, row, strict=True):
            _same(self.table, label, column, got, derived)

    def finish(self) -> None:
        """No stored row may remain after the last derived one."""
        if self._next is not None:
            label = self._label(self._next)
            raise LedgerCorruptError(
                f"{self.table} table row {label}: not in the log (an extra row)", self.table, label
            )


def _same(
    table: str, label: str, column: str, got: object, derived: object, want: str = "log"
) -> None:
    """A stored field must equal the derived one, in value and in SQLite type."""
    if type(got) is not type(derived) or got != derived:
        raise LedgerCorruptError(
            f"{table} table row {label}: {column} differs: stored {_show(got)}, "
            f"{want} {_show(derived)}",
            table,
            label,
            column,
        )


def _tx_columns(row: TxRow) -> tuple[Any, ...]:
    """A txs row as :meth:`Storage.put_txs` stores it."""
    return (
        row.log_index,
        bytes.fromhex(row.id),
        row.height,
        row.type,
        row.signer,
        int(row.accepted),
        row.code,
        row.reason,
        orjson.dumps(row.events) if row.events else None,
    )


def _block_columns(header: BlockHeader) -> tuple[Any, ...]:
    """A blocks row as :meth:`Storage.put_block` stores it."""
    return (
        header.height,
        header.id,
        header.time,
        header.first_index,
        header.tx_count,
        header.accepted,
        header.entry(),
    )


# --- meta ----------------------------------------------------------------------------------


def _check_meta(conn: sqlite3.Connection, size: int) -> None:
    """``format`` is this Veriledger's (checked first: another format would replay with
    other state roots), ``size`` is the log's, and no other key is there."""
    for (key,) in conn.execute("SELECT key FROM meta ORDER BY key"):
        if key not in KNOWN_META_KEYS:
            label = f"key={key!r}"
            raise LedgerCorruptError(
                f"meta table row {label}: an unknown key, which verify-ledger does not check",
                "meta",
                label,
                "key",
            )
    wanted = [("format", FORMAT, "this Veriledger reads"), ("size", str(size).encode(), "log")]
    for key, value, want in wanted:
        label = f"key={key!r}"
        stored = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if stored is None:
            raise LedgerCorruptError(
                f"meta table row {label}: missing (the log has it)", "meta", label
            )
        _same("meta", label, "value", stored[0], value, want)


def _check_verified_mark(conn: sqlite3.Connection, ends: list[tuple[int, int]]) -> None:
    """``verified``, where present (the node's start-up check writes it), is a log size
    at a block end, in canonical decimal: a larger or misplaced mark would let the
    start-up check skip blocks it never checked."""
    stored = conn.execute("SELECT value FROM meta WHERE key = 'verified'").fetchone()
    if stored is None:
        return
    value = stored[0]
    sizes = {end for end, _ in ends}
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else ""
    if not (text.isdigit() and str(int(text)).encode() == value and int(text) in sizes):
        label = "key='verified'"
        raise LedgerCorruptError(
            f"meta table row {label}: value differs: stored {_show(value)}, which is not the "
            f"log size at a block end (the log ends at {ends[-1][0]})",
            "meta",
            label,
            "value",
        )


# --- the log -------------------------------------------------------------------------------


def _bundle_error(idx: object, problem: str) -> LedgerCorruptError:
    label = f"level={ENTRIES}, idx={idx!r}"
    return LedgerCorruptError(f"tiles table row {label}: {problem}", "tiles", label, "data")


def _log_size(conn: sqlite3.Connection) -> int:
    """The log's size, from its last entry bundle: the log is what the bundles hold,
    and every other table is checked against it."""
    row = conn.execute(
        "SELECT idx, data FROM tiles WHERE level = ? ORDER BY idx DESC LIMIT 1", (ENTRIES,)
    ).fetchone()
    if row is None:
        return 0
    idx, data = row
    if not isinstance(idx, int) or idx < 0 or not isinstance(data, bytes):
        raise _bundle_error(idx, "not an entry bundle")
    try:
        count = len(decode_bundle(data))
    except BadInputError as exc:
        raise _bundle_error(idx, f"entry bundle is malformed: {exc}") from None
    if not 0 < count <= TILE_WIDTH:
        raise _bundle_error(idx, f"entry bundle holds {count} entries")
    return idx * TILE_WIDTH + count


def _log_entries(conn: sqlite3.Connection, size: int) -> Iterator[tuple[int, bytes]]:
    """``(index, entry)`` for the whole log, one bundle at a time; each stored bundle
    must hold exactly its entries, nothing after them."""
    bundles = conn.execute("SELECT idx, data FROM tiles WHERE level = ? ORDER BY idx", (ENTRIES,))
    for expected in range(-(-size // TILE_WIDTH)):
        row = bundles.fetchone()
        if row is None or row[0] != expected:
            label = f"level={ENTRIES}, idx={expected}"
            raise LedgerCorruptError(
                f"tiles table row {label}: entry bundle missing", "tiles", label
            )
        width = min(TILE_WIDTH, size - expected * TILE_WIDTH)
        data = row[1]
        try:
            entries = decode_bundle(data, width) if isinstance(data, bytes) else None
        except BadInputError as exc:
            raise _bundle_error(expected, f"entry bundle is malformed: {exc}") from None
        if entries is None or encode_bundle(entries) != data:
            raise _bundle_error(expected, f"the stored entry bundle is not exactly {width} entries")
        first = expected * TILE_WIDTH
        for offset, entry in enumerate(entries):
            yield first + offset, entry


class _HashTiles(MemoryTileStore):
    """The rebuilt tree's hash tiles; entry bundles are checked as they are read and
    not kept (they are the whole log)."""

    def write(self, blobs: Mapping[tuple[int, int], bytes]) -> None:
        self.blobs.update((k, v) for k, v in blobs.items() if k[0] != ENTRIES)


def _check_tiles(conn: sqlite3.Connection, rebuilt: _HashTiles) -> None:
    """Every stored hash tile is exactly the one rebuilt from the entries, and no other
    is stored."""
    tiles = _Rows(conn, "tiles", f"WHERE level != {ENTRIES}")
    for (level, idx), blob in sorted(rebuilt.blobs.items()):
        stored = tiles.take((level, idx))
        if stored[2] != blob:
            label = f"level={level}, idx={idx}"
            raise LedgerCorruptError(
                f"tiles table row {label}: the stored tile differs from the one the log rebuilds",
                "tiles",
                label,
                "data",
            )
    tiles.finish()


# --- checkpoints ---------------------------------------------------------------------------


def _check_checkpoints(
    conn: sqlite3.Connection, policy: Policy, rebuilt: TiledLog, ends: list[tuple[int, int]]
) -> tuple[int, int]:
    """One checkpoint per block end, of that block's height, signed by the log key for
    the rebuilt root, and final exactly when the policy's quorum cosigned it."""
    rows = _Rows(conn, "checkpoints")
    finals = 0
    for size, height in ends:
        stored = rows.take((size,))
        label = f"size={size}"
        _same("checkpoints", label, "height", stored[1], height)
        note = stored[2]
        if not isinstance(note, bytes):
            raise LedgerCorruptError(
                f"checkpoints table row {label}: note differs: stored {_show(note)}, not a blob",
                "checkpoints",
                label,
                "note",
            )
        try:
            result = policy.check(note)
        except VeriledgerError as exc:
            raise LedgerCorruptError(
                f"checkpoints table row {label}: note is not a checkpoint signed by the log "
                f"key: {exc}",
                "checkpoints",
                label,
                "note",
            ) from None
        checkpoint: Checkpoint = result.checkpoint
        if checkpoint.size != size or checkpoint.root_hash != rebuilt.root_at(size):
            raise LedgerCorruptError(
                f"checkpoints table row {label}: note differs: it signs size {checkpoint.size} "
                f"and root {checkpoint.root_hash.hex()}, not the log's root at size {size}",
                "checkpoints",
                label,
                "note",
            )
        if type(stored[3]) is not int or stored[3] != int(result.satisfied):
            raise LedgerCorruptError(
                f"checkpoints table row {label}: final differs: stored {_show(stored[3])}, "
                f"its cosignatures say {int(result.satisfied)} (misflagged as "
                f"{'final' if stored[3] else 'not final'})",
                "checkpoints",
                label,
                "final",
            )
        finals += result.satisfied
    rows.finish()
    return rows.count, finals


# --- state ---------------------------------------------------------------------------------


def _check_state(conn: sqlite3.Connection, state: MemoryState) -> None:
    """The stored state is byte for byte the canonical JSON of the replayed state."""
    rows = _Rows(conn, "state")
    for key in sorted(state.values):
        stored = rows.take((key,))
        derived = canonical_json(state.values[key])
        if type(stored[1]) is not bytes or stored[1] != derived:
            label = f"key={key!r}"
            raise LedgerCorruptError(
                f"state table row {label}: value differs: stored state {_show(stored[1])}, "
                f"re-execution {_show(derived)}",
                "state",
                label,
                "value",
            )
    rows.finish()


# --- re-execution --------------------------------------------------------------------------


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
        self.ends: list[tuple[int, int]] = []
        """``(log size, height)`` at each block end: where a checkpoint must be."""
        self._pending: list[Transaction] = []
        self._first = 1
        self._seen: dict[bytes, int] = {}

    def feed(self, index: int, entry: bytes) -> tuple[BlockHeader, list[TxRow]] | None:
        """Take the next entry; at a block header, the block and its derived txs rows."""
        if entry_kind(entry) == "tx":
            tx = _transaction(index, entry)
            digest = bytes.fromhex(tx.id)
            earlier = self._seen.setdefault(digest, index)
            if earlier != index:
                raise LedgerCorruptError(
                    f"entries {earlier} and {index} hold the same transaction {tx.id}: "
                    "one envelope appears twice in the log"
                )
            self._pending.append(tx)
            return None
        closed = self._block(index, entry, self._first, self._pending)
        self._pending = []
        self._first = index + 1
        return closed

    def finish(self) -> None:
        if self.blocks == 0:
            raise LedgerCorruptError("the log has no genesis block header (entry 1)")
        if self._pending:
            raise LedgerCorruptError(f"entries {self._first}.. are not closed by a block header")

    def _block(
        self, index: int, entry: bytes, first: int, txs: list[Transaction]
    ) -> tuple[BlockHeader, list[TxRow]]:
        try:
            header = BlockHeader.from_entry(entry)
        except BadInputError as exc:
            raise LedgerCorruptError(
                f"entry {index} is neither a transaction nor a block header: {exc}"
            ) from None
        if header.entry() != entry:
            raise LedgerCorruptError(f"block header at entry {index} is not canonical")
        want = (self.genesis.chain, self.blocks, self.prev, first, len(txs))
        got = (header.chain, header.height, header.prev, header.first_index, header.tx_count)
        if got != want:
            raise LedgerCorruptError(
                f"block header at entry {index}: (chain, height, prev, first, count) is "
                f"{got}, want {want}"
            )
        if type(header.time) is not int or header.time < self.last_time:
            raise LedgerCorruptError(f"block {header.height} goes back in time")
        root, accepted = self.root, 0
        rejected: tuple[Rejected, ...] = ()
        rows: list[TxRow] = []
        if header.height == 0 and txs:
            raise LedgerCorruptError(f"entries {first}..{index - 1} precede the genesis block")
        if header.height > 0:
            context = self.genesis.block_context(header.height, header.time, self.prev)
            execution = execute_block(
                self.state, txs, context, self.registry, identity.authorize, self.root
            )
            self.state.apply(execution.writes)
            root, rejected, accepted = execution.state_root, execution.rejected, execution.accepted
            rows = TxRow.of_block(txs, execution.results, first, header.height)
        if header.state_root != root.hex():
            raise LedgerCorruptError(
                f"block {header.height}: state root {header.state_root} differs from "
                f"re-execution {root.hex()}"
            )
        if header.rejected != rejected or header.accepted != accepted:
            raise LedgerCorruptError(f"block {header.height}: receipts differ on re-execution")
        self.root, self.prev, self.last_time = root, header.id, header.time
        self.ends.append((header.end, header.height))
        self.blocks += 1
        self.txs += len(txs)
        self.rejected += len(txs) - accepted
        return header, rows


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
