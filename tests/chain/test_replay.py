"""The driver's replay memory: refused replays, the window, and expiry that keeps it small."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.modules.harness import CHAIN, genesis, member_key
from veriledger.chain.driver import (
    BUCKET_MS,
    SEEN,
    SEEN_BUCKETS,
    BlockContext,
    execute_block,
)
from veriledger.chain.module import Registry
from veriledger.chain.state import EMPTY_STATE_ROOT, MemoryState
from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.modules import identity, notary

ORGS = [("brand", "brand", [("brand/alice", ["admin"])])]
WINDOW = 10 * BUCKET_MS
START = 1_790_000_000_000


class Ledger:
    def __init__(self) -> None:
        self.registry = Registry([identity.MODULE, notary.MODULE])
        self.state = MemoryState(identity.genesis_writes(genesis(ORGS)))
        self.height = 0
        self.root = EMPTY_STATE_ROOT

    def block(self, time: int, *txs: Transaction) -> list[str | None]:
        self.height += 1
        context = BlockContext(CHAIN, self.height, time, "00", WINDOW)
        result = execute_block(
            self.state, txs, context, self.registry, identity.authorize, self.root
        )
        self.state.apply(result.writes)
        self.root = result.state_root
        return [r.code for r in result.results]

    def seen(self) -> list[str]:
        return [key for key, _ in self.state.scan(SEEN)]


def attest(time: int, n: int = 0) -> Transaction:
    return sign_transaction(
        member_key("brand/alice"),
        CHAIN,
        "notary.attest",
        {"digest": f"{n:064x}", "kind": "x"},
        nonce=f"n{n}-{time}",
        time=time,
    )


def test_replayed_envelope_refused_in_the_same_and_a_later_block() -> None:
    ledger = Ledger()
    tx = attest(START)
    assert ledger.block(START, tx, tx) == [None, "chain/6"]
    assert ledger.block(START + 1000, tx) == ["chain/6"]
    assert len(ledger.seen()) == 1


def test_rejected_envelope_is_remembered_too() -> None:
    """A refused envelope stays refused: its replay cannot turn into an acceptance."""
    ledger = Ledger()
    tx = attest(START, 1)
    assert ledger.block(START, tx) == [None]
    again = attest(START + 1, 1)  # the same digest: notary refuses it
    assert ledger.block(START + 5, again) == ["notary/2"]
    assert ledger.block(START + 10, again) == ["chain/6"]


def test_future_envelope_refused_is_remembered_until_it_would_fit() -> None:
    ledger = Ledger()
    early = attest(START + WINDOW + 5_000, 2)
    assert ledger.block(START, early) == ["chain/7"]
    assert ledger.block(START + 10_000, early) == ["chain/6"]  # now inside, but seen


def test_memory_expires_after_the_window() -> None:
    ledger = Ledger()
    old = attest(START, 3)
    assert ledger.block(START, old) == [None]
    later = START + WINDOW + 2 * BUCKET_MS
    assert ledger.block(later, attest(later, 4)) == [None]
    assert [k.rsplit("/", 1)[1] for k in ledger.seen()] == [attest(later, 4).id]
    assert ledger.block(later + 1, old) == ["chain/7"]  # the window refuses what expired
    span = ledger.state.get(SEEN_BUCKETS)
    assert span == [(later - WINDOW) // BUCKET_MS, later // BUCKET_MS]  # older minutes gone


@settings(max_examples=40)
@given(st.lists(st.integers(min_value=0, max_value=4 * WINDOW), min_size=1, max_size=12))
def test_memory_holds_exactly_the_envelopes_inside_the_window(offsets: list[int]) -> None:
    """Whatever the block times, the memory never loses an envelope that could still be
    replayed, and never keeps one older than a window plus a minute."""
    ledger = Ledger()
    now = START
    ordered: list[Transaction] = []
    for i, offset in enumerate(sorted(offsets)):
        now = START + offset + i
        tx = attest(now, i + 10)
        assert ledger.block(now, tx) == [None]
        ordered.append(tx)
    kept = {key.rsplit("/", 1)[1] for key in ledger.seen()}
    for tx in ordered:
        if tx.time >= now - WINDOW:
            assert tx.id in kept  # still replayable: must be remembered
        if tx.time < now - WINDOW - BUCKET_MS:
            assert tx.id not in kept  # expired: gone
