"""An append-only RFC 9162 tree kept as tlog-tiles in a :class:`~.tiles.TileStore`.

Appending is incremental: the tree's right edge is held as a compact range (the
roots of its perfect subtrees, largest first), so an append costs one leaf hash and
on average one node hash. Each node hash at a height divisible by 8 is exactly the
next hash of a tile one level up, so the tiles fill as a by-product of appending.

Appends accumulate in memory until :meth:`TiledLog.flush`, which writes the tiles
and entry bundles that changed in one store write. The caller decides when: the
ledger flushes at each block end, inside the block's SQL transaction, and cuts its
checkpoint at the flushed size. Proofs and old roots are read back from the stored
tiles alone, never by rehashing entries, so their cost does not grow with the log.
"""

from __future__ import annotations

from collections.abc import Sequence

from veriledger.core.errors import EntryTooLargeError, OutOfRangeError
from veriledger.log.hashing import (
    EMPTY_ROOT,
    HASH_SIZE,
    fold_right,
    leaf_hash,
    node_hash,
    perfect_root,
)
from veriledger.log.tile_reader import TileReader
from veriledger.log.tiles import (
    ENTRIES,
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileStore,
    decode_bundle,
    encode_bundle,
    level_size,
    split_hashes,
)


class TiledLog:
    """A Merkle tree whose hashes live in tiles; appends in memory, proofs from storage."""

    def __init__(self, store: TileStore, size: int = 0, cache_tiles: int = 2048) -> None:
        """Open the tree of ``size`` entries whose tiles are in ``store``.

        Raises:
            MissingTileError: a partial tile or bundle of that size is not stored.
        """
        self._store = store
        self._size = size
        self._flushed = size
        self.reader = TileReader(store, cache_tiles)
        self._pending: dict[tuple[int, int], bytes] = {}
        self._levels: list[list[bytes]] = []
        self._stack: list[bytes] = []
        self._bundle: list[bytes] = []
        self._load_edge()

    # --- state --------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Entries appended so far, flushed or not."""
        return self._size

    @property
    def flushed_size(self) -> int:
        """Entries whose tiles are in the store; proofs may be asked up to this size."""
        return self._flushed

    def root(self) -> bytes:
        """Root of the tree of :attr:`size` entries, from the in-memory right edge."""
        return fold_right(self._stack) if self._stack else EMPTY_ROOT

    def _load_edge(self) -> None:
        """Rebuild the right edge (partial tiles, compact range, partial bundle)."""
        level = 0
        partials: list[Tile] = []
        while level_size(level, self._size):
            count = level_size(level, self._size)
            width = count % TILE_WIDTH
            if width:
                partials.append(Tile(level, count // TILE_WIDTH, width))
            level += 1
        self._levels = [[] for _ in range(max(level, 1))]
        bundle_width = self._size % TILE_WIDTH
        bundle = Tile(ENTRIES, self._size // TILE_WIDTH, bundle_width) if bundle_width else None
        wanted = partials + ([bundle] if bundle else [])
        blobs = self.reader.read(wanted)
        for tile in partials:
            self._levels[tile.level] = split_hashes(blobs[tile.key][: tile.width * HASH_SIZE])
        if bundle is not None:
            self._bundle = decode_bundle(blobs[bundle.key], bundle.width)
        for tile in reversed(partials):  # highest level holds the largest subtrees
            hashes, pos = self._levels[tile.level], 0
            for sub in range(TILE_HEIGHT - 1, -1, -1):
                if tile.width >> sub & 1:
                    self._stack.append(perfect_root(hashes[pos : pos + (1 << sub)]))
                    pos += 1 << sub

    # --- appending ----------------------------------------------------------------------

    def append(self, entry: bytes) -> int:
        """Append one entry; returns its index.

        Raises:
            EntryTooLargeError: the entry does not fit an entry bundle.
        """
        if len(entry) > MAX_ENTRY_SIZE:
            raise EntryTooLargeError(len(entry), MAX_ENTRY_SIZE)
        index = self._size
        node = leaf_hash(entry)
        leaves = self._levels[0]
        leaves.append(node)
        self._bundle.append(entry)
        if len(leaves) == TILE_WIDTH:  # a level-0 tile and its entry bundle fill together
            self._pending[(0, index >> TILE_HEIGHT)] = b"".join(leaves)
            self._pending[(ENTRIES, index >> TILE_HEIGHT)] = encode_bundle(self._bundle)
            self._levels[0] = []
            self._bundle = []
        stack = self._stack
        height, remaining = 0, index
        while remaining & 1:  # each trailing one bit of the old size is a merge
            node = node_hash(stack.pop(), node)
            remaining >>= 1
            height += 1
            if height % TILE_HEIGHT == 0:
                self._add_to_upper_tile(height // TILE_HEIGHT, index >> height, node)
        stack.append(node)
        self._size = index + 1
        return index

    def append_many(self, entries: Sequence[bytes]) -> int:
        """Append entries in order; returns the index of the first."""
        first = self._size
        for entry in entries:
            self.append(entry)
        return first

    def _add_to_upper_tile(self, level: int, position: int, node: bytes) -> None:
        if level == len(self._levels):
            self._levels.append([])
        hashes = self._levels[level]
        hashes.append(node)
        if len(hashes) == TILE_WIDTH:
            self._pending[(level, position >> TILE_HEIGHT)] = b"".join(hashes)
            self._levels[level] = []

    def flush(self) -> None:
        """Write every tile and bundle changed since the last flush, in one store write."""
        if self._flushed == self._size:
            return
        blobs = self._pending
        for level, hashes in enumerate(self._levels):
            count = level_size(level, self._size)
            if hashes and count != level_size(level, self._flushed):  # this partial tile grew
                blobs[(level, count // TILE_WIDTH)] = b"".join(hashes)
        if self._bundle:
            blobs[(ENTRIES, self._size // TILE_WIDTH)] = encode_bundle(self._bundle)
        self._store.write(blobs)
        self._pending = {}
        self._flushed = self._size

    # --- reading back, from stored tiles only -------------------------------------------

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._flushed:
            raise OutOfRangeError(
                f"tree size {size} is beyond the stored tree of size {self._flushed}"
            )

    def range_hashes(self, ranges: Sequence[tuple[int, int]], size: int) -> list[bytes]:
        """``MTH(D[begin:end])`` for each range of the stored tree of ``size``."""
        self._check_size(size)
        return self.reader.range_hashes(ranges, size)

    def root_at(self, size: int) -> bytes:
        """Root of the stored tree of ``size``."""
        self._check_size(size)
        return self.reader.root_at(size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of ``index`` in the stored tree of ``size``.

        Raises:
            OutOfRangeError: ``index >= size`` or ``size`` is beyond the stored tree.
        """
        self._check_size(size)
        return self.reader.inclusion_proof(index, size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between two stored tree sizes.

        Raises:
            OutOfRangeError: not ``0 < size1 <= size2 <= flushed size``.
        """
        self._check_size(size2)
        return self.reader.consistency_proof(size1, size2)

    def entries(self, begin: int, end: int) -> list[bytes]:
        """Stored entries ``begin`` to ``end`` (exclusive)."""
        self._check_size(end)
        return self.reader.entries(begin, end)

    def entry(self, index: int) -> bytes:
        """The stored entry at ``index``."""
        return self.entries(index, index + 1)[0]

    def tile(self, tile: Tile) -> bytes:
        """The body of ``tile`` in the stored tree, truncated to its width."""
        return self.reader.tile(tile, self._flushed)
