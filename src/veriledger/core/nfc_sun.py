"""Verify NXP NTAG 424 DNA "SUN" messages (Secure Dynamic Messaging, AN12196).

On every tap the tag writes into its URL the read counter and UID, either in plain
hex or encrypted as *PICCData*, optionally some encrypted file data, and an 8-byte
*SDMMAC*. The MAC is keyed by a session key derived from the tag's SDM file read
key, the UID and the counter, so a verifier that holds the keys learns that a
genuine tag produced this URL at this counter value. Because the counter only
rises, remembering the last accepted value per UID (:func:`check_counter`) turns
a copied URL into a detectable replay.

Two cipher suites exist. AES mode uses AES-128-CBC (zero IV) for PICCData and
AES-CMAC for keys and MAC. LRP mode (:mod:`veriledger.core.lrp`) uses LRICB and
LRP-CMAC; its PICCData is 24 bytes (8-byte PICCRand, then 16 encrypted), which is
how the mode is told apart.

What the MAC covers, ``mac_input``, is the URL text from the tag's
SDMMACInputOffset up to the MAC itself. It is a property of how the tag was
configured, not something a verifier can find in the URL, so callers pass it.

Every function is pure and raises only :mod:`veriledger.core.errors` types. The
MAC comparison is constant-time; nothing else here claims to be.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from veriledger.core.errors import (
    CounterReplayError,
    InvalidPiccDataError,
    MalformedKeyError,
    MalformedNfcDataError,
    SunMacError,
)
from veriledger.core.lrp import Lrp, aes_encrypt_block

SunMode = Literal["aes", "lrp"]
"""The tag's SDM cipher suite: AES-128 (the default) or LRP."""

KEY_LENGTH = 16
"""SDM keys are AES-128 keys in both modes."""

UID_LENGTH = 7
"""NTAG 424 DNA UIDs are 7 bytes; PICCData's UID length nibble must say so."""

COUNTER_LENGTH = 3
"""SDMReadCtr is 24 bits."""

COUNTER_MAX = (1 << (8 * COUNTER_LENGTH)) - 1
"""The last counter value; a tag at this value stops answering with SUN."""

SDMMAC_LENGTH = 8
"""The URL carries 8 of the 16 MAC bytes."""

AES_PICC_DATA_LENGTH = 16
"""AES mode PICCENCData: one CBC block."""

LRP_PICC_DATA_LENGTH = 24
"""LRP mode PICCENCData: 8-byte PICCRand (the LRICB counter), then one LRICB block."""

PICC_TAG_UID_MIRRORED = 0x80
"""PICCDataTag bit 7: the UID follows the tag byte."""

PICC_TAG_COUNTER_MIRRORED = 0x40
"""PICCDataTag bit 6: SDMReadCtr follows (after the UID when both are mirrored)."""

PICC_TAG_RFU = 0x30
"""PICCDataTag bits 5-4 are reserved and zero."""

PICC_TAG_UID_LENGTH = 0x0F
"""PICCDataTag bits 3-0: the UID length, 7 on NTAG 424 DNA."""

_BLOCK = 16
_SV1_PREFIX = bytes.fromhex("C33C00010080")
_SV2_PREFIX = bytes.fromhex("3CC300010080")
_LRP_SV_PREFIX = bytes.fromhex("00010080")
_LRP_SV_SUFFIX = bytes.fromhex("1EE1")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")


# --- parsing -------------------------------------------------------------------------------


def decode_hex(text: str, what: str, lengths: tuple[int, ...] | None = None) -> bytes:
    """Decode a hex URL parameter, either case, checking its byte length.

    Tags print uppercase; lowercase is accepted because the MAC never covers a
    decoded value, only the caller's ``mac_input`` text.

    Raises:
        MalformedNfcDataError: ``text`` is not an even number of hex digits, or its
            length in bytes is not one of ``lengths``.
    """
    if not _HEX.fullmatch(text):
        raise MalformedNfcDataError(f"{what} {text[:80]!r} is not an even number of hex digits")
    data = bytes.fromhex(text)
    if lengths is not None and len(data) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        raise MalformedNfcDataError(f"{what} is {len(data)} bytes, want {want}")
    return data


