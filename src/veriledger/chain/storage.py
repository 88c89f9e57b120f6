"""SQLite storage: one writer, one SQL transaction per block, many readers.

Everything a block changes — its tiles and entry bundles, state writes, transaction
rows, header and checkpoint — is written in one ``BEGIN IMMEDIATE ... COMMIT``, so
a crash at any moment leaves the ledger at the end of the last whole block. The
database runs in WAL mode with ``synchronous=FULL``: a block acknowledged as
committed survives a crash of the process and of the machine. Readers (the HTTP
handlers) use their own connections per thread and see the last committed block.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from veriledger.chain.driver import TxResult
from veriledger.chain.transactions import Transaction
from veriledger.core.errors import StorageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tiles (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY, id TEXT NOT NULL, time INTEGER NOT NULL,
    first_index INTEGER NOT NULL, tx_count INTEGER NOT NULL, accepted INTEGER NOT NULL,
    header BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    log_index INTEGER PRIMARY KEY, id BLOB NOT NULL, height INTEGER NOT NULL,
    type TEXT NOT NULL, signer TEXT NOT NULL, accepted INTEGER NOT NULL,
    code TEXT, reason TEXT, events BLOB);
CREATE INDEX IF NOT EXISTS txs_by_id ON txs (id);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY, height INTEGER NOT NULL, note BLOB NOT NULL,
    final INTEGER NOT NULL DEFAULT 0);
"""


FORMAT = b"3"
"""The ledger's format, in ``meta``: 3 since the rules remember every ordered envelope
(``chain/seen/...``) and genesis carries the replay window. A ledger of another format
would replay with other state roots, so it is refused."""


class TxRow(NamedTuple):
    """A transaction's stored row (a tuple: one is built per committed transaction)."""

    id: str
    log_index: int
    height: int
    type: str
    signer: str
    accepted: bool
    code: str | None
    reason: str | None
    events: list[Any]

    @classmethod
    def of_block(
        cls, txs: Sequence[Transaction], results: Sequence[TxResult], first: int, height: int
    ) -> list[TxRow]:
        """The rows a block's execution stores: the node writes them, verify-ledger
        derives them again to compare."""
        return [
            cls(
                tx.id,
                first + i,
                height,
                tx.type,
                tx.signer,
                r.accepted,
                r.code,
                r.reason,
                list(r.events),
            )
            for i, (tx, r) in enumerate(zip(txs, results, strict=True))
        ]


WRITER_CACHE_KIB = 64 * 1024
"""The writer's page cache. The transaction-id index and the state keys are random, so
a block's inserts touch pages all over their B-trees; SQLite's default 2 MiB would
reread them from the OS as the ledger grows. Readers (one per thread) keep the default."""


