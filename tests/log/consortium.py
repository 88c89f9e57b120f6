"""A small log with a log key, four cosigning organisations and a 3-of-4 policy."""

from __future__ import annotations

from dataclasses import dataclass

from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.cosignature import CosignatureSigner
from veriledger.log.note import Ed25519NoteSigner, sign_note
from veriledger.log.policy import Group, Policy, PolicyLog, Witness
from veriledger.log.tiled_log import TiledLog
from veriledger.log.tiles import MemoryTileStore
from veriledger.log.tlog_proof import TlogProof

ORIGIN = "ledger.example/demo"
ORGS = ["brand", "carrier", "customs", "retailer"]


@dataclass
class Consortium:
    log_key: SignerKey
    witnesses: dict[str, SignerKey]
    policy: Policy
    log: TiledLog
    entries: list[bytes]

    def checkpoint(self, cosigners: list[str] | None = None, size: int | None = None) -> bytes:
        size = self.log.flushed_size if size is None else size
        text = Checkpoint(ORIGIN, size, self.log.root_at(size)).to_text()
        names = ORGS[:3] if cosigners is None else cosigners
        signers = [Ed25519NoteSigner(self.log_key)]
        signers += [
            CosignatureSigner(self.witnesses[n], clock=lambda: 1_790_000_000) for n in names
        ]
        return sign_note(text, signers)

    def proof(
        self, index: int, cosigners: list[str] | None = None, extra: bool = True
    ) -> TlogProof:
        size = self.log.flushed_size
        return TlogProof(
            index,
            tuple(self.log.inclusion_proof(index, size)),
            self.checkpoint(cosigners),
            self.entries[index] if extra else None,
        )


def make_consortium(size: int = 300, seed: int = 7) -> Consortium:
    def key(name: str, sig_type: int, n: int) -> SignerKey:
        return SignerKey(name, sig_type, bytes([seed, n]) * 16)

    log_key = key(ORIGIN, 0x01, 0)
    witnesses = {
        org: key(f"{org}.example/cosigner", SIG_TYPE_COSIGNATURE_V1, i + 1)
        for i, org in enumerate(ORGS)
    }
    policy = Policy(
        (PolicyLog(log_key.verifier()),),
        tuple(Witness(org, k.verifier()) for org, k in witnesses.items()),
        (Group("consortium", 3, tuple(ORGS)),),
        "consortium",
    )
    log = TiledLog(MemoryTileStore())
    entries = [b'{"fact":%d}' % i for i in range(size)]
    log.append_many(entries)
    log.flush()
    return Consortium(log_key, witnesses, policy, log, entries)