def parse_plain_counter(text: str) -> int:
    """A plain-mirrored ``ctr`` parameter: 6 hex digits, most significant byte first.

    (Inside PICCData and the session vectors the counter is least significant byte
    first; only the plain URL form is big-endian.)

    Raises:
        MalformedNfcDataError: not exactly 3 bytes of hex.
    """
    return int.from_bytes(decode_hex(text, "ctr", (COUNTER_LENGTH,)), "big")


def _check_counter_range(counter: int, what: str) -> None:
    if not 0 <= counter <= COUNTER_MAX:
        raise MalformedNfcDataError(f"{what} {counter} is outside 0..{COUNTER_MAX}")


def _check_key(key: bytes, what: str) -> None:
    if len(key) != KEY_LENGTH:
        raise MalformedKeyError(f"{what} is {len(key)} bytes, want {KEY_LENGTH}")


@dataclass(frozen=True)
class SunParams:
    """The values a tag mirrored into one URL, decoded but not yet verified.

    Either ``picc_data`` (encrypted mirroring) or ``uid`` and/or ``read_counter``
    (plain mirroring) is set, never both, since a tag mirrors one way or the other.
    """

    sdm_mac: bytes
    """SDMMAC: the odd-indexed bytes of the 16-byte MAC."""
    picc_data: bytes | None = None
    """PICCENCData: 16 bytes in AES mode, 24 in LRP mode."""
    enc_file_data: bytes | None = None
    """SDMENCFileData: whole 16-byte blocks."""
    uid: bytes | None = None
    """Plain-mirrored UID."""
    read_counter: int | None = None
    """Plain-mirrored SDMReadCtr."""

    def __post_init__(self) -> None:
        if len(self.sdm_mac) != SDMMAC_LENGTH:
            raise MalformedNfcDataError(
                f"SDMMAC is {len(self.sdm_mac)} bytes, want {SDMMAC_LENGTH}"
            )
        plain = self.uid is not None or self.read_counter is not None
        if self.picc_data is not None:
            if plain:
                raise MalformedNfcDataError("a tag mirrors PICCData or plain UID/counter, not both")
            if len(self.picc_data) not in (AES_PICC_DATA_LENGTH, LRP_PICC_DATA_LENGTH):
                raise MalformedNfcDataError(
                    f"PICCENCData is {len(self.picc_data)} bytes, want "
                    f"{AES_PICC_DATA_LENGTH} (AES) or {LRP_PICC_DATA_LENGTH} (LRP)"
                )
        elif not plain:
            raise MalformedNfcDataError(
                "no PICCData, UID or counter: the SDMMAC would bind to no tag"
            )
        if self.uid is not None and len(self.uid) != UID_LENGTH:
            raise MalformedNfcDataError(f"UID is {len(self.uid)} bytes, want {UID_LENGTH}")
        if self.read_counter is not None:
            _check_counter_range(self.read_counter, "read counter")
        if self.enc_file_data is not None:
            size = len(self.enc_file_data)
            if size == 0 or size % _BLOCK:
                raise MalformedNfcDataError(
                    f"SDMENCFileData is {size} bytes, not a positive multiple of {_BLOCK}"
                )
            if plain and self.read_counter is None:
                raise MalformedNfcDataError("SDMENCFileData needs the counter mirrored")

    @classmethod
    def from_hex(
        cls,
        *,
        cmac: str,
        picc_data: str | None = None,
        enc: str | None = None,
        uid: str | None = None,
        ctr: str | None = None,
    ) -> SunParams:
        """Decode the hex URL parameters, whatever the tag's template named them.

        Raises:
            MalformedNfcDataError: a value is not hex of the right length, or the
                combination is not one a tag produces (see the class docstring).
        """
        return cls(
            sdm_mac=decode_hex(cmac, "SDMMAC", (SDMMAC_LENGTH,)),
            picc_data=None
            if picc_data is None
            else decode_hex(picc_data, "PICCENCData", (AES_PICC_DATA_LENGTH, LRP_PICC_DATA_LENGTH)),
            enc_file_data=None if enc is None else decode_hex(enc, "SDMENCFileData"),
            uid=None if uid is None else decode_hex(uid, "UID", (UID_LENGTH,)),
            read_counter=None if ctr is None else parse_plain_counter(ctr),
        )

    @property
    def mode(self) -> SunMode | None:
        """The mode the PICCData length implies; ``None`` for plain mirroring."""
        if self.picc_data is None:
            return None
        return "lrp" if len(self.picc_data) == LRP_PICC_DATA_LENGTH else "aes"


