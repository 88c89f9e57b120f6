"""C2SP tlog-cosignature v1.0.1: timestamped Ed25519 ``cosignature/v1`` (type 0x04).

A cosigner states "as of this time, the largest consistent tree I have seen for this
origin has this root". The signed message is::

    cosignature/v1
    time <POSIX seconds>
    <the whole checkpoint note text>

and the signature field is ``u64 timestamp || 64-byte Ed25519 signature``. The key ID
uses type byte 0x04, so an organisation's cosigning key never verifies as a plain
note key. The unversioned draft adds an ML-DSA-44 ``subtree/v1`` type (0x06); that
is not implemented here: its signature lines are ignored as unknown keys.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from veriledger.core.errors import MalformedKeyError, MalformedNoteError
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey, VerifierKey
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.note import Signature

COSIGNATURE_HEADER = b"cosignature/v1\n"
MAX_TIMESTAMP = (1 << 63) - 1


def cosigned_message(checkpoint_text: bytes, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosigner signs for ``checkpoint_text`` at ``timestamp``."""
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + checkpoint_text


def split_cosignature(signature: bytes) -> tuple[int, bytes]:
    """``(timestamp, ed25519 signature)`` of a 72-byte ``timestamped_signature``.

    Raises:
        MalformedNoteError: wrong length, or a timestamp above 2^63 - 1.
    """
    if len(signature) != 72:
        raise MalformedNoteError(f"cosignature is {len(signature)} bytes, want 72")
    (timestamp,) = struct.unpack(">Q", signature[:8])
    if timestamp > MAX_TIMESTAMP:
        raise MalformedNoteError(f"cosignature timestamp {timestamp} exceeds 2^63-1")
    return timestamp, signature[8:]


def _require_cosigner_type(sig_type: int, name: str) -> None:
    if sig_type != SIG_TYPE_COSIGNATURE_V1:
        raise MalformedKeyError(
            f"key {name} has type 0x{sig_type:02x}, a cosigner key must have type 0x04"
        )


@dataclass(frozen=True)
class CosignatureVerifier:
    """A :class:`~.note.NoteVerifier` for one cosigner's ``cosignature/v1`` signatures."""

    key: VerifierKey

    def __post_init__(self) -> None:
        _require_cosigner_type(self.key.sig_type, self.key.name)

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def key_id(self) -> int:
        return self.key.key_id

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            timestamp, sig = split_cosignature(signature)
        except MalformedNoteError:
            return False
        return self.key.verify(cosigned_message(text, timestamp), sig)


@dataclass(frozen=True)
class CosignatureSigner:
    """A :class:`~.note.NoteSigner` that cosigns checkpoints at the clock's time.

    The clock is injected so tests and replays are deterministic.
    """

    key: SignerKey
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        _require_cosigner_type(self.key.sig_type, self.key.name)

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def key_id(self) -> int:
        return self.key.key_id

    def sign(self, text: bytes) -> bytes:
        """Cosign a checkpoint note text.

        Raises:
            MalformedCheckpointError: ``text`` is not a checkpoint; cosigners sign
                nothing else.
        """
        Checkpoint.parse(text)
        timestamp = int(self.clock())
        return struct.pack(">Q", timestamp) + self.key.sign(cosigned_message(text, timestamp))


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who, and as of when."""

    name: str
    key_id: int
    timestamp: int

    @classmethod
    def from_signature(cls, sig: Signature) -> Cosignature:
        timestamp, _ = split_cosignature(sig.signature)
        return cls(sig.name, sig.key_id, timestamp)
