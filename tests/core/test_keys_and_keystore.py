"""Keys in vkey/skey form, and the keystore's permissions and encryption."""

from __future__ import annotations

import os
import stat

import pytest

from veriledger.core.errors import (
    KeyNotFoundError,
    KeystoreError,
    MalformedKeyError,
    WrongPassphraseError,
)
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey, VerifierKey, compute_key_id
from veriledger.core.keystore import Keystore


def test_key_id_is_the_spec_hash() -> None:
    vkey = VerifierKey.parse(
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    )
    assert compute_key_id("example.com/foo", 1, vkey.public_key) == 0x530D903A


def test_skey_round_trip_and_signing() -> None:
    key = SignerKey.generate("org.example/cosigner", SIG_TYPE_COSIGNATURE_V1)
    again = SignerKey.parse(key.to_skey())
    assert again == key
    assert again.verifier().verify(b"m", key.sign(b"m"))
    assert not again.verifier().verify(b"n", key.sign(b"m"))
    assert "seed" not in repr(key) or "hidden" in repr(key)


@pytest.mark.parametrize(
    "skey",
    [
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD",
        "PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+BYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    ],
)
def test_malformed_skeys(skey: str) -> None:
    with pytest.raises(MalformedKeyError):
        SignerKey.parse(skey)


def test_keystore_modes_and_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Keystore(tmp_path / "keys")
    key = SignerKey.generate("example.com/log")
    path = store.save(key)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.load("example.com/log") == key
    assert list(store.names()) == ["example.com/log"]
    with pytest.raises(KeystoreError, match="already exists"):
        store.save(key)
    with pytest.raises(KeyNotFoundError):
        store.load("nobody")
    os.chmod(path, 0o644)
    with pytest.raises(KeystoreError, match="0644"):
        store.load("example.com/log")


def test_keystore_passphrase(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Keystore(tmp_path)
    key = SignerKey.generate("secret")
    path = store.save(key, passphrase="correct horse")
    assert b"PRIVATE" not in path.read_bytes()
    assert store.is_encrypted("secret")
    assert store.load("secret", passphrase="correct horse") == key
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        store.load("secret", passphrase="battery staple")
    with pytest.raises(WrongPassphraseError, match="required"):
        store.load("secret")
