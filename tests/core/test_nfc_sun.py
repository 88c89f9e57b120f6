"""NTAG 424 DNA SUN verification against every vector in ``shared/data/nfc/sun_vectors.json``."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.shared_data import SHARED_DATA
from veriledger.core.errors import (
    CounterReplayError,
    InvalidPiccDataError,
    MalformedKeyError,
    MalformedNfcDataError,
    SunMacError,
    VerificationError,
    VeriledgerError,
)
from veriledger.core.lrp import Lrp, aes_decrypt_block
from veriledger.core.nfc_sun import (
    COUNTER_MAX,
    SunMessage,
    SunMode,
    SunParams,
    aes_session_keys,
    aes_session_vectors,
    check_counter,
    decrypt_file_data,
    decrypt_picc_data,
    encode_aes_sun,
    full_sdm_mac,
    lrp_session_key,
    lrp_session_vector,
    parse_picc_data,
    parse_plain_counter,
    truncate_mac,
    verify_sun,
)

DATA: dict[str, Any] = json.loads(
    (SHARED_DATA / "nfc" / "sun_vectors.json").read_text(encoding="utf-8")
)
VECTORS: list[dict[str, Any]] = DATA["vectors"]
POSITIVE = [v for v in VECTORS if v["kind"] == "positive"]
NEGATIVE = [v for v in VECTORS if v["kind"] == "negative"]
WITH_INTERMEDIATES = [v for v in POSITIVE if v["intermediate"]]
DERIVED = [v for v in NEGATIVE if v["derived"]]
SESSION_KEYS: list[dict[str, Any]] = DATA["session_key_vectors"]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex().upper()


def _mode(vector: dict[str, Any]) -> SunMode:
    return "lrp" if vector["mode"] == "LRP" else "aes"


def _verify(vector: dict[str, Any]) -> SunMessage:
    keys = vector["keys"]
    meta = keys.get("sdm_meta_read_key")
    return verify_sun(
        SunParams.from_hex(**vector["params"]),
        file_read_key=bytes.fromhex(keys["sdm_file_read_key"]),
        meta_read_key=None if meta is None else bytes.fromhex(meta),
        mac_input=vector["mac_input_ascii"].encode("ascii"),
        mode=_mode(vector),
    )


def _uid_and_counter(vector: dict[str, Any]) -> tuple[bytes | None, int | None]:
    expected = vector["expected"]
    uid = None if expected["uid"] is None else bytes.fromhex(expected["uid"])
    return uid, expected["read_ctr"]


def test_vector_counts_match_the_readme() -> None:
    counts = DATA["counts"]
    assert len(VECTORS) == counts["total"] == 63
    assert len(POSITIVE) == counts["positive"] == 21
    assert len(NEGATIVE) == counts["negative"] == 42
    assert sum(v["derived"] for v in VECTORS) == counts["derived"] == 40
    assert sum(v["mode"] == "LRP" for v in VECTORS) == counts["lrp"] == 14
    assert sum(v["mode"] == "LRP" for v in POSITIVE) == 6
    assert len({v["id"] for v in VECTORS}) == len(VECTORS)


# --- the vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("vector", POSITIVE, ids=_ids(POSITIVE))
def test_positive_vector_is_accepted(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    assert expected["accept"] is True
    message = _verify(vector)
    assert message.mode == _mode(vector)
    assert _hex(message.uid) == expected["uid"]
    assert message.read_counter == expected["read_ctr"]
    if expected["read_ctr_le_hex"] is not None:
        assert message.read_counter is not None
        assert (
            message.read_counter.to_bytes(3, "little").hex().upper()
            == (expected["read_ctr_le_hex"])
        )
    assert _hex(message.file_data) == expected["file_data_hex"]
    tag = expected.get("picc_data_tag")
    assert (None if message.picc_data_tag is None else f"{message.picc_data_tag:02X}") == tag
    if "file_data_ascii" in expected:
        assert message.file_data is not None
        assert message.file_data.decode("ascii") == expected["file_data_ascii"]
    if "tt_status_ascii" in expected:
        assert message.file_data is not None
        assert message.file_data[:2].decode("ascii") == expected["tt_status_ascii"]


@pytest.mark.parametrize("vector", NEGATIVE, ids=_ids(NEGATIVE))
def test_negative_vector_is_rejected(vector: dict[str, Any]) -> None:
    """Every negative vector is well-formed, so the rejection is a failed verification."""
    assert vector["expected"]["accept"] is False
    with pytest.raises(VerificationError) as caught:
        _verify(vector)
    assert isinstance(caught.value, SunMacError | InvalidPiccDataError)
    for key in vector["keys"].values():
        assert key not in str(caught.value)


@pytest.mark.parametrize("vector", DERIVED, ids=_ids(DERIVED))
def test_derived_negative_comes_from_a_positive(vector: dict[str, Any]) -> None:
    parents = {v["id"]: v for v in POSITIVE}
    assert vector["derived_from"] in parents
    assert parents[vector["derived_from"]]["mode"] == vector["mode"]


@pytest.mark.parametrize("vector", WITH_INTERMEDIATES, ids=_ids(WITH_INTERMEDIATES))
def test_intermediates(vector: dict[str, Any]) -> None:
    intermediate = vector["intermediate"]
    file_key = bytes.fromhex(vector["keys"]["sdm_file_read_key"])
    uid, counter = _uid_and_counter(vector)
    mac_input = vector["mac_input_ascii"].encode("ascii")
    mode = _mode(vector)
    if mode == "aes":
        sv1, sv2 = aes_session_vectors(uid, counter)
        assert (_hex(sv1), _hex(sv2)) == (intermediate["sv1"], intermediate["sv2"])
        enc_key, mac_key = aes_session_keys(file_key, uid, counter)
        assert _hex(enc_key) == intermediate["ses_sdm_file_read_enc_key"]
        assert _hex(mac_key) == intermediate["ses_sdm_file_read_mac_key"]
    else:
        assert _hex(lrp_session_vector(uid, counter)) == intermediate["lrp_sv"]
        session = lrp_session_key(file_key, uid, counter)
        assert _hex(session) == intermediate["lrp_session_master_key"]
    full = full_sdm_mac(mode, file_key, uid, counter, mac_input)
    assert _hex(full) == intermediate["full_cmac"]
    assert _hex(truncate_mac(full)) == vector["params"]["cmac"]
    if "picc_plaintext" in intermediate:
        picc = bytes.fromhex(vector["params"]["picc_data"])
        meta = bytes.fromhex(vector["keys"]["sdm_meta_read_key"])
        plaintext = bytes.fromhex(intermediate["picc_plaintext"])
        if mode == "aes":  # one CBC block with a zero IV is one block decryption
            assert aes_decrypt_block(meta, picc) == plaintext
        else:
            assert Lrp(meta, 0).lricb_decrypt(picc[:8], picc[8:]) == plaintext
        assert decrypt_picc_data(picc, meta) == parse_picc_data(plaintext)
    if vector["expected"]["file_data_hex"] is not None:
        assert counter is not None
        enc = bytes.fromhex(vector["params"]["enc"])
        file_data = decrypt_file_data(mode, file_key, uid, counter, enc)
        assert _hex(file_data) == vector["expected"]["file_data_hex"]


@pytest.mark.parametrize("vector", SESSION_KEYS, ids=_ids(SESSION_KEYS))
def test_session_key_vector(vector: dict[str, Any]) -> None:
    uid = bytes.fromhex(vector["uid"])
    counter = int.from_bytes(bytes.fromhex(vector["read_ctr_le_hex"]), "little")
    sv1, sv2 = aes_session_vectors(uid, counter)
    assert (_hex(sv1), _hex(sv2)) == (vector["sv1"], vector["sv2"])
    enc_key, mac_key = aes_session_keys(bytes.fromhex(vector["sdm_file_read_key"]), uid, counter)
    assert _hex(enc_key) == vector["ses_sdm_file_read_enc_key"]
    assert _hex(mac_key) == vector["ses_sdm_file_read_mac_key"]


def test_session_key_vector_count() -> None:
    assert len(DATA["session_key_vectors"]) == 1


def test_mac_error_does_not_reveal_the_valid_mac() -> None:
    """A forger who sends a wrong MAC must not get the right one back in the error."""
    vector = next(v for v in POSITIVE if v["id"] == "an12196-aes-picc-mac-empty-input")
    forged = dict(vector, params=dict(vector["params"], cmac="00" * 8))
    with pytest.raises(SunMacError) as caught:
        _verify(forged)
    assert caught.value.received == bytes(8)
    text = str(caught.value)
    assert vector["params"]["cmac"] not in text
    assert vector["intermediate"]["full_cmac"] not in text
    assert vector["expected"]["uid"] not in text


def test_tampered_picc_data_error_keeps_only_the_ciphertext() -> None:
    vector = next(v for v in NEGATIVE if v["id"].endswith("--picc-bitflip"))
    with pytest.raises(InvalidPiccDataError) as caught:
        _verify(vector)
    assert caught.value.picc_data.hex().upper() == vector["params"]["picc_data"]


# --- replay --------------------------------------------------------------------------------


def test_a_replayed_tap_is_caught() -> None:
    """Verify the same URL twice: the MAC is fine both times, the counter is not."""
    vector = next(v for v in POSITIVE if v["id"] == "an12196-aes-picc-encfile-mac")
    first = _verify(vector)
    assert first.read_counter is not None
    check_counter(None, first.read_counter)
    again = _verify(vector)
    assert again.read_counter is not None
    with pytest.raises(CounterReplayError) as caught:
        check_counter(first.read_counter, again.read_counter)
    assert (caught.value.counter, caught.value.last_seen) == (8, 8)


def test_an_older_tap_is_caught() -> None:
    newer = next(v for v in POSITIVE if v["id"] == "an12196-aes-picc-encfile-mac")
    older = next(v for v in POSITIVE if v["id"] == "an12196-aes-encfile-decryption-ctr1")
    last = _verify(newer).read_counter
    counter = _verify(older).read_counter
    assert last is not None
    assert counter is not None
    with pytest.raises(CounterReplayError):
        check_counter(last, counter)


@given(st.none() | st.integers(0, COUNTER_MAX), st.integers(0, COUNTER_MAX))
def test_check_counter_accepts_only_strictly_greater(last_seen: int | None, counter: int) -> None:
    if last_seen is None or counter > last_seen:
        check_counter(last_seen, counter)
    else:
        with pytest.raises(CounterReplayError):
            check_counter(last_seen, counter)


@given(st.lists(st.integers(0, COUNTER_MAX), max_size=30))
def test_accepted_taps_strictly_increase_and_none_replays(taps: list[int]) -> None:
    last: int | None = None
    accepted: list[int] = []
    for counter in taps:
        try:
            check_counter(last, counter)
        except CounterReplayError:
            continue
        accepted.append(counter)
        last = counter
    assert accepted == sorted(set(accepted))
    for counter in accepted:
        with pytest.raises(CounterReplayError):
            check_counter(last, counter)


@pytest.mark.parametrize(("last_seen", "counter"), [(None, -1), (None, COUNTER_MAX + 1), (-1, 0)])
def test_check_counter_rejects_out_of_range(last_seen: int | None, counter: int) -> None:
    with pytest.raises(MalformedNfcDataError):
        check_counter(last_seen, counter)


# --- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"cmac": "94EED9EE6533708"},  # odd length
        {"cmac": "94EED9EE653370", "picc_data": "00" * 16},  # 7-byte MAC
        {"cmac": "94EED9EE6533708G", "picc_data": "00" * 16},  # not hex
        {"cmac": "00" * 8, "picc_data": "00" * 17},  # neither AES nor LRP length
        {"cmac": "00" * 8},  # nothing the MAC binds to
        {"cmac": "00" * 8, "picc_data": "00" * 16, "uid": "00" * 7},  # both mirroring styles
        {"cmac": "00" * 8, "uid": "00" * 6},
        {"cmac": "00" * 8, "ctr": "0006"},
        {"cmac": "00" * 8, "ctr": "000006", "enc": "00" * 15},  # not whole blocks
        {"cmac": "00" * 8, "ctr": "000006", "enc": ""},
        {"cmac": "00" * 8, "uid": "00" * 7, "enc": "00" * 16},  # file data without counter
        {"cmac": "00 " * 8, "ctr": "000006"},
    ],
)
def test_malformed_params(params: dict[str, str]) -> None:
    with pytest.raises(MalformedNfcDataError):
        SunParams.from_hex(**params)


def test_plain_counter_is_big_endian() -> None:
    assert parse_plain_counter("000006") == 6
    assert parse_plain_counter("01000a") == 0x01000A


def test_mode_must_agree_with_picc_data_length() -> None:
    vector = next(v for v in POSITIVE if v["mode"] == "LRP")
    with pytest.raises(MalformedNfcDataError):
        _verify(dict(vector, mode="AES"))


def test_picc_data_needs_the_meta_read_key() -> None:
    params = SunParams.from_hex(cmac="00" * 8, picc_data="00" * 16)
    with pytest.raises(MalformedNfcDataError):
        verify_sun(params, file_read_key=bytes(16))


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_keys_must_be_16_bytes(size: int) -> None:
    params = SunParams.from_hex(cmac="00" * 8, picc_data="00" * 16)
    with pytest.raises(MalformedKeyError):
        verify_sun(params, file_read_key=bytes(size), meta_read_key=bytes(16))
    with pytest.raises(MalformedKeyError):
        verify_sun(params, file_read_key=bytes(16), meta_read_key=bytes(size))


@pytest.mark.parametrize(
    "plaintext",
    [
        "00" + "00" * 15,  # neither mirrored
        "F7" + "00" * 15,  # reserved bits
        "C6" + "00" * 15,  # UID length 6
        "C7" + "00" * 14,  # 15 bytes
    ],
)
def test_invalid_picc_plaintext(plaintext: str) -> None:
    with pytest.raises(MalformedNfcDataError):
        parse_picc_data(bytes.fromhex(plaintext))


def test_counter_only_picc_data() -> None:
    picc = parse_picc_data(bytes.fromhex("40" + "030000" + "00" * 12))
    assert (picc.uid, picc.read_counter) == (None, 3)


# --- fuzzing: only package errors escape ---------------------------------------------------

_HEXISH = st.text(alphabet="0123456789ABCDEFabcdefx &=", max_size=60)


@given(
    cmac=_HEXISH,
    picc_data=st.none() | _HEXISH,
    enc=st.none() | _HEXISH,
    uid=st.none() | _HEXISH,
    ctr=st.none() | _HEXISH,
)
def test_fuzz_from_hex(
    cmac: str, picc_data: str | None, enc: str | None, uid: str | None, ctr: str | None
) -> None:
    with contextlib.suppress(MalformedNfcDataError):
        SunParams.from_hex(cmac=cmac, picc_data=picc_data, enc=enc, uid=uid, ctr=ctr)


@given(st.text(max_size=20))
def test_fuzz_plain_counter(text: str) -> None:
    with contextlib.suppress(MalformedNfcDataError):
        assert 0 <= parse_plain_counter(text) <= COUNTER_MAX


@given(st.binary(max_size=20))
def test_fuzz_parse_picc_data(plaintext: bytes) -> None:
    try:
        picc = parse_picc_data(plaintext)
    except MalformedNfcDataError:
        return
    assert picc.uid is None or len(picc.uid) == 7
    assert picc.read_counter is None or 0 <= picc.read_counter <= COUNTER_MAX


@given(st.binary(max_size=30), st.binary(min_size=15, max_size=17))
def test_fuzz_decrypt_picc_data(picc_data: bytes, key: bytes) -> None:
    with contextlib.suppress(MalformedKeyError, MalformedNfcDataError, InvalidPiccDataError):
        picc = decrypt_picc_data(picc_data, key)
        assert picc.uid is not None or picc.read_counter is not None


@given(
    sdm_mac=st.binary(min_size=8, max_size=8),
    picc_data=st.binary(min_size=16, max_size=16) | st.binary(min_size=24, max_size=24),
    enc=st.none() | st.binary(min_size=16, max_size=16),
    mac_input=st.binary(max_size=40),
    key=st.binary(min_size=16, max_size=16),
)
def test_fuzz_verify_random_taps_are_rejected(
    sdm_mac: bytes, picc_data: bytes, enc: bytes | None, mac_input: bytes, key: bytes
) -> None:
    params = SunParams(sdm_mac=sdm_mac, picc_data=picc_data, enc_file_data=enc)
    with pytest.raises(VeriledgerError):
        verify_sun(params, file_read_key=key, meta_read_key=key, mac_input=mac_input)


@given(
    sdm_mac=st.binary(min_size=8, max_size=8),
    uid=st.none() | st.binary(min_size=7, max_size=7),
    counter=st.none() | st.integers(0, COUNTER_MAX),
    mode=st.sampled_from(["aes", "lrp"]),
)
def test_fuzz_verify_plain_taps_are_rejected(
    sdm_mac: bytes, uid: bytes | None, counter: int | None, mode: SunMode
) -> None:
    try:
        params = SunParams(sdm_mac=sdm_mac, uid=uid, read_counter=counter)
    except MalformedNfcDataError:
        assert uid is None
        assert counter is None
        return
    with pytest.raises(SunMacError):
        verify_sun(params, file_read_key=bytes(16), mode=mode)


ENCRYPTED_AES = [
    v
    for v in POSITIVE
    if v["mode"] == "AES"
    and v["mirroring"] == "encrypted_picc"
    and v["mac_input_ascii"] == ""
    and v["expected"]["file_data_hex"] is None
    and v["expected"]["picc_data_tag"] == "C7"
]


@pytest.mark.parametrize("vector", ENCRYPTED_AES, ids=lambda v: v["id"])
def test_encoding_a_tap_gives_the_vectors_url(vector: dict[str, Any]) -> None:
    """The tag side, used by the demo and tests, writes the very bytes NXP lists."""
    keys = vector["keys"]
    plaintext = bytes.fromhex(vector["intermediate"]["picc_plaintext"])
    picc, mac = encode_aes_sun(
        bytes.fromhex(vector["expected"]["uid"]),
        vector["expected"]["read_ctr"],
        file_read_key=bytes.fromhex(keys["sdm_file_read_key"]),
        meta_read_key=bytes.fromhex(keys["sdm_meta_read_key"]),
        picc_random=plaintext[11:],
    )
    assert (picc, mac) == (vector["params"]["picc_data"].upper(), vector["params"]["cmac"].upper())


def test_encoded_taps_verify_and_count() -> None:
    counters = (1, 2, 500)
    key, meta = bytes(range(16)), bytes(range(16, 32))
    uid = bytes.fromhex("04A1B2C3D4E5F6")
    last = None
    for counter in counters:
        picc, mac = encode_aes_sun(uid, counter, file_read_key=key, meta_read_key=meta)
        message = verify_sun(
            SunParams.from_hex(cmac=mac, picc_data=picc), file_read_key=key, meta_read_key=meta
        )
        assert (message.uid, message.read_counter) == (uid, counter)
        check_counter(last, counter)
        last = counter
