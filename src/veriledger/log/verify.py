"""Verification of Merkle inclusion and consistency proofs, for trees and subtrees.

Trees follow RFC 9162 section 2.1. Subtrees ``[start, end)`` follow the Merkle Tree
Certificates draft (draft-ietf-plants-merkle-tree-certs, "Subtrees"): a subtree is
valid when ``start < end`` and ``start`` is a multiple of the smallest power of two
at or above ``end - start``. A tree of size n is the subtree ``[0, n)``, so tree
consistency is subtree consistency with ``start = 0``, and one algorithm serves both.

Preconditions are checked and reported with their numbers; every hash must be 32
bytes. Sizes are unsigned 64-bit, as in the wire formats.
"""

from __future__ import annotations

from collections.abc import Sequence

from veriledger.core.encoding import UINT64_MAX
from veriledger.core.errors import (
    MalformedProofError,
    OutOfRangeError,
    ProofSizeError,
    RootMismatchError,
)
from veriledger.log.hashing import EMPTY_ROOT, HASH_SIZE, node_hash


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise MalformedProofError(f"{what} is {len(value)} bytes, want {HASH_SIZE}")


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, item in enumerate(proof):
        _check_hash(item, f"proof hash {i}")


def _check_u64(**values: int) -> None:
    for name, value in values.items():
        if not 0 <= value <= UINT64_MAX:
            raise OutOfRangeError(f"{name} {value} is not an unsigned 64-bit integer")


def _match(calculated: bytes, expected: bytes, what: str = "root") -> None:
    if calculated != expected:
        raise RootMismatchError(calculated, expected, what)


def check_subtree(start: int, end: int) -> None:
    """Raise unless ``[start, end)`` is a valid subtree.

    Raises:
        OutOfRangeError: ``start >= end``, or ``start`` is not a multiple of the
            smallest power of two at or above ``end - start``.
    """
    _check_u64(start=start, end=end)
    if start >= end:
        raise OutOfRangeError(f"subtree [{start}, {end}) is empty or reversed")
    width = end - start
    if width > 1 << 63:  # its power-of-two ceiling would not fit in 64 bits
        raise OutOfRangeError(f"subtree [{start}, {end}) is too large")
    ceiling = 1 << (width - 1).bit_length()
    if start % ceiling:
        raise OutOfRangeError(
            f"subtree [{start}, {end}) is not aligned: {start} is not a multiple of {ceiling}"
        )


