"""tlog-policy parsing and quorum decisions; tlog-proof round trips and verification."""

from __future__ import annotations

import pytest

from tests.log.consortium import ORGS, make_consortium
from veriledger.core.errors import (
    EntryMismatchError,
    InclusionProofError,
    MalformedPolicyError,
    MalformedProofError,
    PolicyNotSatisfiedError,
    SignatureError,
    UnverifiedNoteError,
)
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey
from veriledger.log.policy import Policy
from veriledger.log.tlog_proof import TlogProof, verify_tlog_proof

C = make_consortium()


def _w(name: str) -> str:
    return SignerKey.generate(f"{name}.example", SIG_TYPE_COSIGNATURE_V1).verifier().to_vkey()


LOG = C.log_key.verifier().to_vkey()


def test_policy_round_trips() -> None:
    text = C.policy.to_text()
    assert Policy.parse(text) == C.policy
    assert C.policy.describe_quorum() == "consortium (3 of 4: brand, carrier, customs, retailer)"


def test_spec_example_two_level_groups() -> None:
    policy = Policy.parse(
        (
            f"# comment\nlog {LOG}\n\n"
            f"witness X1 {_w('x1')}\nwitness X2 {_w('x2')}\nwitness X3 {_w('x3')}\n"
            "group X-witnesses 2 X1 X2 X3\n"
            f"witness Y1 {_w('y1')}\n\twitness Y2 {_w('y2')} https://y2.example/\n"
            f"witness Y3 {_w('y3')}\n"
            "group Y-witnesses any Y1 Y2 Y3\n"
            "group X-and-Y all X-witnesses Y-witnesses\n  quorum X-and-Y  \n"
        ).encode()
    )
    assert policy.quorum_met(["X1", "X3", "Y2"])
    assert not policy.quorum_met(["X1", "Y1", "Y2", "Y3"])
    assert not policy.quorum_met(["X1", "X2", "X3"])
    assert policy.witnesses[4].url == "https://y2.example/"


def test_quorum_none() -> None:
    policy = Policy.parse(f"log {LOG}\nquorum none\n".encode())
    assert policy.quorum_met([])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("log {log}\n", "no quorum"),
        ("log {log}\nquorum none\nquorum none\n", "exactly one quorum"),
        ("quorum W\nwitness W {w}\n", "not defined above"),
        ("witness W {w}\ngroup G 2 W\nquorum G\n", "outside 1..1"),
        ("witness W {w}\ngroup G 0 W\nquorum G\n", "outside 1..1"),
        ("witness W {w}\ngroup G 01 W\nquorum G\n", "leading zeros"),
        ("witness W {w}\ngroup G any W W\nquorum G\n", "twice"),
        ("witness W {w}\ngroup G any W none\nquorum G\n", "'none'"),
        ("witness none {w}\nquorum none\n", "reserved"),
        ("witness W {w}\nwitness W {w2}\nquorum W\n", "defined twice"),
        ("witness W {w}\nwitness V {w}\nquorum W\n", "duplicate witness key"),
        ("log {log}\nlog {log}\nquorum none\n", "duplicate log key"),
        ("witness W {log}\nquorum W\n", "want 0x04"),
        ("log {w}\nquorum none\n", "want 0x01"),
        ("witness W notakey\nquorum W\n", "vkey"),
        ("witnesses W {w}\nquorum W\n", "unknown keyword"),
        ("group G any\nquorum none\n", "want 'group"),
        ("log {log}\r\nquorum none\n", "forbidden octet 0x0d"),
        ("log {log} url extra\nquorum none\n", "want 'log"),
    ],
)
def test_malformed_policies(text: str, reason: str) -> None:
    filled = text.format(log=LOG, w=_w("a"), w2=_w("b"))
    with pytest.raises(MalformedPolicyError, match=reason):
        Policy.parse(filled.encode())


def test_non_ascii_names_are_opaque_octets() -> None:
    w = _w("k")
    policy = Policy.parse(
        f"witness K {w}\nwitness \u212a {_w('kelvin')}\ngroup G all K \u212a\nquorum G\n".encode()
    )
    assert [x.name for x in policy.witnesses] == ["K", "\u212a"]
    latin1 = Policy.parse(b"witness \xe9 " + w.encode() + b"\nquorum \xe9\n")
    assert latin1.to_text() == b"witness \xe9 " + w.encode() + b"\nquorum \xe9\n"


