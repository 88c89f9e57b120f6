"""Which hashes a proof is made of, as pure arithmetic over tree positions.

Every hash in an RFC 9162 inclusion or consistency proof is the Merkle tree hash of
a range ``[begin, end)`` of leaves (``MTH(D[begin:end])``). These functions return
those ranges in proof order. Storage then splits each range into perfect subtrees
(:func:`range_nodes`), fetches their hashes from tiles and folds them, so proofs for
any old entry come from stored tiles and never from rehashing the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from veriledger.core.errors import OutOfRangeError


@dataclass(frozen=True, order=True)
class Node:
    """The root of the perfect subtree of ``2**height`` leaves starting at ``index << height``."""

    height: int
    index: int

    @property
    def begin(self) -> int:
        return self.index << self.height

    @property
    def end(self) -> int:
        return (self.index + 1) << self.height


def _split_point(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges whose hashes form the inclusion proof of leaf ``index`` in a tree of ``size``.

    Requires ``0 <= index < size``. Ordered from the leaf's sibling up to the root's child.

    Raises:
        OutOfRangeError: ``index`` is not in the tree.
    """
    if not 0 <= index < size:
        raise OutOfRangeError(f"index {index} is not in a tree of size {size}")
    path: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split_point(end - begin)
        if index < begin + k:
            path.append((begin + k, end))
            end = begin + k
        else:
            path.append((begin, begin + k))
            begin += k
    path.reverse()
    return path


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Ranges whose hashes form the consistency proof from ``size1`` to ``size2``.

    Requires ``0 < size1 <= size2``; the proof between equal sizes is empty. This is
    RFC 9162 ``SUBPROOF`` unrolled: descend towards the old tree's right edge,
    recording the sibling at each step, and record the old subtree's own root only
    when it is not a root the verifier already holds.

    Raises:
        OutOfRangeError: the sizes are out of order or the old tree is empty.
    """
    if not 0 < size1 <= size2:
        raise OutOfRangeError(f"no consistency proof from size {size1} to size {size2}")
    path: list[tuple[int, int]] = []
    begin, end = 0, size2
    known_root = True  # the subtree in hand is the whole old tree
    while size1 - begin != end - begin:
        k = _split_point(end - begin)
        if size1 - begin <= k:
            path.append((begin + k, end))
            end = begin + k
        else:
            path.append((begin, begin + k))
            begin += k
            known_root = False
    if not known_root:
        path.append((begin, end))
    path.reverse()
    return path


def range_nodes(begin: int, end: int) -> list[Node]:
    """Split ``[begin, end)`` into maximal perfect subtrees, largest first.

    Their hashes, folded right to left, give ``MTH(D[begin:end])`` when ``begin`` is a
    multiple of the power of two at or above ``end - begin`` (every proof range is).
    """
    nodes: list[Node] = []
    while begin < end:
        height = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length() - 1
        while begin + (1 << height) > end:
            height -= 1
        nodes.append(Node(height, begin >> height))
        begin += 1 << height
    return nodes
