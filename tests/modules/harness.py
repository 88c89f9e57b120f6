"""A chain in memory for module tests: genesis organisations, members and blocks."""

from __future__ import annotations

from typing import Any

from veriledger.chain.driver import BlockContext, execute_block
from veriledger.chain.genesis import Genesis, GenesisMember, GenesisOrganisation
from veriledger.chain.module import Module, Registry
from veriledger.chain.state import EMPTY_STATE_ROOT, MemoryState
from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.core.encoding import b64encode
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey
from veriledger.modules import identity

CHAIN = "ledger.example/module-test"


def member_key(name: str) -> SignerKey:
    return SignerKey(name, 0x01, name.encode().ljust(32, b"."))


def genesis(orgs: list[tuple[str, str, list[tuple[str, list[str]]]]]) -> Genesis:
    organisations = []
    for org_id, kind, members in orgs:
        cosigner = SignerKey(
            f"{CHAIN}/{org_id}", SIG_TYPE_COSIGNATURE_V1, org_id.encode().ljust(32, b"-")
        )
        organisations.append(
            GenesisOrganisation(
                org_id,
                org_id.title(),
                kind,
                cosigner.verifier().to_vkey(),
                [
                    GenesisMember(m, m, roles, b64encode(member_key(m).public_key))
                    for m, roles in members
                ],
            )
        )
    return Genesis(
        chain=CHAIN,
        time=1,
        log_key=SignerKey.generate(CHAIN).verifier().to_vkey(),
        organisations=organisations,
    )


class Chain:
    def __init__(
        self,
        modules: list[Module],
        orgs: list[tuple[str, str, list[tuple[str, list[str]]]]],
        start_ms: int = 1_790_000_000_000,
    ) -> None:
        self.registry = Registry([identity.MODULE, *modules])
        self.state = MemoryState(identity.genesis_writes(genesis(orgs)))
        self.height = 0
        self.root = EMPTY_STATE_ROOT
        self.start_ms = start_ms

    def run(self, *txs: Transaction) -> list[tuple[bool, str | None, str | None]]:
        self.height += 1
        block = BlockContext(CHAIN, self.height, self.start_ms + 1000 * self.height, "00")
        result = execute_block(self.state, txs, block, self.registry, identity.authorize, self.root)
        self.state.apply(result.writes)
        self.root = result.state_root
        return [(r.accepted, r.code, r.reason) for r in result.results]


def tx(member: str, kind: str, body: dict[str, Any]) -> Transaction:
    return sign_transaction(member_key(member), CHAIN, kind, body)
