"""The state key filter: never a false "no", and rarely a false "yes"."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from veriledger.chain.state import KeyFilter


@settings(max_examples=50)
@given(st.sets(st.text(max_size=40), max_size=300))
def test_every_added_key_might_be_contained(keys: set[str]) -> None:
    built = KeyFilter(keys)
    grown = KeyFilter()
    for key in keys:
        grown.add_all([key])
    assert all(built.might_contain(k) and grown.might_contain(k) for k in keys)


def test_absent_keys_are_mostly_told_apart() -> None:
    present = [f"notary/attestation/{n:064x}" for n in range(50_000)]
    absent = [f"notary/attestation/{n:064x}" for n in range(50_000, 100_000)]
    keys = KeyFilter(present)
    false_yes = sum(keys.might_contain(k) for k in absent)
    assert false_yes < 0.03 * len(absent)  # about 1% by design
    assert not keys.full