@dataclass(frozen=True)
class PiccData:
    """Decrypted PICCData: PICCDataTag, then the mirrored UID and counter."""

    tag: int
    """PICCDataTag: bit 7 UID mirrored, bit 6 counter mirrored, low nibble UID length."""
    uid: bytes | None
    read_counter: int | None


def parse_picc_data(plaintext: bytes) -> PiccData:
    """Parse a decrypted 16-byte PICCData block; bytes after the fields are random.

    Raises:
        MalformedNfcDataError: not 16 bytes, reserved tag bits set, neither UID nor
            counter mirrored, or a UID length other than 7 with the UID mirrored.
    """
    if len(plaintext) != _BLOCK:
        raise MalformedNfcDataError(f"PICCData is {len(plaintext)} bytes, want {_BLOCK}")
    tag = plaintext[0]
    uid_mirrored = bool(tag & PICC_TAG_UID_MIRRORED)
    counter_mirrored = bool(tag & PICC_TAG_COUNTER_MIRRORED)
    if tag & PICC_TAG_RFU:
        raise MalformedNfcDataError(f"PICCDataTag {tag:02X} has reserved bits set")
    if not (uid_mirrored or counter_mirrored):
        raise MalformedNfcDataError(f"PICCDataTag {tag:02X} mirrors neither UID nor counter")
    uid_length = tag & PICC_TAG_UID_LENGTH
    if uid_mirrored and uid_length != UID_LENGTH:
        raise MalformedNfcDataError(f"PICCDataTag UID length {uid_length}, want {UID_LENGTH}")
    position = 1
    uid = None
    if uid_mirrored:
        uid = plaintext[position : position + UID_LENGTH]
        position += UID_LENGTH
    read_counter = None
    if counter_mirrored:
        read_counter = int.from_bytes(plaintext[position : position + COUNTER_LENGTH], "little")
    return PiccData(tag, uid, read_counter)


# --- cryptography --------------------------------------------------------------------------


def _aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """AES-128-CMAC (NIST SP 800-38B), the full 16 bytes."""
    mac = CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def decrypt_picc_data(picc_data: bytes, meta_read_key: bytes) -> PiccData:
    """Decrypt and parse PICCENCData with the SDM meta read key.

    AES mode (16 bytes): AES-128-CBC with a zero IV. LRP mode (24 bytes): LRICB
    under updated key 0, the first 8 bytes (PICCRand) being the counter.

    Raises:
        MalformedKeyError: ``meta_read_key`` is not 16 bytes.
        MalformedNfcDataError: ``picc_data`` is neither 16 nor 24 bytes.
        InvalidPiccDataError: the plaintext is not valid PICCData (wrong key or tampering).
    """
    _check_key(meta_read_key, "SDM meta read key")
    if len(picc_data) == AES_PICC_DATA_LENGTH:
        plaintext = _aes_cbc_decrypt(meta_read_key, bytes(_BLOCK), picc_data)
    elif len(picc_data) == LRP_PICC_DATA_LENGTH:
        picc_rand, ciphertext = picc_data[:8], picc_data[8:]
        plaintext = Lrp(meta_read_key, 0).lricb_decrypt(picc_rand, ciphertext)
    else:
        raise MalformedNfcDataError(
            f"PICCENCData is {len(picc_data)} bytes, want "
            f"{AES_PICC_DATA_LENGTH} (AES) or {LRP_PICC_DATA_LENGTH} (LRP)"
        )
    try:
        return parse_picc_data(plaintext)
    except MalformedNfcDataError:
        raise InvalidPiccDataError(picc_data) from None


