"""Reading a tiled tree back: roots, proofs, entries and tiles, from a TileStore alone.

A :class:`TileReader` knows nothing of appends; it is told the tree size it may read
and trusts the caller on that (the caller holds a checkpoint of that size). Full
tiles are immutable, so it caches them, and the trees built inside them, across
calls; the caches are guarded by a lock so one reader serves many threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from veriledger.core.errors import MissingTileError, OutOfRangeError
from veriledger.log.hashing import EMPTY_ROOT, HASH_SIZE, fold_right, node_hash, perfect_root
from veriledger.log.proof import consistency_ranges, inclusion_ranges, range_nodes
from veriledger.log.tiles import (
    ENTRIES,
    TILE_WIDTH,
    NodeLocation,
    Tile,
    TileStore,
    decode_bundle,
    encode_bundle,
    locate_node,
    split_hashes,
    tile_for_size,
)

_FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE


class TileReader:
    """Proofs, roots, entries and tiles of a tree whose tiles are in ``store``."""

    def __init__(self, store: TileStore, cache_tiles: int = 2048) -> None:
        self._store = store
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._trees: OrderedDict[tuple[int, int], list[list[bytes]]] = OrderedDict()
        self._cache_limit = cache_tiles
        self._lock = threading.Lock()

    def stored(self, level: int, index: int) -> bytes | None:
        """The blob stored for ``(level, index)``, bypassing every cache (for audits)."""
        return self._store.read([(level, index)])[0]

    def read(self, tiles: Sequence[Tile]) -> dict[tuple[int, int], bytes]:
        """Blobs for ``tiles`` (widest stored versions), through the full-tile cache.

        Raises:
            MissingTileError: a tile is not stored, or stored narrower than asked.
        """
        found: dict[tuple[int, int], bytes] = {}
        missing: dict[tuple[int, int], Tile] = {}
        for tile in tiles:
            with self._lock:
                blob = self._cache.get(tile.key)
                if blob is not None:
                    self._cache.move_to_end(tile.key)
            if blob is not None:
                found[tile.key] = blob
            elif tile.key not in missing or missing[tile.key].width < tile.width:
                missing[tile.key] = tile
        if missing:
            blobs = self._store.read(list(missing))
            for tile, blob in zip(missing.values(), blobs, strict=True):
                short = tile.level != ENTRIES and len(blob or b"") < tile.width * HASH_SIZE
                if blob is None or short:
                    raise MissingTileError(f"{tile.path()} is not in the tile store")
                found[tile.key] = blob
                if tile.level != ENTRIES and len(blob) == _FULL_TILE_BYTES and self._cache_limit:
                    with self._lock:  # full tiles never change
                        self._cache[tile.key] = blob
                        if len(self._cache) > self._cache_limit:
                            self._cache.popitem(last=False)
        return found

    def range_hashes(self, ranges: Sequence[tuple[int, int]], size: int) -> list[bytes]:
        """``MTH(D[begin:end])`` for each range of the tree of ``size``, from tiles."""
        plans = [[locate_node(node, size) for node in range_nodes(b, e)] for b, e in ranges]
        blobs = self.read([loc.tile for plan in plans for loc in plan])
        trees: dict[tuple[int, int], list[list[bytes]]] = {}
        return [
            fold_right([self._node_hash(loc, blobs[loc.tile.key], trees) for loc in plan])
            for plan in plans
        ]

    def _node_hash(
        self, loc: NodeLocation, blob: bytes, trees: dict[tuple[int, int], list[list[bytes]]]
    ) -> bytes:
        """The root of the hashes at ``loc``.

        Large nodes of full tiles come from the tile's tree, built once per call and
        cached across calls; small nodes (at most 7 hashes to rebuild) and nodes of
        partial tiles are hashed directly.
        """
        sub = loc.count.bit_length() - 1
        key = loc.tile.key
        if loc.tile.is_full and (sub > 3 or key in trees or key in self._trees):
            if key not in trees:
                trees[key] = self._tile_tree(key, blob)
            return trees[key][sub][loc.first >> sub]
        start = loc.first * HASH_SIZE
        return perfect_root(split_hashes(blob[start : start + loc.count * HASH_SIZE]))

    def _tile_tree(self, key: tuple[int, int], blob: bytes) -> list[list[bytes]]:
        """Every level of the perfect subtree inside a full tile, built once and cached.

        Full tiles are immutable, so the 255 hashes it takes to rebuild the levels
        between tile levels are paid once per tile, not once per proof.
        """
        with self._lock:
            tree = self._trees.get(key)
            if tree is not None:
                self._trees.move_to_end(key)
                return tree
        level = split_hashes(blob[:_FULL_TILE_BYTES])
        tree = [level]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            tree.append(level)
        if self._cache_limit:
            with self._lock:
                self._trees[key] = tree
                if len(self._trees) > self._cache_limit:
                    self._trees.popitem(last=False)
        return tree

    def root_at(self, size: int) -> bytes:
        """Root of the tree of ``size``, from tiles."""
        if size == 0:
            return EMPTY_ROOT
        return self.range_hashes([(0, size)], size)[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``.

        Raises:
            OutOfRangeError: ``index >= size``.
        """
        return self.range_hashes(inclusion_ranges(index, size), size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``size1`` to that of ``size2``.

        Raises:
            OutOfRangeError: not ``0 < size1 <= size2``.
        """
        return self.range_hashes(consistency_ranges(size1, size2), size2)

    def entries(self, begin: int, end: int) -> list[bytes]:
        """Stored entries ``begin`` to ``end`` (exclusive), read from entry bundles."""
        if not 0 <= begin <= end:
            raise OutOfRangeError(f"entry range [{begin}, {end}) is reversed")
        tiles = []
        for index in range(begin // TILE_WIDTH, (end + TILE_WIDTH - 1) // TILE_WIDTH):
            tile = tile_for_size(ENTRIES, index, end)
            if tile is not None:
                tiles.append(tile)
        blobs = self.read(tiles)
        out: list[bytes] = []
        for tile in tiles:
            bundle = decode_bundle(blobs[tile.key], tile.width)
            offset = tile.index * TILE_WIDTH
            out.extend(bundle[max(begin - offset, 0) : end - offset])
        return out

    def entry(self, index: int) -> bytes:
        """The stored entry at ``index``."""
        return self.entries(index, index + 1)[0]

    def tile(self, tile: Tile, size: int) -> bytes:
        """The body of ``tile`` as served (truncated to its width), for tlog-tiles readers.

        Raises:
            OutOfRangeError: the tile does not exist in the tree of ``size``.
        """
        current = tile_for_size(tile.level, tile.index, size)
        if current is None or current.width < tile.width:
            raise OutOfRangeError(f"{tile.path()} is beyond the stored tree")
        blob = self.read([tile])[tile.key]
        if tile.level == ENTRIES:
            return encode_bundle(decode_bundle(blob, tile.width))
        return blob[: tile.width * HASH_SIZE]