def _connect(path: Path, cache_kib: int | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=OFF")
    if cache_kib is not None:
        conn.execute(f"PRAGMA cache_size=-{cache_kib}")
    return conn


class Storage:
    """The ledger database. Write methods must run inside :meth:`block_transaction`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():  # private from birth: SQLite gives its WAL the same mode
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._writer = _connect(self.path, WRITER_CACHE_KIB)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open ledger database {self.path}: {exc}") from None
        try:
            self._writer.executescript(SCHEMA)
            self._check_format()
        except sqlite3.Error as exc:
            self._writer.close()
            raise StorageError(f"cannot open ledger database {self.path}: {exc}") from None
        except StorageError:
            self._writer.close()
            raise
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []

    def _check_format(self) -> None:
        """Refuse a ledger written in another format rather than misread it; mark a new
        (empty) one with this format."""
        found = self.get_meta("format", self._writer)
        if found is None:
            has_blocks = self._writer.execute("SELECT 1 FROM blocks LIMIT 1").fetchone()
            if has_blocks is None:  # a new ledger (another process may be marking it too)
                self._writer.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (FORMAT,)
                )
                found = self.get_meta("format", self._writer)
        if found == FORMAT:
            return
        written = "an older format" if found is None else f"format {found.decode(errors='replace')}"
        raise StorageError(
            f"{self.path} holds a ledger in {written}, and this Veriledger reads format "
            f"{FORMAT.decode()}: its blocks would replay with other state roots. Create the "
            "ledger again (for the demo: remove its data directory and run veriledger demo)."
        )

    def close(self) -> None:
        for conn in [self._writer, *self._readers]:
            conn.close()

    # --- connections --------------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (sees the last committed block)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            self._readers.append(conn)
        return conn

    @property
    def writer(self) -> sqlite3.Connection:
        return self._writer

    @contextmanager
    def block_transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQL transaction: all of a block's writes, or none of them."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str, conn: sqlite3.Connection | None = None) -> bytes | None:
        row = (
            (conn or self.reader())
            .execute("SELECT value FROM meta WHERE key = ?", (key,))
            .fetchone()
        )
        if row is None:
            return None
        value = row[0]  # a blob as written; text or a number if edited by hand
        return value if isinstance(value, bytes) else str(value).encode()

    def set_meta(self, conn: sqlite3.Connection, key: str, value: bytes) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- state --------------------------------------------------------------------------

    def put_state(self, conn: sqlite3.Connection, encoded: Mapping[str, bytes | None]) -> None:
        """Store a block's writes, already canonical JSON (None deletes)."""
        conn.executemany(
            "DELETE FROM state WHERE key = ?", [(k,) for k, v in encoded.items() if v is None]
        )
        conn.executemany(
            "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
            [(k, v) for k, v in encoded.items() if v is not None],
        )

    # --- blocks, transactions, checkpoints ------------------------------------------------

    def put_block(
        self,
        conn: sqlite3.Connection,
        height: int,
        block_id: str,
        time: int,
        first_index: int,
        tx_count: int,
        accepted: int,
        header: bytes,
    ) -> None:
        conn.execute(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (height, block_id, time, first_index, tx_count, accepted, header),
        )

    def put_txs(self, conn: sqlite3.Connection, rows: Sequence[TxRow]) -> None:
        conn.executemany(
            "INSERT INTO txs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.log_index,
                    bytes.fromhex(r.id),
                    r.height,
                    r.type,
                    r.signer,
                    int(r.accepted),
                    r.code,
                    r.reason,
                    orjson.dumps(r.events) if r.events else None,
                )
                for r in rows
            ],
        )

    def put_checkpoint(
        self, conn: sqlite3.Connection, size: int, height: int, note: bytes, final: bool
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
            (size, height, note, int(final)),
        )

    def known_tx_ids(self, ids: Sequence[str], conn: sqlite3.Connection | None = None) -> set[str]:
        found: set[str] = set()
        db = conn or self.reader()
        for start in range(0, len(ids), 500):
            chunk = [bytes.fromhex(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            found.update(
                bytes(r[0]).hex()
                for r in db.execute(f"SELECT id FROM txs WHERE id IN ({marks})", chunk)  # noqa: S608 (placeholders only)
            )
        return found

    def tx(self, tx_id: str) -> TxRow | None:
        try:
            key = bytes.fromhex(tx_id)
        except ValueError:
            return None
        # The first time it was ordered: a replayed copy (refused by the rules, chain/6)
        # has a row of its own, so the index on id is not unique.
        row = (
            self.reader()
            .execute("SELECT * FROM txs WHERE id = ? ORDER BY log_index LIMIT 1", (key,))
            .fetchone()
        )
        return None if row is None else _tx_row(row)

    def txs_in_block(self, height: int) -> list[TxRow]:
        db = self.reader()
        block = db.execute(
            "SELECT first_index, tx_count FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        if block is None:
            return []
        rows = db.execute(
            "SELECT * FROM txs WHERE log_index >= ? AND log_index < ? ORDER BY log_index",
            (block[0], block[0] + block[1]),
        )
        return [_tx_row(r) for r in rows]

    def block_header(self, height: int, conn: sqlite3.Connection | None = None) -> bytes | None:
        row = (
            (conn or self.reader())
            .execute("SELECT header FROM blocks WHERE height = ?", (height,))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def latest_height(self, conn: sqlite3.Connection | None = None) -> int | None:
        row = (conn or self.reader()).execute("SELECT MAX(height) FROM blocks").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def blocks(self, limit: int, before: int | None = None) -> list[tuple[int, str, int, int, int]]:
        """``(height, id, time, tx_count, accepted)`` newest first."""
        query = "SELECT height, id, time, tx_count, accepted FROM blocks"
        args: tuple[int, ...] = (limit,)
        if before is not None:
            query += " WHERE height < ?"
            args = (before, limit)
        rows = self.reader().execute(query + " ORDER BY height DESC LIMIT ?", args)
        return [(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    def latest_checkpoint(self, final_only: bool = True) -> tuple[int, int, bytes] | None:
        """``(size, height, note)`` of the newest (final) checkpoint."""
        where = " WHERE final = 1" if final_only else ""
        row = (
            self.reader()
            .execute(
                f"SELECT size, height, note FROM checkpoints{where} ORDER BY size DESC LIMIT 1"  # noqa: S608
            )
            .fetchone()
        )
        return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]))

    def checkpoint_covering(self, index: int) -> tuple[int, int, bytes] | None:
        """The newest final checkpoint whose tree contains ``index``."""
        row = (
            self.reader()
            .execute(
                "SELECT size, height, note FROM checkpoints WHERE final = 1 AND size > ? "
                "ORDER BY size DESC LIMIT 1",
                (index,),
            )
            .fetchone()
        )
        return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]))

    def checkpoints(self, limit: int) -> list[tuple[int, int, bytes, bool]]:
        rows = self.reader().execute(
            "SELECT size, height, note, final FROM checkpoints ORDER BY size DESC LIMIT ?", (limit,)
        )
        return [(int(r[0]), int(r[1]), bytes(r[2]), bool(r[3])) for r in rows]

    def counts(self) -> dict[str, int]:
        db = self.reader()
        txs, accepted = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(accepted), 0) FROM txs"
        ).fetchone()
        return {"transactions": int(txs), "accepted": int(accepted)}


