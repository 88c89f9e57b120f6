"""C2SP tlog-proof: an offline-verifiable proof that an entry is in a log.

::

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>        (optional)
    index <decimal>
    <base64 inclusion proof hash>     (zero or more)

    <the checkpoint, a signed note, verbatim>

A Veriledger receipt is one of these whose ``extra`` line carries the entry's own
bytes, so the file alone names the fact it proves. ``extra`` is unauthenticated:
it is trusted only because the inclusion proof binds its hash to a checkpoint that
the policy accepts. When the entry comes out of band instead, verification uses
that; if both are present they must agree, so a file can never prove one fact
while displaying another.
"""

from __future__ import annotations

from dataclasses import dataclass

from veriledger.core.encoding import b64decode_strict, b64encode, parse_decimal
from veriledger.core.errors import (
    EntryMismatchError,
    InclusionProofError,
    MalformedProofError,
    VerificationError,
)
from veriledger.log.hashing import HASH_SIZE, leaf_hash
from veriledger.log.note import Note, parse_note
from veriledger.log.policy import Policy, PolicyResult
from veriledger.log.verify import verify_inclusion

HEADER = "c2sp.org/tlog-proof@v1"
MEDIA_TYPE = "application/tlog-proof"
MAX_PROOF_HASHES = 64


@dataclass(frozen=True)
class TlogProof:
    index: int
    inclusion: tuple[bytes, ...]
    checkpoint: bytes
    """The signed checkpoint note, verbatim."""
    extra: bytes | None = None

    def to_bytes(self) -> bytes:
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64encode(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(b64encode(h) for h in self.inclusion)
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint

    @classmethod
    def parse(cls, data: bytes) -> TlogProof:
        """Parse a tlog-proof file.

        Raises:
            MalformedProofError: wrong header, a bad ``extra`` or ``index`` line, a
                proof line that is not a base64 32-byte hash, more than 64 hashes,
                or no blank line before the checkpoint.
            MalformedNoteError: the checkpoint is not a signed note.
        """
        try:
            head, sep, checkpoint = data.partition(b"\n\n")
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise MalformedProofError("proof header is not ASCII") from None
        if not sep:
            raise MalformedProofError("proof has no blank line before its checkpoint")
        if lines[0] != HEADER:
            raise MalformedProofError(f"proof does not start with {HEADER!r}")
        pos = 1
        extra = None
        if pos < len(lines) and lines[pos].startswith("extra"):
            if not lines[pos].startswith("extra "):
                raise MalformedProofError("extra line must be 'extra <base64>'")
            extra = b64decode_strict(lines[pos][6:], "extra data", MalformedProofError)
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise MalformedProofError("proof has no 'index <n>' line")
        index = parse_decimal(lines[pos][6:], "index", MalformedProofError)
        hashes = []
        for number, line in enumerate(lines[pos + 1 :], start=1):
            value = b64decode_strict(line, f"proof hash {number}", MalformedProofError)
            if len(value) != HASH_SIZE:
                raise MalformedProofError(f"proof hash {number} is {len(value)} bytes, want 32")
            hashes.append(value)
        if len(hashes) > MAX_PROOF_HASHES:
            raise MalformedProofError(f"proof has {len(hashes)} hashes, at most 64 possible")
        parse_note(checkpoint)
        return cls(index, tuple(hashes), checkpoint, extra)

    def note(self) -> Note:
        return parse_note(self.checkpoint)


@dataclass(frozen=True)
class ProofVerification:
    """A verified proof: the entry, where it is, and the checkpoint's standing."""

    entry: bytes
    index: int
    policy: PolicyResult


def verify_tlog_proof(
    proof: TlogProof, policy: Policy, entry: bytes | None = None
) -> ProofVerification:
    """Verify ``proof`` offline against ``policy``, following the spec's four steps.

    Raises:
        EntryMismatchError: no entry given and no ``extra`` line, or the two differ.
        MalformedNoteError, MalformedCheckpointError, SignatureError,
        UnverifiedNoteError, PolicyNotSatisfiedError: the checkpoint fails the policy.
        OutOfRangeError: the index is beyond the checkpoint's tree.
        InclusionProofError: the inclusion proof fails (wrong size or root).
    """
    if entry is None:
        if proof.extra is None:
            raise EntryMismatchError("proof has no extra line and no entry was given")
        entry = proof.extra
    elif proof.extra is not None and proof.extra != entry:
        raise EntryMismatchError("the entry given differs from the entry in the proof's extra line")
    # 1. the leaf hash of the entry
    leaf = leaf_hash(entry)
    # 2 and 3. the checkpoint is signed by a policy log and cosigned by a quorum
    result = policy.verify_checkpoint(proof.note())
    # 4. the inclusion proof binds the leaf to the checkpoint's root
    checkpoint = result.checkpoint
    try:
        verify_inclusion(proof.index, checkpoint.size, leaf, proof.inclusion, checkpoint.root_hash)
    except VerificationError as exc:
        raise InclusionProofError(
            f"inclusion proof of entry {proof.index} in the checkpoint of size "
            f"{checkpoint.size} fails: {exc}"
        ) from exc
    return ProofVerification(entry, proof.index, result)
