"""The identity module through the driver: who may do what, and every rejection code."""

from __future__ import annotations

from typing import Any

import pytest

from veriledger.chain.driver import BlockContext, execute_block
from veriledger.chain.genesis import Genesis, GenesisMember, GenesisOrganisation
from veriledger.chain.module import Registry
from veriledger.chain.state import EMPTY_STATE_ROOT, MemoryState
from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.core.encoding import b64encode
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey
from veriledger.modules import identity, notary

CHAIN = "ledger.example/identity-test"
REGISTRY = Registry([identity.MODULE, notary.MODULE])


def _key(name: str) -> SignerKey:
    return SignerKey(name, 0x01, name.encode().ljust(32, b"."))


KEYS = {m: _key(m) for m in ["brand/admin", "brand/ops", "shop/admin"]}


def _genesis() -> Genesis:
    def org(org_id: str, kind: str, members: list[tuple[str, list[str]]]) -> GenesisOrganisation:
        seed = org_id.encode().ljust(32, b"-")
        cosigner = SignerKey(f"{CHAIN}/{org_id}", SIG_TYPE_COSIGNATURE_V1, seed)
        return GenesisOrganisation(
            org_id,
            org_id.title(),
            kind,
            cosigner.verifier().to_vkey(),
            [GenesisMember(m, m, roles, b64encode(KEYS[m].public_key)) for m, roles in members],
        )

    return Genesis(
        chain=CHAIN,
        time=1,
        log_key=SignerKey.generate(CHAIN).verifier().to_vkey(),
        organisations=[
            org("brand", "brand", [("brand/admin", ["admin"]), ("brand/ops", ["operator"])]),
            org("shop", "retailer", [("shop/admin", ["admin"])]),
        ],
    )


class Chain:
    def __init__(self) -> None:
        self.state = MemoryState(identity.genesis_writes(_genesis()))
        self.height = 0
        self.root = EMPTY_STATE_ROOT

    def run(self, *txs: Transaction) -> list[tuple[bool, str | None, str | None]]:
        self.height += 1
        block = BlockContext(CHAIN, self.height, 1000 * self.height, "00")
        result = execute_block(self.state, txs, block, REGISTRY, identity.authorize, self.root)
        self.state.apply(result.writes)
        self.root = result.state_root
        return [(r.accepted, r.code, r.reason) for r in result.results]


def tx(key: SignerKey, kind: str, body: dict[str, Any], chain: str = CHAIN) -> Transaction:
    return sign_transaction(key, chain, kind, body)


def add(signer: str, member: str, key: SignerKey, roles: list[str] | None = None) -> Transaction:
    return tx(
        KEYS[signer],
        "identity.add_member",
        {
            "id": member,
            "name": member,
            "roles": roles or ["operator"],
            "key": b64encode(key.public_key),
        },
    )


def test_admin_adds_a_member_who_can_then_sign() -> None:
    chain = Chain()
    newcomer = _key("brand/new")
    assert chain.run(add("brand/admin", "brand/new", newcomer)) == [(True, None, None)]
    attest = tx(newcomer, "notary.attest", {"digest": "a" * 64, "kind": "doc"})
    assert chain.run(attest)[0][0]
    assert chain.state.get("identity/member/brand/new")["roles"] == ["operator"]


@pytest.mark.parametrize(
    ("signer", "member", "code"),
    [
        ("brand/ops", "brand/x", "chain/3"),  # not an admin
        ("brand/admin", "shop/x", "identity/4"),  # another organisation
        ("brand/admin", "brand/ops", "identity/3"),  # exists
    ],
)
def test_add_member_rejections(signer: str, member: str, code: str) -> None:
    result = Chain().run(add(signer, member, _key(member)))
    assert result[0][:2] == (False, code)


def test_key_reuse_and_bad_role() -> None:
    chain = Chain()
    assert chain.run(add("brand/admin", "brand/x", KEYS["shop/admin"]))[0][1] == "identity/5"
    assert chain.run(add("brand/admin", "brand/y", _key("y"), ["Admin!"]))[0][1] == "identity/10"


def test_rotation_revokes_the_old_key() -> None:
    chain = Chain()
    fresh = _key("brand/ops#2")
    rotate = tx(KEYS["brand/ops"], "identity.rotate_key", {"new_key": b64encode(fresh.public_key)})
    assert chain.run(rotate)[0][0]
    old = tx(KEYS["brand/ops"], "notary.attest", {"digest": "b" * 64, "kind": "doc"})
    new = tx(fresh, "notary.attest", {"digest": "c" * 64, "kind": "doc"})
    results = chain.run(old, new)
    assert results[0][:2] == (False, "identity/2")
    assert results[1][0]


def test_revocation_rules() -> None:
    chain = Chain()
    ops_key = b64encode(KEYS["brand/ops"].public_key)
    last = tx(KEYS["brand/admin"], "identity.revoke_key", {"member": "brand/ops", "key": ops_key})
    assert chain.run(last)[0][1] == "identity/9"
    other_org = tx(
        KEYS["shop/admin"], "identity.revoke_key", {"member": "brand/ops", "key": ops_key}
    )
    assert chain.run(other_org)[0][1] == "identity/7"
    remove = tx(KEYS["brand/admin"], "identity.remove_member", {"member": "brand/ops"})
    assert chain.run(remove)[0][0]
    after = tx(KEYS["brand/ops"], "notary.attest", {"digest": "d" * 64, "kind": "doc"})
    assert chain.run(after)[0][1] == "identity/2"


def test_chain_level_rejections() -> None:
    chain = Chain()
    stranger = _key("nobody")
    results = chain.run(
        tx(stranger, "notary.attest", {"digest": "e" * 64, "kind": "doc"}),
        tx(KEYS["brand/ops"], "notary.attest", {"digest": "e" * 64}),
        tx(KEYS["brand/ops"], "nothing.here", {}),
        tx(KEYS["brand/ops"], "notary.attest", {"digest": "e" * 64, "kind": "d"}, chain="x.y/z"),
    )
    assert [r[1] for r in results] == ["identity/1", "chain/4", "chain/2", "chain/1"]
    assert "body.kind: missing" in (results[1][2] or "")


def test_execution_is_deterministic() -> None:
    txs = [add("brand/admin", f"brand/m{i}", _key(f"m{i}")) for i in range(5)]
    first, second = Chain(), Chain()
    first.run(*txs)
    second.run(*txs)
    assert first.root == second.root != EMPTY_STATE_ROOT
    assert first.state.values == second.state.values


def test_every_code_is_documented() -> None:
    for module in REGISTRY.modules.values():
        assert module.errors, module.name
        for message in module.messages:
            assert message.doc, message.name
            assert (message.rule.__doc__ and "Raises" in message.rule.__doc__) or not module.errors
