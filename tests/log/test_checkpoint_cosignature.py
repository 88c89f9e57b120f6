"""tlog-checkpoint parse cases and the Ed25519 cosignature/v1 vector."""

from __future__ import annotations

import json

import pytest

from tests.shared_data import TLOG
from veriledger.core.errors import (
    CheckpointRootSizeError,
    MalformedCheckpointError,
    MalformedKeyError,
    UnverifiedNoteError,
)
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey, VerifierKey
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.cosignature import (
    Cosignature,
    CosignatureSigner,
    CosignatureVerifier,
    cosigned_message,
)
from veriledger.log.note import (
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    Note,
    VerifierSet,
    add_signatures,
    open_note,
    sign_note,
)

CASES = json.loads((TLOG / "checkpoint_parse_vectors.json").read_text())["cases"]
COSIG = json.loads((TLOG / "ed25519_cosig_selfgen_vector.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["desc"] for c in CASES])
def test_checkpoint_parse_vectors(case: dict[str, object]) -> None:
    body = str(case["body"]).encode()
    if case["valid"]:
        # Structurally valid for transparency-dev/formats, but every "valid" vector
        # carries a root that is not 32 bytes, which C2SP tlog-checkpoint requires:
        # the structure must pass and only the root size may fail.
        with pytest.raises(CheckpointRootSizeError):
            Checkpoint.parse(body)
    else:
        with pytest.raises(MalformedCheckpointError) as info:
            Checkpoint.parse(body)
        assert not isinstance(info.value, CheckpointRootSizeError)


def test_checkpoint_round_trip_with_extension_lines() -> None:
    text = b"example.com/log\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next 1\n"
    checkpoint = Checkpoint.parse(text)
    assert checkpoint.size == 20852163
    assert checkpoint.extensions == ("ext 1",)
    assert checkpoint.to_text() == text


@pytest.mark.parametrize(
    "text",
    [
        b"log\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # leading zero
        b"log\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        b"log\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # 2^64
        b"log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",  # empty extension
        b"log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",  # non-canonical
        b"log\n\xd9\xa1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # Arabic digit one
    ],
)
def test_strict_checkpoint_rules(text: bytes) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(text)


def test_size_max_uint64_accepted() -> None:
    text = b"log\n18446744073709551615\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert Checkpoint.parse(text).size == (1 << 64) - 1


def test_cosignature_vector() -> None:
    seed = bytes.fromhex(COSIG["seed_hex"])
    key = SignerKey(COSIG["cosigner_name"], SIG_TYPE_COSIGNATURE_V1, seed)
    assert key.verifier().to_vkey() == COSIG["verifier_key"]
    body = COSIG["checkpoint_body"].encode()
    ts = COSIG["timestamp"]
    assert cosigned_message(body, ts) == COSIG["signed_message"].encode()
    signer = CosignatureSigner(key, clock=lambda: ts)
    signed = add_signatures(Note(body, ()), [signer])
    assert signed.decode().endswith(COSIG["cosignature_line"] + "\n")
    known = VerifierSet([CosignatureVerifier(VerifierKey.parse(COSIG["verifier_key"]))])
    opened = open_note(signed, known)
    assert Cosignature.from_signature(opened.verified[0]).timestamp == ts


def test_cosigner_key_is_not_a_note_key() -> None:
    """A 0x04 key's ID differs from the 0x01 ID of the same key, so roles cannot mix."""
    seed = bytes.fromhex(COSIG["seed_hex"])
    plain = SignerKey(COSIG["cosigner_name"], 0x01, seed)
    cosigner = SignerKey(COSIG["cosigner_name"], SIG_TYPE_COSIGNATURE_V1, seed)
    assert plain.key_id != cosigner.key_id
    with pytest.raises(MalformedKeyError):
        CosignatureVerifier(plain.verifier())
    signed = add_signatures(
        Note(COSIG["checkpoint_body"].encode(), ()), [CosignatureSigner(cosigner)]
    )
    with pytest.raises(UnverifiedNoteError):
        open_note(signed, VerifierSet([Ed25519NoteVerifier(plain.verifier())]))


def test_cosigners_sign_only_checkpoints() -> None:
    key = SignerKey.generate("w", SIG_TYPE_COSIGNATURE_V1)
    with pytest.raises(MalformedCheckpointError):
        add_signatures(Note(b"not a checkpoint\n", ()), [CosignatureSigner(key)])


def test_mldsa_cosignature_lines_are_ignored_as_unknown() -> None:
    """The draft's ML-DSA-44 type (0x06) is not in v1.0.1; its lines must not break a note."""
    mldsa = json.loads((TLOG / "mldsa44_subtree_cosig_vector.json").read_text())
    log = SignerKey.generate("example.com/log")
    text = Checkpoint("example.com/log", 13, b"\x13" * 32).to_text()
    note = sign_note(text, [Ed25519NoteSigner(log)]) + (mldsa["signature_line"] + "\n").encode()
    opened = open_note(note, VerifierSet([Ed25519NoteVerifier(log.verifier())]))
    assert [s.name for s in opened.unverified] == ["witness.example/w1"]
    with pytest.raises(MalformedKeyError, match="0x06"):
        VerifierKey.parse(mldsa["verifier_key"])