def inclusion_proof_size(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of ``index`` in a tree of ``size``."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a tree of ``size`` must have for ``proof`` to place ``leaf`` at ``index``.

    Below the level where the paths to ``index`` and to the last leaf part, the
    leaf's side at each level is its index bit; above it the path runs along the
    tree's right border, so every remaining sibling is on the left.

    Raises:
        OutOfRangeError: ``index >= size``.
        MalformedProofError: a hash is not 32 bytes.
        ProofSizeError: the proof has the wrong number of hashes.
    """
    _check_u64(index=index, size=size)
    if index >= size:
        raise OutOfRangeError(f"index {index} is not in a tree of size {size}")
    _check_hash(leaf, "leaf hash")
    _check_proof(proof)
    want = inclusion_proof_size(index, size)
    if len(proof) != want:
        raise ProofSizeError(len(proof), want)
    inner = (index ^ (size - 1)).bit_length()
    node = leaf
    for level, sibling in enumerate(proof[:inner]):
        node = node_hash(sibling, node) if (index >> level) & 1 else node_hash(node, sibling)
    for sibling in proof[inner:]:
        node = node_hash(sibling, node)
    return node


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` is at ``index`` in the tree of ``size`` with ``root``.

    Raises:
        OutOfRangeError, MalformedProofError, ProofSizeError: see
            :func:`root_from_inclusion_proof`.
        RootMismatchError: the proof leads to another root.
    """
    _match(root_from_inclusion_proof(index, size, leaf, proof), root)


def verify_subtree_inclusion(
    index: int, start: int, end: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` is at ``index`` in the subtree ``[start, end)`` with ``root``.

    Raises:
        OutOfRangeError: the subtree is invalid or ``index`` lies outside it.
        MalformedProofError, ProofSizeError, RootMismatchError: as for trees.
    """
    check_subtree(start, end)
    _check_u64(index=index)
    if not start <= index < end:
        raise OutOfRangeError(f"index {index} is outside subtree [{start}, {end})")
    verify_inclusion(index - start, end - start, leaf, proof, root)


def root_from_subtree_consistency_proof(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes
) -> bytes:
    """The root a tree of ``size`` must have to contain subtree ``[start, end)``.

    The proof first rebuilds the subtree twice in step: as it is (which must give
    ``subtree_root``) and as it has grown inside the larger tree, where the nodes on
    its right edge gained right siblings up to the level at which the paths to
    ``end - 1`` and ``size - 1`` part. The rest is an inclusion proof of the grown
    subtree's root in the tree of ``size``.

    Raises:
        OutOfRangeError: invalid subtree, or ``size < end``.
        MalformedProofError: a hash is not 32 bytes.
        ProofSizeError: wrong number of hashes (also: an empty proof where one is needed).
        RootMismatchError: the proof does not rebuild ``subtree_root``.
    """
    check_subtree(start, end)
    _check_u64(size=size)
    if size < end:
        raise OutOfRangeError(f"subtree [{start}, {end}) does not fit in a tree of size {size}")
    if start == 0 and end == size:
        if proof:
            raise ProofSizeError(len(proof), 0)
        return subtree_root
    _check_hash(subtree_root, "subtree root")
    _check_proof(proof)
    if not proof:
        raise ProofSizeError(0, 1)

    height = ((end - 1) ^ start).bit_length()  # height of the subtree's root
    if end == size:
        # The subtree lies on the tree's right border: only left siblings remain.
        want = (start >> height).bit_count()
        if len(proof) != want:
            raise ProofSizeError(len(proof), want)
        node = subtree_root
        for sibling in proof:
            node = node_hash(sibling, node)
        return node

    fork = ((end - 1) ^ (size - 1)).bit_length()
    width = end - start
    low = (width & -width).bit_length() - 1  # height of the rightmost perfect piece
    known_seed = width == 1 << low  # the subtree is itself perfect
    want = (0 if known_seed else 1) + (fork - low) + ((end - 1) >> fork).bit_count()
    if len(proof) != want:
        raise ProofSizeError(len(proof), want)

    seed = subtree_root if known_seed else proof[0]
    rest = list(proof if known_seed else proof[1:])
    as_is = grown = seed
    used = 0
    for level in range(low, height):
        if ((end - 1) >> level) & 1:
            as_is = node_hash(rest[used], as_is)
            grown = node_hash(rest[used], grown)
            used += 1
        elif level < fork:
            grown = node_hash(grown, rest[used])
            used += 1
    _match(as_is, subtree_root, "subtree root")
    return root_from_inclusion_proof(
        start >> height, ((size - 1) >> height) + 1, grown, rest[used:]
    )


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes, root: bytes
) -> None:
    """Check that subtree ``[start, end)`` with ``subtree_root`` is in the tree of ``size``.

    The empty subtree ``[s, s)`` is in every tree of size ``s`` or more; its root is
    the empty-tree hash and its proof is empty, whatever the tree's root.

    Raises:
        see :func:`root_from_subtree_consistency_proof`, plus RootMismatchError when
        the proof leads to another tree root.
    """
    if start == end:
        _check_u64(start=start, size=size)
        if start > size:
            raise OutOfRangeError(f"empty subtree at {start} is beyond a tree of size {size}")
        if proof:
            raise ProofSizeError(len(proof), 0)
        _match(subtree_root, EMPTY_ROOT, "empty subtree root")
        return
    _match(root_from_subtree_consistency_proof(start, end, size, proof, subtree_root), root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size1`` with ``root1`` is a prefix of ``size2`` with ``root2``.

    A consistency proof from the empty tree proves nothing (any tree extends it), so
    ``size1 = 0`` is refused rather than accepted vacuously.

    Raises:
        OutOfRangeError: ``size1 = 0`` or ``size1 > size2``.
        MalformedProofError, ProofSizeError, RootMismatchError: the proof is wrong.
    """
    _check_u64(size1=size1, size2=size2)
    if size1 == 0:
        raise OutOfRangeError("a consistency proof from the empty tree proves nothing")
    if size1 > size2:
        raise OutOfRangeError(f"size1 {size1} is larger than size2 {size2}")
    verify_subtree_consistency(0, size1, size2, proof, root1, root2)
