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
    6: "the envelope was ordered before: a replay",
    7: "the envelope's time is outside the replay window around the block time",
}
REPLAYED = 6
OUTSIDE_WINDOW = 7

SEEN = "chain/seen/"
"""``chain/seen/<minute:010d>/<tx id>`` -> height: every envelope ordered within the
replay window, bucketed by the minute of its client time so whole minutes expire at
once (a minute's bucket stays small enough to delete within one block)."""
SEEN_BUCKETS = "chain/seen-minutes"
"""``[first, last]``: the minutes that may still hold ``chain/seen`` keys."""
BUCKET_MS = 60_000


@dataclass(frozen=True)
class BlockContext:
    chain: str
    height: int
    time: int
    seed: str
    """Hex id of the previous header: deterministic, unpredictable before ordering."""
    replay_window: int | None = None
    """Milliseconds an envelope's time may differ from the block's (genesis
    ``replay_window_ms``). Nodes and ``verify-ledger`` always pass it; None (no window,
    and no expiry of the replay memory) is for rule tests with fixed clocks."""


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


def seen_key(tx: Transaction) -> str:
    """Where the rules remember that ``tx`` was ordered (see :data:`SEEN`)."""
    return f"{SEEN}{tx.time // BUCKET_MS:010d}/{tx.id}"


class _Buckets:
    """The span of minutes holding replay memory, and its expiry as a block's writes.

    An envelope whose time is older than the block time minus the window is refused
    by :func:`admit_transaction` anyway, so memory of minutes wholly before that can be
    deleted: the memory stays about two windows' worth of envelopes, however long the
    ledger runs. Which minutes expire depends on state and block time only, so every
    node and ``verify-ledger`` delete the same keys. After an idle day a block may
    look at up to two windows of empty minutes, once.
    """

    def __init__(self, stored: Any) -> None:
        self.first: int | None = int(stored[0]) if stored else None
        self.last: int | None = int(stored[1]) if stored else None
        self.changed = False

    def add(self, bucket: int) -> None:
        if self.first is None or self.last is None:
            self.first = self.last = bucket
        elif bucket < self.first or bucket > self.last:
            self.first, self.last = min(self.first, bucket), max(self.last, bucket)
        else:
            return
        self.changed = True

    def expire(self, state: BlockState, block: BlockContext) -> None:
        if block.replay_window is not None and self.first is not None and self.last is not None:
            expired = (block.time - block.replay_window) // BUCKET_MS  # earlier ones are refused
            while self.first < expired and self.first <= self.last:
                state.apply({key: None for key, _ in state.scan(f"{SEEN}{self.first:010d}/")})
                self.first += 1
                self.changed = True
            if self.first > self.last:
                state.apply({SEEN_BUCKETS: None})
                return
        if self.changed:
            state.apply({SEEN_BUCKETS: [self.first, self.last]})


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
        Rejection: as :func:`check_transaction`, except the rule's own rejections;
            and ``chain/6`` the envelope was ordered before, ``chain/7`` its time is
            outside the replay window.
    """
    window = block.replay_window  # first: nothing outside it is remembered or looked up
    if window is not None and abs(tx.time - block.time) > window:
        raise Rejection(
            CHAIN_MODULE,
            OUTSIDE_WINDOW,
            f"time {tx.time} is more than {window} ms from the block time {block.time}",
        )
    if tx.chain != block.chain:
        raise Rejection(
            CHAIN_MODULE, 1, f"transaction is for chain {tx.chain!r}, not {block.chain!r}"
        )
    seen = state.get(seen_key(tx))
    if seen is not None:
        raise Rejection(CHAIN_MODULE, REPLAYED, f"transaction {tx.id} was ordered in block {seen}")
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
    buckets = _Buckets(state.get(SEEN_BUCKETS))
    writes = state.writes
    for tx in txs:
        try:
            outcome = check_transaction(state, tx, block, registry, authorize)
        except Rejection as rejection:
            results.append(
                TxResult(tx.id, False, f"{rejection.module}/{rejection.code}", rejection.reason)
            )
            if rejection.module == CHAIN_MODULE and (
                rejection.code in (1, REPLAYED)
                or (rejection.code == OUTSIDE_WINDOW and tx.time < block.time)
            ):
                continue  # another chain's, remembered already, or refused for good
            writes[seen_key(tx)] = block.height
            buckets.add(tx.time // BUCKET_MS)
            continue
        state.apply(outcome.writes)
        writes[seen_key(tx)] = block.height
        buckets.add(tx.time // BUCKET_MS)
        results.append(TxResult(tx.id, True, events=outcome.events))
    buckets.expire(state, block)
    encoded = encode_writes(state.writes)
    root = next_state_root_encoded(previous_state_root, block.height, encoded)
    return BlockExecution(tuple(results), state.writes, encoded, root)
