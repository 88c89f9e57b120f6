"""Layer 2: the verifiable log, and nothing about commerce.

RFC 9162 Merkle hashing and proofs, the tlog-tiles layout, and the C2SP formats
(signed-note, tlog-checkpoint, tlog-cosignature, tlog-proof, tlog-policy). Pure
functions and small value types; storage is behind :class:`~.tiles.TileStore`.
"""
