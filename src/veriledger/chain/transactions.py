"""The transaction envelope: who asserts what, on which chain, signed.

::

    {"chain": "<log origin>", "type": "<module>.<message>", "body": {...},
     "signer": "<base64 Ed25519 public key>", "nonce": "<unique per signer>",
     "time": <client time, ms>, "sig": "<base64 Ed25519 signature>"}

The signer's key identifies itself: the ``signer`` field is the 32-byte public key,
so a signature verifies with no state at all (in a second process, before ordering),
and the identity module maps the key to a member. The signature covers the domain
string ``veriledger/tx/v1`` and the RFC 8785 canonical JSON of every field but
``sig``. The log entry of a transaction is the canonical JSON of the whole signed
envelope, and its id is the SHA-256 of that entry, so the id, the entry and the
receipt all name the same bytes.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import os
import time as _time
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any, TypeVar

import orjson

from veriledger.chain.body import parse_body
from veriledger.core.canonical_json import canonical_json
from veriledger.core.encoding import b64decode_strict, b64encode
from veriledger.core.errors import BadInputError, VerificationError
from veriledger.core.keys import SIG_TYPE_ED25519, SignerKey, ed25519_verify

SIGNING_DOMAIN = b"veriledger/tx/v1\n"
MAX_ENTRY_BYTES = 60_000
"""A transaction entry must fit a tlog-tiles entry bundle (65,535 bytes) with room to spare."""
MAX_NONCE_LENGTH = 64
MAX_TYPE_LENGTH = 64
T = TypeVar("T")
FIELDS = ("chain", "type", "body", "signer", "nonce", "time", "sig")


class MalformedTransactionError(BadInputError):
    """The envelope is not a well-formed transaction; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidTransactionSignatureError(VerificationError):
    """``sig`` does not verify under ``signer``: the transaction is not the signer's."""

    def __init__(self, signer: str) -> None:
        super().__init__(f"sig: the signature does not verify for signer {signer}")
        self.field = "sig"
        self.signer = signer


class TransactionTooLargeError(MalformedTransactionError):
    def __init__(self, size: int) -> None:
        super().__init__("transaction", f"is {size} bytes, the limit is {MAX_ENTRY_BYTES}")
        self.size = size


def envelope_parts(
    chain: str, type: str, body: dict[str, Any], signer: str, nonce: str, time: int
) -> tuple[bytes, bytes]:
    """The canonical envelope's bytes before and after its ``"sig"`` member.

    The envelope's keys are fixed and sort as body, chain, nonce, sig, signer, time,
    type; only the body needs a general canonicalisation, and the signed bytes are the
    entry without its "sig" member. A property test holds both equal to rfc8785 of the
    whole object.

    Raises:
        MalformedTransactionError: a value has no canonical JSON form.
    """
    try:
        head = (
            b'{"body":'
            + canonical_json(body)
            + b',"chain":'
            + orjson.dumps(chain)
            + b',"nonce":'
            + orjson.dumps(nonce)
        )
        tail = (
            b',"signer":'
            + orjson.dumps(signer)
            + b',"time":'
            + b"%d" % time
            + b',"type":'
            + orjson.dumps(type)
            + b"}"
        )
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise MalformedTransactionError("transaction", f"has no canonical form: {exc}") from None
    return head, tail


