"""The Leakage Resilient Primitive (LRP) of NXP AN12304, as NTAG 424 DNA tags use it.

A tag in LRP mode never feeds its long-term key straight into AES with data an
attacker chooses. Instead the key yields sixteen secret *plaintexts* and a few
*updated keys* (:func:`generate_plaintexts`, :func:`generate_updated_keys`), and
:func:`eval_lrp` walks an input one nibble at a time, each step an AES encryption
of one of those plaintexts under the previous result. So every AES key used is
touched by at most sixteen distinct inputs, which is what limits side-channel
leakage. On top of that AN12304 builds:

* **LRP-CMAC**: CMAC (NIST SP 800-38B) with EvalLRP as the block function.
* **LRICB**: an indexed codebook; block *i* is AES-encrypted under
  ``EvalLRP(counter + i, finalize)``, the counter a big-endian integer that wraps
  at its own width.

This module is the readable reference, not a side-channel hardened one: Python
gives no constant-time guarantees. Every function is pure; nothing keeps a
counter between calls, so a caller states the counter it means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from veriledger.core.errors import MalformedKeyError, MalformedNfcDataError

BLOCK_SIZE = 16
"""LRP works on AES blocks."""

PLAINTEXT_COUNT = 16
"""AN12304 uses m = 4: one secret plaintext per nibble value."""

UPDATED_KEY_COUNT = 4
"""AN12304 derives q = 4 updated keys; NTAG 424 DNA uses 0 (MAC, PICCData) and 1 (file data)."""

_UPPER = b"\x55" * BLOCK_SIZE
_LOWER = b"\xaa" * BLOCK_SIZE
_ZERO = bytes(BLOCK_SIZE)


def _check_key(key: bytes, what: str = "LRP key") -> None:
    if len(key) != BLOCK_SIZE:
        raise MalformedKeyError(f"{what} is {len(key)} bytes, want {BLOCK_SIZE}")


def _check_block(key: bytes, block: bytes) -> None:
    _check_key(key, "AES key")
    if len(block) != BLOCK_SIZE:
        raise MalformedNfcDataError(f"AES block is {len(block)} bytes, want {BLOCK_SIZE}")


def aes_encrypt_block(key: bytes, block: bytes) -> bytes:
    """One AES-128 block encryption, the only cipher call LRP makes.

    ECB over exactly one block is the raw block cipher, not a mode of operation.

    Raises:
        MalformedKeyError: ``key`` is not 16 bytes.
        MalformedNfcDataError: ``block`` is not 16 bytes.
    """
    _check_block(key, block)
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(block) + encryptor.finalize()


def aes_decrypt_block(key: bytes, block: bytes) -> bytes:
    """One AES-128 block decryption (LRICB decryption needs the inverse cipher).

    Raises:
        MalformedKeyError: ``key`` is not 16 bytes.
        MalformedNfcDataError: ``block`` is not 16 bytes.
    """
    _check_block(key, block)
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # noqa: S305
    return decryptor.update(block) + decryptor.finalize()


def generate_plaintexts(key: bytes) -> tuple[bytes, ...]:
    """The sixteen secret plaintexts ``P_0 .. P_15`` of ``key`` (AN12304 Algorithm 1).

    Raises:
        MalformedKeyError: ``key`` is not 16 bytes.
    """
    _check_key(key)
    state = aes_encrypt_block(key, _UPPER)
    plaintexts = []
    for _ in range(PLAINTEXT_COUNT):
        plaintexts.append(aes_encrypt_block(state, _LOWER))
        state = aes_encrypt_block(state, _UPPER)
    return tuple(plaintexts)


def generate_updated_keys(key: bytes, count: int = UPDATED_KEY_COUNT) -> tuple[bytes, ...]:
    """The updated keys ``K'_0 .. K'_{count-1}`` of ``key`` (AN12304 Algorithm 2).

    Raises:
        MalformedKeyError: ``key`` is not 16 bytes.
    """
    _check_key(key)
    state = aes_encrypt_block(key, _LOWER)
    keys = []
    for _ in range(count):
        keys.append(aes_encrypt_block(state, _LOWER))
        state = aes_encrypt_block(state, _UPPER)
    return tuple(keys)


def nibbles(data: bytes) -> list[int]:
    """Split ``data`` into 4-bit values, most significant nibble of each byte first."""
    out = []
    for byte in data:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return out


def eval_lrp(
    plaintexts: Sequence[bytes], updated_key: bytes, x: Sequence[int], *, finalize: bool
) -> bytes:
    """EvalLRP (AN12304 Algorithm 3): ``y = E(y, P[x_i])`` for each nibble, from ``K'``.

    ``x`` is a sequence of nibbles, so inputs need not be whole bytes (AN12304's own
    vectors use odd lengths). ``finalize`` adds one more encryption of the zero block;
    CMAC and LRICB always finalize.

    Raises:
        MalformedKeyError: ``updated_key`` is not 16 bytes.
        MalformedNfcDataError: there are not 16 plaintexts, or a nibble is outside 0..15.
    """
    _check_key(updated_key, "LRP updated key")
    if len(plaintexts) != PLAINTEXT_COUNT:
        raise MalformedNfcDataError(
            f"EvalLRP needs {PLAINTEXT_COUNT} plaintexts, got {len(plaintexts)}"
        )
    y = updated_key
    for position, nibble in enumerate(x):
        if not 0 <= nibble < PLAINTEXT_COUNT:
            raise MalformedNfcDataError(f"EvalLRP input {nibble} at {position} is not a nibble")
        y = aes_encrypt_block(y, plaintexts[nibble])
    if finalize:
        y = aes_encrypt_block(y, _ZERO)
    return y


def _double(block: bytes) -> bytes:
    """Multiply by x in GF(2^128) with the CMAC polynomial (SP 800-38B subkey step)."""
    value = int.from_bytes(block, "big") << 1
    if value >> 128:
        value = (value ^ 0x87) & ((1 << 128) - 1)
    return value.to_bytes(BLOCK_SIZE, "big")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(p ^ q for p, q in zip(a, b, strict=True))


def increment_counter(counter: bytes) -> bytes:
    """``counter + 1`` as a big-endian integer of the same width, wrapping to zero."""
    width = len(counter)
    value = (int.from_bytes(counter, "big") + 1) % (1 << (8 * width))
    return value.to_bytes(width, "big")


def iso9797_m2_pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: ``0x80`` then zeros up to a block boundary."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % BLOCK_SIZE)


def iso9797_m2_unpad(data: bytes) -> bytes:
    """Remove :func:`iso9797_m2_pad` padding.

    Raises:
        MalformedNfcDataError: ``data`` is not whole blocks, or has no ``0x80`` marker
            followed only by zeros in its last block.
    """
    if not data or len(data) % BLOCK_SIZE:
        raise MalformedNfcDataError(f"padded data is {len(data)} bytes, not whole blocks")
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80") or len(data) - len(stripped) >= BLOCK_SIZE:
        raise MalformedNfcDataError("data does not end in ISO/IEC 9797-1 method 2 padding")
    return stripped[:-1]


@dataclass(frozen=True, repr=False)
class Lrp:
    """An LRP instance: a key's plaintexts and one of its updated keys.

    AN12304 names an instance by the key and the updated key number; NTAG 424 DNA
    MACs and decrypts PICCData with number 0 and decrypts file data with number 1.
    Deriving the plaintexts costs 33 AES calls, so build an instance once per key.
    """

    key: bytes
    updated_key_index: int = 0
    plaintexts: tuple[bytes, ...] = field(init=False, compare=False)
    updated_key: bytes = field(init=False, compare=False)

    def __post_init__(self) -> None:
        _check_key(self.key)
        if not 0 <= self.updated_key_index < UPDATED_KEY_COUNT:
            raise MalformedNfcDataError(
                f"LRP updated key number {self.updated_key_index} is outside "
                f"0..{UPDATED_KEY_COUNT - 1}"
            )
        object.__setattr__(self, "plaintexts", generate_plaintexts(self.key))
        updated = generate_updated_keys(self.key, self.updated_key_index + 1)
        object.__setattr__(self, "updated_key", updated[self.updated_key_index])

    def __repr__(self) -> str:
        return f"Lrp(key=<hidden>, updated_key_index={self.updated_key_index})"

    def eval(self, x: Sequence[int], *, finalize: bool) -> bytes:
        """EvalLRP of the nibbles ``x`` under this instance (see :func:`eval_lrp`)."""
        return eval_lrp(self.plaintexts, self.updated_key, x, finalize=finalize)

    def cmac_subkeys(self) -> tuple[bytes, bytes]:
        """``(K1, K2)``: ``K0 = EvalLRP(0^16, finalize)``, ``K1 = 2·K0``, ``K2 = 4·K0``."""
        k0 = self.eval(nibbles(_ZERO), finalize=True)
        k1 = _double(k0)
        return k1, _double(k1)

    def cmac(self, message: bytes) -> bytes:
        """LRP-CMAC (AN12304 Algorithm 6): CMAC with EvalLRP as the block function.

        The last block is XORed with K1 when the message is a non-empty multiple of
        16 bytes, and otherwise padded (``0x80`` then zeros) and XORed with K2.
        """
        k1, k2 = self.cmac_subkeys()
        blocks = [message[i : i + BLOCK_SIZE] for i in range(0, len(message), BLOCK_SIZE)]
        if blocks and len(blocks[-1]) == BLOCK_SIZE:
            last = _xor(blocks[-1], k1)
        else:
            last = _xor(iso9797_m2_pad(blocks[-1] if blocks else b""), k2)
        y = _ZERO
        for block in blocks[:-1]:
            y = self.eval(nibbles(_xor(y, block)), finalize=True)
        return self.eval(nibbles(_xor(y, last)), finalize=True)

    def _block_keys(self, counter: bytes, count: int) -> list[bytes]:
        if not counter:
            raise MalformedNfcDataError("LRICB counter is empty")
        keys = []
        for _ in range(count):
            keys.append(self.eval(nibbles(counter), finalize=True))
            counter = increment_counter(counter)
        return keys

    def _check_blocks(self, data: bytes, what: str) -> None:
        if len(data) % BLOCK_SIZE:
            raise MalformedNfcDataError(
                f"LRICB {what} is {len(data)} bytes, not a multiple of {BLOCK_SIZE}"
            )

    def lricb_encrypt(self, counter: bytes, plaintext: bytes) -> bytes:
        """LRICB encryption (AN12304 Algorithm 4) of whole blocks, starting at ``counter``.

        Padding is the caller's choice (:func:`iso9797_m2_pad`): the tag pads its
        PICCData and file data to whole blocks itself.

        Raises:
            MalformedNfcDataError: ``plaintext`` is not whole blocks, or ``counter`` is empty.
        """
        self._check_blocks(plaintext, "plaintext")
        blocks = range(0, len(plaintext), BLOCK_SIZE)
        keys = self._block_keys(counter, len(blocks))
        return b"".join(
            aes_encrypt_block(k, plaintext[i : i + BLOCK_SIZE])
            for k, i in zip(keys, blocks, strict=True)
        )

    def lricb_decrypt(self, counter: bytes, ciphertext: bytes) -> bytes:
        """LRICB decryption (AN12304 Algorithm 5), the inverse of :meth:`lricb_encrypt`.

        Raises:
            MalformedNfcDataError: ``ciphertext`` is not whole blocks, or ``counter`` is empty.
        """
        self._check_blocks(ciphertext, "ciphertext")
        blocks = range(0, len(ciphertext), BLOCK_SIZE)
        keys = self._block_keys(counter, len(blocks))
        return b"".join(
            aes_decrypt_block(k, ciphertext[i : i + BLOCK_SIZE])
            for k, i in zip(keys, blocks, strict=True)
        )


def lrp_cmac(key: bytes, message: bytes) -> bytes:
    """LRP-CMAC of ``message`` under ``key`` with updated key 0, as NTAG 424 DNA uses it.

    Raises:
        MalformedKeyError: ``key`` is not 16 bytes.
    """
    return Lrp(key, 0).cmac(message)
