"""The transaction envelope: signing, canonical entries, ids and strict parsing."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veriledger.chain.transactions import (
    InvalidTransactionSignatureError,
    MalformedTransactionError,
    Transaction,
    TransactionTooLargeError,
    sign_transaction,
)
from veriledger.core.canonical_json import canonical_json_reference
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey

KEY = SignerKey("brand/alice", 0x01, b"\x01" * 32)


def _tx(**body: Any) -> Transaction:
    return sign_transaction(
        KEY,
        "ledger.example/t",
        "notary.attest",
        body or {"digest": "ab"},
        nonce="n1",
        time=1_790_000_000_000,
    )


def test_entry_is_canonical_json_and_id_its_hash() -> None:
    tx = _tx()
    assert tx.entry == canonical_json_reference(tx.to_json())
    assert tx.id == hashlib.sha256(tx.entry).hexdigest()
    assert Transaction.parse(tx.entry) == tx
    tx.verify_signature()


def test_signature_covers_every_field() -> None:
    tx = _tx()
    for field, value in [
        ("body", {"digest": "ac"}),
        ("nonce", "n2"),
        ("time", 1),
        ("type", "notary.other"),
        ("chain", "other.example/t"),
    ]:
        forged = Transaction.parse({**tx.to_json(), field: value})
        with pytest.raises(InvalidTransactionSignatureError):
            forged.verify_signature()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"extra": 1}, "extra"),
        ({"sig": "AAAA"}, "sig"),
        ({"signer": "not base64!"}, "signer"),
        ({"type": "notary"}, "type"),
        ({"type": "notary.attest.x"}, "type"),
        ({"time": -1}, "time"),
        ({"time": 1.5}, "time"),
        ({"time": True}, "time"),
        ({"nonce": ""}, "nonce"),
        ({"nonce": "x" * 65}, "nonce"),
        ({"body": []}, "body"),
        ({"chain": ""}, "chain"),
    ],
)
def test_strict_fields(change: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedTransactionError) as info:
        Transaction.parse({**_tx().to_json(), **change})
    assert info.value.field == field


def test_missing_field_and_not_json() -> None:
    data = _tx().to_json()
    del data["nonce"]
    with pytest.raises(MalformedTransactionError, match="nonce: missing"):
        Transaction.parse(data)
    with pytest.raises(MalformedTransactionError, match="not JSON"):
        Transaction.parse(b"{")


def test_size_limit() -> None:
    with pytest.raises(TransactionTooLargeError):
        _tx(digest="x" * 70_000)


def test_cosigner_keys_cannot_sign_transactions() -> None:
    with pytest.raises(MalformedTransactionError):
        sign_transaction(SignerKey.generate("w", SIG_TYPE_COSIGNATURE_V1), "c", "a.b", {})


@given(
    st.dictionaries(st.text(max_size=8), st.integers(-1000, 1000) | st.text(max_size=8), max_size=6)
)
def test_any_body_round_trips(body: dict[str, Any]) -> None:
    tx = sign_transaction(KEY, "c.example/x", "notary.attest", body, nonce="n", time=5)
    again = Transaction.parse(orjson.loads(tx.entry))
    assert again.entry == tx.entry
    again.verify_signature()


@given(
    body=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**53) + 1, 2**53 - 1)
        | st.text(max_size=6)
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=10,
    ).filter(lambda b: isinstance(b, dict))
    | st.just({}),
    nonce=st.text(min_size=1, max_size=8),
    chain=st.text(min_size=1, max_size=10),
    when=st.integers(0, 2**53 - 1),
)
def test_assembled_bytes_equal_rfc8785(
    body: dict[str, Any], nonce: str, chain: str, when: int
) -> None:
    """The entry and the signed bytes are assembled from parts; hold them to the reference."""
    tx = Transaction(
        chain, "notary.attest", body, KEY.verifier().public_key.hex(), nonce, when, "s"
    )
    assert tx.entry == canonical_json_reference(tx.to_json())
    assert tx.signing_bytes == b"veriledger/tx/v1\n" + canonical_json_reference(tx.unsigned_json())


@given(
    st.dictionaries(
        st.text(max_size=6),
        st.none()
        | st.integers(-5, 5)
        | st.text(max_size=4)
        | st.lists(st.integers(0, 3), max_size=3),
        max_size=8,
    )
)
def test_state_root_from_encoded_writes_equals_the_definition(writes: dict[str, Any]) -> None:
    from veriledger.chain.state import next_state_root

    ordered = [[k, writes[k]] for k in sorted(writes)]
    want = hashlib.sha256(
        b"veriledger/state/v1\n"
        + b"\x00" * 32
        + (7).to_bytes(8, "big")
        + canonical_json_reference(ordered)
    ).digest()
    assert next_state_root(b"\x00" * 32, 7, writes) == want


def test_the_body_is_parsed_once_per_class() -> None:
    from dataclasses import dataclass

    from veriledger.chain.body import BodyError

    @dataclass(frozen=True)
    class Digest:
        digest: str

    @dataclass(frozen=True)
    class Number:
        digest: int

    tx = _tx()
    first = tx.parsed_body(Digest)
    assert first == Digest("ab")
    assert tx.parsed_body(Digest) is first  # admission and block share the parse
    with pytest.raises(BodyError, match=r"body\.digest: must be an integer"):
        tx.parsed_body(Number)  # another class is parsed afresh, and can fail
    assert tx == _tx()  # the memo is no part of the transaction's value
