"""The C2SP tlog-tiles layout: tile coordinates, paths and entry bundles, as arithmetic.

A tile at level ``L`` and index ``N`` holds up to 256 consecutive hashes: at level 0
the leaf hashes, at level L the roots of full level-(L-1) tiles, i.e. the tree's
hashes at height ``8 * L``. The levels between are rebuilt by hashing inside a tile.
The rightmost tile of each level is partial; its width for a tree of size ``s`` is
``floor(s / 256**L) mod 256``. Paths encode the index in 3-digit groups, all but
the last prefixed by ``x`` (``1234067`` → ``x001/x234/067``).

Storage is behind :class:`TileStore`, which keeps one blob per tile, the widest yet
written: a partial tile is a prefix of every wider version of itself, so older
partial tiles are served by truncation and nothing is ever rewritten in place.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from veriledger.core.errors import EntryTooLargeError, MalformedTileError
from veriledger.log.hashing import HASH_SIZE
from veriledger.log.proof import Node

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
"""Entry bundles prefix each entry with a big-endian uint16 length."""

ENTRIES = -1
"""The pseudo-level under which entry bundles are stored and addressed."""


@dataclass(frozen=True, order=True)
class Tile:
    """A tile (or, at level :data:`ENTRIES`, an entry bundle) with its width.

    ``width`` is 256 for a full tile, 1..255 for a partial one.
    """

    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def key(self) -> tuple[int, int]:
        """The storage key: every width of one tile shares it."""
        return (self.level, self.index)

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``, or ``tile/entries/<N>[.p/<W>]`` for a bundle."""
        level = "entries" if self.level == ENTRIES else str(self.level)
        suffix = "" if self.is_full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """Zero-padded 3-digit path elements, all but the last prefixed with ``x``."""
    if index < 0:
        raise MalformedTileError(f"tile index {index} is negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


_PATH = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


def parse_tile_path(path: str) -> Tile:
    """Parse a tile or entry-bundle path relative to the log prefix.

    Raises:
        MalformedTileError: not a canonical tile path (level over 63, width over 255,
            a non-canonical index such as ``x000/001``).
    """
    match = _PATH.fullmatch(path)
    if not match:
        raise MalformedTileError(f"{path!r} is not a tile path")
    level_text, index_text, width_text = match.group("level", "index", "width")
    level = ENTRIES if level_text == "entries" else int(level_text)
    if level > MAX_LEVEL:
        raise MalformedTileError(f"tile level {level} exceeds {MAX_LEVEL}")
    index = int(index_text.replace("x", "").replace("/", ""))
    if encode_index(index) != index_text:
        raise MalformedTileError(f"tile index {index_text!r} is not canonical")
    width = TILE_WIDTH if width_text is None else int(width_text)
    if width_text is not None and width >= TILE_WIDTH:
        raise MalformedTileError(f"partial tile width {width} must be below {TILE_WIDTH}")
    return Tile(level, index, width)


def level_size(level: int, size: int) -> int:
    """How many hashes the tree of ``size`` has at tile level ``level``."""
    return size >> (TILE_HEIGHT * level)


def tile_for_size(level: int, index: int, size: int) -> Tile | None:
    """The tile ``(level, index)`` as it is in the tree of ``size``, or None if empty.

    Entry bundles (level :data:`ENTRIES`) follow level 0.
    """
    count = level_size(max(level, 0), size) - index * TILE_WIDTH
    if count <= 0:
        return None
    return Tile(level, index, min(count, TILE_WIDTH))


def tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile of the tree of ``size``, level by level."""
    tiles: list[Tile] = []
    level = 0
    while (count := level_size(level, size)) > 0:
        full, partial = divmod(count, TILE_WIDTH)
        tiles.extend(Tile(level, n) for n in range(full))
        if partial:
            tiles.append(Tile(level, full, partial))
        level += 1
    return tiles


@dataclass(frozen=True)
class NodeLocation:
    """Where a node's hash comes from: hash ``first`` to ``first + count`` of ``tile``."""

    tile: Tile
    first: int
    count: int


def locate_node(node: Node, size: int) -> NodeLocation:
    """The stored hashes whose perfect-subtree root is ``node``, in the tree of ``size``.

    A node at height ``h = 8 * L + j`` is the root of ``2**j`` consecutive hashes of
    a level-L tile. Requires the node to lie wholly inside the tree.
    """
    level, sub = divmod(node.height, TILE_HEIGHT)
    first = node.index << sub
    index, offset = divmod(first, TILE_WIDTH)
    tile = tile_for_size(level, index, size)
    if tile is None or offset + (1 << sub) > tile.width:
        raise MalformedTileError(f"node {node} is not inside a tree of size {size}")
    return NodeLocation(tile, offset, 1 << sub)


def proof_tiles(nodes: Iterable[Node], size: int) -> list[Tile]:
    """The tiles a client must fetch to compute the hashes of ``nodes``."""
    return sorted({locate_node(node, size).tile for node in nodes})


def split_hashes(data: bytes) -> list[bytes]:
    """A tile body as its list of 32-byte hashes."""
    if len(data) % HASH_SIZE:
        raise MalformedTileError(f"tile body of {len(data)} bytes is not whole hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries, each prefixed with its big-endian uint16 length."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise EntryTooLargeError(len(entry), MAX_ENTRY_SIZE)
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def decode_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """The first ``width`` entries of a bundle (all of them when ``width`` is None).

    Raises:
        MalformedTileError: a length runs past the end, or there are fewer entries
            than ``width``.
    """
    entries: list[bytes] = []
    pos = 0
    while pos < len(data) and (width is None or len(entries) < width):
        if pos + 2 > len(data):
            raise MalformedTileError("entry bundle ends inside a length prefix")
        (length,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + length > len(data):
            raise MalformedTileError("entry bundle ends inside an entry")
        entries.append(data[pos : pos + length])
        pos += length
    if width is not None and len(entries) < width:
        raise MalformedTileError(f"entry bundle has {len(entries)} entries, want {width}")
    return entries


class TileStore(Protocol):
    """Where a tiled log keeps its tiles and entry bundles.

    Keys are ``(level, index)``, with level :data:`ENTRIES` for bundles. A store
    keeps the widest version written for each key; ``write`` is applied whole or
    not at all, so the tree never sees half a flush.
    """

    def read(self, keys: Sequence[tuple[int, int]]) -> list[bytes | None]:
        """The stored blobs for ``keys``, None where nothing is stored."""
        ...

    def write(self, blobs: Mapping[tuple[int, int], bytes]) -> None:
        """Store ``blobs``, each replacing a narrower version of itself."""
        ...


class MemoryTileStore:
    """A :class:`TileStore` in a dict, for tests, tools and ephemeral logs."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[int, int], bytes] = {}
        self.reads = 0

    def read(self, keys: Sequence[tuple[int, int]]) -> list[bytes | None]:
        self.reads += 1
        return [self.blobs.get(key) for key in keys]

    def write(self, blobs: Mapping[tuple[int, int], bytes]) -> None:
        self.blobs.update(blobs)