def _tx_row(row: Sequence[Any]) -> TxRow:
    return TxRow(
        id=bytes(row[1]).hex(),
        log_index=row[0],
        height=row[2],
        type=row[3],
        signer=row[4],
        accepted=bool(row[5]),
        code=row[6],
        reason=row[7],
        events=orjson.loads(row[8]) if row[8] else [],
    )


class SqliteState:
    """A :class:`~veriledger.chain.state.StateView` over one connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> Any | None:
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def keys(self) -> Iterator[str]:
        """Every stored key (to build a key filter)."""
        for (key,) in self.conn.execute("SELECT key FROM state"):
            yield key

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        upper = prefix + "\U0010ffff"
        rows = self.conn.execute(
            "SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, upper),
        ).fetchall()
        for key, value in rows:
            yield key, orjson.loads(value)

    def scan_many(self, prefixes: Sequence[str]) -> dict[str, list[tuple[str, Any]]]:
        """:meth:`scan` of every prefix in one query: SQLite seeks each range itself,
        about five times faster than a query per prefix when a recall walks 100,000
        items."""
        found: dict[str, list[tuple[str, Any]]] = {prefix: [] for prefix in prefixes}
        rows = self.conn.execute(
            "SELECT p.value, s.key, s.value FROM json_each(?) AS p JOIN state AS s"
            " ON s.key >= p.value AND s.key < p.value || char(1114111)"
            " ORDER BY p.key, s.key",
            (orjson.dumps(list(found)).decode(),),
        ).fetchall()
        for prefix, key, value in rows:
            found[prefix].append((key, orjson.loads(value)))
        return found


class SqliteTileStore:
    """A :class:`~veriledger.log.tiles.TileStore` in the ``tiles`` table.

    The writer's store writes inside the caller's block transaction; readers pass a
    function that returns their thread's connection.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection  # a Connection, or a callable returning one

    def _conn(self) -> sqlite3.Connection:
        conn = self._connection
        return conn if isinstance(conn, sqlite3.Connection) else conn()

    def read(self, keys: Sequence[tuple[int, int]]) -> list[bytes | None]:
        conn = self._conn()
        out: list[bytes | None] = []
        for level, idx in keys:
            row = conn.execute(
                "SELECT data FROM tiles WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            out.append(None if row is None else bytes(row[0]))
        return out

    def write(self, blobs: Mapping[tuple[int, int], bytes]) -> None:
        self._conn().executemany(
            "INSERT OR REPLACE INTO tiles (level, idx, data) VALUES (?, ?, ?)",
            [(level, idx, data) for (level, idx), data in blobs.items()],
        )
