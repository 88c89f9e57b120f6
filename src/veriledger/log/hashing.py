"""RFC 9162 (RFC 6962) Merkle tree hashing with SHA-256.

Leaves and interior nodes hash under different one-byte prefixes so that a leaf can
never be passed off as a node (second-preimage resistance).
"""

from __future__ import annotations

import hashlib

HASH_SIZE = 32

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree, SHA-256 of the empty string."""

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def perfect_root(hashes: list[bytes]) -> bytes:
    """Root of a perfect subtree whose level hashes are ``hashes`` (a power of two)."""
    level = hashes
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def fold_right(hashes: list[bytes]) -> bytes:
    """Root of a left-balanced tree from its perfect subtree roots, largest first.

    A range ``[lo, hi)`` whose start is aligned splits into perfect subtrees of
    decreasing size; the tree joins them right to left.
    """
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root