def _mirrored(uid: bytes | None, read_counter: int | None) -> bytes:
    """UID then counter (LSB first), whichever the tag mirrored: the session vector body."""
    if uid is None and read_counter is None:
        raise MalformedNfcDataError("session keys need the UID, the counter, or both")
    body = b""
    if uid is not None:
        if len(uid) != UID_LENGTH:
            raise MalformedNfcDataError(f"UID is {len(uid)} bytes, want {UID_LENGTH}")
        body += uid
    if read_counter is not None:
        _check_counter_range(read_counter, "read counter")
        body += read_counter.to_bytes(COUNTER_LENGTH, "little")
    return body


def _zero_pad(data: bytes, suffix_length: int = 0) -> bytes:
    return data + bytes(-(len(data) + suffix_length) % _BLOCK)


def aes_session_vectors(uid: bytes | None, read_counter: int | None) -> tuple[bytes, bytes]:
    """``(SV1, SV2)``: ``C33C 0001 0080`` / ``3CC3 0001 0080``, UID, counter, zero padding.

    Raises:
        MalformedNfcDataError: neither value given, a UID not 7 bytes, or a counter
            outside 24 bits.
    """
    body = _mirrored(uid, read_counter)
    return _zero_pad(_SV1_PREFIX + body), _zero_pad(_SV2_PREFIX + body)


def aes_session_keys(
    file_read_key: bytes, uid: bytes | None, read_counter: int | None
) -> tuple[bytes, bytes]:
    """``(KSesSDMFileReadENC, KSesSDMFileReadMAC)``: AES-CMAC of SV1 and SV2.

    Raises:
        MalformedKeyError: ``file_read_key`` is not 16 bytes.
        MalformedNfcDataError: as :func:`aes_session_vectors`.
    """
    _check_key(file_read_key, "SDM file read key")
    sv1, sv2 = aes_session_vectors(uid, read_counter)
    return aes_cmac(file_read_key, sv1), aes_cmac(file_read_key, sv2)


def lrp_session_vector(uid: bytes | None, read_counter: int | None) -> bytes:
    """LRP SV: ``0001 0080``, UID, counter, zeros until two bytes short of a block, ``1EE1``.

    Raises:
        MalformedNfcDataError: as :func:`aes_session_vectors`.
    """
    body = _LRP_SV_PREFIX + _mirrored(uid, read_counter)
    return _zero_pad(body, len(_LRP_SV_SUFFIX)) + _LRP_SV_SUFFIX


def lrp_session_key(file_read_key: bytes, uid: bytes | None, read_counter: int | None) -> bytes:
    """The LRP session master key: LRP-CMAC of the session vector under the file read key.

    Raises:
        MalformedKeyError: ``file_read_key`` is not 16 bytes.
        MalformedNfcDataError: as :func:`aes_session_vectors`.
    """
    _check_key(file_read_key, "SDM file read key")
    return Lrp(file_read_key, 0).cmac(lrp_session_vector(uid, read_counter))


def full_sdm_mac(
    mode: SunMode,
    file_read_key: bytes,
    uid: bytes | None,
    read_counter: int | None,
    mac_input: bytes,
) -> bytes:
    """The 16-byte MAC over ``mac_input`` under the session MAC key of ``mode``.

    Raises:
        MalformedKeyError: ``file_read_key`` is not 16 bytes.
        MalformedNfcDataError: an unknown mode, or as :func:`aes_session_vectors`.
    """
    if mode == "aes":
        _, mac_key = aes_session_keys(file_read_key, uid, read_counter)
        return aes_cmac(mac_key, mac_input)
    if mode == "lrp":
        return Lrp(lrp_session_key(file_read_key, uid, read_counter), 0).cmac(mac_input)
    raise MalformedNfcDataError(f"unknown SDM mode {mode!r}, want 'aes' or 'lrp'")


def truncate_mac(full_mac: bytes) -> bytes:
    """SDMMAC: the odd-indexed bytes (1, 3, ..., 15) of the 16-byte MAC."""
    return full_mac[1::2]


