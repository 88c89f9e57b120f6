"""The one exception hierarchy of Veriledger, grouped by cause.

Every parser and verifier in the package raises only these, so a caller (the CLI,
the HTTP layer, an SDK user) catches :class:`VeriledgerError` once and can map the
cause to a response: bad input is the caller's fault (HTTP 4xx), a failed
verification means the data is not what it claims, a rejection is a ledger rule
saying no, and storage or ordering errors are ours.

::

    VeriledgerError
    ├── BadInputError                  input that does not parse or breaks a format rule
    │   ├── MalformedKeyError          vkey, skey or raw key material
    │   ├── MalformedNoteError         C2SP signed-note
    │   ├── MalformedCheckpointError   C2SP tlog-checkpoint note text
    │   │   └── CheckpointRootSizeError
    │   ├── MalformedProofError        C2SP tlog-proof, or proof hashes of the wrong shape
    │   ├── MalformedPolicyError       C2SP tlog-policy
    │   ├── MalformedTileError         tile path, tile bytes or entry bundle
    │   ├── CanonicalizationError      value with no RFC 8785 form
    │   ├── EntryTooLargeError         entry over the tlog-tiles bundle limit
    │   ├── MalformedNfcDataError      NFC tag data: SUN URL parameters, PICCData, LRP input
    │   ├── OutOfRangeError            index or size outside the tree
    │   └── GS1Error                   GS1 key, element string, Digital Link or EPC URI
    │       ├── GS1FormatError         unknown AI, or a value that breaks its AI's format
    │       ├── CheckDigitError        a GS1 check digit or check character pair is wrong
    │       ├── AICombinationError     AIs that may not appear together, or a missing one
    │       ├── DigitalLinkError       not a GS1 Digital Link URI, or none can be made
    │       └── EPCURIError            not an EPC pure identity URI, or none can be made
    ├── VerificationError              well-formed data that fails a check
    │   ├── SignatureError             a known key's signature does not verify
    │   ├── UnverifiedNoteError        no signature from a known key
    │   ├── ProofSizeError             wrong number of proof hashes
    │   ├── RootMismatchError          a proof leads to another root
    │   ├── InclusionProofError        a tlog-proof's inclusion proof fails (wraps the two above)
    │   ├── PolicyNotSatisfiedError    the checkpoint misses its log key or quorum
    │   ├── InvalidPiccDataError       SUN PICCData does not decrypt (wrong key, tampered)
    │   ├── SunMacError                a SUN message's SDMMAC does not verify
    │   ├── CounterReplayError         a SUN read counter not above the last accepted one
    │   └── EntryMismatchError         the proven entry is not the one given
    ├── RejectedError                  a ledger rule refused a transaction (code, reason)
    ├── StorageError                   persistent state unreadable or inconsistent
    │   ├── KeystoreError
    │   │   ├── KeyNotFoundError
    │   │   └── WrongPassphraseError
    │   └── MissingTileError
    └── OrderingError                  the ordering engine failed

Errors keep the offending values as attributes so a caller can act on them, and
their message names the numbers ("wrong proof size 3, want 4").
"""

from __future__ import annotations


class VeriledgerError(Exception):
    """Base of every error this package raises on purpose."""

    def diagnostics(self) -> str:
        """A human-readable explanation, suitable for a CLI's one error line."""
        return str(self)


# --- bad input -----------------------------------------------------------------------------


class BadInputError(VeriledgerError):
    """The input does not parse, or breaks a rule of its format."""


class MalformedKeyError(BadInputError):
    """A verifier key, signer key or raw key is not in its documented form."""


class MalformedNoteError(BadInputError):
    """A signed note breaks the C2SP signed-note format."""


class MalformedCheckpointError(BadInputError):
    """A note text is not a C2SP tlog-checkpoint."""


class CheckpointRootSizeError(MalformedCheckpointError):
    """The checkpoint's root hash line decodes, but not to a 32-byte SHA-256 hash."""

    def __init__(self, size: int) -> None:
        super().__init__(f"checkpoint root hash is {size} bytes, want 32")
        self.size = size


class MalformedProofError(BadInputError):
    """A tlog-proof file, or the hashes of a Merkle proof, are malformed."""


class MalformedPolicyError(BadInputError):
    """A tlog-policy file breaks the C2SP tlog-policy format."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"policy line {line}: {message}" if line is not None else message)
        self.line = line


class MalformedTileError(BadInputError):
    """A tile path, tile body or entry bundle is malformed."""


class CanonicalizationError(BadInputError):
    """The value has no RFC 8785 canonical JSON form (e.g. an integer beyond 2^53)."""


class EntryTooLargeError(BadInputError):
    """An entry is longer than a tlog-tiles entry bundle can hold (65535 bytes)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"entry is {size} bytes, the limit is {limit}")
        self.size = size
        self.limit = limit


class OutOfRangeError(BadInputError):
    """An index or tree size lies outside the tree it refers to."""


