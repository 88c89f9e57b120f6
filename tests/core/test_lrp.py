"""LRP (AN12304) against every primitive vector in ``shared/data/nfc/lrp_an12304_vectors.json``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.shared_data import SHARED_DATA
from veriledger.core.errors import MalformedKeyError, MalformedNfcDataError
from veriledger.core.lrp import (
    Lrp,
    aes_encrypt_block,
    eval_lrp,
    generate_plaintexts,
    generate_updated_keys,
    increment_counter,
    iso9797_m2_pad,
    iso9797_m2_unpad,
    lrp_cmac,
    nibbles,
)

VECTORS: dict[str, Any] = json.loads(
    (SHARED_DATA / "nfc" / "lrp_an12304_vectors.json").read_text(encoding="utf-8")
)
OTHER: dict[str, Any] = VECTORS["other"]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def test_vector_counts() -> None:
    assert len(VECTORS["eval_lrp"]) == 38
    assert len(VECTORS["lrp_cmac"]) == 38
    assert len(OTHER["generate_plaintexts"]) == 2
    assert len(OTHER["generate_updated_keys"]) == 2
    assert len(OTHER["lricb"]) == 1


@pytest.mark.parametrize("vector", VECTORS["eval_lrp"], ids=_ids(VECTORS["eval_lrp"]))
def test_eval_lrp(vector: dict[str, Any]) -> None:
    lrp = Lrp(bytes.fromhex(vector["key"]), vector["updated_key_index"])
    x = [int(digit, 16) for digit in vector["x_nibbles_hex"]]
    got = lrp.eval(x, finalize=vector["finalize"])
    assert got.hex().upper() == vector["expected"]
    assert eval_lrp(lrp.plaintexts, lrp.updated_key, x, finalize=vector["finalize"]) == got


@pytest.mark.parametrize("vector", VECTORS["lrp_cmac"], ids=_ids(VECTORS["lrp_cmac"]))
def test_lrp_cmac(vector: dict[str, Any]) -> None:
    key = bytes.fromhex(vector["key"])
    message = bytes.fromhex(vector["message"])
    assert lrp_cmac(key, message).hex().upper() == vector["expected_mac"]
    k1, k2 = Lrp(key, 0).cmac_subkeys()
    whole_blocks = bool(message) and len(message) % 16 == 0
    assert (k1 if whole_blocks else k2).hex().upper() == vector["subkey_used"]


@pytest.mark.parametrize(
    "vector", OTHER["generate_plaintexts"], ids=lambda v: f"plaintext-{v['index']}"
)
def test_generate_plaintexts(vector: dict[str, Any]) -> None:
    plaintexts = generate_plaintexts(bytes.fromhex(vector["key"]))
    assert len(plaintexts) == 16
    assert plaintexts[vector["index"]].hex().upper() == vector["expected"]


@pytest.mark.parametrize(
    "vector", OTHER["generate_updated_keys"], ids=lambda v: f"updated-key-{v['index']}"
)
def test_generate_updated_keys(vector: dict[str, Any]) -> None:
    keys = generate_updated_keys(bytes.fromhex(vector["key"]))
    assert len(keys) == 4
    assert keys[vector["index"]].hex().upper() == vector["expected"]
    assert Lrp(bytes.fromhex(vector["key"]), vector["index"]).updated_key == keys[vector["index"]]


@pytest.mark.parametrize("vector", OTHER["lricb"], ids=lambda v: f"lricb-{v['counter']}")
def test_lricb(vector: dict[str, Any]) -> None:
    lrp = Lrp(bytes.fromhex(vector["key"]), vector["updated_key_index"])
    counter = bytes.fromhex(vector["counter"])
    plaintext = bytes.fromhex(vector["plaintext"])
    ciphertext = bytes.fromhex(vector["ciphertext"])
    assert lrp.lricb_encrypt(counter, iso9797_m2_pad(plaintext)) == ciphertext
    assert iso9797_m2_unpad(lrp.lricb_decrypt(counter, ciphertext)) == plaintext


def test_lricb_blocks_use_consecutive_counters() -> None:
    """Block i is AES under EvalLRP(counter + i): a codebook indexed by the counter."""
    lrp = Lrp(bytes(range(16)), 1)
    blocks = bytes(range(48))
    whole = lrp.lricb_encrypt(b"\x00\xff", blocks)
    assert whole[16:32] == lrp.lricb_encrypt(b"\x01\x00", blocks[16:32])
    assert whole[32:] == lrp.lricb_encrypt(b"\x01\x01", blocks[32:])


def test_counter_increments_big_endian_and_wraps() -> None:
    assert increment_counter(b"\x00\xff") == b"\x01\x00"
    assert increment_counter(b"\xff\xff\xff") == b"\x00\x00\x00"


def test_nibbles_are_high_first() -> None:
    assert nibbles(b"\xab\x01") == [0xA, 0xB, 0x0, 0x1]


# --- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_key_must_be_16_bytes(size: int) -> None:
    with pytest.raises(MalformedKeyError):
        Lrp(bytes(size))
    with pytest.raises(MalformedKeyError):
        lrp_cmac(bytes(size), b"")


@pytest.mark.parametrize("index", [-1, 4])
def test_updated_key_number_is_0_to_3(index: int) -> None:
    with pytest.raises(MalformedNfcDataError):
        Lrp(bytes(16), index)


def test_eval_rejects_non_nibbles() -> None:
    lrp = Lrp(bytes(16))
    with pytest.raises(MalformedNfcDataError):
        lrp.eval([16], finalize=True)
    with pytest.raises(MalformedNfcDataError):
        eval_lrp(lrp.plaintexts[:15], lrp.updated_key, [0], finalize=True)


def test_lricb_needs_whole_blocks_and_a_counter() -> None:
    lrp = Lrp(bytes(16))
    with pytest.raises(MalformedNfcDataError):
        lrp.lricb_decrypt(b"\x00", bytes(15))
    with pytest.raises(MalformedNfcDataError):
        lrp.lricb_encrypt(b"", bytes(16))


def test_single_block_cipher_takes_one_block() -> None:
    with pytest.raises(MalformedNfcDataError):
        aes_encrypt_block(bytes(16), bytes(32))


@pytest.mark.parametrize("data", [b"", bytes(16), b"\x80" + bytes(31), bytes(15) + b"\x81"])
def test_unpad_rejects_bad_padding(data: bytes) -> None:
    with pytest.raises(MalformedNfcDataError):
        iso9797_m2_unpad(data)


# --- properties ----------------------------------------------------------------------------

_KEY = st.binary(min_size=16, max_size=16)


@given(_KEY, st.integers(0, 3), st.binary(min_size=1, max_size=4), st.binary(max_size=40))
def test_lricb_round_trip(key: bytes, index: int, counter: bytes, data: bytes) -> None:
    lrp = Lrp(key, index)
    padded = iso9797_m2_pad(data)
    assert iso9797_m2_unpad(lrp.lricb_decrypt(counter, lrp.lricb_encrypt(counter, padded))) == data


@given(st.binary(max_size=64))
def test_unpad_accepts_exactly_what_pad_makes(data: bytes) -> None:
    try:
        message = iso9797_m2_unpad(data)
    except MalformedNfcDataError:
        return
    assert iso9797_m2_pad(message) == data


@given(_KEY, st.binary(max_size=40))
def test_cmac_is_the_spec_construction(key: bytes, message: bytes) -> None:
    """A naive SP 800-38B CMAC with EvalLRP as the block cipher gives the same MAC."""
    lrp = Lrp(key, 0)

    def block_fn(block: bytes) -> bytes:
        return lrp.eval(nibbles(block), finalize=True)

    def double(b: bytes) -> bytes:
        v = int.from_bytes(b, "big") << 1
        return ((v ^ 0x87) if v >> 128 else v).to_bytes(17, "big")[1:]

    k1 = double(block_fn(bytes(16)))
    k2 = double(k1)
    n = max(1, -(-len(message) // 16))
    complete = bool(message) and len(message) % 16 == 0
    last = message[16 * (n - 1) :]
    if complete:
        last = bytes(a ^ b for a, b in zip(last, k1, strict=True))
    else:
        last = last + b"\x80" + bytes(15 - len(last))
        last = bytes(a ^ b for a, b in zip(last, k2, strict=True))
    y = bytes(16)
    for i in range(n - 1):
        y = block_fn(bytes(a ^ b for a, b in zip(y, message[16 * i : 16 * i + 16], strict=True)))
    y = block_fn(bytes(a ^ b for a, b in zip(y, last, strict=True)))
    assert lrp.cmac(message) == y


def test_eval_uses_aes_only_as_documented() -> None:
    """EvalLRP of one nibble, finalized, is two AES calls from the updated key."""
    lrp = Lrp(bytes(16), 2)
    step = aes_encrypt_block(lrp.updated_key, lrp.plaintexts[5])
    assert lrp.eval([5], finalize=True) == aes_encrypt_block(step, bytes(16))
    assert lrp.eval([], finalize=False) == lrp.updated_key
