"""Block headers: the batch committed together, hash-chained, as the block's last entry.

A block occupies a contiguous run of the log: its ordered transactions (accepted or
rejected) at ``first_index .. first_index + tx_count - 1``, then its header. So a
checkpoint, cut only at block ends, commits through its root to the header and so
to the state root, without checkpoint extension lines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from veriledger.core.canonical_json import canonical_json
from veriledger.core.errors import BadInputError


@dataclass(frozen=True)
class Rejected:
    """An ordered transaction that a rule refused, with its stable code and reason."""

    id: str
    code: str
    """``<module>/<number>``, stable forever."""
    reason: str


@dataclass(frozen=True)
class BlockHeader:
    chain: str
    """The log origin: a header of another chain never verifies here."""
    height: int
    """0 for the genesis block, then one more per block."""
    prev: str
    """Hex SHA-256 of the previous header's entry (for height 0, of the genesis entry)."""
    time: int
    """Block time in milliseconds, the only clock the rules see; never decreases."""
    first_index: int
    """Log index of the block's first transaction (its header follows the last one)."""
    tx_count: int
    """Ordered transactions in the block, accepted and rejected."""
    accepted: int
    """How many of them the rules accepted."""
    rejected: tuple[Rejected, ...]
    """The ids, codes and reasons of the ordered transactions the rules refused."""
    state_root: str
    """Hex running state root after this block (see :mod:`veriledger.chain.state`)."""

    @property
    def header_index(self) -> int:
        """The log index of this header entry."""
        return self.first_index + self.tx_count

    @property
    def end(self) -> int:
        """Log size at the end of this block: a checkpoint may be cut here."""
        return self.header_index + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "height": self.height,
            "prev": self.prev,
            "time": self.time,
            "first_index": self.first_index,
            "tx_count": self.tx_count,
            "accepted": self.accepted,
            "rejected": [{"id": r.id, "code": r.code, "reason": r.reason} for r in self.rejected],
            "state_root": self.state_root,
        }

    def entry(self) -> bytes:
        return canonical_json({"block": self.to_json()})

    @property
    def id(self) -> str:
        return hashlib.sha256(self.entry()).hexdigest()

    @classmethod
    def from_entry(cls, entry: bytes) -> BlockHeader:
        """Parse a header entry.

        Raises:
            BadInputError: not a header entry.
        """
        try:
            obj = orjson.loads(entry)["block"]
            return cls(
                chain=obj["chain"],
                height=obj["height"],
                prev=obj["prev"],
                time=obj["time"],
                first_index=obj["first_index"],
                tx_count=obj["tx_count"],
                accepted=obj["accepted"],
                rejected=tuple(Rejected(**r) for r in obj["rejected"]),
                state_root=obj["state_root"],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadInputError(f"not a block header entry: {exc}") from None


def entry_kind(entry: bytes) -> str:
    """``genesis``, ``block`` or ``tx``: what a log entry is, from its first key."""
    if entry.startswith(b'{"block":'):
        return "block"
    if entry.startswith(b'{"genesis":'):
        return "genesis"
    return "tx"