@dataclass(frozen=True)
class Transaction:
    """A signed envelope. Construct with :func:`sign_transaction` or :meth:`parse`."""

    chain: str
    type: str
    body: dict[str, Any]
    signer: str
    nonce: str
    time: int
    sig: str
    entry: bytes = field(init=False, repr=False, compare=False)
    signing_bytes: bytes = field(init=False, repr=False, compare=False)
    """What the signature covers: the domain and the canonical unsigned envelope."""
    id: str = field(init=False, compare=False)
    _parsed: tuple[object, Any] | None = field(default=None, init=False, repr=False, compare=False)

    parts: InitVar[tuple[bytes, bytes] | None] = None
    """The canonical bytes before and after ``"sig"``, when the signer just made them."""

    def __post_init__(self, parts: tuple[bytes, bytes] | None) -> None:
        head, tail = parts or envelope_parts(
            self.chain, self.type, self.body, self.signer, self.nonce, self.time
        )
        try:
            sig = orjson.dumps(self.sig)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise MalformedTransactionError(
                "transaction", f"has no canonical form: {exc}"
            ) from None
        entry = head + b',"sig":' + sig + tail
        if len(entry) > MAX_ENTRY_BYTES:
            raise TransactionTooLargeError(len(entry))
        object.__setattr__(self, "entry", entry)
        object.__setattr__(self, "signing_bytes", SIGNING_DOMAIN + head + tail)
        object.__setattr__(self, "id", hashlib.sha256(entry).hexdigest())

    def parsed_body(self, cls: builtins.type[T]) -> T:
        """The body parsed as ``cls`` (:func:`parse_body`), once.

        Parsing is pure, so the submission checks and the block share one parse.

        Raises:
            BodyError: naming the offending field.
        """
        memo = self._parsed
        if memo is not None and memo[0] is cls:
            body: T = memo[1]
            return body
        body = parse_body(cls, self.body)
        object.__setattr__(self, "_parsed", (cls, body))
        return body

    @property
    def module(self) -> str:
        return self.type.split(".", 1)[0]

    @property
    def signer_key(self) -> bytes:
        return b64decode_strict(self.signer, "signer")

    def unsigned_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "type": self.type,
            "body": self.body,
            "signer": self.signer,
            "nonce": self.nonce,
            "time": self.time,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.unsigned_json(), "sig": self.sig}

    @property
    def sig_bytes(self) -> bytes:
        return b64decode_strict(self.sig, "sig")

    def verify_signature(self) -> None:
        """Raise unless the signer's key signed this envelope.

        Raises:
            InvalidTransactionSignatureError: it did not.
        """
        if not ed25519_verify(self.signer_key, self.signing_bytes, self.sig_bytes):
            raise InvalidTransactionSignatureError(self.signer)

    @classmethod
    def parse(cls, data: bytes | dict[str, Any]) -> Transaction:
        """Parse an envelope from JSON bytes or an already-decoded object, strictly.

        Raises:
            MalformedTransactionError: not JSON, a missing or unknown field, or a field
                of the wrong type or form (the error names the field).
            TransactionTooLargeError: the entry exceeds :data:`MAX_ENTRY_BYTES`.
        """
        if isinstance(data, bytes | bytearray):
            if len(data) > 4 * MAX_ENTRY_BYTES:
                raise TransactionTooLargeError(len(data))
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise MalformedTransactionError("transaction", f"is not JSON: {exc}") from None
        else:
            obj = data
        if not isinstance(obj, dict):
            raise MalformedTransactionError("transaction", "must be a JSON object")
        unknown = sorted(set(obj) - set(FIELDS))
        if unknown:
            raise MalformedTransactionError(unknown[0], "unknown field")
        for name in FIELDS:
            if name not in obj:
                raise MalformedTransactionError(name, "missing")
        check_envelope_fields(obj)
        return cls(**{name: obj[name] for name in FIELDS})


def check_envelope_fields(obj: dict[str, Any]) -> None:
    """Type and form checks shared by signed envelopes and token submissions."""
    if not isinstance(obj.get("chain"), str) or not obj["chain"]:
        raise MalformedTransactionError("chain", "must be a non-empty string")
    kind = obj.get("type")
    if (
        not isinstance(kind, str)
        or kind.count(".") != 1
        or not all(part.replace("_", "").isalnum() and part.isascii() for part in kind.split("."))
        or len(kind) > MAX_TYPE_LENGTH
    ):
        raise MalformedTransactionError("type", "must be '<module>.<message>' in ASCII")
    if not isinstance(obj.get("body"), dict):
        raise MalformedTransactionError("body", "must be a JSON object")
    if "signer" in obj:
        _b64_field(obj, "signer", 32, "a base64 Ed25519 public key")
    if "nonce" in obj:
        nonce = obj["nonce"]
        if not isinstance(nonce, str) or not 1 <= len(nonce) <= MAX_NONCE_LENGTH:
            raise MalformedTransactionError("nonce", f"must be a string of 1 to {MAX_NONCE_LENGTH}")
    if "time" in obj:
        when = obj["time"]
        if not isinstance(when, int) or isinstance(when, bool) or not 0 <= when < 2**53:
            raise MalformedTransactionError("time", "must be milliseconds since 1970, an integer")
    if "sig" in obj:
        _b64_field(obj, "sig", 64, "a base64 Ed25519 signature")


