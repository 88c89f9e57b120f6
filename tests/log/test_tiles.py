"""tlog-tiles paths and layout against the C2SP worked examples."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.shared_data import TLOG
from veriledger.core.errors import EntryTooLargeError, MalformedTileError
from veriledger.log.proof import Node, inclusion_ranges, range_nodes
from veriledger.log.tiles import (
    ENTRIES,
    Tile,
    decode_bundle,
    encode_bundle,
    encode_index,
    locate_node,
    parse_tile_path,
    proof_tiles,
    tiles_for_size,
)

EXAMPLES = json.loads((TLOG / "tlog_tiles_examples.json").read_text())


@pytest.mark.parametrize(("index", "path"), EXAMPLES["tile_index_encoding"].items())
def test_index_encoding(index: str, path: str) -> None:
    assert encode_index(int(index)) == path
    assert parse_tile_path(f"tile/0/{path}") == Tile(0, int(index))


@pytest.mark.parametrize("size", [70000, 256])
def test_tiles_for_size(size: int) -> None:
    tiles = tiles_for_size(size)
    for level in EXAMPLES[f"tree_{size}"]:
        at = [t for t in tiles if t.level == level["level"]]
        assert sum(t.is_full for t in at) == level["full_tiles"]
        partial = [t.width for t in at if not t.is_full]
        assert partial == ([level["partial_width"]] if level["partial_width"] else [])


def test_paths() -> None:
    assert Tile(1, 1234067, 17).path() == "tile/1/x001/x234/067.p/17"
    assert Tile(ENTRIES, 5).path() == "tile/entries/005"
    assert parse_tile_path("tile/entries/x001/000.p/255") == Tile(ENTRIES, 1000, 255)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/0001",
        "tile/64/000",
        "tile/00/000",
        "tile/0/x000/001",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/017",
        "tile/0/001/002",
        "tile/entries/000.p/",
        "tile/-1/000",
        "tiles/0/000",
    ],
)
def test_bad_paths(path: str) -> None:
    with pytest.raises(MalformedTileError):
        parse_tile_path(path)


@given(st.integers(0, 10**12))
def test_index_encoding_round_trips(index: int) -> None:
    assert parse_tile_path(Tile(3, index).path()).index == index


def test_the_tiles_a_proof_needs() -> None:
    size = 70000
    nodes = [n for b, e in inclusion_ranges(65536 + 17, size) for n in range_nodes(b, e)]
    tiles = proof_tiles(nodes, size)
    assert Tile(0, 256) in tiles  # the leaf's own tile holds its low siblings
    assert all(t.level <= 2 for t in tiles)
    assert locate_node(Node(9, 0), size).tile == Tile(1, 0)
    assert locate_node(Node(9, 0), size).count == 2
    with pytest.raises(MalformedTileError):
        locate_node(Node(0, size), size)


def test_bundles() -> None:
    entries = [b"", b"a", b"x" * 300]
    data = encode_bundle(entries)
    assert data[:4] == b"\x00\x00\x00\x01"
    assert decode_bundle(data) == entries
    assert decode_bundle(data, 2) == entries[:2]
    with pytest.raises(MalformedTileError):
        decode_bundle(data[:-1])
    with pytest.raises(MalformedTileError):
        decode_bundle(data, 4)
    with pytest.raises(EntryTooLargeError):
        encode_bundle([b"x" * 70000])