class MalformedNfcDataError(BadInputError):
    """NFC tag data of the wrong shape: a SUN URL parameter, a PICCData length, an LRP input."""


class GS1Error(BadInputError):
    """A GS1 identifier, element string, Digital Link URI or EPC URI is not valid.

    ``field`` says where: an AI such as ``"01"``, a key type such as ``"GLN"``, or a
    part of a URI such as ``"scheme"``. ``value`` is the offending text as given, and
    the message starts with the field: ``"01: check digit 3 does not match the
    computed 7"``.
    """

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class GS1FormatError(GS1Error):
    """An AI is unknown, or a value breaks the format of its AI or key type."""


class CheckDigitError(GS1Error):
    """A GS1 check digit (or a GMN check character pair) does not match the data."""

    def __init__(
        self, field: str, value: str, expected: str, got: str, what: str = "check digit"
    ) -> None:
        super().__init__(field, value, f"{what} {got} does not match the computed {expected}")
        self.expected = expected
        self.got = got


class AICombinationError(GS1Error):
    """AIs that may not appear together, a required AI missing, or an AI repeated
    with different values."""


class DigitalLinkError(GS1Error):
    """A URI is not a valid GS1 Digital Link URI, or no such URI can be made."""


class EPCURIError(GS1Error):
    """A URI is not a valid EPC pure identity URI, or no EPC URI exists for a key."""


# --- verification --------------------------------------------------------------------------


class VerificationError(VeriledgerError):
    """Well-formed data failed a cryptographic or policy check."""


class SignatureError(VerificationError):
    """A signature by a known key does not verify."""

    def __init__(self, key_name: str, key_id: int) -> None:
        super().__init__(f"signature by known key {key_name}+{key_id:08x} does not verify")
        self.key_name = key_name
        self.key_id = key_id


class UnverifiedNoteError(VerificationError):
    """No signature on the note is from a known key, so the note must be ignored."""


class ProofSizeError(VerificationError):
    """A proof has the wrong number of hashes for its index and sizes."""

    def __init__(self, got: int, want: int) -> None:
        super().__init__(f"wrong proof size {got}, want {want}")
        self.got = got
        self.want = want


class RootMismatchError(VerificationError):
    """A proof computes a root other than the one it was checked against."""

    def __init__(self, calculated: bytes, expected: bytes, what: str = "root") -> None:
        super().__init__(
            f"calculated {what} {calculated.hex()} does not match expected {expected.hex()}"
        )
        self.calculated = calculated
        self.expected = expected


class InclusionProofError(VerificationError):
    """A proof file's inclusion proof does not bind its entry to its checkpoint."""


class PolicyNotSatisfiedError(VerificationError):
    """A checkpoint lacks a trusted log signature or the cosigner quorum."""


class EntryMismatchError(VerificationError):
    """The entry given out of band differs from the entry the proof carries."""


class InvalidPiccDataError(VerificationError):
    """PICCENCData does not decrypt to valid PICCData: a wrong SDM meta read key, or tampering.

    Only the ciphertext the caller sent is kept. Echoing decrypted bytes of data that
    has not been authenticated would make the verifier a decryption oracle, and the
    UID is encrypted precisely so that taps cannot be linked.
    """

    def __init__(self, picc_data: bytes) -> None:
        super().__init__(
            f"PICCENCData {picc_data.hex().upper()} does not decrypt to valid PICCData "
            "(wrong SDM meta read key or tampered data)"
        )
        self.picc_data = picc_data


class SunMacError(VerificationError):
    """The SDMMAC of a SUN message does not verify.

    Only the received SDMMAC is kept: the expected one would hand a forger a valid MAC.
    """

    def __init__(self, received: bytes) -> None:
        super().__init__(f"SDMMAC {received.hex().upper()} does not verify")
        self.received = received


class CounterReplayError(VerificationError):
    """A SUN read counter is not above the last accepted one: a replayed or stale tap."""

    def __init__(self, counter: int, last_seen: int) -> None:
        super().__init__(f"read counter {counter} is not greater than last accepted {last_seen}")
        self.counter = counter
        self.last_seen = last_seen


# --- rejected ------------------------------------------------------------------------------


class RejectedError(VeriledgerError):
    """A ledger rule refused a transaction; ``code`` is stable forever."""

    def __init__(self, module: str, code: int, reason: str) -> None:
        super().__init__(f"rejected ({module}/{code}): {reason}")
        self.module = module
        self.code = code
        self.reason = reason


# --- ours ----------------------------------------------------------------------------------


class StorageError(VeriledgerError):
    """Persistent state is unreadable or inconsistent."""


class KeystoreError(StorageError):
    """The keystore directory or a key file in it cannot be used."""


class KeyNotFoundError(KeystoreError):
    """No key of that name in the keystore."""


class WrongPassphraseError(KeystoreError):
    """The passphrase does not decrypt the key file."""


class MissingTileError(StorageError):
    """A tile or entry bundle the tree needs is not in its store."""


class OrderingError(VeriledgerError):
    """The ordering engine could not order a transaction."""