def _b64_field(obj: dict[str, Any], name: str, size: int, what: str) -> None:
    value = obj[name]
    if not isinstance(value, str) or _decoded_length(value) != size:
        raise MalformedTransactionError(name, f"must be {what} ({size} bytes, canonical base64)")


@functools.lru_cache(maxsize=4096)  # a member's key signs thousands of transactions
def _decoded_length(text: str) -> int | None:
    """The length of canonical base64 ``text`` once decoded; None if it is not that."""
    try:
        return len(b64decode_strict(text, "value"))
    except BadInputError:
        return None


def signing_bytes(unsigned: dict[str, Any]) -> bytes:
    return SIGNING_DOMAIN + canonical_json(unsigned)


def new_nonce() -> str:
    return new_nonces(1)[0]


def new_nonces(count: int) -> list[str]:
    """``count`` nonces from one read of the OS's randomness: each read releases the
    GIL, and a batch of a thousand handed it to the block-commit thread a thousand times."""
    pool = os.urandom(12 * count).hex()
    return [pool[i : i + 24] for i in range(0, 24 * count, 24)]


def sign_transaction(
    key: SignerKey,
    chain: str,
    type: str,
    body: dict[str, Any],
    nonce: str | None = None,
    time: int | None = None,
) -> Transaction:
    """Build and sign an envelope with ``key`` (a plain Ed25519 key, type 0x01)."""
    unsigned = unsigned_envelope(key, chain, type, body, nonce, time)
    return signed_transaction(unsigned, sign_envelope(key, unsigned))


def unsigned_envelope(
    key: SignerKey,
    chain: str,
    type: str,
    body: dict[str, Any],
    nonce: str | None = None,
    time: int | None = None,
) -> dict[str, Any]:
    """The checked envelope ``key`` is about to sign, with a fresh nonce and the time.

    Raises:
        MalformedTransactionError: a field is malformed, or ``key`` cannot sign
            transactions.
    """
    if key.sig_type != SIG_TYPE_ED25519:
        raise MalformedTransactionError("signer", "transactions are signed with Ed25519 keys")
    unsigned: dict[str, Any] = {
        "chain": chain,
        "type": type,
        "body": body,
        "signer": b64encode(key.public_key),
        "nonce": nonce or new_nonce(),
        "time": int(_time.time() * 1000) if time is None else time,
    }
    check_envelope_fields(unsigned)
    return unsigned


SignedParts = tuple[bytes, bytes, str]
"""An envelope's canonical bytes before and after ``"sig"``, and the base64 signature."""


def sign_envelope(key: SignerKey, unsigned: dict[str, Any]) -> SignedParts:
    """Canonicalise and sign an :func:`unsigned_envelope`: pure, so a worker can do it.

    Raises:
        MalformedTransactionError: the body has no canonical form.
    """
    head, tail = envelope_parts(
        unsigned["chain"],
        unsigned["type"],
        unsigned["body"],
        unsigned["signer"],
        unsigned["nonce"],
        unsigned["time"],
    )
    return head, tail, b64encode(key.sign(SIGNING_DOMAIN + head + tail))


def sign_envelopes(key: SignerKey, unsigned: Sequence[dict[str, Any]]) -> list[SignedParts | None]:
    """:func:`sign_envelope` for each; None where one fails (the caller signs that one
    again itself, for the error)."""
    out: list[SignedParts | None] = []
    for envelope in unsigned:
        try:
            out.append(sign_envelope(key, envelope))
        except MalformedTransactionError:
            out.append(None)
    return out


def signed_transaction(unsigned: dict[str, Any], parts: SignedParts) -> Transaction:
    """The transaction of an :func:`unsigned_envelope` and its :func:`sign_envelope`."""
    head, tail, sig = parts
    return Transaction(**unsigned, sig=sig, parts=(head, tail))
