"""C2SP signed-note: text signed by one or more keys.

A note is its text (ending in a newline), a blank line, then one or more lines
``— <key name> base64(key ID || signature)``. Opening a note checks it against a
set of known verifiers: signatures by unknown keys are ignored (that is how
cosignatures and key rotation coexist), a known key whose signature fails rejects
the whole note, and a note with no verified signature is rejected, because its text
must not be trusted.

Signers and verifiers are small protocols: a plain Ed25519 key signs the text
itself, while a ``cosignature/v1`` key (:mod:`.cosignature`) signs a timestamped
message built from it. The note code never needs to know which.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from veriledger.core.encoding import b64decode_strict, b64encode
from veriledger.core.errors import (
    MalformedNoteError,
    SignatureError,
    UnverifiedNoteError,
)
from veriledger.core.keys import (
    SIG_TYPE_ED25519,
    SignerKey,
    VerifierKey,
    is_valid_key_name,
)

SIGNATURE_PREFIX = "— "
MAX_SIGNATURES = 100
"""Per signed-note, verifiers must accept at least 16 signatures and should cap them."""
MAX_NOTE_SIZE = 1 << 20


class NoteVerifier(Protocol):
    """Checks signatures made by one key, identified by name and key ID."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without its 4-byte key ID) signs ``text``."""
        ...


class NoteSigner(Protocol):
    """Produces signatures for one key."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes:
        """The signature over ``text``, without the 4-byte key ID."""
        ...


@dataclass(frozen=True)
class Ed25519NoteVerifier:
    """Verifies signature type 0x01: plain Ed25519 over the note text."""

    key: VerifierKey

    def __post_init__(self) -> None:
        if self.key.sig_type != SIG_TYPE_ED25519:
            raise MalformedNoteError(
                f"key {self.key.name} has type 0x{self.key.sig_type:02x}, not Ed25519 (0x01)"
            )

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def key_id(self) -> int:
        return self.key.key_id

    def verify(self, text: bytes, signature: bytes) -> bool:
        return self.key.verify(text, signature)


@dataclass(frozen=True)
class Ed25519NoteSigner:
    """Signs with signature type 0x01: plain Ed25519 over the note text."""

    key: SignerKey

    def __post_init__(self) -> None:
        if self.key.sig_type != SIG_TYPE_ED25519:
            raise MalformedNoteError(
                f"key {self.key.name} has type 0x{self.key.sig_type:02x}, not Ed25519 (0x01)"
            )

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def key_id(self) -> int:
        return self.key.key_id

    def sign(self, text: bytes) -> bytes:
        return self.key.sign(text)


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        raw = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(raw)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text and its signatures, none of them checked yet."""

    text: bytes
    signatures: tuple[Signature, ...]

    def to_bytes(self) -> bytes:
        return self.text + b"\n" + "".join(s.line() for s in self.signatures).encode()


@dataclass(frozen=True)
class OpenedNote:
    """A note with at least one signature verified by a known key."""

    text: bytes
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]
    """Signatures by keys the verifier set does not know; kept, never trusted."""

    def verified_by(self, name: str, key_id: int) -> Signature | None:
        for sig in self.verified:
            if sig.name == name and sig.key_id == key_id:
                return sig
        return None


def _check_text(text: str) -> None:
    for ch in text:
        if ch < " " and ch != "\n":
            raise MalformedNoteError(f"note contains control character U+{ord(ch):04X}")


def parse_note(data: bytes) -> Note:
    """Split a signed note into text and signature lines, checking the format only.

    Raises:
        MalformedNoteError: not UTF-8, a control character, no blank line before
            the signatures, a malformed signature line, or too many signatures.
    """
    if len(data) > MAX_NOTE_SIZE:
        raise MalformedNoteError(f"note is {len(data)} bytes, the limit is {MAX_NOTE_SIZE}")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNoteError("note is not valid UTF-8") from None
    _check_text(decoded)
    if not decoded.endswith("\n"):
        raise MalformedNoteError("note does not end with a newline")
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise MalformedNoteError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has {len(lines)} signatures, the limit is {MAX_SIGNATURES}")
    signatures = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNoteError(f"signature line {number} does not start with '— '")
        name, sep, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not is_valid_key_name(name) or " " in encoded:
            raise MalformedNoteError(f"signature line {number} is not '— <name> <base64>'")
        raw = b64decode_strict(encoded, f"signature line {number}", MalformedNoteError)
        if len(raw) < 5:
            raise MalformedNoteError(f"signature line {number} is too short for a key ID")
        signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return Note(text.encode(), tuple(signatures))


class VerifierSet:
    """Known keys by (name, key ID); the trust anchor a note is opened against."""

    def __init__(self, verifiers: Iterable[NoteVerifier] = ()) -> None:
        self._by_id: dict[tuple[str, int], NoteVerifier] = {}
        for verifier in verifiers:
            self.add(verifier)

    def add(self, verifier: NoteVerifier) -> None:
        self._by_id[(verifier.name, verifier.key_id)] = verifier

    def get(self, name: str, key_id: int) -> NoteVerifier | None:
        return self._by_id.get((name, key_id))

    def __len__(self) -> int:
        return len(self._by_id)


def open_note(data: bytes | Note, known: VerifierSet) -> OpenedNote:
    """Parse ``data`` and verify every signature by a known key.

    Raises:
        MalformedNoteError: see :func:`parse_note`.
        SignatureError: a signature by a known key does not verify.
        UnverifiedNoteError: no signature is by a known key.
    """
    note = data if isinstance(data, Note) else parse_note(data)
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for sig in note.signatures:
        verifier = known.get(sig.name, sig.key_id)
        if verifier is None:
            unverified.append(sig)
            continue
        if not verifier.verify(note.text, sig.signature):
            raise SignatureError(sig.name, sig.key_id)
        if sig not in verified:
            verified.append(sig)
    if not verified:
        names = ", ".join(sorted({s.name for s in note.signatures}))
        raise UnverifiedNoteError(f"note has no signature from a known key (signed by: {names})")
    return OpenedNote(note.text, tuple(verified), tuple(unverified))


def sign_note(text: bytes, signers: Sequence[NoteSigner]) -> bytes:
    """Sign ``text`` with each signer; the text must end with a newline.

    Raises:
        MalformedNoteError: the text would not make a valid note.
    """
    if not signers:
        raise MalformedNoteError("a note needs at least one signer")
    return add_signatures(Note(text, ()), signers)


def add_signatures(note: Note, signers: Sequence[NoteSigner]) -> bytes:
    """Append signatures by ``signers`` to ``note`` (cosigning), keeping existing ones."""
    try:
        decoded = note.text.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNoteError("note text is not valid UTF-8") from None
    _check_text(decoded)
    if not decoded.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    new = [Signature(s.name, s.key_id, s.sign(note.text)) for s in signers]
    return Note(note.text, note.signatures + tuple(new)).to_bytes()
