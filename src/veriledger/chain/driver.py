"""The deterministic state transition: apply an ordered block of transactions.

``execute_block`` reads like a specification: for each transaction in order, check
the chain, find its message, learn who signed it, check that they may send it,
parse the body, run the rule, and either apply the writes or record the rejection.
Nothing here reads the clock, randomness or the environment, so every node that
executes the same block over the same state gets the same writes, receipts and
state root.

Signatures are not checked here: the node verifies them before ordering (in a second
process) and ``verify-ledger`` re-verifies them when replaying. Everything else a
transaction can fail on is re-checked, because state may have changed between
submission and execution (a key revoked in between, a coupon already redeemed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from veriledger.chain.blocks import Rejected
from veriledger.chain.body import BodyError
from veriledger.chain.module import Authorizer, Context, Message, Outcome, Registry, Rejection
from veriledger.chain.state import (
    BlockState,
    StateView,
    encode_writes,
    next_state_root_encoded,
)
from veriledger.chain.transactions import Transaction

CHAIN_MODULE = "chain"
CHAIN_ERRORS = {
    1: "transaction is for another chain",
    2: "unknown transaction type",
    3: "the signer's role is not allowed to send this message",
    4: "the message body is malformed",
    5: "the signer's organisation kind is not allowed to send this message",
}


@dataclass(frozen=True)
class BlockContext:
    chain: str
    height: int
    time: int
    seed: str
    """Hex id of the previous header: deterministic, unpredictable before ordering."""


class TxResult(NamedTuple):
    """One transaction's result in its block (a tuple: one is built per transaction)."""

    tx_id: str
    accepted: bool
    code: str | None = None
    reason: str | None = None
    events: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class BlockExecution:
    results: tuple[TxResult, ...]
    writes: dict[str, Any | None]
    encoded: dict[str, bytes | None]
    """The writes as canonical JSON, ready for storage (None deletes)."""
    state_root: bytes

    @property
    def rejected(self) -> tuple[Rejected, ...]:
        return tuple(
            Rejected(r.tx_id, r.code or "", r.reason or "") for r in self.results if not r.accepted
        )

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.results)


def check_transaction(
    state: StateView,
    tx: Transaction,
    block: BlockContext,
    registry: Registry,
    authorize: Authorizer,
) -> Outcome:
    """Run one transaction's checks and rule against ``state`` without applying it.

    Raises:
        Rejection: ``chain/1`` another chain, ``chain/2`` unknown type, ``chain/3``
            role not allowed, ``chain/4`` malformed body, ``chain/5`` organisation
            kind not allowed, and whatever the authorizer or the rule rejects with.
    """
    message, body, ctx = admit_transaction(state, tx, block, registry, authorize)
    return message.rule(state, body, ctx)


def admit_transaction(
    state: StateView,
    tx: Transaction,
    block: BlockContext,
    registry: Registry,
    authorize: Authorizer,
) -> tuple[Message, Any, Context]:
    """Everything before the rule: chain, type, signer, role, kind, body.

    Returns the message, its parsed body and the rule's context.

    Raises:
        Rejection: as :func:`check_transaction`, except the rule's own rejections.
    """
    if tx.chain != block.chain:
        raise Rejection(
            CHAIN_MODULE, 1, f"transaction is for chain {tx.chain!r}, not {block.chain!r}"
        )
    message = registry.message(tx.type)
    if message is None:
        raise Rejection(CHAIN_MODULE, 2, f"unknown transaction type {tx.type!r}")
    member, org, org_kind, roles = authorize(state, tx.signer)
    if message.roles is not None and not roles & message.roles:
        allowed = ", ".join(sorted(message.roles))
        raise Rejection(
            CHAIN_MODULE,
            3,
            f"{tx.type} needs one of the roles: {allowed}; {member} has "
            f"{', '.join(sorted(roles)) or 'none'}",
        )
    if message.org_kinds is not None and org_kind not in message.org_kinds:
        allowed = ", ".join(sorted(message.org_kinds))
        raise Rejection(
            CHAIN_MODULE, 5, f"{tx.type} may be sent by a {allowed}, not by {org} ({org_kind})"
        )
    try:
        body: Any = tx.parsed_body(message.body)
    except BodyError as exc:
        rejection = Rejection(CHAIN_MODULE, 4, str(exc))
        rejection.field = exc.field  # type: ignore[attr-defined]
        raise rejection from None
    ctx = Context(
        chain=block.chain,
        tx_id=tx.id,
        signer=tx.signer,
        member=member,
        org=org,
        org_kind=org_kind,
        roles=roles,
        block_height=block.height,
        block_time=block.time,
        block_seed=block.seed,
    )
    return message, body, ctx


def execute_block(
    base: StateView,
    txs: Sequence[Transaction],
    block: BlockContext,
    registry: Registry,
    authorize: Authorizer,
    previous_state_root: bytes,
) -> BlockExecution:
    """Apply ``txs`` in order over ``base``; returns every result, the writes and the root."""
    state = BlockState(base)
    results: list[TxResult] = []
    for tx in txs:
        try:
            outcome = check_transaction(state, tx, block, registry, authorize)
        except Rejection as rejection:
            results.append(
                TxResult(tx.id, False, f"{rejection.module}/{rejection.code}", rejection.reason)
            )
            continue
        state.apply(outcome.writes)
        results.append(TxResult(tx.id, True, events=outcome.events))
    encoded = encode_writes(state.writes)
    root = next_state_root_encoded(previous_state_root, block.height, encoded)
    return BlockExecution(tuple(results), state.writes, encoded, root)
