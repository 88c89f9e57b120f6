"""The tiled tree against the naive reference: roots, proofs, tiles, reopening."""

from __future__ import annotations

import json
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.log import reference_tree as ref
from tests.shared_data import TLOG
from veriledger.core.errors import (
    EntryTooLargeError,
    MissingTileError,
    OutOfRangeError,
    VeriledgerError,
)
from veriledger.log.hashing import EMPTY_ROOT, leaf_hash
from veriledger.log.tiled_log import TiledLog
from veriledger.log.tiles import ENTRIES, MemoryTileStore, Tile, tiles_for_size
from veriledger.log.verify import verify_consistency, verify_inclusion

MAX = 3000


def _entry(i: int) -> bytes:
    return f"entry {i}".encode()


@cache
def _built() -> tuple[TiledLog, MemoryTileStore, list[bytes]]:
    """One log of MAX entries, flushed at irregular sizes so partial tiles get rewritten."""
    store = MemoryTileStore()
    log = TiledLog(store)
    entries = [_entry(i) for i in range(MAX)]
    for i, entry in enumerate(entries):
        log.append(entry)
        if i % 97 == 0 or i in (255, 256, 511, 65):
            log.flush()
    log.flush()
    return log, store, entries


def _ref_root(size: int) -> bytes:
    return _roots()[size]


@cache
def _roots() -> list[bytes]:
    log = TiledLog(MemoryTileStore())
    roots = [EMPTY_ROOT]
    for entry in _built()[2]:
        log.append(entry)
        roots.append(log.root())
    assert roots[100] == ref.mth(_built()[2][:100])
    return roots


@cache
def _ref_leaves() -> list[bytes]:
    return [leaf_hash(e) for e in _built()[2]]


def test_trillian_root_constants() -> None:
    consts = json.loads((TLOG / "constants_go_extract.json").read_text())
    leaves = [bytes.fromhex(h) for h in consts["leaf_inputs_hex"]]
    log = TiledLog(MemoryTileStore())
    assert log.root().hex() == consts["root_hashes_by_size_hex"][0]
    for size, entry in enumerate(leaves, start=1):
        log.append(entry)
        log.flush()
        assert log.root().hex() == consts["root_hashes_by_size_hex"][size]
        assert log.root_at(size).hex() == consts["root_hashes_by_size_hex"][size]
    for height, level in enumerate(consts["node_hashes_by_level_hex"]):
        for index, want in enumerate(level):
            got = log.range_hashes([(index << height, (index + 1) << height)], 8)[0]
            assert got.hex() == want


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, MAX), data=st.data())
def test_inclusion_proofs_match_reference_and_verify(size: int, data: st.DataObject) -> None:
    log, _, entries = _built()
    index = data.draw(st.integers(0, size - 1))
    proof = log.inclusion_proof(index, size)
    root = log.root_at(size)
    assert root == ref.mth(entries[:size]) == _ref_root(size)
    assert proof == ref.path(index, entries[:size])
    verify_inclusion(index, size, leaf_hash(entries[index]), proof, root)


@settings(max_examples=60, deadline=None)
@given(size2=st.integers(1, MAX), data=st.data())
def test_consistency_proofs_match_reference_and_verify(size2: int, data: st.DataObject) -> None:
    log, _, entries = _built()
    size1 = data.draw(st.integers(1, size2))
    proof = log.consistency_proof(size1, size2)
    assert proof == ref.proof(size1, entries[:size2])
    verify_consistency(size1, size2, proof, log.root_at(size1), log.root_at(size2))


@settings(max_examples=80, deadline=None)
@given(size=st.integers(2, MAX), data=st.data())
def test_any_tampering_breaks_an_inclusion_proof(size: int, data: st.DataObject) -> None:
    log, _, entries = _built()
    index = data.draw(st.integers(0, size - 1))
    proof = log.inclusion_proof(index, size)
    root = log.root_at(size)
    leaf = leaf_hash(entries[index])
    what = data.draw(st.sampled_from(["byte", "index", "size", "leaf", "root", "drop", "add"]))
    if what == "byte" and proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        b = data.draw(st.integers(0, 31))
        bit = data.draw(st.integers(0, 7))
        proof[i] = proof[i][:b] + bytes([proof[i][b] ^ (1 << bit)]) + proof[i][b + 1 :]
    elif what == "index":
        index = data.draw(st.integers(0, size - 1).filter(lambda j: j != index))
    elif what == "size":
        # A proof's shape may fit several sizes; the checkpoint binds size and root,
        # so the claim to refute is "this proof fits the real tree of another size".
        size = data.draw(st.integers(1, MAX).filter(lambda s: s != size))
        root = _ref_root(size)
    elif what == "leaf":
        leaf = leaf_hash(entries[index] + b"!")
    elif what == "root":
        root = bytes([root[0] ^ 1]) + root[1:]
    elif what == "drop" and proof:
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    else:
        proof.insert(data.draw(st.integers(0, len(proof))), root)
    with pytest.raises(VeriledgerError):
        verify_inclusion(index, size, leaf, proof, root)


