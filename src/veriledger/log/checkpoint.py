"""C2SP tlog-checkpoint (v1.0.0): the note text of a log's signed tree head.

Three lines, each newline-terminated: the origin, the tree size in decimal without
leading zeros, and the base64 RFC 6962 root hash (32 bytes), then optional
non-empty extension lines. Veriledger writes none (its block headers put the state
root inside the log instead), but tolerates them when reading, as the spec asks.
"""

from __future__ import annotations

from dataclasses import dataclass

from veriledger.core.encoding import b64decode_strict, b64encode, parse_decimal
from veriledger.core.errors import CheckpointRootSizeError, MalformedCheckpointError
from veriledger.log.hashing import HASH_SIZE


@dataclass(frozen=True)
class Checkpoint:
    """A log's claim: the tree of ``size`` entries under ``origin`` has ``root_hash``."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedCheckpointError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size < 1 << 64:
            raise MalformedCheckpointError(f"checkpoint size {self.size} is not a uint64")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointRootSizeError(len(self.root_hash))
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise MalformedCheckpointError("checkpoint extension lines must be non-empty")

    def to_text(self) -> bytes:
        """The note text: three lines and any extensions, each ending in a newline."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, text: bytes) -> Checkpoint:
        """Parse a checkpoint note text (the part of a signed note before the signatures).

        Raises:
            MalformedCheckpointError: not UTF-8, missing final newline, fewer than three
                lines, an empty line, a size that is not a canonical uint64 decimal, or
                a root that is not canonical base64.
            CheckpointRootSizeError: the root decodes to other than 32 bytes.
        """
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedCheckpointError("checkpoint is not valid UTF-8") from None
        if not decoded.endswith("\n"):
            raise MalformedCheckpointError("checkpoint does not end with a newline")
        lines = decoded[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError(f"checkpoint has {len(lines)} lines, want at least 3")
        if not lines[0]:
            raise MalformedCheckpointError("checkpoint origin line is empty")
        if any(not line for line in lines[3:]):
            raise MalformedCheckpointError("checkpoint has an empty extension line")
        size = parse_decimal(lines[1], "checkpoint size", MalformedCheckpointError)
        root = b64decode_strict(lines[2], "checkpoint root hash", MalformedCheckpointError)
        return cls(lines[0], size, root, tuple(lines[3:]))
