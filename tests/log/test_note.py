"""C2SP signed-note against the Go and C2SP vectors, and every malformed form."""

from __future__ import annotations

import json

import pytest

from tests.shared_data import TLOG
from veriledger.core.errors import (
    MalformedKeyError,
    MalformedNoteError,
    SignatureError,
    UnverifiedNoteError,
)
from veriledger.core.keys import SignerKey, VerifierKey
from veriledger.log.note import (
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    VerifierSet,
    open_note,
    parse_note,
    sign_note,
)

VECTORS = json.loads((TLOG / "signed_note_vectors.json").read_text())


def _known(*vkeys: str) -> VerifierSet:
    return VerifierSet(Ed25519NoteVerifier(VerifierKey.parse(v)) for v in vkeys)


def test_signing_reproduces_the_go_vector_byte_for_byte() -> None:
    case = VECTORS[0]
    signer = SignerKey.parse(case["signer_key"])
    assert signer.verifier().to_vkey() == case["verifier_key"]
    assert signer.to_skey() == case["signer_key"]
    signed = sign_note(case["text"].encode(), [Ed25519NoteSigner(signer)])
    assert signed == case["signed_note"].encode()


def test_two_signers_and_unknown_signatures_are_ignored() -> None:
    case = VECTORS[1]
    both = open_note(case["signed_note"].encode(), _known(*case["verifier_keys"]))
    assert [s.name for s in both.verified] == ["PeterNeumann", "EnochRoot"]
    one = open_note(case["signed_note"].encode(), _known(case["verifier_keys"][0]))
    assert [s.name for s in one.verified] == ["PeterNeumann"]
    assert [s.name for s in one.unverified] == ["EnochRoot"]


def test_c2sp_example() -> None:
    case = VECTORS[2]
    opened = open_note(case["signed_note"].encode(), _known(case["verifier_key"]))
    assert opened.text == b"This is an example message.\n"


def test_same_name_other_id_is_unknown_not_failed() -> None:
    case = VECTORS[0]
    impostor = SignerKey.generate("PeterNeumann")
    known = VerifierSet([Ed25519NoteVerifier(impostor.verifier())])
    with pytest.raises(UnverifiedNoteError):
        open_note(case["signed_note"].encode(), known)


def test_a_failing_known_signature_rejects_the_whole_note() -> None:
    case = VECTORS[1]
    note = case["signed_note"].replace("you don't know", "you do know").encode()
    with pytest.raises(SignatureError, match="PeterNeumann"):
        open_note(note, _known(*case["verifier_keys"]))


def test_no_known_signature_rejects() -> None:
    with pytest.raises(UnverifiedNoteError):
        open_note(VECTORS[2]["signed_note"].encode(), _known(VECTORS[0]["verifier_key"]))


@pytest.mark.parametrize(
    "note",
    [
        b"text\n\n",  # no signatures
        b"text\n\xe2\x80\x94 k AAAAAAA=\n",  # no blank line
        b"text\n\n\xe2\x80\x94 k AAAAAAA=",  # no final newline
        b"text\n\n- k AAAAAAA=\n",  # hyphen, not em dash
        b"text\n\n\xe2\x80\x94 k  AAAAAAA=\n",  # two spaces
        b"text\n\n\xe2\x80\x94 k+x AAAAAAA=\n",  # plus in name
        b"text\n\n\xe2\x80\x94  AAAAAAA=\n",  # empty name
        b"text\n\n\xe2\x80\x94 k AAAA\n",  # under 5 bytes
        b"text\n\n\xe2\x80\x94 k AAAAAA!=\n",  # not base64
        b"text\n\n\xe2\x80\x94 k AAAAAAB=\n",  # non-canonical base64
        b"te\x00xt\n\n\xe2\x80\x94 k AAAAAAA=\n",  # control character
        b"te\xffxt\n\n\xe2\x80\x94 k AAAAAAA=\n",  # not UTF-8
        b"text\r\n\n\xe2\x80\x94 k AAAAAAA=\n",  # carriage return
        b"text\n\n" + b"\xe2\x80\x94 k AAAAAAA=\n" * 101,  # too many signatures
    ],
)
def test_malformed_notes(note: bytes) -> None:
    with pytest.raises(MalformedNoteError):
        parse_note(note)


def test_sixteen_signatures_are_accepted() -> None:
    signers = [Ed25519NoteSigner(SignerKey.generate(f"k{i}")) for i in range(16)]
    note = sign_note(b"many\n", signers)
    known = VerifierSet(Ed25519NoteVerifier(s.key.verifier()) for s in signers)
    assert len(open_note(note, known).verified) == 16


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong ID
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper hex
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short key
        "PeterNeumann+c74f20a3+BRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x05
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(MalformedKeyError):
        VerifierKey.parse(vkey)