def decrypt_file_data(
    mode: SunMode, file_read_key: bytes, uid: bytes | None, read_counter: int, enc: bytes
) -> bytes:
    """Decrypt SDMENCFileData (whole blocks; the tag pads, nothing is removed).

    AES: ``IVe = AES(KSesSDMFileReadENC, counter LSB first || 13 zero bytes)``, then
    AES-128-CBC. LRP: LRICB under the session master key's updated key 1, the
    counter being ``SDMReadCtr || 000000``.

    Raises:
        MalformedKeyError: ``file_read_key`` is not 16 bytes.
        MalformedNfcDataError: ``enc`` is not whole blocks, an unknown mode, or as
            :func:`aes_session_vectors`.
    """
    if not enc or len(enc) % _BLOCK:
        raise MalformedNfcDataError(
            f"SDMENCFileData is {len(enc)} bytes, not a positive multiple of {_BLOCK}"
        )
    _check_counter_range(read_counter, "read counter")
    counter_le = read_counter.to_bytes(COUNTER_LENGTH, "little")
    if mode == "aes":
        enc_key, _ = aes_session_keys(file_read_key, uid, read_counter)
        iv = aes_encrypt_block(enc_key, _zero_pad(counter_le))
        return _aes_cbc_decrypt(enc_key, iv, enc)
    if mode == "lrp":
        session_key = lrp_session_key(file_read_key, uid, read_counter)
        return Lrp(session_key, 1).lricb_decrypt(counter_le + bytes(3), enc)
    raise MalformedNfcDataError(f"unknown SDM mode {mode!r}, want 'aes' or 'lrp'")


# --- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class SunMessage:
    """A verified SUN message: what a genuine tag vouched for on this tap."""

    uid: bytes | None
    """The tag's UID, or ``None`` if the tag mirrors only its counter."""
    read_counter: int | None
    """SDMReadCtr, or ``None`` if the tag mirrors only its UID (then nothing stops replay)."""
    file_data: bytes | None
    """Decrypted SDMENCFileData, padding included, or ``None`` when none was mirrored."""
    mode: SunMode
    picc_data_tag: int | None
    """PICCDataTag for encrypted mirroring, ``None`` for plain."""


def verify_sun(
    params: SunParams,
    *,
    file_read_key: bytes,
    meta_read_key: bytes | None = None,
    mac_input: bytes = b"",
    mode: SunMode | None = None,
) -> SunMessage:
    """Verify one tap and return what it proves.

    Steps: (1) settle the mode, from the PICCData length when there is PICCData;
    (2) decrypt PICCData with ``meta_read_key``, or take the plain UID and counter;
    (3) derive the session MAC key from ``file_read_key``, UID and counter, MAC
    ``mac_input`` and compare the truncated MAC in constant time; (4) only then
    decrypt SDMENCFileData. Replay is a separate, stateful question: pass the
    result's counter to :func:`check_counter`.

    Parameters:
        params: the decoded URL values (:meth:`SunParams.from_hex`).
        file_read_key: SDMFileReadKey, which keys the MAC and the file data.
        meta_read_key: SDMMetaReadKey; required when ``params`` has PICCData.
        mac_input: the exact bytes from SDMMACInputOffset to SDMMACOffset; empty
            when the two offsets are equal.
        mode: ``"aes"`` or ``"lrp"``; needed only for plain mirroring in LRP mode
            (default AES). With PICCData it must agree with the length, if given.

    Raises:
        MalformedKeyError: a key is not 16 bytes.
        MalformedNfcDataError: an unknown mode or one contradicting the PICCData
            length, no meta read key for PICCData, or file data from a tag that
            does not mirror its counter.
        InvalidPiccDataError: PICCData does not decrypt to valid PICCData.
        SunMacError: the SDMMAC does not verify.
    """
    # (1) mode
    if mode is not None and mode not in ("aes", "lrp"):
        raise MalformedNfcDataError(f"unknown SDM mode {mode!r}, want 'aes' or 'lrp'")
    implied = params.mode
    if implied is not None and mode is not None and mode != implied:
        raise MalformedNfcDataError(
            f"mode {mode!r} contradicts {len(params.picc_data or b'')}-byte PICCENCData"
        )
    resolved: SunMode = implied or mode or "aes"
    _check_key(file_read_key, "SDM file read key")

    # (2) UID and counter
    picc_data_tag = None
    if params.picc_data is not None:
        if meta_read_key is None:
            raise MalformedNfcDataError("PICCData is mirrored but no SDM meta read key given")
        picc = decrypt_picc_data(params.picc_data, meta_read_key)
        uid, read_counter, picc_data_tag = picc.uid, picc.read_counter, picc.tag
    else:
        uid, read_counter = params.uid, params.read_counter

    # (3) SDMMAC
    expected = truncate_mac(full_sdm_mac(resolved, file_read_key, uid, read_counter, mac_input))
    if not hmac.compare_digest(expected, params.sdm_mac):
        raise SunMacError(params.sdm_mac)

    # (4) file data
    file_data = None
    if params.enc_file_data is not None:
        if read_counter is None:
            raise MalformedNfcDataError("SDMENCFileData needs the counter mirrored")
        file_data = decrypt_file_data(
            resolved, file_read_key, uid, read_counter, params.enc_file_data
        )
    return SunMessage(uid, read_counter, file_data, resolved, picc_data_tag)


