"""An independent C2SP tlog writer, from the specs alone, for conformance tests.

It imports nothing from veriledger: Merkle hashing (RFC 9162), signed notes,
checkpoints, cosignature/v1, tlog-policy and tlog-proof are written here from the
documents in ``shared/data/tlog/c2sp``, with hashlib and PyNaCl only. The CLI is then
run on its output: valid files must verify and tampered ones must fail.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass, field

import nacl.signing


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 over already-hashed leaves."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def audit_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*audit_path(m, leaves[:k]), mth(leaves[k:])]
    return [*audit_path(m - k, leaves[k:]), mth(leaves[:k])]


@dataclass
class Key:
    """An Ed25519 key with a signed-note name and signature type."""

    name: str
    sig_type: int
    seed: bytes

    @property
    def signing(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.seed)

    @property
    def public(self) -> bytes:
        return bytes(self.signing.verify_key)

    @property
    def key_id(self) -> bytes:
        material = self.name.encode() + b"\n" + bytes([self.sig_type]) + self.public
        return hashlib.sha256(material).digest()[:4]

    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([self.sig_type]) + self.public)}"

    def signature_line(self, text: bytes, timestamp: int = 0) -> str:
        if self.sig_type == 0x01:
            sig = self.signing.sign(text).signature
        else:  # cosignature/v1
            message = b"cosignature/v1\ntime %d\n" % timestamp + text
            sig = struct.pack(">Q", timestamp) + self.signing.sign(message).signature
        return f"\u2014 {self.name} {b64(self.key_id + sig)}\n"


def key(name: str, sig_type: int, label: str) -> Key:
    return Key(name, sig_type, hashlib.sha256(label.encode()).digest())


@dataclass
class World:
    origin: str = "independent.example/log"
    entries: list[bytes] = field(default_factory=lambda: [b"fact %d" % i for i in range(21)])
    log: Key = field(default_factory=lambda: key("independent.example/log", 1, "log"))
    witnesses: dict[str, Key] = field(
        default_factory=lambda: {
            n: key(f"{n}.example/w", 4, n) for n in ("alpha", "beta", "gamma", "delta")
        }
    )

    @property
    def leaves(self) -> list[bytes]:
        return [hashlib.sha256(b"\x00" + e).digest() for e in self.entries]

    def checkpoint_text(self, size: int | None = None, extensions: list[str] = ()) -> bytes:  # type: ignore[assignment]
        size = len(self.entries) if size is None else size
        lines = [self.origin, str(size), b64(mth(self.leaves[:size])), *extensions]
        return ("\n".join(lines) + "\n").encode()

    def signed_checkpoint(
        self,
        cosigners: list[str] = ("alpha", "beta", "gamma"),
        size: int | None = None,  # type: ignore[assignment]
    ) -> bytes:
        text = self.checkpoint_text(size)
        sigs = self.log.signature_line(text)
        for i, name in enumerate(cosigners):
            sigs += self.witnesses[name].signature_line(text, 1_700_000_000 + i)
        return text + b"\n" + sigs.encode()

    def policy(self, quorum: str = "3") -> bytes:
        lines = ["# written by the independent implementation", f"log {self.log.vkey()}"]
        lines += [f"witness {n} {k.vkey()}" for n, k in self.witnesses.items()]
        lines.append(f"group orgs {quorum} {' '.join(self.witnesses)}")
        lines.append("quorum orgs")
        return ("\n".join(lines) + "\n").encode()

    def proof(
        self,
        index: int,
        checkpoint: bytes | None = None,
        extra: bool = True,
        size: int | None = None,
    ) -> bytes:
        size = len(self.entries) if size is None else size
        lines = ["c2sp.org/tlog-proof@v1"]
        if extra:
            lines.append(f"extra {b64(self.entries[index])}")
        lines.append(f"index {index}")
        lines += [b64(h) for h in audit_path(index, self.leaves[:size])]
        body = ("\n".join(lines) + "\n\n").encode()
        return body + (checkpoint or self.signed_checkpoint(size=size))