@settings(max_examples=80, deadline=None)
@given(size2=st.integers(2, MAX), data=st.data())
def test_any_tampering_breaks_a_consistency_proof(size2: int, data: st.DataObject) -> None:
    log, _, _ = _built()
    size1 = data.draw(st.integers(1, size2 - 1))
    proof = log.consistency_proof(size1, size2)
    root1, root2 = log.root_at(size1), log.root_at(size2)
    what = data.draw(st.sampled_from(["byte", "size1", "size2", "root1", "root2", "drop"]))
    if what == "byte":
        i = data.draw(st.integers(0, len(proof) - 1))
        b = data.draw(st.integers(0, 31))
        proof[i] = proof[i][:b] + bytes([proof[i][b] ^ 0x80]) + proof[i][b + 1 :]
    elif what == "size1":
        size1 = data.draw(st.integers(1, size2).filter(lambda s: s != size1))
        root1 = _ref_root(size1)
    elif what == "size2":
        size2 = data.draw(st.integers(size1, MAX).filter(lambda s: s != size2))
        root2 = _ref_root(size2)
    elif what == "root1":
        root1 = root2
    elif what == "root2":
        root2 = root1
    else:
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    with pytest.raises(VeriledgerError):
        verify_consistency(size1, size2, proof, root1, root2)


def test_reopening_at_any_flushed_size_continues_the_same_tree() -> None:
    store = MemoryTileStore()
    log = TiledLog(store)
    entries = [_entry(i) for i in range(700)]
    for cut in (1, 255, 256, 257, 300, 512, 699):
        while log.size < cut:
            log.append(entries[log.size])
        log.flush()
        reopened = TiledLog(store, cut)
        assert reopened.root() == ref.mth(entries[:cut])
        for entry in entries[cut:]:
            reopened.append(entry)
        assert reopened.root() == ref.mth(entries)


def test_tiles_written_are_exactly_the_spec_tiles() -> None:
    log, store, _ = _built()
    for tile in tiles_for_size(MAX):
        assert len(log.tile(tile)) == tile.width * 32
        if tile.level == 0:
            want = b"".join(_ref_leaves()[tile.index * 256 : tile.index * 256 + tile.width])
            assert log.tile(tile) == want
    assert set(store.blobs) == {t.key for t in tiles_for_size(MAX)} | {
        (ENTRIES, n) for n in range((MAX + 255) // 256)
    }


def test_older_partial_tiles_are_served_by_truncation() -> None:
    log, _, _ = _built()
    # level-0 tile 3 was partial (width 17) in the tree of size 785
    assert log.tile(Tile(0, 3, 17)) == b"".join(_ref_leaves()[768:785])
    with pytest.raises(OutOfRangeError):
        log.tile(Tile(0, MAX // 256 + 1, 1))


def test_entries_come_back_from_bundles() -> None:
    log, _, entries = _built()
    assert log.entries(250, 530) == entries[250:530]
    assert log.entry(MAX - 1) == entries[-1]
    bundle = log.tile(Tile(ENTRIES, 0))
    assert bundle.startswith(b"\x00\x07entry 0\x00\x07entry 1")


def test_proofs_need_stored_tiles_not_memory() -> None:
    store = MemoryTileStore()
    log = TiledLog(store)
    log.append_many([_entry(i) for i in range(10)])
    with pytest.raises(OutOfRangeError):
        log.inclusion_proof(0, 10)  # not flushed yet
    log.flush()
    assert log.inclusion_proof(0, 10) == ref.path(0, [_entry(i) for i in range(10)])
    del store.blobs[(0, 0)]
    with pytest.raises(MissingTileError):
        TiledLog(store, 10).inclusion_proof(3, 10)


def test_entry_size_limit() -> None:
    log = TiledLog(MemoryTileStore())
    log.append(b"x" * 0xFFFF)
    with pytest.raises(EntryTooLargeError):
        log.append(b"x" * 0x10000)
    assert log.size == 1
