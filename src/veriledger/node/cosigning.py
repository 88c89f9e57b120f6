"""Signing checkpoints without ever signing two views of the log.

A cosigner's promise is that it signs a checkpoint only if it extends, by a verified
consistency proof, the last one it signed. Keeping that memory in the ledger database
would make it worthless against the mistake it must survive: an operator restoring
an older ``ledger.sqlite`` restores the memory with it, and the node would go on to
sign a second, different checkpoint at sizes it has signed before (a split view).

So the memory lives in its own small file, ``cosigned.json`` in the data directory,
written atomically and synced before any signature it covers leaves the process.
At start, and before each signature, the node compares it with the log. When the log
is behind the memory or does not extend it, the node halts its write path with an
:class:`Alarm` that carries the evidence, and keeps serving reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from veriledger.core.encoding import b64decode_strict, b64encode
from veriledger.core.errors import StorageError, VeriledgerError
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.cosignature import CosignatureSigner
from veriledger.log.verify import verify_consistency
from veriledger.node.datadir import write_private

MEMORY_FILE = "cosigned.json"

Proof = Callable[[int, int], list[bytes]]
"""``proof(old_size, new_size)``: consistency proof hashes within the node's own log."""


class NodeHaltedError(StorageError):
    """The node stopped writing after an alarm; reads go on, marked as not final (HTTP 503)."""

    def __init__(self, alarm: Alarm) -> None:
        super().__init__(f"this node has halted its write path: {alarm.reason}")
        self.alarm = alarm


@dataclass(frozen=True)
class Alarm:
    """Why a node halted, with what an operator or auditor needs to check it."""

    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "evidence": self.evidence}


class Cosigner:
    """An organisation's cosigning key with the memory an honest cosigner needs.

    It cosigns a checkpoint only if it extends, by a verified consistency proof, the
    last checkpoint it cosigned, so it can never sign two views of the log.
    """

    def __init__(self, org: str, signer: CosignatureSigner) -> None:
        self.org = org
        self.signer = signer
        self.last: Checkpoint | None = None

    def cosign(self, checkpoint: Checkpoint, proof: Proof) -> bool:
        """Accept ``checkpoint`` as the new last one if it extends the last; else False."""
        if not extends(self.last, checkpoint, proof):
            return False
        self.last = checkpoint
        return True


def extends(last: Checkpoint | None, checkpoint: Checkpoint, proof: Proof) -> bool:
    """Whether signing ``checkpoint`` after ``last`` keeps one view of the log.

    The same checkpoint again is fine (a cosignature with a new timestamp); a smaller
    one, or another root at the same size, is not; a larger one needs a consistency
    proof from ``last``.
    """
    if last is None or last.size == 0:
        return True
    if checkpoint.size == last.size:
        return checkpoint == last
    if checkpoint.size < last.size:
        return False
    try:
        verify_consistency(
            last.size,
            checkpoint.size,
            proof(last.size, checkpoint.size),
            last.root_hash,
            checkpoint.root_hash,
        )
    except VeriledgerError:
        return False
    return True


class SigningMemory:
    """The last checkpoint this node signed (as log and as cosigners), on disk.

    Every signer of one node signs the same checkpoint each block, so one record
    serves them all; it keeps the signed note too, as evidence if the log ever
    disagrees with it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / MEMORY_FILE
        self.last: Checkpoint | None = None
        self.note = b""
        if self.path.exists():
            try:
                data = orjson.loads(self.path.read_bytes())
                self.last = Checkpoint(
                    data["origin"], int(data["size"]), b64decode_strict(data["root"], "root")
                )
                self.note = str(data.get("note", "")).encode()
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise StorageError(f"{self.path} is unreadable: {exc}") from None
            except VeriledgerError as exc:
                raise StorageError(f"{self.path} is unreadable: {exc}") from None

    def remember(self, checkpoint: Checkpoint, note: bytes) -> None:
        """Record ``checkpoint`` as signed; returns once it is on disk."""
        record = {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": b64encode(checkpoint.root_hash),
            "note": note.decode(),
        }
        write_private(self.path, orjson.dumps(record, option=orjson.OPT_INDENT_2))
        self.last, self.note = checkpoint, note

    def check(self, log_size: int, log_root: bytes, proof: Proof) -> Alarm | None:
        """Compare the memory with the log the node is about to extend.

        Returns an alarm when the log is shorter than what was signed (an older
        database), or does not contain what was signed (another history).
        """
        last = self.last
        if last is None or last.size == 0:
            return None
        evidence = {"signed": self.note.decode(), "log_size": log_size}
        if log_size < last.size:
            return _alarm(
                f"the ledger holds {log_size} entries, but this node already signed a "
                f"checkpoint of size {last.size}: the database is older than what was "
                "signed (restored from a backup?). Signing on would make a split view.",
                evidence,
            )
        if not extends(last, Checkpoint(last.origin, log_size, log_root), proof):
            return _alarm(
                f"the ledger does not extend the checkpoint of size {last.size} this node "
                "signed: its history differs from what was signed.",
                evidence,
            )
        return None


def _alarm(reason: str, evidence: dict[str, Any]) -> Alarm:
    logging.getLogger("veriledger.alarm").error("ALARM: %s", reason)
    return Alarm(reason, evidence)