def test_checkpoint_decisions() -> None:
    result = C.policy.verify_checkpoint(C.checkpoint(["brand", "customs", "retailer"]))
    assert result.cosigners == ("brand", "customs", "retailer")
    assert result.log == "ledger.example/demo"
    assert result.cosignatures[0].timestamp == 1_790_000_000
    with pytest.raises(PolicyNotSatisfiedError, match="cosigned by brand, customs"):
        C.policy.verify_checkpoint(C.checkpoint(["brand", "customs"]))
    assert not C.policy.check(C.checkpoint(["brand", "customs"])).satisfied


def test_checkpoint_without_log_signature_fails() -> None:
    note = C.checkpoint(ORGS)
    lines = note.split(b"\n")
    without_log = b"\n".join(
        line
        for line in lines
        if b"ledger.example/demo " not in line or not line.startswith(b"\xe2\x80\x94")
    )
    with pytest.raises(PolicyNotSatisfiedError, match="not signed by a log"):
        C.policy.verify_checkpoint(without_log)


def test_proof_round_trip_and_verify() -> None:
    proof = C.proof(123)
    parsed = TlogProof.parse(proof.to_bytes())
    assert parsed == proof
    verified = verify_tlog_proof(parsed, C.policy)
    assert verified.entry == b'{"fact":123}'
    assert verified.index == 123


def test_entry_out_of_band() -> None:
    proof = C.proof(5, extra=False)
    assert b"extra" not in proof.to_bytes()
    verify_tlog_proof(proof, C.policy, entry=b'{"fact":5}')
    with pytest.raises(EntryMismatchError):
        verify_tlog_proof(proof, C.policy)
    with pytest.raises(InclusionProofError):
        verify_tlog_proof(proof, C.policy, entry=b'{"fact":6}')
    with pytest.raises(EntryMismatchError):
        verify_tlog_proof(C.proof(5), C.policy, entry=b'{"fact":6}')


def test_tampered_proofs_fail() -> None:
    good = C.proof(77).to_bytes()
    with pytest.raises(InclusionProofError):
        verify_tlog_proof(TlogProof.parse(good.replace(b"index 77", b"index 78")), C.policy)
    tampered_cp = good.replace(b"\n300\n", b"\n301\n")
    with pytest.raises(SignatureError):
        verify_tlog_proof(TlogProof.parse(tampered_cp), C.policy)
    stranger = make_consortium(seed=9)
    with pytest.raises(UnverifiedNoteError):
        verify_tlog_proof(TlogProof.parse(good), stranger.policy)


@pytest.mark.parametrize(
    "data",
    [
        b"c2sp.org/tlog-proof@v2\nindex 0\n\n",
        b"c2sp.org/tlog-proof@v1\nindex 00\n\n",
        b"c2sp.org/tlog-proof@v1\nextra\nindex 0\n\n",
        b"c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n",
        b"c2sp.org/tlog-proof@v1\n\n",
        b"c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n",
        b"c2sp.org/tlog-proof@v1\nindex 0\n",
        b"c2sp.org/tlog-proof@v1\nindex -1\n\n",
        b"c2sp.org/tlog-proof@v1\xff\nindex 0\n\n",
    ],
)
def test_malformed_proofs(data: bytes) -> None:
    with pytest.raises(MalformedProofError):
        TlogProof.parse(data + C.checkpoint())


def test_only_spaces_and_tabs_separate_fields() -> None:
    """U+00A0 is part of a name, not a separator (tlog-policy: ASCII space and tab only)."""
    w = _w("nbsp")
    policy = Policy.parse(f"witness a\u00a0b {w}\nquorum a\u00a0b\n".encode())
    assert policy.witnesses[0].name == "a\u00a0b"


def test_deeply_shared_groups_evaluate_quickly() -> None:
    lines = [f"witness w0 {_w('w0')}", f"witness w1 {_w('w1')}"]
    names = ["w0", "w1"]
    for i in range(60):
        lines.append(f"group g{i} 2 {names[-2]} {names[-1]}")
        names.append(f"g{i}")
    lines.append(f"quorum {names[-1]}")
    policy = Policy.parse(("\n".join(lines) + "\n").encode())
    assert policy.quorum_met(["w0", "w1"])
    assert not policy.quorum_met(["w0"])
