"""Ed25519 keys in the C2SP signed-note text formats.

A verifier key (vkey) is ``<name>+<hex key ID>+base64(type || public key)``. A signer
key (skey) uses the Go ``golang.org/x/mod/sumdb/note`` form,
``PRIVATE+KEY+<name>+<hex key ID>+base64(type || 32-byte seed)``, so keys move
between Veriledger and the Go tools unchanged.

The signature type byte says what the key signs: ``0x01`` plain Ed25519 note
signatures (a log's checkpoint), ``0x04`` timestamped ``cosignature/v1``
(a consortium organisation cosigning). The key ID commits to the name, the type
and the key, so one Ed25519 key used for both roles gets two distinct IDs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.signing

from veriledger.core.encoding import b64decode_strict, b64encode
from veriledger.core.errors import MalformedKeyError

SIG_TYPE_ED25519 = 0x01
"""Ed25519 signature over the note text (C2SP signed-note)."""

SIG_TYPE_COSIGNATURE_V1 = 0x04
"""Timestamped Ed25519 ``cosignature/v1`` (C2SP tlog-cosignature)."""

ED25519_TYPES = frozenset({SIG_TYPE_ED25519, SIG_TYPE_COSIGNATURE_V1})

_SKEY_PREFIX = "PRIVATE+KEY+"


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty UTF-8 with no Unicode space and no ``+`` (signed-note)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return (
        bool(name)
        and "+" not in name
        and not any(ch.isspace() for ch in name)
        and all(ord(ch) >= 0x20 for ch in name)
    )


def compute_key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` as a big-endian integer."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Raw Ed25519 (RFC 8032) verification; PyNaCl is the fastest verifier here."""
    if len(signature) != 64:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True


def _split_key(text: str, parts: int, what: str) -> list[str]:
    fields = text.split("+", parts - 1)
    if len(fields) != parts:
        raise MalformedKeyError(f"{what} must have {parts} '+'-separated fields, has {len(fields)}")
    return fields


def _parse_key_id(text: str, what: str) -> int:
    if len(text) != 8 or any(c not in "0123456789abcdef" for c in text):
        raise MalformedKeyError(f"{what} key ID {text!r} is not 8 lowercase hex digits")
    return int(text, 16)


@dataclass(frozen=True)
class VerifierKey:
    """A public key with the name and type it verifies signatures under."""

    name: str
    sig_type: int
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKeyError(f"invalid key name {self.name!r}")
        if self.sig_type in ED25519_TYPES and len(self.public_key) != 32:
            raise MalformedKeyError(f"Ed25519 public key is {len(self.public_key)} bytes, want 32")
        object.__setattr__(
            self, "key_id", compute_key_id(self.name, self.sig_type, self.public_key)
        )

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        """Parse a vkey, checking that its key ID matches its name, type and key.

        Raises:
            MalformedKeyError: wrong field count, bad name, bad hex or base64, a key
                ID that does not match, or an unsupported signature type.
        """
        name, id_hex, material = _split_key(vkey.strip("\n"), 3, "vkey")
        key_id = _parse_key_id(id_hex, "vkey")
        raw = b64decode_strict(material, "vkey key material", MalformedKeyError)
        if len(raw) < 2:
            raise MalformedKeyError("vkey key material is empty")
        sig_type, public_key = raw[0], raw[1:]
        if sig_type not in ED25519_TYPES:
            raise MalformedKeyError(f"unsupported signature type 0x{sig_type:02x} in vkey")
        key = cls(name, sig_type, public_key)
        if key.key_id != key_id:
            raise MalformedKeyError(
                f"vkey key ID {key_id:08x} does not match its name and key "
                f"(computed {key.key_id:08x})"
            )
        return key

    def to_vkey(self) -> str:
        return (
            f"{self.name}+{self.key_id:08x}+{b64encode(bytes([self.sig_type]) + self.public_key)}"
        )

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Raw Ed25519 check of ``signature`` over ``message`` with this key."""
        return ed25519_verify(self.public_key, message, signature)

    def __str__(self) -> str:
        return self.to_vkey()


@dataclass(frozen=True, repr=False)
class SignerKey:
    """A private Ed25519 key (its 32-byte seed) with its name and signature type."""

    name: str
    sig_type: int
    seed: bytes
    public_key: bytes = field(init=False, compare=False)
    key_id: int = field(init=False, compare=False)
    _signing: nacl.signing.SigningKey = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKeyError(f"invalid key name {self.name!r}")
        if self.sig_type not in ED25519_TYPES:
            raise MalformedKeyError(f"unsupported signature type 0x{self.sig_type:02x}")
        if len(self.seed) != 32:
            raise MalformedKeyError(f"Ed25519 seed is {len(self.seed)} bytes, want 32")
        signing = nacl.signing.SigningKey(self.seed)
        object.__setattr__(self, "_signing", signing)
        object.__setattr__(self, "public_key", bytes(signing.verify_key))
        object.__setattr__(
            self, "key_id", compute_key_id(self.name, self.sig_type, self.public_key)
        )

    def __repr__(self) -> str:
        return f"SignerKey(name={self.name!r}, sig_type={self.sig_type:#04x}, seed=<hidden>)"

    @classmethod
    def generate(cls, name: str, sig_type: int = SIG_TYPE_ED25519) -> SignerKey:
        return cls(name, sig_type, bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def parse(cls, skey: str) -> SignerKey:
        """Parse ``PRIVATE+KEY+name+id+base64(type || seed)``.

        Raises:
            MalformedKeyError: wrong prefix or field count, bad encoding, or a key ID
                that does not match the derived public key.
        """
        text = skey.strip("\n")
        if not text.startswith(_SKEY_PREFIX):
            raise MalformedKeyError("skey must start with PRIVATE+KEY+")
        name, id_hex, material = _split_key(text[len(_SKEY_PREFIX) :], 3, "skey")
        key_id = _parse_key_id(id_hex, "skey")
        raw = b64decode_strict(material, "skey key material", MalformedKeyError)
        if len(raw) != 33:
            raise MalformedKeyError(f"skey key material is {len(raw)} bytes, want 33")
        key = cls(name, raw[0], raw[1:])
        if key.key_id != key_id:
            raise MalformedKeyError(
                f"skey key ID {key_id:08x} does not match its key (computed {key.key_id:08x})"
            )
        return key

    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.sig_type, self.public_key)

    def to_skey(self) -> str:
        return (
            f"{_SKEY_PREFIX}{self.name}+{self.key_id:08x}+"
            f"{b64encode(bytes([self.sig_type]) + self.seed)}"
        )

    def sign(self, message: bytes) -> bytes:
        """Raw 64-byte Ed25519 signature over ``message``."""
        return self._signing.sign(message).signature