def check_counter(last_seen: int | None, counter: int) -> None:
    """Accept a verified tap's counter only if it is above the last accepted one.

    The tag increments SDMReadCtr on every read, so a genuine new tap always
    carries a larger value; an equal or smaller one is a copied URL or a stale
    one. ``last_seen`` is ``None`` for a tag never seen before. The caller stores
    ``counter`` as the new ``last_seen`` after this returns.

    Raises:
        MalformedNfcDataError: either value lies outside 0..2^24-1.
        CounterReplayError: ``counter <= last_seen``.
    """
    _check_counter_range(counter, "read counter")
    if last_seen is None:
        return
    _check_counter_range(last_seen, "last accepted counter")
    if counter <= last_seen:
        raise CounterReplayError(counter, last_seen)


def encode_aes_sun(
    uid: bytes,
    read_counter: int,
    *,
    file_read_key: bytes,
    meta_read_key: bytes,
    picc_random: bytes = bytes(5),
) -> tuple[str, str]:
    """What a tag in AES mode writes into its URL on one read: ``(PICCData, SDMMAC)``
    as uppercase hex, with UID and counter mirrored encrypted and an empty MAC input.

    This is the tag's side, for the demo and the tests, which need genuine taps
    without a tag at hand; a verifier never calls it. ``picc_random`` fills the
    block, as the tag's random bytes do.

    Raises:
        MalformedKeyError: a key is not 16 bytes.
        MalformedNfcDataError: a UID not 7 bytes, a counter outside 24 bits, or
            random padding not 5 bytes.
    """
    _check_key(file_read_key, "SDM file read key")
    _check_key(meta_read_key, "SDM meta read key")
    if len(uid) != UID_LENGTH:
        raise MalformedNfcDataError(f"UID is {len(uid)} bytes, want {UID_LENGTH}")
    _check_counter_range(read_counter, "read counter")
    if len(picc_random) != _BLOCK - 1 - UID_LENGTH - COUNTER_LENGTH:
        raise MalformedNfcDataError("PICCData random padding must be 5 bytes")
    tag = PICC_TAG_UID_MIRRORED | PICC_TAG_COUNTER_MIRRORED | UID_LENGTH
    plain = bytes([tag]) + uid + read_counter.to_bytes(COUNTER_LENGTH, "little") + picc_random
    encryptor = Cipher(algorithms.AES(meta_read_key), modes.CBC(bytes(_BLOCK))).encryptor()
    picc = encryptor.update(plain) + encryptor.finalize()
    mac = truncate_mac(full_sdm_mac("aes", file_read_key, uid, read_counter, b""))
    return picc.hex().upper(), mac.hex().upper()
