"""Fuzzing every parser: whatever the bytes, only the package's own errors come out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.log.consortium import make_consortium
from veriledger.core.errors import VeriledgerError
from veriledger.core.keys import SignerKey, VerifierKey
from veriledger.core.keystore import open_skey
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.note import VerifierSet, open_note, parse_note
from veriledger.log.policy import Policy
from veriledger.log.tiles import decode_bundle, parse_tile_path
from veriledger.log.tlog_proof import TlogProof, verify_tlog_proof

C = make_consortium(40)
GOOD_PROOF = C.proof(7).to_bytes()
GOOD_POLICY = C.policy.to_text()
GOOD_NOTE = C.checkpoint()


def _only_ours(parse: Callable[[Any], object], data: Any) -> None:
    with contextlib.suppress(VeriledgerError):
        parse(data)


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, plus the good input with bytes flipped, cut, duplicated or spliced."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
            pos = draw(st.integers(0, max(len(data) - 1, 0)))
            if op == "flip" and data:
                data[pos] ^= draw(st.integers(1, 255))
            elif op == "cut":
                del data[pos : pos + draw(st.integers(1, 40))]
            elif op == "insert":
                data[pos:pos] = draw(
                    st.binary(min_size=1, max_size=8)
                    | st.sampled_from(
                        [b"\n", b"\n\n", b" ", b"+", b"\xe2\x80\x94 ", b"=", b"\t", b"#"]
                    )
                )
            else:
                data[pos:pos] = data[pos : pos + draw(st.integers(1, 60))]
        return bytes(data)

    return st.binary(max_size=300) | mutate()


@settings(max_examples=300)
@given(_mutations(GOOD_NOTE))
def test_note(data: bytes) -> None:
    _only_ours(parse_note, data)
    _only_ours(lambda d: open_note(d, C.policy.verifiers()), data)
    _only_ours(lambda d: open_note(d, VerifierSet()), data)


@settings(max_examples=300)
@given(_mutations(Checkpoint.parse(parse_note(GOOD_NOTE).text).to_text()))
@example(b"log\n1\n" + b"A" * 44 + b"\n")
def test_checkpoint(data: bytes) -> None:
    _only_ours(Checkpoint.parse, data)


@settings(max_examples=400)
@given(_mutations(GOOD_PROOF))
def test_proof(data: bytes) -> None:
    _only_ours(lambda d: verify_tlog_proof(TlogProof.parse(d), C.policy), data)
    _only_ours(lambda d: verify_tlog_proof(TlogProof.parse(d), C.policy, b"x"), data)


@settings(max_examples=300)
@given(_mutations(GOOD_POLICY))
def test_policy(data: bytes) -> None:
    _only_ours(Policy.parse, data)
    _only_ours(lambda d: Policy.parse(d).verify_checkpoint(GOOD_NOTE), data)


VKEY = C.log_key.verifier().to_vkey()


@settings(max_examples=300)
@given(
    st.text(max_size=120) | _mutations(VKEY.encode()).map(lambda b: b.decode("utf-8", "replace"))
)
def test_vkey_and_skey(text: str) -> None:
    _only_ours(VerifierKey.parse, text)
    _only_ours(SignerKey.parse, "PRIVATE+KEY+" + text)
    _only_ours(SignerKey.parse, text)


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_tile_paths(text: str) -> None:
    _only_ours(parse_tile_path, text)
    _only_ours(parse_tile_path, "tile/0/" + text)


@settings(max_examples=200)
@given(st.binary(max_size=100), st.none() | st.integers(0, 300))
def test_bundles(data: bytes, width: int | None) -> None:
    _only_ours(lambda d: decode_bundle(d, width), data)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_sealed_key_files(text: str) -> None:
    _only_ours(lambda t: open_skey("veriledger-encrypted-skey/v1\n" + t, "pw"), text)
